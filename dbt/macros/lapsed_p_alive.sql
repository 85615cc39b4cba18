{#-
    The P(alive) below which an overdue regular has lapsed (var `lapsed_p_alive`, default env
    CVW_LAPSED_P_ALIVE, else 0.2), as a SQL double literal.
-#}
{% macro lapsed_p_alive() -%}
    {%- set value = var('lapsed_p_alive') | string | trim -%}
    {%- if not modules.re.match('^(0(\.[0-9]+)?|1(\.0+)?|\.[0-9]+)$', value) -%}
        {{ exceptions.raise_compiler_error("var lapsed_p_alive must be a probability in [0, 1], got '" ~ value ~ "'") }}
    {%- endif -%}
    cast({{ value }} as double)
{%- endmacro %}
