{{ config(meta={'dagster': {'ref': {'name': 'customer_value'}}}) }}

-- A fitted model owes every buyer a finite prediction, and a model that was not fitted
-- publishes none. Finite: NaN and ±inf compare outside any range of doubles. The 80 %
-- purchase interval is ordered and agrees with the mean as Markov's inequality demands of
-- any count distribution (P(X ≥ low) > 0.9 gives 0.9 low < mean; P(X ≥ high) > 0.1 gives
-- high < 10 mean); the mean itself may lie outside the interval (a customer who has
-- probably left). And clv_model counts the customers customer_value holds.

with customer_value as (
    select * from {{ ref('customer_value') }}
),

clv_model as (
    select * from {{ ref('clv_model') }}
    where as_of_date = {{ as_of_date() }}
),

checked as (
    select
        customer_value.customer_key,
        clv_model.status,
        customer_value.orders_count > 0 as is_buyer,
        customer_value.p_alive between 0 and 1 as p_alive_ok,
        customer_value.expected_purchases_365d between 0 and 1e300 as expected_ok,
        customer_value.purchases_365d_low >= 0
        and customer_value.purchases_365d_low <= customer_value.purchases_365d_high
        and 0.9 * customer_value.purchases_365d_low <= customer_value.expected_purchases_365d * (1 + 1e-9)
        and customer_value.purchases_365d_high <= 10 * customer_value.expected_purchases_365d * (1 + 1e-9)
        as interval_ok,
        customer_value.expected_order_value is not null as order_value_ok,
        customer_value.predicted_clv_12m_low <= customer_value.predicted_clv_12m_high
        and customer_value.predicted_clv_12m is not null as value_ok,
        coalesce(
            customer_value.p_alive,
            customer_value.expected_purchases_365d,
            customer_value.purchases_365d_low,
            customer_value.purchases_365d_high,
            customer_value.predicted_clv_12m,
            customer_value.predicted_clv_12m_low,
            customer_value.predicted_clv_12m_high
        ) is not null as has_any_prediction
    from customer_value
    cross join clv_model
),

unowed as (
    select
        customer_key,
        status,
        'prediction missing, not finite or out of range under a fitted model' as problem
    from checked
    where
        status = 'fitted'
        and is_buyer
        and not (
            coalesce(p_alive_ok, false)
            and coalesce(expected_ok, false)
            and coalesce(interval_ok, false)
            and order_value_ok
            and coalesce(value_ok, false)
        )
),

unearned as (
    select
        customer_key,
        status,
        'a prediction without a fitted model, or for a customer without purchases' as problem
    from checked
    where has_any_prediction and (status <> 'fitted' or not is_buyer)
),

miscounted as (
    select
        'clv_model' as customer_key,
        max(clv_model.status) as status,
        'customers fitted differ from buyers with T > 0 in customer_value' as problem
    from clv_model
    cross join (
        select count(*) as buyers_observed
        from customer_value
        where orders_count > 0 and tenure_days > 0
    ) as buyers
    where clv_model.status = 'fitted'
    group by buyers.buyers_observed
    having max(
        case
            when clv_model.purchase_model = 'pareto_nbd' then clv_model.pareto_nbd_customers
            else clv_model.bgnbd_customers
        end
    ) <> buyers.buyers_observed
),

final as (
    select * from unowed
    union all
    select * from unearned
    union all
    select * from miscounted
)

select * from final
