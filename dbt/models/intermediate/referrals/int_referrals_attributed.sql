-- Referrals made on or before D, attributed to the referrer's customer_key, with the
-- referred customer (by referee_customer_id, else by normalised referee_email) and a
-- self-referral flag (the referee resolves to the referrer's own customer either way).

with referrals as (
    select * from {{ ref('stg_referrals__referrals') }}
),

accounts as (
    select * from {{ ref('int_accounts_mapped') }}
),

customer_emails as (
    select distinct
        email_normalized,
        customer_key
    from accounts
    where email_normalized is not null
),

resolved as (
    select
        referrals.referral_id,
        referrer.customer_key as referrer_customer_key,
        referee_account.customer_key as referee_key_by_account,
        referee_email.customer_key as referee_key_by_email,
        referrals.referred_at,
        referrals.referral_date,
        referrals.referral_status
    from referrals
    inner join accounts as referrer
        on referrals.referrer_customer_id = referrer.customer_id
    left join accounts as referee_account
        on referrals.referee_customer_id = referee_account.customer_id
    left join customer_emails as referee_email
        on nullif(lower(trim(referrals.referee_email)), '') = referee_email.email_normalized
    where referrals.referral_date <= {{ as_of_date() }}
),

final as (
    select
        referral_id,
        referrer_customer_key,
        coalesce(referee_key_by_account, referee_key_by_email) as referee_customer_key,
        coalesce(referee_key_by_account = referrer_customer_key, false)
        or coalesce(referee_key_by_email = referrer_customer_key, false) as is_self_referral,
        referred_at,
        referral_date,
        referral_status
    from resolved
)

select * from final
