-- Peer groups of the share-of-wallet fallback: per customer_type and region, the customers
-- whose net_revenue_365d is above 0, and the 90th percentile (continuous interpolation) of
-- their net_revenue_365d, usable only when there are at least 30 of them.

with customers as (
    select * from {{ ref('int_customers_resolved') }}
),

purchases as (
    select * from {{ ref('int_purchases_summarised') }}
),

peers as (
    select
        customers.customer_type,
        customers.region,
        purchases.net_revenue_365d
    from customers
    inner join purchases
        on customers.customer_key = purchases.customer_key
    where purchases.net_revenue_365d > 0
),

aggregated as (
    select
        customer_type,
        region,
        count(*) as peers_count,
        quantile_cont(net_revenue_365d, 0.9) as net_revenue_365d_p90
    from peers
    group by customer_type, region
),

final as (
    select
        customer_type,
        region,
        peers_count,
        net_revenue_365d_p90,
        peers_count >= 30 as has_enough_peers,
        case when peers_count >= 30 then net_revenue_365d_p90 end as peer_p90
    from aggregated
)

select * from final
