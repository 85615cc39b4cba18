{#-
    Fails for every combination of the given columns that occurs on more than one row:
    the grain of a model keyed by several columns.
-#}
{% test unique_combination(model, columns) %}

select
    {{ columns | join(', ') }},
    count(*) as rows_with_this_key
from {{ model }}
group by {{ columns | join(', ') }}
having count(*) > 1

{% endtest %}
