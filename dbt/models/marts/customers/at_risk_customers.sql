-- at_risk_customers: the customers to call today, as of D: platinum and gold customers whose
-- rhythm broke (overdue) while they are still likely to be active, highest annual value
-- first (ties: the more likely to be active, then customer_key), with why.

with customer_value as (
    select * from {{ ref('customer_value') }}
),

customers as (
    select * from {{ ref('int_customers_resolved') }}
),

at_risk as (
    select
        customer_value.*,
        customers.first_name,
        customer_value.as_of_date - customer_value.expected_next_order_date as days_overdue
    from customer_value
    inner join customers
        on customer_value.customer_key = customers.customer_key
    where customer_value.is_at_risk
),

final as (
    select
        as_of_date,
        {{ list_priority() }} as priority,
        customer_key,
        first_name,
        value_tier,
        value_segment,
        annual_value,
        gross_margin,
        predicted_clv_12m,
        net_revenue,
        orders_count,
        last_order_date,
        recency_days,
        median_gap_days,
        expected_next_order_date,
        cast(days_overdue as integer) as days_overdue,
        p_alive,
        {{ overdue_reason('earns us') }} as reason
    from at_risk
)

select * from final
order by priority
