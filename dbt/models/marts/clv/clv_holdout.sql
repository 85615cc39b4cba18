-- clv_holdout: the holdout check of every fit up to D, per group of calibration repeat
-- purchases: customers, purchase days predicted by the model refitted at D − holdout days,
-- purchase days that actually happened, and the error.

with holdout as (
    select * from {{ ref('stg_clv__holdout_by_frequency') }}
),

final as (
    select
        as_of_date,
        frequency_group,
        calibration_frequency,
        cast(customers as integer) as customers,
        predicted_purchases,
        cast(actual_purchases as integer) as actual_purchases,
        predicted_purchases - actual_purchases as error,
        (predicted_purchases - actual_purchases) / nullif(actual_purchases, 0) as relative_error
    from holdout
    where as_of_date <= {{ as_of_date() }}
)

select * from final
order by as_of_date, calibration_frequency
