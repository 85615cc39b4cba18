"""Predictive distribution of future purchases: PMF, percentiles, randomised-PIT calibration."""

from __future__ import annotations

import numpy as np
import pytest

from dagster_project.clv import (
    BgNbdFit,
    ParetoNbdFit,
    expected_purchases,
    fit_bgnbd,
    model_expected_purchases,
    pit_coverage,
    purchases_percentiles,
    purchases_pmf,
    purchases_variance,
    simulate_bgnbd,
    simulate_pareto_nbd,
)

TRUE = (0.5, 20.0, 0.7, 3.0)


@pytest.mark.parametrize(
    "fit",
    [
        BgNbdFit.from_params(*TRUE),
        BgNbdFit.from_params(0.5, 20.0, 0.1, 0.9, limit="homogeneous_dropout"),
        BgNbdFit.from_params(0.5, 20.0, 1.0, 1e12, limit="no_dropout"),
        BgNbdFit.from_params(0.05e12, 1e12, 0.1, 0.9, limit="homogeneous_purchase_rate+homogeneous_dropout"),
    ],
)
def test_pmf_sums_to_one_and_has_the_expected_mean(fit):
    x, t_x, T = np.array([0.0, 1, 4, 30]), np.array([0.0, 20, 300, 350]), np.array([40.0, 200, 400, 365])
    pmf = purchases_pmf(fit, 365.0, x, t_x, T, 600)
    np.testing.assert_allclose(pmf.sum(axis=1), 1.0, atol=1e-10)
    np.testing.assert_allclose(pmf @ np.arange(601), expected_purchases(fit, 365.0, x, t_x, T), rtol=1e-9)


def test_pmf_matches_monte_carlo_of_the_model():
    """The PMF averaged over a simulated cohort equals the histogram of its simulated futures."""
    rng = np.random.default_rng(5)
    T = rng.integers(30, 731, 200_000).astype(float)
    x, t_x, future = simulate_bgnbd(*TRUE, T, rng, horizon=365.0)
    mean_pmf = purchases_pmf(BgNbdFit.from_params(*TRUE), 365.0, x, t_x, T, 6).mean(axis=0)
    hist = np.bincount(future, minlength=7)[:7] / len(x)
    se = np.sqrt(hist * (1 - hist) / len(x))
    assert np.all(np.abs(mean_pmf - hist) < 4 * se + 1e-4), (mean_pmf, hist)


def test_pareto_pmf_matches_monte_carlo():
    params = (0.55, 10.58, 0.61, 11.67)  # weeks
    rng = np.random.default_rng(6)
    T = rng.uniform(27, 39, 100_000).round(2)
    x, t_x, future = simulate_pareto_nbd(*params, T, rng, horizon=39.0)
    fit = ParetoNbdFit.from_params(*params)
    fc = fit._future_counts(39.0, x, t_x, T)
    pmf = [fc.pmf0()]
    idx = np.arange(len(x))
    for _ in range(5):
        pmf.append(fc.advance(idx))
    mean_pmf = np.array(pmf).mean(axis=1)
    hist = np.bincount(future, minlength=6)[:6] / len(x)
    se = np.sqrt(hist * (1 - hist) / len(x))
    assert np.all(np.abs(mean_pmf - hist) < 4 * se + 1e-4), (mean_pmf, hist)
    # mean of the quadrature PMF = the closed-form conditional expectation
    fc = fit._future_counts(39.0, x[:50], t_x[:50], T[:50])
    tot, p = 0.0, fc.pmf0()
    mean = np.zeros(50)
    for k in range(1, 400):
        mean += k * fc.advance(np.arange(50))
    np.testing.assert_allclose(mean, fit.expected_purchases(39.0, x[:50], t_x[:50], T[:50]), rtol=1e-8)


@pytest.mark.parametrize("model", ["bgnbd", "pareto_nbd"])
def test_purchases_variance_is_the_spread_of_simulated_futures(model):
    """Summed over a cohort at the true parameters, the predictive variance equals the squared
    deviations of simulated futures from their conditional expectation (what the holdout bound
    relies on), and it is far above the Poisson variance (the sum of the means)."""
    rng = np.random.default_rng(21)
    T = rng.integers(30, 731, 40_000).astype(float)
    if model == "bgnbd":
        fit = BgNbdFit.from_params(*TRUE)
        x, t_x, future = simulate_bgnbd(*TRUE, T, rng, horizon=180.0)
    else:
        fit = ParetoNbdFit.from_params(0.6, 15.0, 0.8, 200.0)
        x, t_x, future = simulate_pareto_nbd(0.6, 15.0, 0.8, 200.0, T, rng, horizon=180.0)
    mean = model_expected_purchases(fit, 180.0, x, t_x, T)
    variance = purchases_variance(fit, 180.0, x, t_x, T)
    assert np.all(np.isfinite(variance)) and np.all(variance >= 0)
    assert variance.sum() == pytest.approx(((future - mean) ** 2).sum(), rel=0.1)
    assert variance.sum() > 2 * mean.sum()
    # one customer, by the PMF directly
    pmf = purchases_pmf(BgNbdFit.from_params(*TRUE), 180.0, [3.0], [200.0], [400.0], 400)[0]
    k = np.arange(401)
    direct = pmf @ k**2 - (pmf @ k) ** 2
    got = purchases_variance(BgNbdFit.from_params(*TRUE), 180.0, [3.0], [200.0], [400.0])[0]
    assert got == pytest.approx(direct, rel=1e-9)


@pytest.fixture(scope="module")
def cohort():
    rng = np.random.default_rng(11)
    T = rng.integers(30, 731, 100_000).astype(float)
    x, t_x, future = simulate_bgnbd(*TRUE, T, rng, horizon=365.0)
    t_x = np.where(x > 0, np.clip(np.ceil(t_x), 1, T), 0.0)  # whole days: rows compress
    return x, t_x, T, future


def test_percentile_calibration(cohort):
    x, t_x, T, future = cohort
    fitted = fit_bgnbd(x, t_x, T)
    for fit in (BgNbdFit.from_params(*TRUE), fitted):
        cov = pit_coverage(fit, 365.0, x, t_x, T, future, seed=1)
        assert 0.78 <= cov <= 0.82, cov
        q = purchases_percentiles(fit, 365.0, x, t_x, T)
        closed = np.mean((future >= q[:, 0]) & (future <= q[:, 1]))
        assert closed >= 0.78
        print(f"\nrandomised-PIT coverage {cov:.4f}, closed-interval coverage {closed:.4f}")


def test_percentiles_by_definition():
    fit = BgNbdFit.from_params(*TRUE)
    x, t_x, T = np.array([0.0, 3, 12]), np.array([0.0, 100, 350]), np.array([50.0, 300, 365])
    pmf = purchases_pmf(fit, 365.0, x, t_x, T, 400)
    cdf = np.cumsum(pmf, axis=1)
    q = purchases_percentiles(fit, 365.0, x, t_x, T, q=(0.1, 0.5, 0.9))
    for j, prob in enumerate((0.1, 0.5, 0.9)):
        np.testing.assert_array_equal(q[:, j], np.argmax(cdf >= prob, axis=1))
