-- Customers with purchases have their dates, tenure and average order value; customers
-- without have none, and no money; there are never fewer orders than purchase days.

with customer_value as (
    select * from {{ ref('customer_value') }}
)

select
    customer_key,
    orders_count,
    purchase_days,
    first_order_date,
    last_order_date
from customer_value
where
    orders_count < purchase_days
    or (orders_count > 0 and (
        first_order_date is null
        or last_order_date is null
        or tenure_days is null
        or recency_days is null
        or average_order_value is null
        or first_order_date > last_order_date
        or last_order_date > as_of_date
    ))
    or (orders_count = 0 and (
        first_order_date is not null
        or tenure_days is not null
        or average_order_value is not null
        or median_gap_days is not null
        or gross_revenue <> 0
        or net_revenue <> 0
        or cost_of_goods <> 0
    ))
    or (purchase_days < 2 and median_gap_days is not null)
    or (purchase_days >= 2 and median_gap_days is null)
