with source as (
    select * from {{ source('crm', 'accounts') }}
),

renamed as (
    select
        customer_id,
        lifestage,
        declared_category_spend,
        third_party_wallet_estimate,
        updated_at,
        is_deleted
    from source
)

select * from renamed
