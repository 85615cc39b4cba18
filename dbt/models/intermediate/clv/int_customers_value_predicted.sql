-- Predicted value of every customer as of D: the CLV model's predictions joined on the
-- customer's inputs (null without purchases). margin_rate = gross_margin / net_revenue
-- clipped to [0, 1], the population rate where net_revenue <= 0 (customers without
-- purchases too: their net revenue is 0); predicted_clv_12m = discounted expected purchases
-- over 12 months × expected order value × margin rate; the _low / _high bounds scale it by
-- the predictive percentiles of the purchase count (0 where no purchase is expected).

with customers as (
    select * from {{ ref('int_customers_resolved') }}
),

rfm as (
    select * from {{ ref('int_customers_rfm_summarised') }}
),

purchases as (
    select * from {{ ref('int_purchases_summarised') }}
),

purchase_predictions as (
    select * from {{ ref('stg_clv__purchase_predictions') }}
    where as_of_date = {{ as_of_date() }}
),

order_value_predictions as (
    select * from {{ ref('stg_clv__order_value_predictions') }}
    where as_of_date = {{ as_of_date() }}
),

model_fits as (
    select * from {{ ref('stg_clv__model_fits') }}
    where as_of_date = {{ as_of_date() }}
),

population as (
    select
        coalesce(
            greatest(0, least(1, cast(sum(gross_margin) as double) / nullif(cast(sum(net_revenue) as double), 0))),
            0
        ) as population_margin_rate,
        (
            select max(model_fits.population_order_value) as population_order_value
            from model_fits
        ) as population_order_value
    from purchases
),

joined as (
    select
        customers.customer_key,
        rfm.customer_key is not null as has_purchases,
        purchase_predictions.p_alive,
        purchase_predictions.expected_purchases_365d,
        purchase_predictions.purchases_365d_low,
        purchase_predictions.purchases_365d_high,
        purchase_predictions.discounted_purchases_12m,
        order_value_predictions.expected_order_value as conditional_order_value,
        cast(coalesce(purchases.gross_margin, 0) as double) as gross_margin,
        cast(coalesce(purchases.net_revenue, 0) as double) as net_revenue
    from customers
    left join rfm
        on customers.customer_key = rfm.customer_key
    left join purchases
        on customers.customer_key = purchases.customer_key
    left join purchase_predictions
        on
            rfm.frequency = purchase_predictions.frequency
            and rfm.t_x_days = purchase_predictions.t_x_days
            and rfm.t_days = purchase_predictions.t_days
    left join order_value_predictions
        on
            rfm.frequency = order_value_predictions.frequency
            and rfm.monetary_value = order_value_predictions.monetary_value
),

rated as (
    select
        joined.customer_key,
        joined.p_alive,
        joined.expected_purchases_365d,
        joined.purchases_365d_low,
        joined.purchases_365d_high,
        joined.discounted_purchases_12m,
        -- customers outside the Gamma-Gamma fit get the population mean order value
        case
            when joined.has_purchases
                then coalesce(joined.conditional_order_value, population.population_order_value)
        end as expected_order_value,
        case
            when joined.net_revenue > 0 then greatest(0, least(1, joined.gross_margin / joined.net_revenue))
            else population.population_margin_rate
        end as margin_rate
    from joined
    cross join population
),

valued as (
    select
        customer_key,
        p_alive,
        expected_purchases_365d,
        purchases_365d_low,
        purchases_365d_high,
        expected_order_value,
        margin_rate,
        discounted_purchases_12m * expected_order_value * margin_rate as predicted_clv_12m
    from rated
),

final as (
    select
        customer_key,
        p_alive,
        expected_purchases_365d,
        purchases_365d_low,
        purchases_365d_high,
        expected_order_value,
        margin_rate,
        predicted_clv_12m,
        case
            when expected_purchases_365d = 0 then 0
            else predicted_clv_12m * purchases_365d_low / expected_purchases_365d
        end as predicted_clv_12m_low,
        case
            when expected_purchases_365d = 0 then 0
            else predicted_clv_12m * purchases_365d_high / expected_purchases_365d
        end as predicted_clv_12m_high
    from valued
)

select * from final
