-- win_back_customers: valuable customers who have most likely left, as of D: platinum and
-- gold customers whose rhythm broke and whose P(alive) fell below the lapse threshold (or,
-- without a model, more than 4 usual gaps overdue). Highest annual value first (ties: the
-- likelier to be active, then customer_key), with the date they lapsed.

with customer_value as (
    select * from {{ ref('customer_value') }}
),

customers as (
    select * from {{ ref('int_customers_resolved') }}
),

statuses_dated as (
    select * from {{ ref('int_customer_statuses_dated') }}
),

lapsed as (
    select
        customer_value.*,
        customers.first_name,
        statuses_dated.lapsed_on,
        customer_value.as_of_date - customer_value.expected_next_order_date as days_overdue
    from customer_value
    inner join customers
        on customer_value.customer_key = customers.customer_key
    left join statuses_dated
        on customer_value.customer_key = statuses_dated.customer_key
    where customer_value.is_lapsed
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
        lapsed_on,
        {{ overdue_reason('earned us') }}
        || coalesce('; lapsed on ' || cast(lapsed_on as varchar), '') as reason
    from lapsed
)

select * from final
order by priority
