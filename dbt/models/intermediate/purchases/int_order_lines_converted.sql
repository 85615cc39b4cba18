-- Every order line with its order and its revenue in the base currency, converted at the rate
-- of the latest rate_date on or before the order's date (the base currency converts at 1).
-- Independent of D: which lines are purchases as of D is decided downstream, so this model
-- is built incrementally, converting again only the lines whose line or order was (re)loaded
-- since the last build (minus a lookback), and those an FX rate loaded since then changes.
{{ config(
    materialized='incremental',
    unique_key='order_line_id',
    incremental_strategy='delete+insert',
    on_schema_change='fail',
) }}

with order_lines as (
    select * from {{ ref('stg_commerce__order_lines') }}
),

orders as (
    select * from {{ ref('stg_commerce__orders') }}
),

fx_rates as (
    select * from {{ ref('stg_commerce__fx_rates') }}
),

{% if is_incremental() %}
rates_changed as (
    {{ fx_rates_changed_since_last_build() }}
),

-- What changed is found first, key by key, and only those lines are joined and converted:
-- an `or` across both sides of the join would make every night join all lines to all orders.
orders_changed as (
    select order_id from orders
    where loaded_at > {{ incremental_since() }}
    union
    select orders.order_id from orders
    inner join rates_changed
        on
            orders.currency_code = rates_changed.currency_code
            and orders.order_date >= rates_changed.changed_from
),

lines_changed as (
    select order_line_id from order_lines
    where
        loaded_at > {{ incremental_since() }}
        or order_id in (select orders_changed.order_id from orders_changed)
),
{% endif %}

lines as (
    select
        order_lines.order_line_id,
        order_lines.order_id,
        orders.customer_id,
        orders.order_date,
        orders.order_status,
        orders.currency_code,
        order_lines.product_id,
        order_lines.quantity,
        order_lines.quantity * order_lines.unit_price - order_lines.discount_amount as line_revenue_local,
        greatest(order_lines.loaded_at, orders.loaded_at) as loaded_at
    from order_lines
    inner join orders
        on order_lines.order_id = orders.order_id
    {% if is_incremental() %}
        where order_lines.order_line_id in (select lines_changed.order_line_id from lines_changed)
    {% endif %}
),

rated as (
    {{ at_fx_rate('lines', 'order_date') }}
),

final as (
    select
        order_line_id,
        order_id,
        customer_id,
        order_date,
        order_status,
        product_id,
        quantity,
        currency_code,
        line_revenue_local,
        fx_rate_date,
        fx_rate_to_base,
        line_revenue_local * fx_rate_to_base as line_revenue,
        loaded_at
    from rated
)

select * from final
