with source as (
    select * from {{ source('commerce', 'products') }}
),

renamed as (
    select
        product_id,
        name as product_name,
        category,
        unit_cost,
        updated_at
    from source
)

select * from renamed
