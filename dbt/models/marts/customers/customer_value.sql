-- customer_value: one row per customer as of D, every metric of docs/metrics.md.
-- Money is rounded once, here, from the unrounded intermediate sums. Customers without
-- purchases get 0 money and counts, null dates, tenure, recency, averages and predictions,
-- the population margin rate, and the value segment `prospect`.

with customers as (
    select * from {{ ref('int_customers_resolved') }}
),

crm as (
    select * from {{ ref('int_crm_accounts_resolved') }}
),

purchases as (
    select * from {{ ref('int_purchases_summarised') }}
),

wallets as (
    select * from {{ ref('int_wallets_estimated') }}
),

referrals as (
    select * from {{ ref('int_referrals_summarised') }}
),

reviews as (
    select * from {{ ref('int_reviews_summarised') }}
),

feedback as (
    select * from {{ ref('int_feedback_summarised') }}
),

predicted as (
    select * from {{ ref('int_customers_value_predicted') }}
),

segments as (
    select * from {{ ref('int_customers_segmented') }}
),

final as (
    select
        {{ as_of_date() }} as as_of_date,
        customers.customer_key,
        customers.customer_type,
        customers.region,
        crm.lifestage,
        customers.customer_since,
        cast(customers.accounts_count as integer) as accounts_count,
        {{ to_money('coalesce(purchases.gross_revenue, 0)') }} as gross_revenue,
        {{ to_money('coalesce(purchases.refunded_amount, 0)') }} as refunded_amount,
        {{ to_money('coalesce(purchases.net_revenue, 0)') }} as net_revenue,
        {{ to_money('coalesce(purchases.cost_of_goods, 0)') }} as cost_of_goods,
        {{ to_money('coalesce(purchases.gross_margin, 0)') }} as gross_margin,
        cast(coalesce(purchases.orders_count, 0) as integer) as orders_count,
        cast(coalesce(purchases.purchase_days, 0) as integer) as purchase_days,
        purchases.first_order_date,
        purchases.last_order_date,
        cast(purchases.tenure_days as integer) as tenure_days,
        cast(purchases.recency_days as integer) as recency_days,
        {{ to_money('purchases.average_order_value') }} as average_order_value,
        {{ to_money('coalesce(purchases.net_revenue_365d, 0)') }} as net_revenue_365d,
        {{ to_money('coalesce(purchases.gross_margin_365d, 0)') }} as gross_margin_365d,
        -- the margin earned per year as a customer: what she takes with her if she leaves
        {{ to_money('purchases.gross_margin * 365 / greatest(365, purchases.tenure_days)') }} as annual_value,
        cast(purchases.median_gap_days as double) as median_gap_days,
        {{ to_money('wallets.wallet_estimate') }} as wallet_estimate,
        coalesce(wallets.wallet_method, 'unknown') as wallet_method,
        cast(wallets.share_of_wallet as double) as share_of_wallet,
        {{ to_money('wallets.wallet_headroom') }} as wallet_headroom,
        cast(coalesce(referrals.referrals_sent, 0) as integer) as referrals_sent,
        cast(coalesce(referrals.referrals_converted, 0) as integer) as referrals_converted,
        {{ to_money('coalesce(referrals.referred_net_revenue, 0)') }} as referred_net_revenue,
        cast(coalesce(reviews.reviews_count, 0) as integer) as reviews_count,
        cast(reviews.avg_rating as double) as avg_rating,
        cast(coalesce(feedback.feedback_count, 0) as integer) as feedback_count,
        cast(coalesce(feedback.complaints_count, 0) as integer) as complaints_count,
        cast(feedback.avg_csat as double) as avg_csat,
        cast(feedback.latest_nps as integer) as latest_nps,
        feedback.nps_category,
        cast(predicted.p_alive as double) as p_alive,
        cast(predicted.expected_purchases_365d as double) as expected_purchases_365d,
        cast(predicted.purchases_365d_low as integer) as purchases_365d_low,
        cast(predicted.purchases_365d_high as integer) as purchases_365d_high,
        {{ to_money('predicted.expected_order_value') }} as expected_order_value,
        cast(predicted.margin_rate as double) as margin_rate,
        {{ to_money('predicted.predicted_clv_12m') }} as predicted_clv_12m,
        {{ to_money('predicted.predicted_clv_12m_low') }} as predicted_clv_12m_low,
        {{ to_money('predicted.predicted_clv_12m_high') }} as predicted_clv_12m_high,
        segments.value_tier,
        segments.value_segment,
        segments.rhythm_status,
        segments.is_at_risk,
        segments.is_lapsed,
        segments.expected_next_order_date
    from customers
    left join crm
        on customers.customer_key = crm.customer_key
    left join purchases
        on customers.customer_key = purchases.customer_key
    left join wallets
        on customers.customer_key = wallets.customer_key
    left join referrals
        on customers.customer_key = referrals.customer_key
    left join reviews
        on customers.customer_key = reviews.customer_key
    left join feedback
        on customers.customer_key = feedback.customer_key
    left join predicted
        on customers.customer_key = predicted.customer_key
    left join segments
        on customers.customer_key = segments.customer_key
)

select * from final
order by customer_key
