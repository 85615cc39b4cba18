with source as (
    select * from {{ source('commerce', 'refunds') }}
),

renamed as (
    select
        refund_id,
        order_line_id,
        refunded_at,
        cast(refunded_at as date) as refund_date,
        quantity as refunded_quantity,
        amount as refund_amount,
        updated_at,
        _loaded_at as loaded_at
    from source
)

select * from renamed
