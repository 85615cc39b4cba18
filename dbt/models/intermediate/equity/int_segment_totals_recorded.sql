-- One row per recorded as-of date × value_segment, plus `all`: how many customers each
-- segment had on that date, their 12-month equity (Σ predicted_clv_12m) and their gross
-- margin to date. The opening figures of the next date's customer_equity (its P), which
-- cannot be recomputed later (the predictions of a past date are not kept), so the table
-- keeps every date (the folder's config: incremental, D's rows replaced, never dropped
-- by --full-refresh).

with customer_value as (
    select * from {{ ref('customer_value') }}
),

-- without a fitted model nobody has a prediction: equity is unknown, not 0
predictions as (
    select count(predicted_clv_12m) > 0 as any_prediction
    from customer_value
),

by_segment as (
    select
        value_segment,
        count(*) as customers,
        coalesce(sum(predicted_clv_12m), 0) as equity,
        coalesce(sum(gross_margin), 0) as gross_margin
    from customer_value
    group by value_segment
),

totals as (
    select * from by_segment
    union all
    select
        'all' as value_segment,
        coalesce(sum(customers), 0) as customers,
        coalesce(sum(equity), 0) as equity,
        coalesce(sum(gross_margin), 0) as gross_margin
    from by_segment
),

final as (
    select
        {{ as_of_date() }} as as_of_date,
        totals.value_segment,
        cast(totals.customers as integer) as customers,
        cast(case when predictions.any_prediction then totals.equity end as decimal(18, 2)) as equity,
        cast(totals.gross_margin as decimal(18, 2)) as gross_margin
    from totals
    cross join predictions
)

select * from final
order by value_segment asc
