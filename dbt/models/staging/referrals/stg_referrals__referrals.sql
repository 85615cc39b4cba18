with source as (
    select * from {{ source('referrals', 'referrals') }}
),

renamed as (
    select
        referral_id,
        referrer_customer_id,
        referee_email,
        referee_customer_id,
        referred_at,
        cast(referred_at as date) as referral_date,
        status as referral_status,
        reward_amount,
        updated_at
    from source
)

select * from renamed
