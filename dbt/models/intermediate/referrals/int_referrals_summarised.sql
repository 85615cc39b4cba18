-- Referral metrics per referring customer: counted referrals (self-referrals never count),
-- distinct referred customers who made a purchase by D, and those customers' net revenue.

with referrals as (
    select * from {{ ref('int_referrals_attributed') }}
),

purchases as (
    select * from {{ ref('int_purchases_summarised') }}
),

counted as (
    select *
    from referrals
    where not is_self_referral
),

sent as (
    select
        referrer_customer_key as customer_key,
        count(*) as referrals_sent
    from counted
    group by referrer_customer_key
),

referred_customers as (
    select distinct
        referrer_customer_key,
        referee_customer_key
    from counted
    where referee_customer_key is not null
),

converted as (
    select
        referred_customers.referrer_customer_key as customer_key,
        count(*) as referrals_converted,
        sum(purchases.net_revenue) as referred_net_revenue
    from referred_customers
    inner join purchases
        on referred_customers.referee_customer_key = purchases.customer_key
    group by referred_customers.referrer_customer_key
),

final as (
    select
        sent.customer_key,
        sent.referrals_sent,
        coalesce(converted.referrals_converted, 0) as referrals_converted,
        coalesce(converted.referred_net_revenue, 0) as referred_net_revenue
    from sent
    left join converted
        on sent.customer_key = converted.customer_key
)

select * from final
