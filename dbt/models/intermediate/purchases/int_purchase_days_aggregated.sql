-- One row per customer and purchase date (several orders on one day are one purchase day):
-- the number of purchases that day and their money in the base currency, refunds made on or
-- before D included. The unit of the CLV models, and what the customer summary adds up.

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

money_per_day as (
    select
        customer_key,
        order_date,
        sum(gross_revenue) as gross_revenue,
        sum(refunded_amount) as refunded_amount,
        sum(net_revenue) as net_revenue,
        sum(cost_of_goods) as cost_of_goods,
        sum(gross_margin) as gross_margin
    from order_lines
    group by customer_key, order_date
),

final as (
    select
        orders_per_day.customer_key,
        orders_per_day.order_date as purchase_date,
        orders_per_day.orders_count,
        coalesce(money_per_day.gross_revenue, 0) as gross_revenue,
        coalesce(money_per_day.refunded_amount, 0) as refunded_amount,
        coalesce(money_per_day.net_revenue, 0) as net_revenue,
        coalesce(money_per_day.cost_of_goods, 0) as cost_of_goods,
        coalesce(money_per_day.gross_margin, 0) as gross_margin
    from orders_per_day
    left join money_per_day
        on
            orders_per_day.customer_key = money_per_day.customer_key
            and orders_per_day.order_date = money_per_day.order_date
)

select * from final
