"""dagster_project.clv reproduces the published CDNOW estimates (Fader, Hardie & Lee 2005).

Data preparation that reproduces them (the paper's, and that of the `cdnow_customers_summary`
files shipped with the `lifetimes` package - NOT lifetimes' summary_data_from_transaction_data
with freq="W", which buckets purchases into calendar weeks and gives r = 0.291, alpha = 6.85):

* CDNOW_sample.txt (2,357 customers), transactions on or before 1997-09-30;
* purchases on the same day count once (their dollar values summed);
* x = purchase days - 1; t_x = (last - first purchase day) in days / 7;
  T = (1997-09-30 - first purchase day) in days / 7 (e.g. 38.86 weeks for a 1997-01-01 start);
* Gamma-Gamma: the 946 customers with x > 0, monetary value = mean dollar value per repeat
  purchase day in the calibration period (the first purchase day excluded).
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from dagster_project.clv import (
    expected_purchases,
    fit_bgnbd,
    fit_gamma_gamma,
    p_alive,
    rfm_from_transactions,
)

# The sample ships with the tests (tests/data/cdnow/README.md says where it comes from).
SAMPLE = Path(__file__).resolve().parent / "data" / "cdnow" / "CDNOW_sample.txt"

CALIBRATION_END = np.datetime64("1997-09-30")


@pytest.fixture(scope="module")
def calibration():
    raw = np.loadtxt(SAMPLE, dtype=str)  # master id, sample id, YYYYMMDD, CDs, dollars
    customer = raw[:, 1].astype(int)
    dates = np.array([f"{d[:4]}-{d[4:6]}-{d[6:]}" for d in raw[:, 2]], dtype="datetime64[D]")
    dollars = raw[:, 4].astype(float)
    return rfm_from_transactions(customer, dates, dollars, end=CALIBRATION_END, time_unit=7.0)


def test_calibration_summary(calibration):
    s = calibration
    assert len(s.customer) == 2357
    assert s.x.sum() == 2457 and (s.x > 0).sum() == 946
    assert s.T.max() == pytest.approx(272 / 7)  # 38.86 weeks: first purchase 1997-01-01
    assert s.T.min() == pytest.approx(189 / 7)  # 27.00 weeks: first purchase 1997-03-25
    # the first sample customer: purchases 1997-01-01, -01-18, -08-02 (and 1997-12-12, after the period)
    assert (s.x[0], s.t_x[0], s.T[0], s.monetary_value[0]) == pytest.approx((2, 213 / 7, 272 / 7, (29.73 + 14.96) / 2))


def test_bgnbd_reproduces_published_estimates(calibration):
    s = calibration
    fit = fit_bgnbd(s.x, s.t_x, s.T)
    assert fit.converged, fit.message
    assert fit.n_customers == 2357
    for value, published in zip((fit.r, fit.alpha, fit.a, fit.b), (0.243, 4.414, 0.793, 2.426)):
        assert value == pytest.approx(published, rel=0.005)
    assert fit.log_likelihood == pytest.approx(-9582.4, abs=0.1)
    # the paper's worked example (also in FHL's Excel note): x = 2, t_x = 30.43, T = 38.86
    # expects 1.226 purchases in the next 39 weeks
    assert expected_purchases(fit, 39.0, [2], [30.43], [38.86])[0] == pytest.approx(1.226, abs=0.001)
    assert p_alive(fit, [0], [0], [38.86])[0] == 1.0


def test_gamma_gamma_reproduces_published_estimates(calibration):
    s = calibration
    repeaters = s.x > 0
    assert np.all(s.monetary_value[repeaters] > 0)
    fit = fit_gamma_gamma(s.x[repeaters], s.monetary_value[repeaters])
    assert fit.converged, fit.message
    assert fit.n_customers == 946
    for value, published in zip((fit.p, fit.q, fit.v), (6.25, 3.74, 15.44)):
        assert value == pytest.approx(published, rel=0.005)


def test_pareto_nbd_reproduces_published_estimates(calibration):
    """Fader, Hardie & Lee (2005): r = 0.55, alpha = 10.58, s = 0.61, beta = 11.67, LL = -9,595.0.
    r and s are published to two digits, so they are checked to the rounding of those digits
    (+-0.005, i.e. 0.9 %); alpha, beta and the log-likelihood to 0.5 %."""
    from dagster_project.clv import fit_pareto_nbd

    s = calibration
    fit = fit_pareto_nbd(s.x, s.t_x, s.T)
    assert fit.converged and fit.limit is None, fit.message
    assert fit.r == pytest.approx(0.55, abs=0.005)
    assert fit.s == pytest.approx(0.61, abs=0.005)
    assert fit.alpha == pytest.approx(10.58, rel=0.005)
    assert fit.beta == pytest.approx(11.67, rel=0.005)
    assert fit.log_likelihood == pytest.approx(-9595.0, rel=0.005)
    assert fit.log_likelihood == pytest.approx(-9595.0, abs=0.05)
