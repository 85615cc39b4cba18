-- int_order_lines_converted is built incrementally, night after night; what it holds must be
-- what a rebuild from the loaded sources would hold. Control totals per currency and order
-- status (lines, units, local revenue, order dates), recomputed from staging, and the FX
-- rates the lines were converted at, against the rates held now. Any row is a line the
-- incremental path missed: the published figures are wrong until `cvw run --full-refresh`.
{{ config(meta={'dagster': {'ref': {'name': 'int_order_lines_converted'}}}) }}

with converted as (
    select * from {{ ref('int_order_lines_converted') }}
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
        order_status,
        count(*) as lines_count,
        sum(quantity) as units,
        sum(line_revenue_local) as revenue_local,
        sum({{ dbt.datediff("cast('2000-01-01' as date)", 'order_date', 'day') }}) as order_days
    from converted
    group by currency_code, order_status
),

rebuilt as (
    select
        orders.currency_code,
        orders.order_status,
        count(*) as lines_count,
        sum(order_lines.quantity) as units,
        sum(order_lines.quantity * order_lines.unit_price - order_lines.discount_amount) as revenue_local,
        sum({{ dbt.datediff("cast('2000-01-01' as date)", 'orders.order_date', 'day') }}) as order_days
    from order_lines
    inner join orders
        on order_lines.order_id = orders.order_id
    group by orders.currency_code, orders.order_status
),

totals_differ as (
    select
        'control totals' as check_name,
        coalesce(built.currency_code, rebuilt.currency_code) as currency_code,
        'status ' || coalesce(built.order_status, rebuilt.order_status)
        || ': built ' || coalesce(cast(built.lines_count as {{ dbt.type_string() }}), '0') || ' lines, '
        || coalesce(cast(built.revenue_local as {{ dbt.type_string() }}), '0')
        || '; from the sources ' || coalesce(cast(rebuilt.lines_count as {{ dbt.type_string() }}), '0') || ' lines, '
        || coalesce(cast(rebuilt.revenue_local as {{ dbt.type_string() }}), '0') as detail
    from built
    full outer join rebuilt
        on
            built.currency_code is not distinct from rebuilt.currency_code
            and built.order_status is not distinct from rebuilt.order_status
    where
        built.lines_count is distinct from rebuilt.lines_count
        or built.units is distinct from rebuilt.units
        or built.revenue_local is distinct from rebuilt.revenue_local
        or built.order_days is distinct from rebuilt.order_days
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
