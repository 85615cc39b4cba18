{#-
    The window customer_moments reports, W = (D - N, D], N = var `moment_window_days` (default
    env CVW_MOMENT_WINDOW_DAYS, else 7): moment_window_start() is the excluded first bound.
-#}
{% macro moment_window_days() -%}
    {%- set value = var('moment_window_days') | string | trim -%}
    {%- if not modules.re.match('^[0-9]+$', value) or (value | int) < 1 or (value | int) > 365 -%}
        {{ exceptions.raise_compiler_error("var moment_window_days must be a whole number of days from 1 to 365, got '" ~ value ~ "'") }}
    {%- endif -%}
    {{ value | int }}
{%- endmacro %}

{% macro moment_window_start() -%}
    cast({{ as_of_date() }} - {{ moment_window_days() }} as date)
{%- endmacro %}

{% macro in_moment_window(column) -%}
    ({{ column }} > {{ moment_window_start() }} and {{ column }} <= {{ as_of_date() }})
{%- endmacro %}
