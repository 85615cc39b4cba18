-- Lines of purchases as of D with their refunds made on or before D and their cost, in the
-- base currency: returned units = min(quantity, total refunded units); cost covers the units
-- kept. Recomputed every night from the incrementally built converted lines and refunds.

with purchases as (
    select * from {{ ref('int_purchases_selected') }}
),

order_lines as (
    select * from {{ ref('int_order_lines_converted') }}
),

refunds as (
    select * from {{ ref('int_refunds_converted') }}
),

products as (
    select * from {{ ref('stg_commerce__products') }}
),

purchase_lines as (
    select
        order_lines.*,
        purchases.customer_key
    from order_lines
    inner join purchases
        on order_lines.order_id = purchases.order_id
),

refunds_per_line as (
    select
        order_line_id,
        count(*) as refunds_count,
        sum(refunded_quantity) as refunded_quantity,
        sum(refund_amount) as refunded_amount
    from refunds
    where refund_date <= {{ as_of_date() }}
    group by order_line_id
),

joined as (
    select
        purchase_lines.order_line_id,
        purchase_lines.order_id,
        purchase_lines.customer_key,
        purchase_lines.order_date,
        purchase_lines.product_id,
        purchase_lines.quantity,
        purchase_lines.line_revenue as gross_revenue,
        coalesce(refunds_per_line.refunds_count, 0) as refunds_count,
        coalesce(refunds_per_line.refunded_quantity, 0) as refunded_quantity,
        coalesce(refunds_per_line.refunded_amount, 0) as refunded_amount,
        products.unit_cost
    from purchase_lines
    left join refunds_per_line
        on purchase_lines.order_line_id = refunds_per_line.order_line_id
    left join products
        on purchase_lines.product_id = products.product_id
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
