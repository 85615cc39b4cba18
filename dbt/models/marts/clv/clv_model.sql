-- clv_model: one row per fit of the CLV model up to D (one per as-of date): parameters,
-- log-likelihoods, customers fitted and the holdout check. Run ids and fitting times stay
-- in the working database, so the same sources publish the same rows.

with model_fits as (
    select * from {{ ref('stg_clv__model_fits') }}
),

final as (
    select
        as_of_date,
        status,
        passed,
        problems,
        time_unit,
        bgnbd_r,
        bgnbd_alpha,
        bgnbd_a,
        bgnbd_b,
        bgnbd_log_likelihood,
        bgnbd_customers,
        gamma_gamma_p,
        gamma_gamma_q,
        gamma_gamma_v,
        gamma_gamma_log_likelihood,
        gamma_gamma_customers,
        population_order_value,
        annual_discount_rate,
        holdout_start_date,
        holdout_days,
        holdout_customers,
        holdout_bgnbd_r,
        holdout_bgnbd_alpha,
        holdout_bgnbd_a,
        holdout_bgnbd_b,
        holdout_predicted_purchases,
        holdout_actual_purchases,
        holdout_error,
        holdout_max_error
    from model_fits
    where as_of_date <= {{ as_of_date() }}
)

select * from final
order by as_of_date
