-- customer_cards: what a frontline employee needs on screen to recognise and thank a
-- customer, one row per customer as of D. Never an e-mail address or a phone number.

with customer_value as (
    select * from {{ ref('customer_value') }}
),

customers as (
    select * from {{ ref('int_customers_resolved') }}
),

feedback as (
    select * from {{ ref('int_feedback_summarised') }}
),

final as (
    select
        customer_value.as_of_date,
        customer_value.customer_key,
        customers.first_name,
        customer_value.customer_type,
        customer_value.region,
        customer_value.customer_since,
        customer_value.tenure_days,
        customer_value.orders_count,
        customer_value.net_revenue as lifetime_net_revenue,
        customer_value.value_tier,
        customer_value.value_segment,
        customer_value.last_order_date,
        customer_value.median_gap_days as usual_gap_days,
        customer_value.expected_next_order_date,
        customer_value.is_at_risk,
        customer_value.referrals_sent,
        customer_value.referrals_converted,
        feedback.latest_feedback_kind,
        feedback.latest_feedback_date,
        customer_value.latest_nps,
        customer_value.nps_category
    from customer_value
    inner join customers
        on customer_value.customer_key = customers.customer_key
    left join feedback
        on customer_value.customer_key = feedback.customer_key
)

select * from final
order by customer_key
