with source as (
    select * from {{ source('clv', 'holdout_lift') }}
),

renamed as (
    select
        as_of_date,
        decile,
        customers,
        mean_predicted_purchases,
        mean_actual_purchases
    from source
)

select * from renamed
