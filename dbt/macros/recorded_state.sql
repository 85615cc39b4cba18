{#-
    A source table of state the pipeline records after the marts (the status history): read it,
    or, before the first night has recorded anything (the table does not exist yet), no rows of
    the given columns ({name: type}). The source is always named, so the lineage keeps it.
-#}
{% macro recorded_state(source_name, table_name, columns) -%}
    {%- set table = source(source_name, table_name) -%}
    {%- set relation = adapter.get_relation(database=table.database, schema=table.schema, identifier=table.identifier)
        if execute else table -%}
    {%- if relation is none -%}
        select
        {%- for name, type in columns.items() %}
            cast(null as {{ type }}) as {{ name }}{{ "," if not loop.last }}
        {%- endfor %}
        where false
    {%- else -%}
        select * from {{ table }}
    {%- endif -%}
{%- endmacro %}
