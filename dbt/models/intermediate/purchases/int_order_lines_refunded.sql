-- Lines of purchases with their refunds up to D and their cost, in the base currency:
-- returned units = min(quantity, total refunded units); cost covers the units kept.

with order_lines as (
    select * from {{ ref('int_order_lines_converted') }}
),

refunds as (
    select * from {{ ref('int_refunds_converted') }}
),

products as (
    select * from {{ ref('stg_commerce__products') }}
),

refunds_per_line as (
    select
        order_line_id,
        count(*) as refunds_count,
        sum(refunded_quantity) as refunded_quantity,
        sum(refund_amount) as refunded_amount
    from refunds
    group by order_line_id
),

joined as (
    select
        order_lines.order_line_id,
        order_lines.order_id,
        order_lines.customer_key,
        order_lines.order_date,
        order_lines.product_id,
        order_lines.quantity,
        order_lines.line_revenue as gross_revenue,
        coalesce(refunds_per_line.refunds_count, 0) as refunds_count,
        coalesce(refunds_per_line.refunded_quantity, 0) as refunded_quantity,
        coalesce(refunds_per_line.refunded_amount, 0) as refunded_amount,
        products.unit_cost
    from order_lines
    left join refunds_per_line
        on order_lines.order_line_id = refunds_per_line.order_line_id
    left join products
        on order_lines.product_id = products.product_id
),

costed as (
    select
        *,
        least(quantity, refunded_quantity) as returned_units,
        gross_revenue - refunded_amount as net_revenue,
        unit_cost * (quantity - least(quantity, refunded_quantity)) as cost_of_goods
    from joined
),

final as (
    select
        order_line_id,
        order_id,
        customer_key,
        order_date,
        product_id,
        quantity,
        refunds_count,
        refunded_quantity,
        returned_units,
        unit_cost,
        gross_revenue,
        refunded_amount,
        net_revenue,
        cost_of_goods,
        net_revenue - cost_of_goods as gross_margin
    from costed
)

select * from final
