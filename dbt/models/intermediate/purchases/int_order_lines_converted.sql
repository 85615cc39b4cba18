-- Lines of purchases with their revenue converted to the base currency at the rate of the
-- latest rate_date on or before the order's date (the base currency converts at 1).
-- A null line_revenue means the currency had no rate by then: a blocking data test.

with purchases as (
    select * from {{ ref('int_purchases_selected') }}
),

order_lines as (
    select * from {{ ref('stg_commerce__order_lines') }}
),

fx_rates as (
    select * from {{ ref('stg_commerce__fx_rates') }}
),

purchase_lines as (
    select
        order_lines.order_line_id,
        order_lines.order_id,
        purchases.customer_key,
        purchases.order_date,
        purchases.currency_code,
        order_lines.product_id,
        order_lines.quantity,
        order_lines.unit_price,
        order_lines.discount_amount,
        order_lines.quantity * order_lines.unit_price - order_lines.discount_amount as line_revenue_local
    from order_lines
    inner join purchases
        on order_lines.order_id = purchases.order_id
),

rated as (
    select
        purchase_lines.*,
        fx_rates.rate_date as fx_rate_date,
        case
            when purchase_lines.currency_code = {{ base_currency() }} then cast(1 as decimal(18, 8))
            else fx_rates.rate_to_base
        end as fx_rate_to_base
    from purchase_lines
    asof left join fx_rates
        on
            purchase_lines.currency_code = fx_rates.currency_code
            and purchase_lines.order_date >= fx_rates.rate_date
),

final as (
    select
        order_line_id,
        order_id,
        customer_key,
        order_date,
        product_id,
        quantity,
        currency_code,
        line_revenue_local,
        fx_rate_date,
        fx_rate_to_base,
        line_revenue_local * fx_rate_to_base as line_revenue
    from rated
)

select * from final
