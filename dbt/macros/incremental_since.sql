{#-
    The time from which an incremental model re-reads its inputs: the latest `loaded_at` it
    already holds, minus var `incremental_lookback_hours` (default 1), so rows loaded out of order or
    with a skewed clock are processed again (the models merge on their key: harmless).
-#}
{% macro incremental_since() -%}
    (
        select max(built.loaded_at) - interval ({{ var('incremental_lookback_hours') | int }}) hour
        from {{ this }} as built
    )
{%- endmacro %}
