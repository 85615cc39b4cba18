-- Every refund with the currency of its order and its amount in the base currency, converted at
-- the rate of the latest rate_date on or before the refund's own date (the base currency
-- converts at 1). Independent of D (refunds after D are left out downstream), so built
-- incrementally like int_order_lines_converted: refunds whose refund, line or order was
-- (re)loaded since the last build, and those an FX rate loaded since then changes.
{{ config(
    materialized='incremental',
    unique_key='refund_id',
    incremental_strategy='delete+insert',
    on_schema_change='fail',
) }}

with refunds as (
    select * from {{ ref('stg_commerce__refunds') }}
),

order_lines as (
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
{% endif %}

refunds_with_orders as (
    select
        refunds.refund_id,
        refunds.order_line_id,
        orders.order_id,
        refunds.refunded_at,
        refunds.refund_date,
        refunds.refunded_quantity,
        orders.currency_code,
        refunds.refund_amount as refund_amount_local,
        greatest(refunds.loaded_at, order_lines.loaded_at, orders.loaded_at) as loaded_at
    from refunds
    inner join order_lines
        on refunds.order_line_id = order_lines.order_line_id
    inner join orders
        on order_lines.order_id = orders.order_id
    {% if is_incremental() %}
        where
            refunds.loaded_at > {{ incremental_since() }}
            or order_lines.loaded_at > {{ incremental_since() }}
            or orders.loaded_at > {{ incremental_since() }}
            or exists (
                select 1 from rates_changed
                where
                    rates_changed.currency_code = orders.currency_code
                    and refunds.refund_date >= rates_changed.changed_from
            )
    {% endif %}
),

rated as (
    {{ at_fx_rate('refunds_with_orders', 'refund_date') }}
),

final as (
    select
        refund_id,
        order_line_id,
        order_id,
        refunded_at,
        refund_date,
        refunded_quantity,
        currency_code,
        refund_amount_local,
        fx_rate_date,
        fx_rate_to_base,
        refund_amount_local * fx_rate_to_base as refund_amount,
        loaded_at
    from rated
)

select * from final
