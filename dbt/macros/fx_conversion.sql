{#-
    The FX rule of docs/metrics.md, in one place: an amount converts with the rate of the
    latest rate_date on or before the event's own date; the base currency converts at 1
    without a rate row. `at_fx_rate` selects every column of `events` (which has
    currency_code and `date_column`) plus fx_rate_date and fx_rate_to_base (null: no rate yet).
-#}
{% macro at_fx_rate(events, date_column, fx_rates='fx_rates') -%}
    select
        {{ events }}.*,
        {{ fx_rates }}.rate_date as fx_rate_date,
        case
            when {{ events }}.currency_code = {{ base_currency() }} then cast(1 as decimal(18, 8))
            else {{ fx_rates }}.rate_to_base
        end as fx_rate_to_base
    from {{ events }}
    asof left join {{ fx_rates }}
        on
            {{ events }}.currency_code = {{ fx_rates }}.currency_code
            and {{ events }}.{{ date_column }} >= {{ fx_rates }}.rate_date
{%- endmacro %}

{#-
    For incremental models converting amounts: per currency, the earliest rate_date of the
    rates loaded since the model's last build; events of that currency on or after it may
    convert otherwise now.
-#}
{% macro fx_rates_changed_since_last_build(fx_rates='fx_rates') -%}
    select
        currency_code,
        min(rate_date) as changed_from
    from {{ fx_rates }}
    where loaded_at > {{ incremental_since() }}
    group by currency_code
{%- endmacro %}
