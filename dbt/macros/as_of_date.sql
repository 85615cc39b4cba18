{#-
    The as-of date D as a SQL date literal, e.g. `date '2024-06-30'`. Every model reads D
    through this macro: from CVW_DBT_AS_OF_DATE when the orchestrator sets it (read only when
    the SQL executes, so a new date does not make dbt parse the whole project again), else the
    var `as_of_date` (default: the date the run started).
-#}
{% macro as_of_date() -%}
    {%- set value = (env_var('CVW_DBT_AS_OF_DATE', '') if execute else '') or var('as_of_date') -%}
    {%- set value = value | string | trim -%}
    {%- if not modules.re.match('^[0-9]{4}-[0-9]{2}-[0-9]{2}$', value) -%}
        {{ exceptions.raise_compiler_error("the as-of date must be a date YYYY-MM-DD, got '" ~ value ~ "'") }}
    {%- endif -%}
    date '{{ value }}'
{%- endmacro %}
