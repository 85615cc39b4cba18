-- Predicted value of every customer with purchases, as of D: the CLV model's predictions
-- joined on the customer's inputs. margin_rate = gross_margin / net_revenue clipped to
-- [0, 1], the population rate where net_revenue <= 0; predicted_clv_12m = discounted
-- expected purchases over 12 months × expected order value × margin rate.

with rfm as (
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
        rfm.customer_key,
        purchase_predictions.p_alive,
        purchase_predictions.expected_purchases_365d,
        purchase_predictions.discounted_purchases_12m,
        order_value_predictions.expected_order_value as conditional_order_value,
        cast(purchases.gross_margin as double) as gross_margin,
        cast(purchases.net_revenue as double) as net_revenue
    from rfm
    inner join purchases
        on rfm.customer_key = purchases.customer_key
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
        joined.discounted_purchases_12m,
        -- customers outside the Gamma-Gamma fit get the population mean order value
        coalesce(joined.conditional_order_value, population.population_order_value) as expected_order_value,
        case
            when joined.net_revenue > 0 then greatest(0, least(1, joined.gross_margin / joined.net_revenue))
            else population.population_margin_rate
        end as margin_rate
    from joined
    cross join population
),

final as (
    select
        customer_key,
        p_alive,
        expected_purchases_365d,
        expected_order_value,
        margin_rate,
        discounted_purchases_12m * expected_order_value * margin_rate as predicted_clv_12m
    from rated
)

select * from final
