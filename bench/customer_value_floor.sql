-- The floor: every customer_value column of ../shared/spec/metrics.md in ONE hand-written DuckDB
-- script over the raw tables, for bench/nightly_benchmark.py to time against the dbt stage.
--
-- Reads raw.commerce_*, raw.crm_accounts, raw.referrals_referrals, raw.voice_reviews,
-- raw.voice_feedback (one row per key at its latest version, as extraction leaves them) and,
-- because the fit is Python, the CLV model's outputs clv.purchase_predictions,
-- clv.order_value_predictions and clv.model_fits. Everything else (money, counts, dates, the
-- 365-day window, median gap, wallet, referrals, voice, margin rate, the predicted_clv_12m
-- arithmetic, tiers, segments, at-risk) is computed here. Writes floor.customer_value.
--
-- Set before running (DuckDB variables):
--     set variable as_of_date = date 'YYYY-MM-DD';
--     set variable base_currency = 'USD';
--
-- Each value is computed as the dbt models compute it (same casts, same decimal types, same
-- order of floating-point operations), so that the result can be compared with
-- marts.customer_value value for value, not only within a tolerance. The plan is the floor's
-- own: one statement, no intermediate tables, no incremental bookkeeping, no tests, only the
-- one mart; FX rates expanded to one row per currency and day (an equi-join instead of an ASOF
-- join over every line); money summed per order before conversion, then per purchase day, then
-- per customer (decimal sums are exact, so the totals are the same).

create or replace temp macro as_of() as cast(getvariable('as_of_date') as date);
create or replace temp macro base_currency() as cast(getvariable('base_currency') as varchar);
create or replace temp macro to_money(amount) as cast(round(amount, 2) as decimal(18, 2));
-- the base currency converts at 1, any other at the rate of the latest rate_date on or before the event
create or replace temp macro fx_rate(currency, rate) as
    case when currency = base_currency() then cast(1 as decimal(18, 8)) else rate end;

create schema if not exists floor;

create or replace table floor.customer_value as
with

-- identity: accounts opened by D; one customer per normalised e-mail, keyed by its earliest account
accounts as (
    select
        customer_id,
        nullif(lower(trim(email)), '') as email_normalized,
        customer_type,
        region,
        created_at
    from raw.commerce_customers
    where cast(created_at as date) <= as_of()
),

mapped as (
    select
        customer_id,
        email_normalized,
        customer_type,
        region,
        created_at,
        case
            when email_normalized is null then customer_id
            else first_value(customer_id) over (partition by email_normalized order by created_at, customer_id)
        end as customer_key
    from accounts
),

customers as (
    select
        customer_key,
        -- type and region are the key account's
        any_value(customer_type) filter (where customer_id = customer_key) as customer_type,
        any_value(region) filter (where customer_id = customer_key) as region,
        cast(min(created_at) as date) as customer_since,
        count(*) as accounts_count
    from mapped
    group by customer_key
),

-- purchases: completed orders placed by D
purchases as (
    select
        orders.order_id,
        mapped.customer_key,
        cast(orders.ordered_at as date) as order_date,
        orders.currency
    from raw.commerce_orders as orders
    inner join mapped on orders.customer_id = mapped.customer_id
    where orders.status = 'completed' and cast(orders.ordered_at as date) <= as_of()
),

-- the rate of every currency on every day up to D: the latest rate_date on or before it. A few
-- thousand rows, so that orders and refunds find their rate by an equi-join, not by sorting
-- millions of them into an ASOF join
daily_rates as (
    select days.currency, days.day, fx.rate_to_base
    from (
        select currency, cast(unnest(generate_series(min(rate_date), as_of(), interval 1 day)) as date) as day
        from raw.commerce_fx_rates
        group by currency
    ) as days
    asof left join raw.commerce_fx_rates as fx
        on days.currency = fx.currency and days.day >= fx.rate_date
),

-- refunds made by D, converted at the refund's own date
refunds_per_line as (
    select
        refunds.order_line_id,
        sum(refunds.quantity) as refunded_quantity,
        sum(refunds.amount * fx_rate(orders.currency, daily_rates.rate_to_base)) as refunded_amount
    from raw.commerce_refunds as refunds
    inner join raw.commerce_order_lines as lines on refunds.order_line_id = lines.order_line_id
    inner join raw.commerce_orders as orders on lines.order_id = orders.order_id
    left join daily_rates
        on orders.currency = daily_rates.currency and cast(refunds.refunded_at as date) = daily_rates.day
    where cast(refunds.refunded_at as date) <= as_of()
    group by refunds.order_line_id
),

-- money per order, before conversion: one order has one currency and one date, hence one rate,
-- and decimal sums are exact, so converting the order's sum equals summing converted lines
order_money as (
    select
        lines.order_id,
        sum(lines.quantity * lines.unit_price - lines.discount_amount) as revenue_local,
        sum(coalesce(refunds_per_line.refunded_amount, 0)) as refunded_amount,
        -- cost covers the units kept: returned units = min(quantity, refunded units). Every line's
        -- product exists (extraction checks the reference), so no line lacks its cost
        sum(
            products.unit_cost
            * (lines.quantity - least(lines.quantity, coalesce(refunds_per_line.refunded_quantity, 0)))
        ) as cost_of_goods
    from raw.commerce_order_lines as lines
    left join refunds_per_line on lines.order_line_id = refunds_per_line.order_line_id
    left join raw.commerce_products as products on lines.product_id = products.product_id
    group by lines.order_id
),

purchase_money as (
    select
        purchases.customer_key,
        purchases.order_date,
        order_money.revenue_local * fx_rate(purchases.currency, daily_rates.rate_to_base) as gross_revenue,
        order_money.refunded_amount,
        order_money.cost_of_goods
    from purchases
    left join order_money on purchases.order_id = order_money.order_id
    left join daily_rates on purchases.currency = daily_rates.currency and purchases.order_date = daily_rates.day
),

-- purchase days: the unit of the gaps and of the CLV inputs, and what the money is summed over
purchase_days as (
    select
        customer_key,
        order_date as purchase_date,
        count(*) as orders_count,
        sum(gross_revenue) as gross_revenue,
        sum(refunded_amount) as refunded_amount,
        sum(gross_revenue - refunded_amount) as net_revenue,
        sum(cost_of_goods) as cost_of_goods,
        sum(gross_revenue - refunded_amount - cost_of_goods) as gross_margin
    from purchase_money
    group by customer_key, order_date
),

days_numbered as (
    select
        *,
        row_number() over by_date as day_number,
        purchase_date - lag(purchase_date) over by_date as gap_days
    from purchase_days
    window by_date as (partition by customer_key order by purchase_date)
),

day_totals as (
    select
        customer_key,
        cast(sum(orders_count) as bigint) as orders_count,
        count(*) as purchase_days,
        min(purchase_date) as first_order_date,
        max(purchase_date) as last_order_date,
        sum(gross_revenue) as gross_revenue,
        sum(refunded_amount) as refunded_amount,
        sum(net_revenue) as net_revenue,
        sum(cost_of_goods) as cost_of_goods,
        sum(gross_margin) as gross_margin,
        -- the 365-day window: D - 365 < order date <= D
        sum(net_revenue) filter (where purchase_date > as_of() - 365) as net_revenue_365d,
        sum(gross_margin) filter (where purchase_date > as_of() - 365) as gross_margin_365d,
        median(gap_days) as median_gap_days,
        -- Gamma-Gamma's monetary value: mean net revenue of the purchase days after the first
        -- (a day whose orders have no lines counts as 0)
        cast(avg(coalesce(net_revenue, 0)) filter (where day_number > 1) as double) as monetary_value
    from days_numbered
    group by customer_key
),

buyers as (
    select
        customer_key,
        orders_count,
        purchase_days,
        first_order_date,
        last_order_date,
        as_of() - first_order_date as tenure_days,
        as_of() - last_order_date as recency_days,
        coalesce(gross_revenue, 0) as gross_revenue,
        coalesce(refunded_amount, 0) as refunded_amount,
        coalesce(net_revenue, 0) as net_revenue,
        coalesce(cost_of_goods, 0) as cost_of_goods,
        coalesce(gross_margin, 0) as gross_margin,
        coalesce(net_revenue, 0) / orders_count as average_order_value,
        coalesce(net_revenue_365d, 0) as net_revenue_365d,
        coalesce(gross_margin_365d, 0) as gross_margin_365d,
        median_gap_days,
        cast(purchase_days - 1 as integer) as frequency,
        cast(last_order_date - first_order_date as integer) as t_x_days,
        cast(as_of() - first_order_date as integer) as t_days,
        monetary_value
    from day_totals
),

-- CRM: the latest live row of any of the customer's accounts
crm as (
    select
        mapped.customer_key,
        crm_accounts.lifestage,
        crm_accounts.declared_category_spend,
        crm_accounts.third_party_wallet_estimate
    from raw.crm_accounts as crm_accounts
    inner join mapped on crm_accounts.customer_id = mapped.customer_id
    where not crm_accounts.is_deleted
    qualify row_number() over (
        partition by mapped.customer_key order by crm_accounts.updated_at desc, crm_accounts.customer_id
    ) = 1
),

-- share of wallet: declared, third party, else the peer 90th percentile (30 peers at least)
peer_groups as (
    select
        customers.customer_type,
        customers.region,
        case when count(*) >= 30 then quantile_cont(buyers.net_revenue_365d, 0.9) end as peer_p90
    from customers
    inner join buyers on customers.customer_key = buyers.customer_key
    where buyers.net_revenue_365d > 0
    group by customers.customer_type, customers.region
),

wallet_sources as (
    select
        customers.customer_key,
        coalesce(buyers.net_revenue_365d, 0) as net_revenue_365d,
        case
            when crm.declared_category_spend is not null then 'declared'
            when crm.third_party_wallet_estimate is not null then 'third_party'
            when peer_groups.peer_p90 is not null then 'peer_p90'
            else 'unknown'
        end as wallet_method,
        coalesce(crm.declared_category_spend, crm.third_party_wallet_estimate, peer_groups.peer_p90) as source_estimate
    from customers
    left join buyers on customers.customer_key = buyers.customer_key
    left join crm on customers.customer_key = crm.customer_key
    left join peer_groups
        on customers.customer_type = peer_groups.customer_type and customers.region = peer_groups.region
),

wallets as (
    select
        customer_key,
        wallet_method,
        net_revenue_365d,
        -- a wallet can't be smaller than what the customer spent with us
        case when source_estimate is not null then greatest(source_estimate, net_revenue_365d) end as wallet_estimate
    from wallet_sources
),

-- referrals by D; self-referrals (by referee account or by e-mail) never count
customer_emails as (
    select distinct email_normalized, customer_key
    from mapped
    where email_normalized is not null
),

referrals_counted as (
    select
        referrer.customer_key as referrer_key,
        coalesce(referee_account.customer_key, referee_email.customer_key) as referee_key
    from raw.referrals_referrals as referrals
    inner join mapped as referrer on referrals.referrer_customer_id = referrer.customer_id
    left join mapped as referee_account on referrals.referee_customer_id = referee_account.customer_id
    left join customer_emails as referee_email
        on nullif(lower(trim(referrals.referee_email)), '') = referee_email.email_normalized
    where
        cast(referrals.referred_at as date) <= as_of()
        and not (
            coalesce(referee_account.customer_key = referrer.customer_key, false)
            or coalesce(referee_email.customer_key = referrer.customer_key, false)
        )
),

referrals_converted as (
    select
        referred.referrer_key,
        count(*) as referrals_converted,
        sum(buyers.net_revenue) as referred_net_revenue
    from (select distinct referrer_key, referee_key from referrals_counted where referee_key is not null) as referred
    inner join buyers on referred.referee_key = buyers.customer_key
    group by referred.referrer_key
),

referral_totals as (
    select
        sent.referrer_key as customer_key,
        sent.referrals_sent,
        coalesce(referrals_converted.referrals_converted, 0) as referrals_converted,
        coalesce(referrals_converted.referred_net_revenue, 0) as referred_net_revenue
    from (select referrer_key, count(*) as referrals_sent from referrals_counted group by referrer_key) as sent
    left join referrals_converted on sent.referrer_key = referrals_converted.referrer_key
),

-- voice of the customer by D
reviews as (
    select mapped.customer_key, count(*) as reviews_count, avg(reviews.rating) as avg_rating
    from raw.voice_reviews as reviews
    inner join mapped on reviews.customer_id = mapped.customer_id
    where cast(reviews.posted_at as date) <= as_of()
    group by mapped.customer_key
),

feedback as (
    select
        mapped.customer_key,
        count(*) as feedback_count,
        count(*) filter (where feedback.kind = 'complaint') as complaints_count,
        avg(feedback.csat) as avg_csat,
        -- the NPS of the latest feedback that has one (ties: the largest feedback_id)
        arg_max(feedback.nps, (feedback.submitted_at, feedback.feedback_id)) filter (
            where feedback.nps is not null
        ) as latest_nps
    from raw.voice_feedback as feedback
    inner join mapped on feedback.customer_id = mapped.customer_id
    where cast(feedback.submitted_at as date) <= as_of()
    group by mapped.customer_key
),

-- predicted value: the CLV model's outputs joined on the customer's inputs
population as (
    select
        coalesce(
            greatest(0, least(1, cast(sum(gross_margin) as double) / nullif(cast(sum(net_revenue) as double), 0))), 0
        ) as margin_rate,
        (select max(population_order_value) from clv.model_fits where as_of_date = as_of()) as order_value
    from buyers
),

predicted as (
    select
        buyers.customer_key,
        purchase_predictions.p_alive,
        purchase_predictions.expected_purchases_365d,
        purchase_predictions.purchases_365d_low,
        purchase_predictions.purchases_365d_high,
        purchase_predictions.discounted_purchases_12m,
        -- customers outside the Gamma-Gamma fit get the population mean order value
        coalesce(order_values.expected_order_value, population.order_value) as expected_order_value,
        case
            when cast(buyers.net_revenue as double) > 0
                then greatest(0, least(1, cast(buyers.gross_margin as double) / cast(buyers.net_revenue as double)))
            else population.margin_rate
        end as margin_rate
    from buyers
    cross join population
    left join (select * from clv.purchase_predictions where as_of_date = as_of()) as purchase_predictions
        on buyers.frequency = purchase_predictions.frequency
        and buyers.t_x_days = purchase_predictions.t_x_days
        and buyers.t_days = purchase_predictions.t_days
    left join (select * from clv.order_value_predictions where as_of_date = as_of()) as order_values
        on buyers.frequency = order_values.frequency and buyers.monetary_value = order_values.monetary_value
),

valued as (
    select
        predicted.*,
        predicted.discounted_purchases_12m * predicted.expected_order_value * predicted.margin_rate
        as predicted_clv_12m
    from predicted
),

-- tiers and segments among buyers (percent ranks: 0 for the best, ties share a rank)
ranked as (
    select
        buyers.customer_key,
        buyers.gross_margin < 0 as is_below_zero,
        valued.predicted_clv_12m,
        percent_rank() over (order by buyers.gross_margin + coalesce(valued.predicted_clv_12m, 0) desc)
        as value_percent_rank,
        (wallets.wallet_estimate - greatest(wallets.net_revenue_365d, 0)) * valued.margin_rate as growth_potential
    from buyers
    left join valued on buyers.customer_key = valued.customer_key
    left join wallets on buyers.customer_key = wallets.customer_key
),

most_valuable as (
    select
        *,
        not is_below_zero
        and predicted_clv_12m is not null
        and percent_rank() over (partition by is_below_zero order by predicted_clv_12m desc nulls last) < 0.2
        as is_most_valuable
    from ranked
),

segmented as (
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
            when
                growth_potential > 0
                and percent_rank() over (
                    partition by is_below_zero or is_most_valuable order by growth_potential desc nulls last
                ) < 0.2
                then 'most_growable'
            else 'maintain'
        end as value_segment
    from most_valuable
)

select
    as_of() as as_of_date,
    customers.customer_key,
    customers.customer_type,
    customers.region,
    crm.lifestage,
    customers.customer_since,
    cast(customers.accounts_count as integer) as accounts_count,
    to_money(coalesce(buyers.gross_revenue, 0)) as gross_revenue,
    to_money(coalesce(buyers.refunded_amount, 0)) as refunded_amount,
    to_money(coalesce(buyers.net_revenue, 0)) as net_revenue,
    to_money(coalesce(buyers.cost_of_goods, 0)) as cost_of_goods,
    to_money(coalesce(buyers.gross_margin, 0)) as gross_margin,
    cast(coalesce(buyers.orders_count, 0) as integer) as orders_count,
    cast(coalesce(buyers.purchase_days, 0) as integer) as purchase_days,
    buyers.first_order_date,
    buyers.last_order_date,
    cast(buyers.tenure_days as integer) as tenure_days,
    cast(buyers.recency_days as integer) as recency_days,
    to_money(buyers.average_order_value) as average_order_value,
    to_money(coalesce(buyers.net_revenue_365d, 0)) as net_revenue_365d,
    to_money(coalesce(buyers.gross_margin_365d, 0)) as gross_margin_365d,
    cast(buyers.median_gap_days as double) as median_gap_days,
    to_money(wallets.wallet_estimate) as wallet_estimate,
    wallets.wallet_method,
    -- a negative 365-day net revenue is no share at all
    case
        when wallets.wallet_estimate > 0
            then cast(greatest(wallets.net_revenue_365d, 0) as double) / cast(wallets.wallet_estimate as double)
    end as share_of_wallet,
    to_money(wallets.wallet_estimate - greatest(wallets.net_revenue_365d, 0)) as wallet_headroom,
    cast(coalesce(referral_totals.referrals_sent, 0) as integer) as referrals_sent,
    cast(coalesce(referral_totals.referrals_converted, 0) as integer) as referrals_converted,
    to_money(coalesce(referral_totals.referred_net_revenue, 0)) as referred_net_revenue,
    cast(coalesce(reviews.reviews_count, 0) as integer) as reviews_count,
    cast(reviews.avg_rating as double) as avg_rating,
    cast(coalesce(feedback.feedback_count, 0) as integer) as feedback_count,
    cast(coalesce(feedback.complaints_count, 0) as integer) as complaints_count,
    cast(feedback.avg_csat as double) as avg_csat,
    cast(feedback.latest_nps as integer) as latest_nps,
    case
        when feedback.latest_nps >= 9 then 'promoter'
        when feedback.latest_nps >= 7 then 'passive'
        when feedback.latest_nps >= 0 then 'detractor'
    end as nps_category,
    cast(valued.p_alive as double) as p_alive,
    cast(valued.expected_purchases_365d as double) as expected_purchases_365d,
    cast(valued.purchases_365d_low as integer) as purchases_365d_low,
    cast(valued.purchases_365d_high as integer) as purchases_365d_high,
    to_money(valued.expected_order_value) as expected_order_value,
    -- customers without purchases get the population rate
    cast(coalesce(valued.margin_rate, population.margin_rate) as double) as margin_rate,
    to_money(valued.predicted_clv_12m) as predicted_clv_12m,
    to_money(case
        when valued.expected_purchases_365d = 0 then 0
        else valued.predicted_clv_12m * valued.purchases_365d_low / valued.expected_purchases_365d
    end) as predicted_clv_12m_low,
    to_money(case
        when valued.expected_purchases_365d = 0 then 0
        else valued.predicted_clv_12m * valued.purchases_365d_high / valued.expected_purchases_365d
    end) as predicted_clv_12m_high,
    segmented.value_tier,
    coalesce(segmented.value_segment, 'prospect') as value_segment,
    coalesce(
        segmented.value_tier in ('platinum', 'gold')
        and buyers.orders_count >= 3
        and buyers.recency_days > 2 * buyers.median_gap_days,
        false
    ) as is_at_risk,
    buyers.last_order_date + cast(round(buyers.median_gap_days) as integer) as expected_next_order_date
from customers
cross join population
left join crm on customers.customer_key = crm.customer_key
left join buyers on customers.customer_key = buyers.customer_key
left join wallets on customers.customer_key = wallets.customer_key
left join referral_totals on customers.customer_key = referral_totals.customer_key
left join reviews on customers.customer_key = reviews.customer_key
left join feedback on customers.customer_key = feedback.customer_key
left join valued on customers.customer_key = valued.customer_key
left join segmented on customers.customer_key = segmented.customer_key
order by customers.customer_key;
