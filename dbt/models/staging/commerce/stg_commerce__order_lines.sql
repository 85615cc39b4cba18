with source as (
    select * from {{ source('commerce', 'order_lines') }}
),

renamed as (
    select
        order_line_id,
        order_id,
        product_id,
        quantity,
        unit_price,
        discount_amount,
        updated_at,
        _loaded_at as loaded_at
    from source
)

select * from renamed
