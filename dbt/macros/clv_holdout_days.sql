{#-
    Length in days of the CLV holdout period (var `clv_holdout_days`, default env
    CVW_CLV_HOLDOUT_DAYS, else 180), as a SQL integer literal.
-#}
{% macro clv_holdout_days() -%}
    {%- set value = var('clv_holdout_days') | string | trim -%}
    {%- if not modules.re.match('^[1-9][0-9]*$', value) -%}
        {{ exceptions.raise_compiler_error("var clv_holdout_days must be a positive whole number of days, got '" ~ value ~ "'") }}
    {%- endif -%}
    {{ value }}
{%- endmacro %}
