{#-
    Publishes an unrounded amount as money: rounded once, half away from zero, to cents.
-#}
{% macro to_money(expression) -%}
    cast(round({{ expression }}, 2) as decimal(18, 2))
{%- endmacro %}
