{#-
    The time from which an incremental model re-reads its inputs: the latest `loaded_at` it
    already holds, minus var `incremental_lookback_hours` (default 1), so rows loaded out of order or
    with a skewed clock are processed again (the models merge on their key: harmless). The
    extraction's load stamps only ever increase (raw_store.load_stamp), so a load after the
    last build is always later than everything the model holds, whatever the clock did.
-#}
{% macro incremental_since() -%}
    (
        select max(built.loaded_at) - interval ({{ var('incremental_lookback_hours') | int }}) hour
        from {{ this }} as built
    )
{%- endmacro %}
