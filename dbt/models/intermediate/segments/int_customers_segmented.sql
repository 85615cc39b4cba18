-- Value tiers, value segments (Peppers & Rogers), rhythm and the at-risk and lapsed flags of
-- every customer as of D. Among customers with purchases: value_tier by percent rank of
-- gross_margin + predicted_clv_12m (top 5 % platinum, next 15 % gold, next 30 % silver, the
-- rest bronze); value_segment below_zero / most_valuable / most_growable / maintain;
-- customers without purchases are prospects. Percent ranks are 0 for the best and ties share
-- a rank. rhythm_status: a regular (3+ orders on 2+ days) is on_rhythm within twice her
-- usual gap, then overdue while P(alive) >= the lapse threshold (without a model: up to 4x
-- her gap), else lapsed; fewer orders (or all on one day: no gap yet) is not_established.

with customers as (
    select * from {{ ref('int_customers_resolved') }}
),

purchases as (
    select * from {{ ref('int_purchases_summarised') }}
),

predicted as (
    select * from {{ ref('int_customers_value_predicted') }}
),

wallets as (
    select * from {{ ref('int_wallets_estimated') }}
),

buyers as (
    select
        purchases.customer_key,
        purchases.gross_margin,
        purchases.orders_count,
        purchases.recency_days,
        purchases.median_gap_days,
        purchases.last_order_date,
        predicted.p_alive,
        predicted.predicted_clv_12m,
        purchases.gross_margin + coalesce(predicted.predicted_clv_12m, 0) as total_value,
        purchases.gross_margin < 0 as is_below_zero,
        wallets.wallet_headroom * predicted.margin_rate as growth_potential
    from purchases
    left join predicted
        on purchases.customer_key = predicted.customer_key
    left join wallets
        on purchases.customer_key = wallets.customer_key
),

tiered as (
    select
        *,
        percent_rank() over (order by total_value desc) as value_percent_rank,
        -- most valuable: top 20 % by predicted value among the customers not below zero
        not is_below_zero
        and predicted_clv_12m is not null
        and percent_rank() over (
            partition by is_below_zero
            order by predicted_clv_12m desc nulls last
        ) < 0.2 as is_most_valuable
    from buyers
),

growable as (
    select
        *,
        -- most growable: top 20 % by wallet headroom × margin rate among the rest
        not is_below_zero
        and not is_most_valuable
        and growth_potential > 0
        and percent_rank() over (
            partition by is_below_zero or is_most_valuable
            order by growth_potential desc nulls last
        ) < 0.2 as is_most_growable
    from tiered
),

classified as (
    select
        customer_key,
        case
            when value_percent_rank < 0.05 then 'platinum'
            when value_percent_rank < 0.20 then 'gold'
            when value_percent_rank < 0.50 then 'silver'
            else 'bronze'
        end as value_tier,
        case
            when is_below_zero then 'below_zero'
            when is_most_valuable then 'most_valuable'
            when is_most_growable then 'most_growable'
            else 'maintain'
        end as value_segment,
        case
            when orders_count < 3 or median_gap_days is null then 'not_established'
            when recency_days <= 2 * median_gap_days then 'on_rhythm'
            when p_alive is not null and p_alive >= {{ lapsed_p_alive() }} then 'overdue'
            when p_alive is not null then 'lapsed'
            when recency_days <= 4 * median_gap_days then 'overdue'
            else 'lapsed'
        end as rhythm_status,
        median_gap_days,
        last_order_date
    from growable
),

final as (
    select
        customers.customer_key,
        classified.value_tier,
        coalesce(classified.value_segment, 'prospect') as value_segment,
        classified.rhythm_status,
        coalesce(
            classified.value_tier in ('platinum', 'gold') and classified.rhythm_status = 'overdue', false
        ) as is_at_risk,
        coalesce(
            classified.value_tier in ('platinum', 'gold') and classified.rhythm_status = 'lapsed', false
        ) as is_lapsed,
        -- the usual rhythm, rounded to whole days (half away from zero)
        classified.last_order_date + cast(round(classified.median_gap_days) as integer) as expected_next_order_date
    from customers
    left join classified
        on customers.customer_key = classified.customer_key
)

select * from final
