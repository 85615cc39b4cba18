with source as (
    select * from {{ source('clv', 'order_value_predictions') }}
),

renamed as (
    select
        as_of_date,
        frequency,
        monetary_value,
        customers,
        expected_order_value
    from source
)

select * from renamed
