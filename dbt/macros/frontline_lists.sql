{#-
    What the frontline lists (at_risk_customers, win_back_customers) share, so that their
    order and their wording cannot drift apart.
-#}
{% macro list_priority() -%}
    cast(row_number() over (order by annual_value desc, p_alive desc nulls last, customer_key asc) as integer)
{%- endmacro %}

{% macro overdue_reason(value_verb) -%}
    'last purchase ' || recency_days || ' days ago, usually every '
    || cast(round(median_gap_days) as integer) || ' days: ' || days_overdue || ' days overdue'
    || coalesce('; P(alive) ' || printf('%.0f%%', p_alive * 100), '')
    || coalesce('; {{ value_verb }} ' || cast(annual_value as varchar) || ' a year', '')
{%- endmacro %}
