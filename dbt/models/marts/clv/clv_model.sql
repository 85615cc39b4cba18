-- clv_model: one row per fit of the CLV model up to D (one per as-of date): which purchase
-- model publishes, parameters with their standard errors, the limit a fit reached, log-
-- likelihoods, customers fitted and the holdout check. Run ids and fitting times stay in
-- the working database, so the same sources publish the same rows.

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
        purchase_model,
        bgnbd_r,
        bgnbd_alpha,
        bgnbd_a,
        bgnbd_b,
        bgnbd_r_se,
        bgnbd_alpha_se,
        bgnbd_a_se,
        bgnbd_b_se,
        bgnbd_log_likelihood,
        bgnbd_customers,
        bgnbd_limit,
        pareto_nbd_r,
        pareto_nbd_alpha,
        pareto_nbd_s,
        pareto_nbd_beta,
        pareto_nbd_r_se,
        pareto_nbd_alpha_se,
        pareto_nbd_s_se,
        pareto_nbd_beta_se,
        pareto_nbd_log_likelihood,
        pareto_nbd_customers,
        pareto_nbd_limit,
        gamma_gamma_p,
        gamma_gamma_q,
        gamma_gamma_v,
        gamma_gamma_p_se,
        gamma_gamma_q_se,
        gamma_gamma_v_se,
        gamma_gamma_log_likelihood,
        gamma_gamma_customers,
        gamma_gamma_limit,
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
        holdout_noise_sd,
        holdout_actual_purchases,
        holdout_error,
        holdout_max_error,
        holdout_mae,
        holdout_bgnbd_predicted_purchases,
        holdout_bgnbd_mae,
        holdout_pareto_nbd_predicted_purchases,
        holdout_pareto_nbd_mae
    from model_fits
    where as_of_date <= {{ as_of_date() }}
)

select * from final
order by as_of_date
