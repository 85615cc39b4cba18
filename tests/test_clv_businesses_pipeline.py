"""Unusual businesses through the whole nightly job: what a small shop sees on its first night.

Fit-level checks of every shape are in test_clv_businesses.py; these run the real Dagster job
(extraction, dbt, the fit, the gates, publication) on two of them.
"""

from __future__ import annotations

import pytest

from dagster_project.cli import summary_text

from . import businesses, handmade
from .conftest import query, run_nightly

AS_OF = businesses.AS_OF.isoformat()


def _publish(tmp_path, monkeypatch, shape: str):
    log = businesses.SHAPES[shape]()
    db = handmade.write_commerce(tmp_path / "commerce.sqlite", businesses.commerce_tables(log))
    landing = tmp_path / "landing"
    landing.mkdir()
    monkeypatch.setenv("CVW_SOURCE_URL", f"sqlite:///{db}")
    monkeypatch.setenv("CVW_LANDING_DIR", str(landing))
    monkeypatch.setenv("CVW_WAREHOUSE_PATH", str(tmp_path / "warehouse.duckdb"))
    monkeypatch.setenv("CVW_SERVING_PATH", str(tmp_path / "serving.duckdb"))
    monkeypatch.setenv("CVW_CLV_PURCHASE_MODEL", "auto")
    result = run_nightly(AS_OF)
    assert result.success, [e.message for e in result.all_events if e.is_failure]
    return log, tmp_path / "serving.duckdb"


def test_homogeneous_dropout_publishes_predictions_at_the_limit(tmp_path, monkeypatch, manifest):
    """The bug report's 400-customer business: the fit lands on a limit, publishes, says which."""
    log, serving = _publish(tmp_path, monkeypatch, "homogeneous_dropout_400")
    status, model, limit, error, bound, noise = query(serving, (
        "select status, purchase_model, coalesce(case purchase_model when 'bgnbd' then bgnbd_limit "
        "else pareto_nbd_limit end, ''), holdout_error, holdout_max_error, holdout_noise_sd from clv_model"))[0]
    assert status == "fitted" and model in ("bgnbd", "pareto_nbd")
    assert error is not None and error <= bound and noise > 0
    buyers, predicted, low_high_ok, most_valuable = query(serving, (
        "select count(*), count(predicted_clv_12m), "
        "bool_and(purchases_365d_low <= purchases_365d_high and predicted_clv_12m_low <= predicted_clv_12m_high), "
        "count(*) filter (value_tier = 'platinum') "
        "from customer_value where orders_count > 0"))[0]
    assert buyers == len(log) and predicted == buyers and low_high_ok and most_valuable > 0
    if model == "bgnbd":
        assert "homogeneous_dropout" in limit  # everyone leaves with the same 5 %
    text = summary_text(serving)
    assert "predicted margin: none" not in text and "80 % ranges add up to" in text


def test_fifty_customers_get_predictions_and_are_told_the_holdout_was_skipped(tmp_path, monkeypatch, manifest):
    log, serving = _publish(tmp_path, monkeypatch, "fifty_customers")
    status, problems, error = query(serving, "select status, problems, holdout_error from clv_model")[0]
    assert status == "fitted" and error is None and "holdout check skipped" in problems
    rows = query(serving, "select count(*), count(predicted_clv_12m), count(purchases_365d_high), "
                          "count(margin_rate) from customer_value")[0]
    assert rows == (len(log),) * 4
    text = summary_text(serving)
    assert "80 % ranges add up to" in text and "CLV warnings:" in text and "holdout check skipped" in text


def test_a_business_without_repeat_buyers_publishes_history_and_says_why_there_is_no_prediction(
        tmp_path, monkeypatch, manifest):
    log, serving = _publish(tmp_path, monkeypatch, "everyone_buys_once")
    status, problems = query(serving, "select status, problems from clv_model")[0]
    assert status == "skipped" and "repeat purchase" in problems
    rows = query(serving, "select count(*), count(net_revenue), count(predicted_clv_12m), count(margin_rate) "
                          "from customer_value")[0]
    assert rows[0] == rows[1] == len(log) and rows[2] == 0
    assert rows[3] == rows[0]  # every customer has a margin rate (buyers their own)
    text = summary_text(serving)
    assert "predicted margin: none (CLV model skipped" in text and "repeat purchase" in text
