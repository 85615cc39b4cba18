"""Customer-lifetime-value models in plain numpy/scipy.

* BG/NBD purchase model (Fader, Hardie & Lee 2005) - ``fit_bgnbd``, ``p_alive``,
  ``expected_purchases``, ``expected_purchases_in_window``, ``expected_purchases_population``;
* Gamma-Gamma spend model (Fader, Hardie & Lee 2005, "RFM and CLV") - ``fit_gamma_gamma``,
  ``conditional_expected_order_value``, ``expected_order_value``;
* Pareto/NBD purchase model (Schmittlein, Morrison & Colombo 1987) - ``fit_pareto_nbd``,
  ``pareto_nbd_p_alive``, ``pareto_nbd_expected_purchases``, ...;
* predictive distribution of future purchases (both models) - ``purchases_percentiles``,
  ``purchases_pmf`` (BG/NBD), ``purchases_variance``, ``randomized_pit``, ``pit_coverage``;
* holdout diagnostics - ``tracking_curve``, ``lift_table``, ``holdout_mae``, ``holdout_report``,
  ``choose_purchase_model``, ``prediction_sd`` (delta method);
* the warehouse's discounted 12-month value - ``predicted_clv_12m``;
* inputs - ``compress``, ``rfm_from_transactions``.

The models are unit-agnostic; the warehouse measures time in days (metrics.md).
"""

from ._optim import ConvergenceWarning
from .bgnbd import (
    BgNbdFit,
    bgnbd_log_likelihood,
    expected_purchases,
    expected_purchases_curve,
    expected_purchases_in_window,
    expected_purchases_population,
    fit_bgnbd,
    p_alive,
    pit_coverage,
    purchases_percentiles,
    purchases_variance,
    purchases_pmf,
    randomized_pit,
    simulate_bgnbd,
)
from .value import DAYS_PER_MONTH, monthly_discount_rate, monthly_expected_purchases, predicted_clv_12m
from .gamma_gamma import (
    GammaGammaFit,
    conditional_expected_order_value,
    expected_order_value,
    fit_gamma_gamma,
    gamma_gamma_log_likelihood,
    population_mean_order_value,
)
from .diagnostics import (
    choose_purchase_model,
    holdout_mae,
    holdout_report,
    lift_table,
    model_expected_purchases,
    model_expected_purchases_curve,
    model_expected_purchases_population,
    model_p_alive,
    prediction_sd,
    tracking_curve,
)
from .pareto_nbd import (
    ParetoNbdFit,
    fit_pareto_nbd,
    pareto_nbd_expected_purchases,
    pareto_nbd_expected_purchases_population,
    pareto_nbd_log_likelihood,
    pareto_nbd_p_alive,
    simulate_pareto_nbd,
)
from .rfm import RfmSummary, compress, rfm_from_transactions

__all__ = [
    "BgNbdFit",
    "ConvergenceWarning",
    "DAYS_PER_MONTH",
    "GammaGammaFit",
    "ParetoNbdFit",
    "RfmSummary",
    "bgnbd_log_likelihood",
    "choose_purchase_model",
    "compress",
    "conditional_expected_order_value",
    "expected_order_value",
    "expected_purchases",
    "expected_purchases_curve",
    "expected_purchases_in_window",
    "expected_purchases_population",
    "fit_bgnbd",
    "fit_gamma_gamma",
    "fit_pareto_nbd",
    "gamma_gamma_log_likelihood",
    "holdout_mae",
    "holdout_report",
    "lift_table",
    "model_expected_purchases",
    "model_expected_purchases_curve",
    "model_expected_purchases_population",
    "model_p_alive",
    "monthly_discount_rate",
    "monthly_expected_purchases",
    "p_alive",
    "pareto_nbd_expected_purchases",
    "pareto_nbd_expected_purchases_population",
    "pareto_nbd_log_likelihood",
    "pareto_nbd_p_alive",
    "pit_coverage",
    "population_mean_order_value",
    "predicted_clv_12m",
    "purchases_percentiles",
    "purchases_variance",
    "purchases_pmf",
    "randomized_pit",
    "rfm_from_transactions",
    "simulate_bgnbd",
    "simulate_pareto_nbd",
    "tracking_curve",
]
