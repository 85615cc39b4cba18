-- One row per customer and purchase date: how many purchases that day and their net revenue
-- (refunds made by D included). Several orders on one day are one purchase day, the unit
-- of the CLV models.

with purchases as (
    select * from {{ ref('int_purchases_selected') }}
),

order_lines as (
    select * from {{ ref('int_order_lines_refunded') }}
),

orders_per_day as (
    select
        customer_key,
        order_date,
        count(*) as orders_count
    from purchases
    group by customer_key, order_date
),

revenue_per_day as (
    select
        customer_key,
        order_date,
        sum(net_revenue) as net_revenue
    from order_lines
    group by customer_key, order_date
),

final as (
    select
        orders_per_day.customer_key,
        orders_per_day.order_date as purchase_date,
        orders_per_day.orders_count,
        coalesce(revenue_per_day.net_revenue, 0) as net_revenue
    from orders_per_day
    left join revenue_per_day
        on
            orders_per_day.customer_key = revenue_per_day.customer_key
            and orders_per_day.order_date = revenue_per_day.order_date
)

select * from final
