-- One row per day, the calendar MetricFlow joins time-based metrics to (the semantic
-- layer's time spine), 2000-01-01 to 2049-12-31: every as-of date a warehouse will have.

with spine as (
    {{ dbt.date_spine('day', "cast('2000-01-01' as date)", "cast('2050-01-01' as date)") }}
),

final as (
    select cast(date_day as date) as date_day
    from spine
)

select * from final
