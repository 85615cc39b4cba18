"""Customer-lifetime-value models in plain numpy/scipy.

* BG/NBD purchase model (Fader, Hardie & Lee 2005) - ``fit_bgnbd``, ``p_alive``,
  ``expected_purchases``, ``expected_purchases_in_window``, ``expected_purchases_population``;
* Gamma-Gamma spend model (Fader, Hardie & Lee 2005, "RFM and CLV") - ``fit_gamma_gamma``,
  ``conditional_expected_order_value``, ``expected_order_value``;
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
from .rfm import RfmSummary, compress, rfm_from_transactions

__all__ = [
    "DAYS_PER_MONTH",
    "BgNbdFit",
    "ConvergenceWarning",
    "GammaGammaFit",
    "RfmSummary",
    "bgnbd_log_likelihood",
    "compress",
    "conditional_expected_order_value",
    "expected_order_value",
    "expected_purchases",
    "expected_purchases_curve",
    "expected_purchases_in_window",
    "expected_purchases_population",
    "fit_bgnbd",
    "fit_gamma_gamma",
    "gamma_gamma_log_likelihood",
    "monthly_discount_rate",
    "monthly_expected_purchases",
    "p_alive",
    "population_mean_order_value",
    "predicted_clv_12m",
    "rfm_from_transactions",
    "simulate_bgnbd",
]
