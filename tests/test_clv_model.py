"""BG/NBD, Gamma-Gamma and the 12-month value of dagster_project.clv against plain references."""

from __future__ import annotations

import math
import warnings

import numpy as np
import pytest
from scipy import integrate
from scipy.special import betaln, hyp2f1

from dagster_project.clv import (
    BgNbdFit,
    ConvergenceWarning,
    GammaGammaFit,
    bgnbd_log_likelihood,
    compress,
    conditional_expected_order_value,
    expected_order_value,
    expected_purchases,
    expected_purchases_curve,
    expected_purchases_in_window,
    expected_purchases_population,
    fit_bgnbd,
    fit_gamma_gamma,
    gamma_gamma_log_likelihood,
    monthly_discount_rate,
    monthly_expected_purchases,
    p_alive,
    predicted_clv_12m,
    rfm_from_transactions,
    simulate_bgnbd,
)
from dagster_project.clv.bgnbd import _BgNbdData
from dagster_project.clv.gamma_gamma import _GammaGammaData

TRUE = (0.5, 20.0, 0.7, 3.0)  # r, alpha (days), a, b
GG_TRUE = (3.0, 4.0, 40.0)  # p, q, v
TRUE_FIT = BgNbdFit.from_params(*TRUE)


def random_rfm(n: int, seed: int):
    """Small random (x, t_x, T) in days with moderate values (for the naive references)."""
    rng = np.random.default_rng(seed)
    T = rng.integers(1, 400, n).astype(float)
    x = rng.integers(0, 12, n).astype(float)
    t_x = np.where(x > 0, np.floor(rng.uniform(0, 1, n) * T) + 1, 0.0)
    t_x = np.minimum(t_x, T)
    return x, t_x, T


@pytest.fixture(scope="module")
def simulated():
    rng = np.random.default_rng(2024)
    T = rng.uniform(30, 730, 20_000).round()
    x, t_x, _ = simulate_bgnbd(*TRUE, T, rng)
    return x, t_x, T


@pytest.fixture(scope="module")
def simulated_fit(simulated):
    return fit_bgnbd(*simulated)


# ------------------------------------------------------------------ likelihood and gradient


def naive_bgnbd_ll(r, alpha, a, b, x, t_x, T):
    def lbeta(u, v):
        return math.lgamma(u) + math.lgamma(v) - math.lgamma(u + v)

    out = []
    for xi, txi, Ti in zip(x, t_x, T):
        xi = int(xi)
        a1 = math.lgamma(r + xi) - math.lgamma(r) + r * math.log(alpha)
        a2 = lbeta(a, b + xi) - lbeta(a, b)
        bracket = (alpha + Ti) ** -(r + xi)
        if xi > 0:
            bracket += a / (b + xi - 1) * (alpha + txi) ** -(r + xi)
        out.append(a1 + a2 + math.log(bracket))
    return np.array(out)


@pytest.mark.parametrize("params", [(0.243, 4.414, 0.793, 2.426), (2.0, 50.0, 1.7, 0.4), (0.1, 300.0, 0.2, 8.0)])
def test_bgnbd_log_likelihood_equals_naive_reference(params):
    x, t_x, T = random_rfm(300, seed=1)
    ref = naive_bgnbd_ll(*params, x, t_x, T)
    np.testing.assert_allclose(bgnbd_log_likelihood(*params, x, t_x, T), ref, rtol=1e-11, atol=1e-9)
    # the fast aggregated path used by the fit
    w = np.random.default_rng(2).integers(1, 5, len(x)).astype(float)
    value, _ = _BgNbdData(x, t_x, T, w).neg_mean_ll_and_grad(np.array(params))
    assert -value * w.sum() == pytest.approx(float(w @ ref), rel=1e-11)


def finite_difference(fun, theta, rel=1e-6):
    grad = np.zeros_like(theta)
    for i in range(len(theta)):
        h = rel * theta[i]
        up, down = theta.copy(), theta.copy()
        up[i] += h
        down[i] -= h
        grad[i] = (fun(up)[0] - fun(down)[0]) / (2 * h)
    return grad


@pytest.mark.parametrize("params", [(0.243, 4.414, 0.793, 2.426), (2.0, 50.0, 1.7, 0.4)])
def test_bgnbd_gradient_matches_finite_differences(params):
    x, t_x, T = random_rfm(500, seed=3)
    data = _BgNbdData(x, t_x, T, np.ones(len(x)))
    theta = np.array(params, dtype=float)
    _, grad = data.neg_mean_ll_and_grad(theta)
    np.testing.assert_allclose(grad, finite_difference(data.neg_mean_ll_and_grad, theta), rtol=1e-6, atol=1e-9)


def test_gamma_gamma_log_likelihood_and_gradient():
    rng = np.random.default_rng(4)
    x = rng.integers(1, 15, 400).astype(float)
    m = rng.gamma(2.0, 20.0, 400)
    p, q, v = 3.1, 4.2, 37.0
    ref = np.array(
        [
            math.lgamma(p * xi + q) - math.lgamma(p * xi) - math.lgamma(q) + q * math.log(v)
            + (p * xi - 1) * math.log(mi) + p * xi * math.log(xi) - (p * xi + q) * math.log(v + mi * xi)
            for xi, mi in zip(x, m)
        ]
    )
    np.testing.assert_allclose(gamma_gamma_log_likelihood(p, q, v, x, m), ref, rtol=1e-11)
    data = _GammaGammaData(x, m, np.ones(len(x)))
    theta = np.array([p, q, v])
    value, grad = data.neg_mean_ll_and_grad(theta)
    assert -value * len(x) == pytest.approx(ref.sum(), rel=1e-11)
    np.testing.assert_allclose(grad, finite_difference(data.neg_mean_ll_and_grad, theta), rtol=1e-6, atol=1e-9)


# ------------------------------------------------------------------ fitting


def test_compression_gives_the_same_fit(simulated):
    x, t_x, T = simulated
    rows, weights = compress(x, t_x, T)
    assert len(rows) < len(x) and weights.sum() == len(x)
    rows_again, _, inverse = compress(x, t_x, T, return_inverse=True)
    np.testing.assert_array_equal(rows_again[inverse], np.column_stack([x, t_x, T]))
    raw = fit_bgnbd(x, t_x, T, compress_rows=False)
    packed = fit_bgnbd(rows[:, 0], rows[:, 1], rows[:, 2], weights=weights)
    assert raw.converged and packed.converged
    assert packed.n_customers == len(x) and packed.n_rows == len(rows) and raw.n_rows == len(x)
    for name in ("r", "alpha", "a", "b"):
        assert getattr(packed, name) == pytest.approx(getattr(raw, name), rel=1e-5)
    assert packed.log_likelihood == pytest.approx(raw.log_likelihood, rel=1e-12)
    plain = bgnbd_log_likelihood(packed.r, packed.alpha, packed.a, packed.b, x, t_x, T).sum()
    assert packed.log_likelihood == pytest.approx(plain, rel=1e-12)
    # customers acquired on the cut-off day (T = 0) are not part of the fit
    with_new = fit_bgnbd(np.r_[x, 0, 0], np.r_[t_x, 0, 0], np.r_[T, 0, 0])
    assert with_new.n_customers == len(x) and with_new.r == pytest.approx(raw.r, rel=1e-5)


def test_bgnbd_recovers_simulated_parameters(simulated_fit):
    fit = simulated_fit
    assert fit.converged, fit.message
    assert fit.gradient_norm < 1e-5
    # tolerances ~4 standard deviations of the estimator at n = 20,000 (measured over 30 seeds:
    # 1.0 %, 1.4 %, 3.1 %, 5.0 %)
    for value, true, tol in zip((fit.r, fit.alpha, fit.a, fit.b), TRUE, (0.05, 0.07, 0.15, 0.20)):
        assert value == pytest.approx(true, rel=tol)


def test_fit_is_invariant_to_the_time_unit(simulated, simulated_fit):
    x, t_x, T = simulated
    weekly = fit_bgnbd(x, t_x / 7, T / 7)
    assert weekly.alpha == pytest.approx(simulated_fit.alpha / 7, rel=1e-5)
    for name in ("r", "a", "b"):
        assert getattr(weekly, name) == pytest.approx(getattr(simulated_fit, name), rel=1e-5)


def test_unconverged_fit_is_reported(simulated):
    with pytest.warns(ConvergenceWarning):
        fit = fit_bgnbd(*simulated, max_iter=1)
    assert not fit.converged
    assert "NOT CONVERGED" in fit.message
    x = np.array([1.0, 2.0, 1.0, 3.0])
    m = np.array([10.0, 20.0, 15.0, 12.0])
    with pytest.warns(ConvergenceWarning):
        gg = fit_gamma_gamma(x, m, max_iter=1)
    assert not gg.converged
    # four customers: the likelihood keeps rising towards the edge of the parameter space
    with pytest.warns(ConvergenceWarning):
        tiny = fit_bgnbd([1, 2, 0, 3], [5, 9, 0, 10], [5, 9, 4, 10])
    assert not tiny.converged


def test_invalid_inputs_are_rejected():
    with pytest.raises(ValueError, match="not identifiable"):
        fit_bgnbd([0, 0], [0, 0], [5, 9])
    with pytest.raises(ValueError, match="t_x must be <= T"):
        fit_bgnbd([1, 0], [10, 0], [5, 9])
    with pytest.raises(ValueError, match="integers"):
        fit_bgnbd([1.5, 0], [1, 0], [5, 9])
    with pytest.raises(ValueError, match="t_x must be 0"):
        p_alive(TRUE_FIT, [0], [3], [5])
    with pytest.raises(ValueError, match="frequency > 0"):
        fit_gamma_gamma([0, 2], [0.0, 10.0])


# ------------------------------------------------------------------ predictions


def test_p_alive():
    x, t_x, T = random_rfm(200, seed=5)
    r, alpha, a, b = TRUE
    pa = p_alive(TRUE_FIT, x, t_x, T)
    assert np.all(pa[x == 0] == 1.0)  # BG/NBD: no drop-out before the first repeat purchase
    pos = x > 0
    ref = 1 / (1 + a / (b + x[pos] - 1) * ((alpha + T[pos]) / (alpha + t_x[pos])) ** (r + x[pos]))
    np.testing.assert_allclose(pa[pos], ref, rtol=1e-12)
    # decreasing in the gap since the last purchase, 1 when the last purchase is at T
    gaps = np.linspace(0, 300, 31)
    curve = p_alive(TRUE_FIT, np.full(31, 4.0), 300 - gaps, np.full(31, 300.0))
    assert curve[0] == pytest.approx(1 / (1 + a / (b + 3)))
    assert np.all(np.diff(curve) < 0) and np.all((curve > 0) & (curve <= 1))


def integral_reference(fit, t, x, t_x, T):
    """E[Y(t)] = P(alive) * E_p[(1 - (1 + p t/(alpha+T))^-(r+x)) / p], p ~ Beta(a, b+x): the
    expectation over lambda done in closed form, the one over p by adaptive quadrature."""
    r, alpha, a, b = fit.r, fit.alpha, fit.a, fit.b
    s, k = t / (alpha + T), r + x

    def g(p):
        return k * s if p == 0 else -math.expm1(-k * math.log1p(p * s)) / p

    # weight='alg' integrates g(p) * p^(a-1) (1-p)^(b+x-1) exactly as the Beta kernel
    val, _ = integrate.quad(g, 0.0, 1.0, weight="alg", wvar=(a - 1, b + x - 1), epsabs=0, epsrel=1e-11, limit=200)
    alive = p_alive(fit, [x], [t_x], [T])[0]
    return alive * val / math.exp(betaln(a, b + x))


@pytest.mark.parametrize(
    "params",
    [TRUE, (0.243, 4.414, 0.793, 2.426), (2.0, 50.0, 1.7, 0.4), (0.3, 2.0, 1.0, 2.0), (0.8, 10.0, 0.3, 0.7)],
)
def test_expected_purchases_matches_numerical_integration(params):
    fit = BgNbdFit.from_params(*params)
    cases = [(0, 0, 1), (0, 0, 500), (1, 1, 2), (3, 100, 400), (12, 380, 400), (40, 50, 700), (2, 5, 5)]
    for t in (1.0, 30.0, 365.0, 5000.0):
        x, t_x, T = (np.array(c, dtype=float) for c in zip(*cases))
        got = expected_purchases(fit, t, x, t_x, T)
        ref = [integral_reference(fit, t, *c) for c in cases]
        np.testing.assert_allclose(got, ref, rtol=1e-7)


def test_expected_purchases_matches_fhl_equation_10():
    """The transformed closed form equals FHL (2005) eq. 10 as printed, where the latter is
    well conditioned (moderate argument of the hypergeometric function)."""
    r, alpha, a, b = 0.243, 4.414, 0.793, 2.426
    fit = BgNbdFit.from_params(r, alpha, a, b)
    x, t_x, T = random_rfm(100, seed=6)
    t_x, T = t_x / 7, T / 7  # weeks, as in the paper
    t = 39.0
    z = t / (alpha + T + t)
    num = 1 - ((alpha + T) / (alpha + T + t)) ** (r + x) * hyp2f1(r + x, b + x, a + b + x - 1, z)
    den = 1 + (x > 0) * a / (b + x - 1) * ((alpha + T) / (alpha + t_x)) ** (r + x)
    eq10 = (a + b + x - 1) / (a - 1) * num / den
    np.testing.assert_allclose(expected_purchases(fit, t, x, t_x, T), eq10, rtol=1e-9)


def test_expected_purchases_matches_monte_carlo():
    rng = np.random.default_rng(11)
    n, horizon = 200_000, 365.0
    T = rng.uniform(30, 730, n).round()
    x, t_x, future = simulate_bgnbd(*TRUE, T, rng, horizon=horizon)
    expected = expected_purchases(TRUE_FIT, horizon, x, t_x, T)
    for group in (x == 0, x == 1, (x >= 2) & (x < 6), x >= 6):
        se = future[group].std() / math.sqrt(group.sum())
        assert abs(future[group].mean() - expected[group].mean()) < 4 * se
    # unconditional: repeat purchases of new customers in their first t days
    t = 200.0
    x0, _, _ = simulate_bgnbd(*TRUE, np.full(n, t), rng)
    se = x0.std() / math.sqrt(n)
    assert abs(x0.mean() - expected_purchases_population(TRUE_FIT, t)) < 4 * se
    # ... which is the conditional expectation of a customer just acquired
    just_acquired = expected_purchases(TRUE_FIT, t, [0], [0], [0])[0]
    assert expected_purchases_population(TRUE_FIT, t) == pytest.approx(just_acquired, rel=1e-12)


def test_windows_add_up_to_the_total():
    x, t_x, T = random_rfm(300, seed=7)
    month = 365 / 12
    windows = [expected_purchases_in_window(TRUE_FIT, m * month, (m + 1) * month, x, t_x, T) for m in range(12)]
    total = expected_purchases(TRUE_FIT, 365.0, x, t_x, T)
    np.testing.assert_allclose(np.sum(windows, axis=0), total, rtol=1e-10)
    np.testing.assert_allclose(monthly_expected_purchases(TRUE_FIT, x, t_x, T).sum(axis=1), total, rtol=1e-10)
    np.testing.assert_allclose(expected_purchases_in_window(TRUE_FIT, 0.0, 365.0, x, t_x, T), total, rtol=1e-12)
    assert np.all(np.stack(windows) > 0)
    # array horizons per customer
    np.testing.assert_allclose(
        expected_purchases(TRUE_FIT, np.full(len(x), 365.0), x, t_x, T), total, rtol=1e-12
    )
    curve = expected_purchases_curve(TRUE_FIT, [0.0, 100.0, 365.0], x, t_x, T)
    assert np.all(curve[:, 0] == 0) and np.all(np.diff(curve, axis=1) > 0)


def test_gamma_gamma_recovers_simulated_parameters():
    rng = np.random.default_rng(12)
    p, q, v = GG_TRUE
    n = 20_000
    x = 1 + rng.poisson(2.0, n)
    nu = rng.gamma(q, 1 / v, n)
    m = rng.gamma(p * x, 1 / (nu * x))  # mean of x Gamma(p, nu) order values
    fit = fit_gamma_gamma(x, m)
    assert fit.converged, fit.message
    assert fit.n_customers == n
    # ~4 standard deviations at n = 20,000 (measured: 3.1 %, 1.7 %, 4.8 %)
    for value, true, tol in zip((fit.p, fit.q, fit.v), GG_TRUE, (0.15, 0.10, 0.20)):
        assert value == pytest.approx(true, rel=tol)
    # weights: the same fit from compressed rows
    xw, mw = np.repeat(x[:500], 3), np.repeat(m[:500], 3)
    a = fit_gamma_gamma(xw, mw)
    b = fit_gamma_gamma(x[:500], m[:500], weights=np.full(500, 3.0))
    assert (a.p, a.q, a.v) == pytest.approx((b.p, b.q, b.v), rel=1e-6)


def test_expected_order_value():
    fit = GammaGammaFit.from_params(*GG_TRUE)
    p, q, v = GG_TRUE
    population = p * v / (q - 1)
    assert fit.mean_order_value == pytest.approx(40.0)
    got = conditional_expected_order_value(fit, [0, 1, 10], [0.0, 100.0, 20.0])
    np.testing.assert_allclose(got, [population, p * (v + 100) / (p + q - 1), p * (v + 200) / (10 * p + q - 1)])
    # the warehouse's expected_order_value: population mean outside the model's domain
    eov = expected_order_value(fit, [0, 3, 2, 5], [0.0, -4.0, 0.0, 30.0])
    np.testing.assert_allclose(eov, [population, population, population, p * (v + 150) / (5 * p + q - 1)])


def test_predicted_clv_12m_by_hand():
    x, t_x, T, eov, margin = 3.0, 200.0, 320.0, 57.5, 0.42
    d = 1.10 ** (1 / 12) - 1
    assert monthly_discount_rate(0.10) == pytest.approx(d)
    month = 365 / 12
    total = 0.0
    for m in range(1, 13):
        cum_end = expected_purchases(TRUE_FIT, m * month, [x], [t_x], [T])[0]
        cum_start = expected_purchases(TRUE_FIT, (m - 1) * month, [x], [t_x], [T])[0]
        total += (cum_end - cum_start) * eov * margin / (1 + d) ** m
    got = predicted_clv_12m(TRUE_FIT, [x, 0.0], [t_x, 0.0], [T, 10.0], [eov, 30.0], [margin, 0.5])
    assert got[0] == pytest.approx(total, rel=1e-12)
    assert got[1] > 0
    undiscounted = predicted_clv_12m(TRUE_FIT, [x], [t_x], [T], eov, margin, annual_discount_rate=0.0)[0]
    year = expected_purchases(TRUE_FIT, 365.0, [x], [t_x], [T])[0]
    assert undiscounted == pytest.approx(year * eov * margin, rel=1e-12)
    assert got[0] < undiscounted


def test_singular_parameter_values_are_handled():
    """a = 1 makes the closed form 0/0, a + b = 1 its x = 0 hypergeometric c = 0."""
    for params in [(0.5, 20.0, 1.0, 3.0), (0.5, 20.0, 1.00003, 3.0), (0.5, 20.0, 0.4, 0.6), (0.5, 20.0, 0.4, 0.60002)]:
        fit = BgNbdFit.from_params(*params)
        for case in [(0, 0, 50), (2, 30, 60)]:
            got = expected_purchases(fit, 365.0, *([v] for v in case))[0]
            assert got == pytest.approx(integral_reference(fit, 365.0, *case), rel=1e-7)


def test_rfm_from_transactions():
    customer = np.array(["A", "A", "A", "A", "B", "C", "C"])
    day = np.array(
        ["2024-01-01", "2024-01-01", "2024-01-15", "2024-02-01", "2024-01-10", "2024-01-05", "2024-03-01"],
        dtype="datetime64[D]",
    )
    amount = np.array([10.0, 5.0, 20.0, 40.0, 7.0, 8.0, 99.0])
    s = rfm_from_transactions(customer, day, amount, end=np.datetime64("2024-02-10"))
    assert list(s.customer) == ["A", "B", "C"]
    np.testing.assert_array_equal(s.x, [2, 0, 0])  # same-day purchases count once; C's March one is after end
    np.testing.assert_array_equal(s.t_x, [31, 0, 0])
    np.testing.assert_array_equal(s.T, [40, 31, 36])
    np.testing.assert_array_equal(s.monetary_value, [30.0, 0.0, 0.0])  # first day (15) excluded
    weekly = rfm_from_transactions(customer, day, amount, end=np.datetime64("2024-02-10"), time_unit=7)
    np.testing.assert_allclose(weekly.T, np.array([40, 31, 36]) / 7)


def test_large_population_is_fast():
    """Smoke test of the vectorised paths on 200k customers (the 1M benchmark is in the report)."""
    rng = np.random.default_rng(13)
    T = rng.integers(1, 1096, 200_000).astype(float)
    x, t_x, _ = simulate_bgnbd(*TRUE, T, rng)
    t_x = np.where(x > 0, np.clip(np.round(t_x), 1, T), 0.0)
    with warnings.catch_warnings():
        warnings.simplefilter("error", ConvergenceWarning)
        fit = fit_bgnbd(x, t_x, T)
    assert fit.converged and fit.n_rows < len(x)
    clv = predicted_clv_12m(fit, x, t_x, T, 30.0, 0.3)
    assert clv.shape == x.shape and np.all(np.isfinite(clv)) and np.all(clv >= 0)


# ------------------------------------------------------------------ fast paths of the fit


def test_grouping_helpers_match_numpy_unique():
    from dagster_project.clv.rfm import factorize, group_index, sorted_rows

    rng = np.random.default_rng(21)
    for values in (rng.integers(-5, 5, 300), rng.integers(0, 10**9, 50), rng.normal(size=200), np.r_[0.0, 7.0, 7.0, 2.0]):
        distinct, codes = factorize(values)
        ref_distinct, ref_codes = np.unique(values, return_inverse=True)
        np.testing.assert_array_equal(distinct, ref_distinct)
        np.testing.assert_array_equal(codes, ref_codes.reshape(-1))
    x, t_x, T = random_rfm(500, seed=22)
    first, inverse = group_index(x, t_x, T)
    rows = np.column_stack([x, t_x, T])
    ref_rows, ref_inverse = np.unique(rows, axis=0, return_inverse=True)
    np.testing.assert_array_equal(rows[first], ref_rows)  # groups in lexicographic order
    np.testing.assert_array_equal(inverse, ref_inverse.reshape(-1))
    # sorted_rows: unit and general weights, and the lexsort path when one int64 key cannot hold a row
    codes = [rng.integers(0, 4, 400), rng.integers(0, 6, 400)]
    key = codes[0] * 6 + codes[1]
    ref_keys, ref_inverse = np.unique(key, return_inverse=True)
    for weights in (np.ones(400), rng.integers(1, 5, 400).astype(float)):
        for sizes in ((4, 6), (2**40, 2**40)):
            (c0, c1), w = sorted_rows(codes, sizes, weights)
            np.testing.assert_array_equal(c0 * 6 + c1, ref_keys)
            np.testing.assert_allclose(w, np.bincount(ref_inverse.reshape(-1), weights=weights))
            (c0, c1), w = sorted_rows(codes, sizes, weights, merge=False)
            assert len(w) == 400 and np.all(np.diff(c0 * 6 + c1) >= 0) and w.sum() == weights.sum()


def test_fast_likelihood_at_extreme_rows_and_parameters():
    """The fit's log(c + q) form against the log-sum-exp reference where one of the two terms
    of L underflows: many purchases long ago, or a / (b + x - 1) tiny or huge."""
    x = np.array([1, 2, 300, 300, 40, 1, 5, 0], dtype=float)
    t_x = np.array([1, 700, 1, 990, 2, 1000, 3, 0], dtype=float)
    T = np.array([1000, 700, 1000, 1000, 1000, 1000, 1000, 50], dtype=float)
    w = np.arange(1.0, 9.0)
    data = _BgNbdData(x, t_x, T, w)
    for params in [(5.0, 0.01, 1e-6, 1e6), (0.01, 1e4, 1e5, 1e-5)]:
        value, _ = data.neg_mean_ll_and_grad(np.array(params))
        ref = float(w @ bgnbd_log_likelihood(*params, x, t_x, T))
        assert np.isfinite(ref) and -value * w.sum() == pytest.approx(ref, rel=1e-11)
    # gradient: less extreme values, where scipy's betaln (absolute error ~1e-9 at b = 1e6) does
    # not limit the finite differences
    for params in [(0.35, 10.8, 0.79, 2.49), (5.0, 0.01, 1e-4, 1e3), (0.01, 1e4, 1e3, 1e-3), (50.0, 2.0, 3.0, 0.05)]:
        theta = np.array(params)
        value, grad = data.neg_mean_ll_and_grad(theta)
        ref = float(w @ bgnbd_log_likelihood(*params, x, t_x, T))
        assert -value * w.sum() == pytest.approx(ref, rel=1e-11)
        # in log-parameters, as the optimiser sees it (absolute steps stay well above rounding)
        phi = np.log(theta)
        numeric = np.zeros(4)
        for i in range(4):
            up, down = phi.copy(), phi.copy()
            up[i] += 1e-5
            down[i] -= 1e-5
            numeric[i] = (data.neg_mean_ll_and_grad(np.exp(up))[0] - data.neg_mean_ll_and_grad(np.exp(down))[0]) / 2e-5
        np.testing.assert_allclose(grad * theta, numeric, rtol=1e-6, atol=1e-8)


@pytest.fixture(scope="module")
def large_population():
    rng = np.random.default_rng(23)
    T = rng.integers(1, 1096, 200_000).astype(float)
    x, t_x, _ = simulate_bgnbd(*TRUE, T, rng)
    t_x = np.where(x > 0, np.clip(np.ceil(t_x), 1, T), 0.0)
    nu = rng.gamma(GG_TRUE[1], 1 / GG_TRUE[2], len(x))
    pos = x > 0
    m = rng.gamma(GG_TRUE[0] * x[pos], 1 / (nu[pos] * x[pos]))
    return x, t_x, T, m


def test_pilot_start_gives_the_same_fit(large_population, monkeypatch):
    """Large fits start from a fit on a sample of the rows; the estimates must not depend on it."""
    from dagster_project.clv import _optim

    x, t_x, T, m = large_population
    pos = x > 0
    assert _optim.pilot_step(fit_bgnbd(x, t_x, T).n_rows) and _optim.pilot_step(int(pos.sum()))
    with warnings.catch_warnings():
        warnings.simplefilter("error", ConvergenceWarning)
        piloted = fit_bgnbd(x, t_x, T), fit_gamma_gamma(x[pos], m)
        monkeypatch.setattr(_optim, "PILOT_MIN_ROWS", 10**12)
        direct = fit_bgnbd(x, t_x, T), fit_gamma_gamma(x[pos], m)
    for a, b in zip(piloted, direct):
        assert a.converged and b.converged
        assert a.iterations < b.iterations  # the point of the pilot
        for name, value in a.params.items():
            assert value == pytest.approx(b.params[name], rel=1e-6)
        assert a.log_likelihood == pytest.approx(b.log_likelihood, rel=1e-12)


def test_gamma_gamma_skips_grouping_only_when_it_cannot_pay():
    from dagster_project.clv.gamma_gamma import _grouping_pays

    rng = np.random.default_rng(24)
    continuous = rng.gamma(2.0, 20.0, 1000)
    assert not _grouping_pays(continuous)
    assert _grouping_pays(np.round(continuous / 10) * 10)
    # both paths give the same fit
    x = rng.integers(1, 6, 3000).astype(float)
    m = 1 + np.round(rng.gamma(2.0, 20.0, 3000))
    grouped = fit_gamma_gamma(x, m)
    ungrouped = fit_gamma_gamma(x, m * (1 + 1e-13 * rng.uniform(0.5, 1, 3000)))  # all distinct
    for name, value in grouped.params.items():
        assert value == pytest.approx(ungrouped.params[name], rel=1e-6)
