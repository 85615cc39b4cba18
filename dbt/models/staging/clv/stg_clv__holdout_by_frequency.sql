with source as (
    select * from {{ source('clv', 'holdout_by_frequency') }}
),

renamed as (
    select
        as_of_date,
        calibration_frequency,
        frequency_group,
        customers,
        predicted_purchases,
        actual_purchases
    from source
)

select * from renamed
