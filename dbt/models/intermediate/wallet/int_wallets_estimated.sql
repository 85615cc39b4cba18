-- Share of wallet per customer. The wallet estimate is the first that applies: declared
-- category spend (CRM), third-party estimate (CRM), the peer 90th percentile (when the
-- customer's peer group has at least 30 members), else unknown; then floored at what the
-- customer spent with us in the last 365 days.

with customers as (
    select * from {{ ref('int_customers_resolved') }}
),

purchases as (
    select * from {{ ref('int_purchases_summarised') }}
),

crm as (
    select * from {{ ref('int_crm_accounts_resolved') }}
),

peer_groups as (
    select * from {{ ref('int_wallet_peer_groups_aggregated') }}
),

customer_spend as (
    select
        customers.customer_key,
        coalesce(purchases.net_revenue_365d, 0) as net_revenue_365d,
        crm.declared_category_spend,
        crm.third_party_wallet_estimate,
        peer_groups.peer_p90
    from customers
    left join purchases
        on customers.customer_key = purchases.customer_key
    left join crm
        on customers.customer_key = crm.customer_key
    left join peer_groups
        on
            customers.customer_type = peer_groups.customer_type
            and customers.region = peer_groups.region
),

estimated as (
    select
        customer_key,
        net_revenue_365d,
        case
            when declared_category_spend is not null then 'declared'
            when third_party_wallet_estimate is not null then 'third_party'
            when peer_p90 is not null then 'peer_p90'
            else 'unknown'
        end as wallet_method,
        coalesce(declared_category_spend, third_party_wallet_estimate, peer_p90) as source_estimate
    from customer_spend
),

floored as (
    select
        *,
        -- a wallet can't be smaller than what the customer spent with us
        case
            when source_estimate is not null then greatest(source_estimate, net_revenue_365d)
        end as wallet_estimate
    from estimated
),

final as (
    select
        customer_key,
        wallet_method,
        source_estimate,
        net_revenue_365d,
        wallet_estimate,
        -- a negative 365-day net revenue is no share at all: 0, like the headroom's max(…, 0)
        case
            when wallet_estimate > 0
                then cast(greatest(net_revenue_365d, 0) as double) / cast(wallet_estimate as double)
        end as share_of_wallet,
        wallet_estimate - greatest(net_revenue_365d, 0) as wallet_headroom
    from floored
)

select * from final
