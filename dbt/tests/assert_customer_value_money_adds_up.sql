-- net_revenue = gross_revenue − refunded_amount and gross_margin = net_revenue − cost_of_goods
-- (each published amount is rounded on its own: they agree within a cent).

with customer_value as (
    select * from {{ ref('customer_value') }}
)

select
    customer_key,
    gross_revenue,
    refunded_amount,
    net_revenue,
    cost_of_goods,
    gross_margin
from customer_value
where
    abs(net_revenue - (gross_revenue - refunded_amount)) > 0.01
    or abs(gross_margin - (net_revenue - cost_of_goods)) > 0.01
