{#-
    The as-of date D as a SQL date literal, e.g. `date '2024-06-30'`.
    Every model reads D through this macro (var `as_of_date`, default the run's date).
-#}
{% macro as_of_date() -%}
    {%- set value = var('as_of_date') | string | trim -%}
    {%- if not modules.re.match('^[0-9]{4}-[0-9]{2}-[0-9]{2}$', value) -%}
        {{ exceptions.raise_compiler_error("var as_of_date must be a date YYYY-MM-DD, got '" ~ value ~ "'") }}
    {%- endif -%}
    date '{{ value }}'
{%- endmacro %}
