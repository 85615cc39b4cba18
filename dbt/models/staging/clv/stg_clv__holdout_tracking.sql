with source as (
    select * from {{ source('clv', 'holdout_tracking') }}
),

renamed as (
    select
        as_of_date,
        week,
        week_end,
        is_holdout,
        actual_repeat_purchases,
        predicted_repeat_purchases
    from source
)

select * from renamed
