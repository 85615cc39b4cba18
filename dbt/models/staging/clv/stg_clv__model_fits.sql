with source as (
    select * from {{ source('clv', 'model_fits') }}
),

renamed as (
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
        bgnbd_converged,
        gamma_gamma_p,
        gamma_gamma_q,
        gamma_gamma_v,
        gamma_gamma_log_likelihood,
        gamma_gamma_customers,
        gamma_gamma_converged,
        population_order_value,
        annual_discount_rate,
        holdout_start_date,
        holdout_days,
        holdout_customers,
        holdout_bgnbd_r,
        holdout_bgnbd_alpha,
        holdout_bgnbd_a,
        holdout_bgnbd_b,
        holdout_converged,
        holdout_predicted_purchases,
        holdout_actual_purchases,
        holdout_error,
        holdout_max_error,
        fit_seconds,
        fitted_at,
        run_id
    from source
)

select * from renamed
