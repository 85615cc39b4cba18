-- Purchases: completed orders placed on or before D by accounts that are customers by D.

with orders as (
    select * from {{ ref('stg_commerce__orders') }}
),

accounts as (
    select * from {{ ref('int_accounts_mapped') }}
),

final as (
    select
        orders.order_id,
        accounts.customer_key,
        orders.customer_id,
        orders.ordered_at,
        orders.order_date,
        orders.channel,
        orders.currency_code
    from orders
    inner join accounts
        on orders.customer_id = accounts.customer_id
    where
        orders.order_status = 'completed'
        and orders.order_date <= {{ as_of_date() }}
)

select * from final
