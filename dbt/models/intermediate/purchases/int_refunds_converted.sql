-- Refunds made on or before D on lines of purchases, converted to the base currency at the
-- rate of the latest rate_date on or before the refund's own date (the base currency
-- converts at 1). A null refund_amount means no rate by then: a blocking data test.

with refunds as (
    select * from {{ ref('stg_commerce__refunds') }}
),

order_lines as (
    select * from {{ ref('stg_commerce__order_lines') }}
),

purchases as (
    select * from {{ ref('int_purchases_selected') }}
),

fx_rates as (
    select * from {{ ref('stg_commerce__fx_rates') }}
),

refunds_to_date as (
    select
        refunds.refund_id,
        refunds.order_line_id,
        purchases.order_id,
        purchases.customer_key,
        refunds.refunded_at,
        refunds.refund_date,
        refunds.refunded_quantity,
        purchases.currency_code,
        refunds.refund_amount as refund_amount_local
    from refunds
    inner join order_lines
        on refunds.order_line_id = order_lines.order_line_id
    inner join purchases
        on order_lines.order_id = purchases.order_id
    where refunds.refund_date <= {{ as_of_date() }}
),

rated as (
    select
        refunds_to_date.*,
        fx_rates.rate_date as fx_rate_date,
        case
            when refunds_to_date.currency_code = {{ base_currency() }} then cast(1 as decimal(18, 8))
            else fx_rates.rate_to_base
        end as fx_rate_to_base
    from refunds_to_date
    asof left join fx_rates
        on
            refunds_to_date.currency_code = fx_rates.currency_code
            and refunds_to_date.refund_date >= fx_rates.rate_date
),

final as (
    select
        refund_id,
        order_line_id,
        order_id,
        customer_key,
        refunded_at,
        refund_date,
        refunded_quantity,
        currency_code,
        refund_amount_local,
        fx_rate_date,
        fx_rate_to_base,
        refund_amount_local * fx_rate_to_base as refund_amount
    from rated
)

select * from final
