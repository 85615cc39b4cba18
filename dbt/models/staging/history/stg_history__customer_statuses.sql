with source as (
    select * from {{ source('history', 'customer_statuses') }}
),

renamed as (
    select
        customer_key,
        value_tier,
        value_segment,
        rhythm_status,
        valid_from,
        valid_to,
        value_tier in ('platinum', 'gold') and rhythm_status = 'lapsed' as is_lapsed
    from source
),

final as (
    select * from renamed
)

select * from final
