with source as (
    select * from {{ source('history', 'status_dates') }}
),

final as (
    select as_of_date from source
)

select * from final
