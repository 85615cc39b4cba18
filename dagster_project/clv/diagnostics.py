"""Holdout diagnostics of the purchase models (BG/NBD, Pareto/NBD), as pure functions.

The two models are used through one small interface - ``model_p_alive``,
``model_expected_purchases`` (conditional, in (T, T+t]) and
``model_expected_purchases_population`` (unconditional E[X(t)] of a new customer) - so the
diagnostics and the `auto` model choice (metrics.md: the model with the lower holdout error
publishes) treat them alike.

* ``tracking_curve``: expected cumulative repeat purchases of a cohort over calendar time, the
  classic Fader-Hardie-Lee tracking plot: customer i, first purchase at f_i, is expected to
  have made E[X(tau - f_i)] repeat purchases by time tau (the model's unconditional mean, as in
  FHL 2005, fig. 2); summed over the customers. Compare with the actual cumulative count.
* ``lift_table``: customers ranked by predicted holdout purchases into equal groups (deciles),
  mean predicted against mean actual per group - does the model rank customers?
* ``holdout_mae``: mean absolute error per customer of predicted vs actual holdout purchases.
* ``holdout_report`` / ``choose_purchase_model``: all of it for one or several fits.
"""

from __future__ import annotations

import dataclasses
import math

import numpy as np

from . import bgnbd
from .pareto_nbd import ParetoNbdFit
from .rfm import as_rfm

__all__ = [
    "choose_purchase_model",
    "holdout_mae",
    "holdout_report",
    "lift_table",
    "model_expected_purchases",
    "model_expected_purchases_population",
    "model_p_alive",
    "tracking_curve",
]


def _check(fit):
    if not isinstance(fit, (bgnbd.BgNbdFit, ParetoNbdFit)):
        raise TypeError(f"not a purchase-model fit: {type(fit).__name__}")


def model_p_alive(fit, x, t_x, T) -> np.ndarray:
    _check(fit)
    return bgnbd.p_alive(fit, x, t_x, T) if isinstance(fit, bgnbd.BgNbdFit) else fit.p_alive(x, t_x, T)


def model_expected_purchases(fit, t, x, t_x, T) -> np.ndarray:
    """E[purchases in (T, T+t] | x, t_x, T] under either model."""
    _check(fit)
    if isinstance(fit, bgnbd.BgNbdFit):
        return bgnbd.expected_purchases(fit, t, x, t_x, T)
    return fit.expected_purchases(t, x, t_x, T)


def model_expected_purchases_curve(fit, times, x, t_x, T) -> np.ndarray:
    """E[purchases in (T, T+t] | x, t_x, T] for every customer (rows) and horizon (columns),
    the horizon-free part of each model evaluated once."""
    _check(fit)
    if isinstance(fit, bgnbd.BgNbdFit):
        return bgnbd.expected_purchases_curve(fit, times, x, t_x, T)
    return fit.expected_purchases_curve(times, x, t_x, T)


def model_expected_purchases_population(fit, t):
    """Unconditional E[X(t)]: expected repeat purchases in (0, t] after the first purchase."""
    _check(fit)
    if isinstance(fit, bgnbd.BgNbdFit):
        return bgnbd.expected_purchases_population(fit, t)
    return fit.expected_purchases_population(t)


def tracking_curve(fit, first_purchase, times) -> np.ndarray:
    """Expected cumulative repeat purchases of the whole cohort at each of ``times``:
    sum_i E[X(max(0, tau - f_i))], f_i = ``first_purchase`` (all in the fit's time unit, from
    one origin). Evaluated once per distinct first-purchase time."""
    f = np.asarray(first_purchase, dtype=float)
    times = np.asarray(times, dtype=float).reshape(-1)
    uf, counts = np.unique(f, return_counts=True)
    d = np.maximum(times[None, :] - uf[:, None], 0.0)
    ex = np.asarray(model_expected_purchases_population(fit, d.ravel()), dtype=float).reshape(d.shape)
    return np.einsum("f,ft->t", counts.astype(float), ex)


def lift_table(predicted, actual, n_groups: int = 10) -> dict[str, np.ndarray]:
    """Customers sorted by predicted value (highest first, ties in input order) and cut into
    ``n_groups`` groups as equal as possible; per group: size, mean predicted, mean actual."""
    p = np.asarray(predicted, dtype=float)
    a = np.asarray(actual, dtype=float)
    if p.shape != a.shape or p.ndim != 1:
        raise ValueError("predicted and actual must be 1-d and of equal length")
    if len(p) < n_groups:
        raise ValueError(f"need at least {n_groups} customers for {n_groups} groups")
    order = np.argsort(-p, kind="stable")
    groups = np.array_split(order, n_groups)
    return {
        "group": np.arange(1, n_groups + 1),
        "n": np.array([len(g) for g in groups]),
        "mean_predicted": np.array([p[g].mean() for g in groups]),
        "mean_actual": np.array([a[g].mean() for g in groups]),
    }


def holdout_mae(predicted, actual) -> float:
    """Mean absolute error per customer of predicted vs actual holdout purchases."""
    p = np.asarray(predicted, dtype=float)
    a = np.asarray(actual, dtype=float)
    if p.shape != a.shape:
        raise ValueError("predicted and actual must have the same shape")
    return float(np.mean(np.abs(p - a)))


def holdout_report(fit, x, t_x, T, actual_holdout, holdout_length: float, *, n_groups: int = 10) -> dict:
    """Predicted holdout purchases (in (T, T + holdout_length]) against the actual ones: totals,
    per-customer MAE and the lift table."""
    x, t_x, T = as_rfm(x, t_x, T)
    actual = np.asarray(actual_holdout, dtype=float)
    predicted = model_expected_purchases(fit, holdout_length, x, t_x, T)
    return {
        "predicted_total": float(predicted.sum()),
        "actual_total": float(actual.sum()),
        "mae": holdout_mae(predicted, actual),
        "lift": lift_table(predicted, actual, n_groups),
        "predicted": predicted,
    }


def choose_purchase_model(fits: dict, x, t_x, T, actual_holdout, holdout_length: float) -> tuple[str, dict]:
    """The `auto` setting: the fit (by name) with the lowest holdout MAE, and every report.
    Fits that did not converge are skipped unless none did."""
    reports = {name: holdout_report(fit, x, t_x, T, actual_holdout, holdout_length) for name, fit in fits.items()}
    usable = [n for n, f in fits.items() if f.converged] or list(fits)
    best = min(usable, key=lambda n: reports[n]["mae"])
    return best, reports


def _shifted(fit, name: str, h: float):
    """The fit with one of its own parameters multiplied by e^h (log-space step), the others
    and the limit kept: a BG/NBD limit's purchase_rate (r/alpha) or dropout_odds (a/b)
    moves along its ridge."""
    if isinstance(fit, ParetoNbdFit) or name in ("r", "alpha", "a", "b", "s", "beta"):
        return dataclasses.replace(fit, **{name: getattr(fit, name) * math.exp(h)})
    if name == "purchase_rate":
        return dataclasses.replace(fit, r=fit.r * math.exp(h))
    if name == "dropout_odds":
        odds = fit.a / fit.b * math.exp(h)
        total = fit.a + fit.b
        return dataclasses.replace(fit, a=total * odds / (1.0 + odds), b=total / (1.0 + odds))
    raise ValueError(f"unknown parameter {name!r}")


def prediction_sd(fit, predict, *, step: float = 1e-4) -> float:
    """Standard error of a scalar prediction ``predict(fit)`` from the uncertainty of the
    fitted parameters: the delta method, gradient by central differences in the fit's own
    log-parameters, against their covariance (the inverse observed information, the fit's
    ``covariance``). NaN when the fit has no usable covariance (a singular information
    matrix: the parameters are not identified in some direction)."""
    if getattr(fit, "covariance", None) is None:
        return float("nan")
    names, cov = fit.covariance
    cov = np.asarray(cov, dtype=float)
    if not np.all(np.isfinite(cov)):
        return float("nan")
    grad = np.array([
        (float(predict(_shifted(fit, name, step))) - float(predict(_shifted(fit, name, -step)))) / (2.0 * step)
        for name in names
    ])
    var = float(grad @ cov @ grad)
    return math.sqrt(var) if np.isfinite(var) and var >= 0 else float("nan")
