-- The inputs of the CLV models for every customer with purchases, as of D, in days:
-- frequency x = purchase days − 1, t_x = last − first purchase date, T = D − first purchase
-- date, monetary_value = mean net revenue per purchase day over the days after the first
-- (null without repeat purchase days).

with purchase_days as (
    select * from {{ ref('int_purchase_days_aggregated') }}
),

numbered as (
    select
        customer_key,
        purchase_date,
        net_revenue,
        row_number() over (
            partition by customer_key
            order by purchase_date
        ) as day_number
    from purchase_days
),

summarised as (
    select
        customer_key,
        count(*) - 1 as frequency,
        min(purchase_date) as first_purchase_date,
        max(purchase_date) as last_purchase_date,
        avg(net_revenue) filter (where day_number > 1) as monetary_value
    from numbered
    group by customer_key
),

final as (
    select
        {{ as_of_date() }} as as_of_date,
        customer_key,
        cast(frequency as integer) as frequency,
        cast(last_purchase_date - first_purchase_date as integer) as t_x_days,
        cast({{ as_of_date() }} - first_purchase_date as integer) as t_days,
        cast(monetary_value as double) as monetary_value
    from summarised
)

select * from final
