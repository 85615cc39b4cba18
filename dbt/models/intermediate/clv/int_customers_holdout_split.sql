-- The CLV holdout check's data: every customer's purchase days split at H = D − holdout
-- days. For customers whose first purchase is on or before H: the model inputs as of H
-- (calibration) and the purchase days in (H, D] that a model fitted as of H should predict.

with purchase_days as (
    select * from {{ ref('int_purchase_days_aggregated') }}
),

split as (
    select
        customer_key,
        purchase_date,
        purchase_date <= {{ as_of_date() }} - {{ clv_holdout_days() }} as is_calibration
    from purchase_days
),

summarised as (
    select
        customer_key,
        min(purchase_date) as first_purchase_date,
        max(purchase_date) filter (where is_calibration) as last_calibration_date,
        count(*) filter (where is_calibration) - 1 as frequency,
        count(*) filter (where not is_calibration) as holdout_purchases
    from split
    group by customer_key
    having bool_or(is_calibration)
),

final as (
    select
        {{ as_of_date() }} as as_of_date,
        {{ as_of_date() }} - {{ clv_holdout_days() }} as holdout_start_date,
        cast({{ clv_holdout_days() }} as integer) as holdout_days,
        customer_key,
        cast(frequency as integer) as frequency,
        cast(last_calibration_date - first_purchase_date as integer) as t_x_days,
        cast({{ as_of_date() }} - {{ clv_holdout_days() }} - first_purchase_date as integer) as t_days,
        cast(holdout_purchases as integer) as holdout_purchases
    from summarised
)

select * from final
