-- One row per as-of date D × value_segment, plus `all`: what the customers on the previous
-- recorded date P (a cohort, by the segment they had at P) were worth then and at D, the
-- margin they earned in between, their Return on Customer, who of them lapsed and the value
-- they took with them; the `all` row adds the customers new in (P, D] and the equity of
-- every customer at D. Each date's rows are measured on its own night (D's predictions are
-- not kept), so the table keeps every date (the folder's config, dbt_project.yml).

with customer_value as (
    select * from {{ ref('customer_value') }}
),

statuses as (
    select * from {{ ref('stg_history__customer_statuses') }}
),

status_dates as (
    select * from {{ ref('stg_history__status_dates') }}
),

segment_totals as (
    select * from {{ ref('int_segment_totals_recorded') }}
),

-- P: the latest date before D with both its states and its totals recorded
previous_date as (
    select max(segment_totals.as_of_date) as as_of_date
    from segment_totals
    inner join status_dates
        on segment_totals.as_of_date = status_dates.as_of_date
    where segment_totals.as_of_date < {{ as_of_date() }}
),

predictions as (
    select count(predicted_clv_12m) > 0 as any_prediction
    from customer_value
),

cohort as (
    select
        statuses.customer_key,
        statuses.value_segment,
        statuses.is_lapsed as was_lapsed
    from statuses
    inner join previous_date
        on
            statuses.valid_from <= previous_date.as_of_date
            and statuses.valid_to >= previous_date.as_of_date
),

-- a cohort customer missing at D (re-keyed by identity resolution) counts with nothing
cohort_at_date as (
    select
        cohort.customer_key,
        cohort.value_segment,
        customer_value.predicted_clv_12m,
        customer_value.gross_margin,
        customer_value.annual_value,
        coalesce(customer_value.is_lapsed, false) and not coalesce(cohort.was_lapsed, false) as became_lapsed
    from cohort
    left join customer_value
        on cohort.customer_key = customer_value.customer_key
),

cohort_segments as (
    select
        value_segment,
        count(*) as customers,
        coalesce(sum(predicted_clv_12m), 0) as equity_end,
        coalesce(sum(gross_margin), 0) as gross_margin_at_date,
        sum(case when became_lapsed then 1 else 0 end) as customers_lapsed,
        coalesce(sum(case when became_lapsed then annual_value end), 0) as annual_value_lapsed
    from cohort_at_date
    group by value_segment
),

cohort_sums as (
    select * from cohort_segments
    union all
    select
        'all' as value_segment,
        coalesce(sum(customers), 0) as customers,
        coalesce(sum(equity_end), 0) as equity_end,
        coalesce(sum(gross_margin_at_date), 0) as gross_margin_at_date,
        coalesce(sum(customers_lapsed), 0) as customers_lapsed,
        coalesce(sum(annual_value_lapsed), 0) as annual_value_lapsed
    from cohort_segments
),

opening as (
    select segment_totals.*
    from segment_totals
    inner join previous_date
        on segment_totals.as_of_date = previous_date.as_of_date
),

new_customers as (
    select
        'all' as value_segment,
        count(*) as new_customers,
        coalesce(sum(customer_value.predicted_clv_12m), 0) as new_customer_equity
    from customer_value
    cross join previous_date
    where
        customer_value.first_order_date > previous_date.as_of_date
        and customer_value.first_order_date <= {{ as_of_date() }}
),

everyone as (
    select
        'all' as value_segment,
        coalesce(sum(predicted_clv_12m), 0) as customer_equity
    from customer_value
),

-- the first date (no P): the `all` row alone, with today's equity
periods as (
    select
        cohort_sums.value_segment,
        cohort_sums.customers,
        opening.equity as equity_start,
        case when predictions.any_prediction then cohort_sums.equity_end end as equity_end,
        cohort_sums.gross_margin_at_date - opening.gross_margin as gross_margin_earned,
        cohort_sums.customers_lapsed,
        cohort_sums.annual_value_lapsed
    from cohort_sums
    cross join predictions
    cross join previous_date
    left join opening
        on cohort_sums.value_segment = opening.value_segment
    -- an empty cohort still sums to a row
    where previous_date.as_of_date is not null
    union all
    select
        'all' as value_segment,
        null as customers,
        null as equity_start,
        case when predictions.any_prediction then everyone.customer_equity end as equity_end,
        null as gross_margin_earned,
        null as customers_lapsed,
        null as annual_value_lapsed
    from everyone
    cross join predictions
    cross join previous_date
    where previous_date.as_of_date is null
),

final as (
    select
        {{ as_of_date() }} as as_of_date,
        periods.value_segment,
        previous_date.as_of_date as previous_as_of_date,
        cast(periods.customers as integer) as customers,
        cast(periods.equity_start as decimal(18, 2)) as equity_start,
        cast(periods.equity_end as decimal(18, 2)) as equity_end,
        cast(periods.gross_margin_earned as decimal(18, 2)) as gross_margin_earned,
        cast(
            (periods.gross_margin_earned + periods.equity_end - periods.equity_start)
            / nullif(periods.equity_start, 0) as double
        ) as return_on_customer,
        cast(periods.customers_lapsed as integer) as customers_lapsed,
        cast(periods.annual_value_lapsed as decimal(18, 2)) as annual_value_lapsed,
        cast(
            case when previous_date.as_of_date is not null then new_customers.new_customers end as integer
        ) as new_customers,
        cast(
            case
                when previous_date.as_of_date is not null and predictions.any_prediction
                    then new_customers.new_customer_equity
            end as decimal(18, 2)
        ) as new_customer_equity,
        cast(
            case when predictions.any_prediction then everyone.customer_equity end as decimal(18, 2)
        ) as customer_equity
    from periods
    cross join previous_date
    cross join predictions
    left join new_customers
        on periods.value_segment = new_customers.value_segment
    left join everyone
        on periods.value_segment = everyone.value_segment
)

select * from final
order by value_segment asc
