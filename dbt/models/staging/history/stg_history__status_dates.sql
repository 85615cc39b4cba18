with source as (
    {{ recorded_state('history', 'status_dates', {
        'as_of_date': 'date', 'recorded_at': dbt.type_timestamp(), 'run_id': dbt.type_string(),
    }) }}
),

final as (
    select as_of_date from source
)

select * from final
