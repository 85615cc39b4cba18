"""Small and unusual businesses: every fit gives finite predictions or a clear limit/reason."""

from __future__ import annotations

import warnings

import numpy as np
import pytest
from scipy import integrate, stats

from dagster_project.clv import (
    BgNbdFit,
    ConvergenceWarning,
    GammaGammaFit,
    conditional_expected_order_value,
    expected_order_value,
    expected_purchases,
    expected_purchases_curve,
    expected_purchases_population,
    fit_bgnbd,
    fit_gamma_gamma,
    fit_pareto_nbd,
    p_alive,
    predicted_clv_12m,
    purchases_percentiles,
    simulate_bgnbd,
)
from dagster_project.clv.bgnbd import _BgNbdData, _alive_expectation_fit
from dagster_project.clv.gamma_gamma import _GammaGammaData


def all_predictions_finite(fit, x, t_x, T):
    ep = expected_purchases(fit, 365.0, x, t_x, T)
    pa = p_alive(fit, x, t_x, T)
    curve = expected_purchases_curve(fit, [0.0, 30.0, 365.0, 3650.0], x, t_x, T)
    clv = predicted_clv_12m(fit, x, t_x, T, 40.0, 0.3)
    pct = purchases_percentiles(fit, 365.0, x, t_x, T)
    pop = expected_purchases_population(fit, np.array([1.0, 365.0]))
    for arr in (ep, pa, curve, clv, pct, pop):
        assert np.all(np.isfinite(arr))
    assert np.all((pa >= 0) & (pa <= 1)) and np.all(ep >= 0) and np.all(np.diff(curve, axis=1) >= -1e-12)
    assert np.all(pct[:, 0] <= pct[:, 1])
    return ep


def simulate(n, params, seed, horizon=365.0, T_range=(30, 731)):
    rng = np.random.default_rng(seed)
    T = rng.integers(*T_range, n).astype(float)
    x, t_x, future = simulate_bgnbd(*params, T, rng, horizon=horizon)
    t_x = np.where(x > 0, np.clip(np.ceil(t_x), 1, T), 0.0)
    return x, t_x, T, future


def test_50_customers():
    x, t_x, T, _ = simulate(50, (0.5, 20.0, 0.7, 3.0), 50)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        fit = fit_bgnbd(x, t_x, T)
    assert np.isfinite(fit.log_likelihood) and fit.n_customers == 50
    assert fit.converged or "NOT CONVERGED" in fit.message
    all_predictions_finite(fit, x, t_x, T)
    assert fit.standard_errors is not None and set(fit.standard_errors) >= {"r", "alpha", "a", "b"}


def test_exactly_100_repeat_customers():
    x, t_x, T, _ = simulate(400, (0.5, 20.0, 0.7, 3.0), 100)
    rep = np.nonzero(x > 0)[0][:100]
    non = np.nonzero(x == 0)[0][:100]
    idx = np.concatenate([rep, non])
    x, t_x, T = x[idx], t_x[idx], T[idx]
    assert (x > 0).sum() == 100
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        fit = fit_bgnbd(x, t_x, T)
    assert fit.converged, fit.message
    all_predictions_finite(fit, x, t_x, T)


def test_nobody_drops_out_clockwork_buyers():
    """Everyone buys every 7 days from her first purchase on: no drop-out, one rate."""
    T = np.arange(60, 760, 3, dtype=float)
    x = np.floor(T / 7.0)
    t_x = 7.0 * x
    fit = fit_bgnbd(x, t_x, T)
    assert fit.converged, fit.message
    assert fit.limit is not None and "no_dropout" in fit.limit, fit.message
    ep = all_predictions_finite(fit, x, t_x, T)
    np.testing.assert_allclose(p_alive(fit, x, t_x, T), 1.0)
    assert ep == pytest.approx(np.full(len(x), 365 / 7), rel=0.02)  # one purchase a week
    assert fit.standard_errors["a"] == np.inf and fit.standard_errors["b"] == np.inf


def test_everyone_buys_once_is_a_clear_error():
    T = np.arange(10, 110, dtype=float)
    zeros = np.zeros(100)
    with pytest.raises(ValueError, match="no repeat purchases"):
        fit_bgnbd(zeros, zeros, T)
    with pytest.raises(ValueError, match="no repeat purchases"):
        fit_pareto_nbd(zeros, zeros, T)
    with pytest.raises(ValueError, match="frequency > 0"):
        fit_gamma_gamma(zeros, zeros)


def test_four_customers_not_converged_but_finite():
    x, t_x, T = np.array([1.0, 2, 0, 3]), np.array([5.0, 9, 0, 10]), np.array([5.0, 9, 4, 10])
    with pytest.warns(ConvergenceWarning):
        fit = fit_bgnbd(x, t_x, T)
    assert not fit.converged and "too few" in fit.message
    all_predictions_finite(fit, x, t_x, T)


@pytest.fixture(scope="module")
def ridge_business():
    """400 regular buyers who drop out with probability 5 % after each purchase (the same for
    everyone): the bug report's business."""
    return simulate(400, (4.0, 120.0, 0.05e9, 0.95e9), 400, T_range=(60, 731))


def test_homogeneous_dropout_ridge(ridge_business):
    x, t_x, T, future = ridge_business
    with warnings.catch_warnings():
        warnings.simplefilter("error", ConvergenceWarning)
        fit = fit_bgnbd(x, t_x, T)
    assert fit.limit == "homogeneous_dropout", fit.message
    assert fit.converged
    assert fit.dropout_probability == pytest.approx(0.05, abs=0.015)
    ep = all_predictions_finite(fit, x, t_x, T)
    assert ep.sum() == pytest.approx(future.sum(), rel=0.1)
    se = fit.standard_errors
    assert se["a"] == np.inf and se["b"] == np.inf and 0 < se["dropout_probability"] < 0.02
    assert np.isfinite(se["r"]) and np.isfinite(se["alpha"])
    # the limit's likelihood is the supremum of the full model's along the ridge
    data = _BgNbdData(x, t_x, T, np.ones(len(x)))
    p = fit.dropout_probability
    for k in (1e4, 1e6, 1e9):
        value, grad = data.neg_mean_ll_and_grad(np.array([fit.r, fit.alpha, p * k, (1 - p) * k]))
        assert np.isfinite(value) and np.all(np.isfinite(grad))
        assert -value * len(x) <= fit.log_likelihood + 1e-6
    assert -value * len(x) == pytest.approx(fit.log_likelihood, abs=1e-3)


def test_huge_a_b_direct_evaluation_matches_the_limit():
    """The bug: at a = 1.05e6, b = 1.92e7 the old H was 0 x inf = NaN for every customer."""
    a, b = 1.05e6, 1.92e7
    p = a / (a + b)
    direct = BgNbdFit.from_params(4.3, 134.7, a, b)
    limit = BgNbdFit.from_params(4.3, 134.7, p, 1 - p, limit="homogeneous_dropout")
    x = np.array([0, 1, 5, 20, 300.0])
    t_x = np.array([0, 10, 200, 500, 700.0])
    T = np.array([30, 100, 400, 600, 720.0])
    ep_d, ep_l = all_predictions_finite(direct, x, t_x, T), all_predictions_finite(limit, x, t_x, T)
    np.testing.assert_allclose(ep_d, ep_l, rtol=1e-4)
    np.testing.assert_allclose(p_alive(direct, x, t_x, T), p_alive(limit, x, t_x, T), rtol=1e-4)
    # the limit formula by hand: (1 - (1 + p s)^-(r+x)) / p times P(alive)
    s = 365.0 / (134.7 + T)
    by_hand = p_alive(limit, x, t_x, T) * (1 - (1 + p * s) ** -(4.3 + x)) / p
    np.testing.assert_allclose(ep_l, by_hand, rtol=1e-12)


@pytest.mark.parametrize(
    "params, t, x, T",
    [
        ((0.5, 2.0, 2500.0, 300.0), 365.0, 3, 1.0),  # large a
        ((0.5, 2.0, 2500.0, 300.0), 365.0, 300, 400.0),
        ((0.3, 0.5, 200.0, 50.0), 3650.0, 0, 0.0),  # large s = t/(alpha+T): (1+s)^(1-a) underflows
        ((2.0, 30.0, 5e5, 1e7), 365.0, 50, 500.0),
        ((0.24, 4.4, 0.79, 2.43), 39.0, 2, 38.86),  # CDNOW: the direct form
    ],
)
def test_alive_expectation_matches_integral_over_the_posterior(params, t, x, T):
    """H = E[(1 - (1 + p s)^-(r+x)) / p], p ~ Beta(a, b+x), by adaptive quadrature."""
    fit = BgNbdFit.from_params(*params)
    r, alpha, a, b = params
    k, s = r + x, t / (alpha + T)
    m = a / (a + b + x)
    sd = np.sqrt(m * (1 - m) / (a + b + x + 1))
    lo, hi = (max(0.0, m - 15 * sd), min(1.0, m + 15 * sd)) if a > 50 else (0.0, 1.0)
    ref = integrate.quad(
        lambda p: -np.expm1(-k * np.log1p(p * s)) / p * stats.beta.pdf(p, a, b + x), lo, hi, epsrel=1e-12, limit=500
    )[0]
    assert float(_alive_expectation_fit(fit, t, x, T)) == pytest.approx(ref, rel=1e-8)


def test_limit_models_predict_their_closed_forms():
    x, t_x, T = np.array([0.0, 3, 10]), np.array([0.0, 50, 90]), np.array([100.0, 100, 100])
    lam, p = 0.1, 0.2
    f = BgNbdFit.from_params(lam * 1e12, 1e12, p, 1 - p, limit="homogeneous_purchase_rate+homogeneous_dropout")
    pa = p_alive(f, x, t_x, T)
    odds = p / (1 - p) * np.exp(lam * (T - t_x))
    np.testing.assert_allclose(pa, np.where(x > 0, 1 / (1 + odds), 1.0), rtol=1e-12)
    np.testing.assert_allclose(expected_purchases(f, 365.0, x, t_x, T), pa * -np.expm1(-lam * p * 365) / p, rtol=1e-12)
    g = BgNbdFit.from_params(0.5, 10.0, 1.0, 1e12, limit="no_dropout")
    np.testing.assert_allclose(expected_purchases(g, 365.0, x, t_x, T), (0.5 + x) * 365 / (10 + T), rtol=1e-12)
    np.testing.assert_allclose(expected_purchases_population(g, 365.0), 0.5 * 365 / 10, rtol=1e-12)
    with pytest.raises(ValueError):
        BgNbdFit.from_params(1, 1, 1, 1, limit="sideways")


def test_gamma_gamma_one_customer_holds_half_the_revenue():
    rng = np.random.default_rng(7)
    x = rng.integers(1, 8, 500).astype(float)
    m = rng.gamma(3.0 * x, 1 / (rng.gamma(4.0, 1 / 40.0, 500) * x))
    m[0] = (m * x).sum() / x[0]  # customer 0: as much revenue as all others together
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        fit = fit_gamma_gamma(x, m)
    eov = expected_order_value(fit, x, m)
    assert np.all(np.isfinite(eov)) and np.all(eov > 0) and np.isfinite(fit.mean_order_value)
    assert eov[0] > 10 * np.median(eov)
    assert all(np.isfinite(v) for v in fit.standard_errors.values()) or fit.limit


def test_gamma_gamma_identical_spend():
    x = np.arange(1, 201, dtype=float) % 7 + 1
    fit = fit_gamma_gamma(x, np.full(200, 25.0))
    assert fit.limit == "constant_order_value" and fit.converged
    np.testing.assert_allclose(expected_order_value(fit, [1, 5, 0], [25.0, 25.0, 0.0]), 25.0)
    assert fit.mean_order_value == pytest.approx(25.0)


def test_gamma_gamma_homogeneous_spend_ridge():
    """3,000 customers whose orders are all Gamma(p, nu) with the same nu: the bug report's
    "did not converge: maximum number of iterations reached"."""
    rng = np.random.default_rng(0)
    x = rng.integers(1, 10, 3000).astype(float)
    m = rng.gamma(3 * x, 1 / (0.05 * x))
    with warnings.catch_warnings():
        warnings.simplefilter("error", ConvergenceWarning)
        fit = fit_gamma_gamma(x, m)
    assert fit.limit == "homogeneous_spend" and fit.converged, fit.message
    assert fit.mean_order_value == pytest.approx(60.0, rel=0.02)
    np.testing.assert_allclose(conditional_expected_order_value(fit, x[:5], m[:5]), fit.mean_order_value)
    se = fit.standard_errors
    assert se["q"] == np.inf and se["v"] == np.inf and 0 < se["mean_order_value"] < 1.0
    # the full likelihood is finite far out on the ridge and approaches the limit's from below
    data = _GammaGammaData(x, m, np.ones(3000))
    nu = fit.q / fit.v
    for q in (1e4, 1e8, 1e12):
        value, grad = data.neg_mean_ll_and_grad(np.array([fit.p, q, q / nu]))
        assert np.isfinite(value) and np.all(np.isfinite(grad))
        assert -value * 3000 <= fit.log_likelihood + 1e-6
    assert -value * 3000 == pytest.approx(fit.log_likelihood, abs=1e-3)
    direct = GammaGammaFit.from_params(fit.p, 1e9, 1e9 / nu)
    np.testing.assert_allclose(conditional_expected_order_value(direct, x, m), fit.mean_order_value, rtol=1e-6)


def test_gamma_gamma_constant_customer_spend_ridge():
    """Each customer always re-orders the same basket, baskets differ across customers: the
    maximum is at p -> inf, v -> 0 (the clockwork business's "no further decrease possible"
    with the gradient just above the tolerance)."""
    rng = np.random.default_rng(7)
    x = rng.integers(1, 12, 2000).astype(float)
    m = np.round(stats.invgamma.rvs(4.0, scale=90.0, size=2000, random_state=rng), 2)
    with warnings.catch_warnings():
        warnings.simplefilter("error", ConvergenceWarning)
        fit = fit_gamma_gamma(x, m)
    assert fit.limit == "constant_customer_spend" and fit.converged, fit.message
    q, s = fit.q, fit.p * fit.v
    assert q == pytest.approx(4.0, rel=0.15) and s == pytest.approx(90.0, rel=0.15)
    assert fit.mean_order_value == pytest.approx(s / (q - 1.0))
    # a repeat customer's own mean is her expected order value; non-buyers get the population's
    np.testing.assert_allclose(conditional_expected_order_value(fit, x[:5], m[:5]), m[:5], rtol=1e-9)
    np.testing.assert_allclose(expected_order_value(fit, [0.0], [0.0]), fit.mean_order_value)
    se = fit.standard_errors
    assert se["p"] == np.inf and se["v"] == np.inf and 0 < se["mean_order_value"] < fit.mean_order_value
    # the full likelihood approaches the limit's (the inverse-gamma density of m) from below
    limit_ll = stats.invgamma.logpdf(m, q, scale=s).sum()
    assert fit.log_likelihood == pytest.approx(limit_ll, rel=1e-9)
    data = _GammaGammaData(x, m, np.ones(len(x)))
    gaps = [limit_ll + 2000 * data.neg_mean_ll_and_grad(np.array([p, q, s / p]))[0] for p in (1e2, 1e3, 1e4)]
    assert gaps[0] > gaps[1] > gaps[2] > 0
