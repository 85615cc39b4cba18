-- value_segment_summary: customers, net revenue, gross margin and predicted value per value
-- segment × value tier as of D, and each group's share of the total.

with customer_value as (
    select * from {{ ref('customer_value') }}
),

grouped as (
    select
        as_of_date,
        value_segment,
        value_tier,
        count(*) as customers,
        sum(net_revenue) as net_revenue,
        sum(gross_margin) as gross_margin,
        coalesce(sum(predicted_clv_12m), 0) as predicted_clv_12m
    from customer_value
    group by as_of_date, value_segment, value_tier
),

final as (
    select
        as_of_date,
        value_segment,
        value_tier,
        cast(customers as integer) as customers,
        cast(net_revenue as decimal(18, 2)) as net_revenue,
        cast(gross_margin as decimal(18, 2)) as gross_margin,
        cast(predicted_clv_12m as decimal(18, 2)) as predicted_clv_12m,
        cast(customers as double) / sum(customers) over () as share_of_customers,
        cast(net_revenue as double) / nullif(sum(net_revenue) over (), 0) as share_of_net_revenue,
        cast(gross_margin as double) / nullif(sum(gross_margin) over (), 0) as share_of_gross_margin,
        cast(predicted_clv_12m as double) / nullif(sum(predicted_clv_12m) over (), 0) as share_of_predicted_clv_12m
    from grouped
)

select * from final
order by
    case value_segment
        when 'most_valuable' then 1
        when 'most_growable' then 2
        when 'maintain' then 3
        when 'below_zero' then 4
        else 5
    end,
    case value_tier
        when 'platinum' then 1
        when 'gold' then 2
        when 'silver' then 3
        when 'bronze' then 4
        else 5
    end
