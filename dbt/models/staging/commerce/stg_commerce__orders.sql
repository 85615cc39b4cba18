with source as (
    select * from {{ source('commerce', 'orders') }}
),

renamed as (
    select
        order_id,
        customer_id,
        ordered_at,
        cast(ordered_at as date) as order_date,
        status as order_status,
        channel,
        currency as currency_code,
        updated_at,
        _loaded_at as loaded_at
    from source
)

select * from renamed
