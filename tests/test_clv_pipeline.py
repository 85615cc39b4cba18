"""The CLV stage inside the nightly job: fit, holdout check, predictions, segments, published tables."""

import shutil
from datetime import date

import numpy as np
import pytest

from dagster_project import clv
from dagster_project.settings import settings_from_env

from .conftest import DEMO_AS_OF, query, run_nightly


def serving(sql, params=None):
    return query(settings_from_env().serving_path, sql, params)


def test_fit_is_recorded_with_its_holdout_check(published):
    (fit,) = serving("select status, passed, bgnbd_customers, gamma_gamma_customers, holdout_customers, "
                     "holdout_error, holdout_max_error, holdout_actual_purchases from clv_model where as_of_date = ?",
                     [date.fromisoformat(DEMO_AS_OF)])
    status, passed, fitted, spenders, holdout_customers, error, bound, actual = fit
    buyers = serving("select count(*) from customer_value where orders_count > 0")[0][0]
    assert (status, passed) == ("fitted", True)
    assert 0 < spenders < fitted <= buyers
    assert 0 < holdout_customers < buyers and actual > 0
    assert 0 <= error <= bound
    groups = serving("select frequency_group, customers, predicted_purchases, actual_purchases from clv_holdout "
                     "where as_of_date = ? order by calibration_frequency", [date.fromisoformat(DEMO_AS_OF)])
    assert [g[0] for g in groups][0] == "0" and sum(g[1] for g in groups) == holdout_customers
    assert sum(g[3] for g in groups) == actual


def test_published_predictions_follow_the_published_parameters(published):
    """Recompute P(alive), expected purchases and the 12-month value from the published inputs."""
    r, alpha, a, b, rate = serving("select bgnbd_r, bgnbd_alpha, bgnbd_a, bgnbd_b, annual_discount_rate "
                                   "from clv_model where as_of_date = ?", [date.fromisoformat(DEMO_AS_OF)])[0]
    rows = serving(
        "select purchase_days - 1, last_order_date - first_order_date, as_of_date - first_order_date, "
        "p_alive, expected_purchases_365d, expected_order_value, margin_rate, predicted_clv_12m "
        "from customer_value where orders_count > 0 order by customer_key"
    )
    x, t_x, T, p_alive, e365, eov, margin, predicted = (np.array(c, dtype=float) for c in zip(*rows))
    fit = clv.BgNbdFit.from_params(r, alpha, a, b)
    assert np.allclose(p_alive, clv.p_alive(fit, x, t_x, T), rtol=1e-9)
    assert np.allclose(e365, clv.expected_purchases(fit, 365.0, x, t_x, T), rtol=1e-9)
    discounted = clv.predicted_clv_12m(fit, x, t_x, T, 1.0, 1.0, annual_discount_rate=rate)
    # money is published in cents: the order value's rounding moves the product a little
    assert np.all(np.abs(predicted - discounted * eov * margin) <= 0.006 + 0.005 * discounted)
    assert np.all((margin >= 0) & (margin <= 1))
    assert serving("select count(*) from customer_value where orders_count = 0 and p_alive is not null")[0][0] == 0


def test_tiers_segments_and_the_call_list(published):
    tiers = dict(serving("select value_tier, count(*) from customer_value where orders_count > 0 group by 1"))
    buyers = sum(tiers.values())
    for tier, share in {"platinum": 0.05, "gold": 0.15, "silver": 0.30, "bronze": 0.50}.items():
        assert abs(tiers[tier] - share * buyers) <= 2, (tier, tiers)
    assert serving("select count(*) from customer_value where (orders_count = 0) <> (value_segment = 'prospect')")[0][0] == 0
    at_risk = serving("select customer_key, priority, annual_value, days_overdue, reason, p_alive "
                      "from at_risk_customers order by priority")
    flagged = serving("select count(*) from customer_value where is_at_risk")[0][0]
    assert len(at_risk) == flagged > 0
    assert [row[1] for row in at_risk] == list(range(1, len(at_risk) + 1))
    order = [(-row[2], -row[5], row[0]) for row in at_risk]
    assert order == sorted(order)  # highest annual value, then the likelier to be active
    assert all(row[3] > 0 and "overdue" in row[4] and "P(alive)" in row[4] for row in at_risk)
    threshold = settings_from_env().lapsed_p_alive
    assert all(row[5] >= threshold for row in at_risk)  # nobody long gone on the call list


def test_rhythm_status_follows_its_definition(published):
    """rhythm_status, is_at_risk and is_lapsed recomputed from the published columns."""
    threshold = settings_from_env().lapsed_p_alive
    rows = serving(
        "select orders_count, median_gap_days, recency_days, p_alive, value_tier, rhythm_status, is_at_risk, "
        "is_lapsed, annual_value, gross_margin, tenure_days from customer_value"
    )
    seen = set()
    for orders, gap, recency, p_alive, tier, rhythm, at_risk, lapsed, annual, margin, tenure in rows:
        if orders == 0:
            expected = None
            assert annual is None
        else:
            if orders < 3 or gap is None:
                expected = "not_established"
            elif recency <= 2 * gap:
                expected = "on_rhythm"
            elif p_alive is not None:
                expected = "overdue" if p_alive >= threshold else "lapsed"
            else:
                expected = "overdue" if recency <= 4 * gap else "lapsed"
            # both rounded to cents, annual from the unrounded margin: within a cent of the published one
            assert abs(float(annual) - float(margin) * 365 / max(365, tenure)) <= 0.01 + 1e-9
        assert rhythm == expected
        valuable = tier in ("platinum", "gold")
        assert at_risk == (valuable and rhythm == "overdue") and lapsed == (valuable and rhythm == "lapsed")
        seen.add(rhythm)
    assert {"on_rhythm", "overdue", "lapsed", "not_established", None} <= seen
    summary = serving("select sum(customers), sum(share_of_customers), sum(net_revenue) from value_segment_summary")[0]
    totals = serving("select count(*), sum(net_revenue) from customer_value")[0]
    assert (summary[0], summary[2]) == totals and summary[1] == pytest.approx(1.0)


def test_frontline_tables_never_show_email_or_phone(published):
    for table in ("customer_cards", "at_risk_customers", "customer_value"):
        columns = {c for (c,) in serving("select column_name from duckdb_columns() where table_name = ?", [table])}
        assert not {"email", "phone", "last_name", "email_normalized"} & columns, table
    emails = {e for (e,) in query(settings_from_env().warehouse_path,
                                  "select lower(trim(email)) from raw.commerce_customers where email is not null")}
    cards = serving("select * from customer_cards")
    assert not any(isinstance(v, str) and v.lower() in emails for row in cards for v in row)
    names = dict(serving("select customer_key, first_name from customer_cards where first_name is not null limit 50"))
    assert len(names) == 50


def test_plots_are_attached_and_written_next_to_the_published_data(published):
    fit = next(m for m in published.asset_materializations_for_node("clv_model") if m.asset_key.path == ["clv", "model_fits"])
    for name in ("calibration_holdout", "p_alive_distribution"):
        assert fit.metadata[name].value.startswith(f"![{name.replace('_', ' ')}](data:image/png;base64,")
    (publication,) = published.asset_materializations_for_node("published__serving_database")
    assert "value_concentration" in publication.metadata
    plots = settings_from_env().serving_path.parent / "plots"
    for name in ("calibration_holdout", "p_alive_distribution", "value_concentration"):
        assert (plots / f"{name}.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


def test_an_unreliable_fit_blocks_publication(published, tmp_path, monkeypatch):
    """A holdout error over the bound fails the blocking check: nothing downstream is rebuilt."""
    settings = settings_from_env()
    for name in ("warehouse.duckdb", "serving.duckdb"):
        shutil.copy(settings.warehouse_path if name.startswith("w") else settings.serving_path, tmp_path / name)
    monkeypatch.setenv("CVW_WAREHOUSE_PATH", str(tmp_path / "warehouse.duckdb"))
    monkeypatch.setenv("CVW_SERVING_PATH", str(tmp_path / "serving.duckdb"))
    monkeypatch.setenv("CVW_CLV_MAX_HOLDOUT_ERROR", "0")
    monkeypatch.setenv("CVW_CLV_HOLDOUT_NOISE_SIGMAS", "0")
    before = query(tmp_path / "serving.duckdb", "select count(*), max(published_at) from publication_log")[0]

    result = run_nightly(DEMO_AS_OF)

    assert not result.success
    gate = {e.check_name: e for e in result.get_asset_check_evaluations()}["clv_fit_reliable"]
    assert gate.passed is False and "holdout error" in gate.description
    assert not result.asset_materializations_for_node("published__serving_database")
    assert query(tmp_path / "serving.duckdb", "select count(*), max(published_at) from publication_log")[0] == before
    (status, problems) = query(tmp_path / "warehouse.duckdb", "select status, problems from clv.model_fits where as_of_date = ?",
                               [date.fromisoformat(DEMO_AS_OF)])[0]
    assert status == "failed" and "exceeds the bound" in problems
