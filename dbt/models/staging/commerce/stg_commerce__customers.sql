with source as (
    select * from {{ source('commerce', 'customers') }}
),

renamed as (
    select
        customer_id,
        email,
        phone,
        first_name,
        last_name,
        customer_type,
        region,
        created_at,
        cast(created_at as date) as created_date,
        updated_at
    from source
)

select * from renamed
