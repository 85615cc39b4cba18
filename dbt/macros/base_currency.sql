{#-
    The base currency (var `base_currency`, default USD) as a SQL string literal, e.g. `'USD'`.
-#}
{% macro base_currency() -%}
    {%- set value = var('base_currency') | string | trim | upper -%}
    {%- if not modules.re.match('^[A-Z]{3}$', value) -%}
        {{ exceptions.raise_compiler_error("var base_currency must be an ISO 4217 code, got '" ~ value ~ "'") }}
    {%- endif -%}
    '{{ value }}'
{%- endmacro %}
