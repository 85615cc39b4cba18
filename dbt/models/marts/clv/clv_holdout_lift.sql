-- clv_holdout_lift: the decile lift table of every holdout check up to D. The holdout
-- cohort ranked by the purchases the published model predicted for (H, D], cut into ten
-- equal groups (1 = highest predicted), each group's mean predicted and mean actual
-- purchases: a model that ranks customers well has actual falling with the decile.

with lift as (
    select * from {{ ref('stg_clv__holdout_lift') }}
),

final as (
    select
        as_of_date,
        decile,
        cast(customers as integer) as customers,
        mean_predicted_purchases,
        mean_actual_purchases,
        mean_predicted_purchases - mean_actual_purchases as error
    from lift
    where as_of_date <= {{ as_of_date() }}
)

select * from final
order by as_of_date, decile
