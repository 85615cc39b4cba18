-- clv_holdout_tracking: the weekly tracking curve of every holdout check up to D:
-- cumulative repeat purchase days of the holdout cohort (customers whose first purchase is
-- on or before H) at the end of each week since the cohort's first purchase, actual and as
-- the published model refitted as of H expects, across calibration and holdout.

with tracking as (
    select * from {{ ref('stg_clv__holdout_tracking') }}
),

final as (
    select
        as_of_date,
        week,
        week_end,
        is_holdout,
        cast(actual_repeat_purchases as integer) as actual_repeat_purchases,
        predicted_repeat_purchases,
        predicted_repeat_purchases - actual_repeat_purchases as error
    from tracking
    where as_of_date <= {{ as_of_date() }}
)

select * from final
order by as_of_date, week
