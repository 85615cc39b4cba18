"""Discounted 12-month customer value (metrics.md, "Predicted value")."""

from __future__ import annotations

import numpy as np

from .bgnbd import BgNbdFit, alive_expectation_by_group, expected_purchases_curve, p_alive
from .rfm import as_rfm

__all__ = ["DAYS_PER_MONTH", "monthly_discount_rate", "monthly_expected_purchases", "predicted_clv_12m"]

DAYS_PER_MONTH = 365.0 / 12.0


def monthly_discount_rate(annual_rate: float = 0.10) -> float:
    """d = (1 + annual_rate)^(1/12) - 1."""
    if not annual_rate > -1.0:
        raise ValueError("annual_rate must be > -1")
    return (1.0 + annual_rate) ** (1.0 / 12.0) - 1.0


def monthly_expected_purchases(
    fit: BgNbdFit, x, t_x, T, *, months: int = 12, month_length: float = DAYS_PER_MONTH
) -> np.ndarray:
    """(n, months) matrix: E[purchases in month m | x, t_x, T], month m = (T + (m-1)L, T + mL],
    L = month_length in the fit's time unit (default 365/12 days)."""
    edges = month_length * np.arange(months + 1)
    cumulative = expected_purchases_curve(fit, edges, x, t_x, T)
    return np.diff(cumulative, axis=1)


def predicted_clv_12m(
    fit: BgNbdFit,
    x,
    t_x,
    T,
    expected_order_value,
    margin_rate,
    *,
    annual_discount_rate: float = 0.10,
    months: int = 12,
    month_length: float = DAYS_PER_MONTH,
) -> np.ndarray:
    """sum_{m=1..12} E[purchases in month m] * expected_order_value * margin_rate / (1+d)^m,
    d = (1 + annual_discount_rate)^(1/12) - 1; month_length in the fit's time unit."""
    x, t_x, T = as_rfm(x, t_x, T)
    d = monthly_discount_rate(annual_discount_rate)
    discount = (1.0 + d) ** -np.arange(1, months + 1, dtype=float)
    # linear in the monthly expectations: discount H once per distinct (x, T), then scale by P(alive)
    H, inverse = alive_expectation_by_group(fit, month_length * np.arange(months + 1), x, T)
    # einsum rather than @: a matrix-vector product would go to (threaded) BLAS, see _numeric.dot
    discounted = np.einsum("gm,m->g", np.diff(H, axis=1), discount)
    eov = np.asarray(expected_order_value, dtype=float)
    margin = np.asarray(margin_rate, dtype=float)
    return p_alive(fit, x, t_x, T) * discounted[inverse] * eov * margin
