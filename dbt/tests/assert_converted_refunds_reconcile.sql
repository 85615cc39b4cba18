-- int_refunds_converted is built incrementally like int_order_lines_converted and reconciled
-- the same way (see assert_converted_lines_reconcile): control totals per currency from
-- staging, and the FX rates the refunds were converted at against the rates held now.
{{ config(meta={'dagster': {'ref': {'name': 'int_refunds_converted'}}}) }}

with converted as (
    select * from {{ ref('int_refunds_converted') }}
),

refunds as (
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

built as (
    select
        currency_code,
        count(*) as refunds_count,
        sum(refunded_quantity) as units,
        sum(refund_amount_local) as amount_local,
        sum({{ dbt.datediff("cast('2000-01-01' as date)", 'refund_date', 'day') }}) as refund_days
    from converted
    group by currency_code
),

rebuilt as (
    select
        orders.currency_code,
        count(*) as refunds_count,
        sum(refunds.refunded_quantity) as units,
        sum(refunds.refund_amount) as amount_local,
        sum({{ dbt.datediff("cast('2000-01-01' as date)", 'refunds.refund_date', 'day') }}) as refund_days
    from refunds
    inner join order_lines
        on refunds.order_line_id = order_lines.order_line_id
    inner join orders
        on order_lines.order_id = orders.order_id
    group by orders.currency_code
),

totals_differ as (
    select
        'control totals' as check_name,
        coalesce(built.currency_code, rebuilt.currency_code) as currency_code,
        'built ' || coalesce(cast(built.refunds_count as {{ dbt.type_string() }}), '0') || ' refunds, '
        || coalesce(cast(built.amount_local as {{ dbt.type_string() }}), '0')
        || '; from the sources ' || coalesce(cast(rebuilt.refunds_count as {{ dbt.type_string() }}), '0')
        || ' refunds, ' || coalesce(cast(rebuilt.amount_local as {{ dbt.type_string() }}), '0') as detail
    from built
    full outer join rebuilt
        on built.currency_code is not distinct from rebuilt.currency_code
    where
        built.refunds_count is distinct from rebuilt.refunds_count
        or built.units is distinct from rebuilt.units
        or built.amount_local is distinct from rebuilt.amount_local
        or built.refund_days is distinct from rebuilt.refund_days
),

rates_differ as (
    {{ stale_fx_rates('converted') }}
),

final as (
    select * from totals_differ
    union all
    select * from rates_differ
)

select * from final
