-- customer_equity: one row per as-of date up to D × value_segment (the cohort's segment at
-- the previous date P), plus `all`: customer equity (Σ predicted_clv_12m) at P and at D,
-- the margin earned in between, Return on Customer, the customers who lapsed and the
-- annual value they took with them, and (row `all`) the new customers and today's equity.
-- The dates come from int_equity_periods_measured, measured night by night; a backfill of
-- an earlier D publishes the dates up to it.

with periods as (
    select * from {{ ref('int_equity_periods_measured') }}
),

final as (
    select
        as_of_date,
        value_segment,
        previous_as_of_date,
        customers,
        equity_start,
        equity_end,
        gross_margin_earned,
        return_on_customer,
        customers_lapsed,
        annual_value_lapsed,
        new_customers,
        new_customer_equity,
        customer_equity
    from periods
    where as_of_date <= {{ as_of_date() }}
)

select * from final
order by as_of_date asc, value_segment asc
