"""customer_equity and customer_moments over consecutive nights of the real pipeline: each
night's figures equal a direct computation over the previous night's customers, and a
longer period read from the daily rows (docs/metrics.md) adds up."""

from __future__ import annotations

import shutil

import pytest

from dagster_project.demo import append_days
from dagster_project.settings import settings_from_env

from .conftest import DEMO_AS_OF, query, run_nightly

NIGHTS = ("2026-07-01", "2026-07-02")
TIERS = "case value_tier when 'platinum' then 4 when 'gold' then 3 when 'silver' then 2 when 'bronze' then 1 end"


@pytest.fixture(scope="module")
def chain(published, tmp_path_factory):
    """The session's first night (DEMO_AS_OF), then two more, each on one more day of demo
    activity; the serving file of every night kept."""
    settings = settings_from_env()
    root = tmp_path_factory.mktemp("equity")
    shutil.copytree(settings.sources_dir, root / "sources")
    shutil.copy(settings.warehouse_path, root / "warehouse.duckdb")
    shutil.copy(settings.serving_path, root / "serving.duckdb")
    served = {DEMO_AS_OF: root / f"serving-{DEMO_AS_OF}.duckdb"}
    shutil.copy(settings.serving_path, served[DEMO_AS_OF])
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("CVW_SOURCE_URL", f"sqlite:///{root / 'sources' / 'commerce.sqlite'}")
        patch.setenv("CVW_LANDING_DIR", str(root / "sources" / "landing"))
        patch.setenv("CVW_WAREHOUSE_PATH", str(root / "warehouse.duckdb"))
        patch.setenv("CVW_SERVING_PATH", str(root / "serving.duckdb"))
        for night in NIGHTS:
            append_days(root / "sources", 1)
            result = run_nightly(night)
            assert result.success, [e.message for e in result.all_events if e.is_failure]
            served[night] = root / f"serving-{night}.duckdb"
            shutil.copy(root / "serving.duckdb", served[night])
    return root, served


def _customers(path, columns: str) -> dict[str, tuple]:
    return {key: tuple(rest) for key, *rest in query(path, f"select customer_key, {columns} from customer_value")}


def _equity_rows(path, as_of: str) -> dict[str, dict]:
    rows = query(path, "select * from customer_equity where as_of_date = ?", [as_of])
    names = [name for (name,) in query(path, "select column_name from information_schema.columns "
                                             "where table_name = 'customer_equity' order by ordinal_position")]
    return {row[1]: dict(zip(names, row)) for row in rows}


def test_a_night_equals_a_direct_computation_over_the_previous_nights_customers(chain):
    _, served = chain
    before = _customers(served[DEMO_AS_OF], "value_segment, predicted_clv_12m, gross_margin, is_lapsed")
    now = _customers(served[NIGHTS[0]], "predicted_clv_12m, gross_margin, is_lapsed, annual_value, first_order_date")
    rows = _equity_rows(served[NIGHTS[0]], NIGHTS[0])
    assert str(rows["all"]["previous_as_of_date"]) == DEMO_AS_OF
    for segment in ["all", *sorted({s for s, *_ in before.values()})]:
        cohort = [k for k, (s, *_) in before.items() if segment in ("all", s)]
        start = sum(before[k][1] or 0 for k in cohort)
        end = sum((now[k][0] or 0) if k in now else 0 for k in cohort)
        earned = sum((now[k][1] if k in now else 0) - before[k][2] for k in cohort)
        lapsed = [k for k in cohort if k in now and now[k][2] and not before[k][3]]
        row = rows[segment]
        assert row["customers"] == len(cohort), segment
        assert (row["equity_start"], row["equity_end"], row["gross_margin_earned"]) == (start, end, earned), segment
        if start:
            assert row["return_on_customer"] == pytest.approx(float(earned + end - start) / float(start), rel=1e-12)
        assert (row["customers_lapsed"], row["annual_value_lapsed"]) == (len(lapsed), sum(now[k][3] for k in lapsed))
    new = [k for k, v in now.items() if v[4] is not None and str(v[4]) > DEMO_AS_OF]
    assert rows["all"]["new_customers"] == len(new)
    assert rows["all"]["new_customer_equity"] == sum(now[k][0] or 0 for k in new)
    assert rows["all"]["customer_equity"] == sum(v[0] or 0 for v in now.values())
    # the first night of the warehouse: its `all` row alone, today's equity and nothing else
    first = _equity_rows(served[NIGHTS[0]], DEMO_AS_OF)
    assert set(first) == {"all"} and first["all"]["customers"] is None
    assert first["all"]["equity_end"] == sum(v[1] or 0 for v in before.values())


def test_a_period_read_from_the_daily_rows_adds_up(chain):
    """Over (DEMO_AS_OF, last night]: equity_start of the first day, equity_end of the last,
    the margin earned summed. Against the customers of the period's start, directly, the
    difference is exactly the customers who joined in between (they roll in the next day)."""
    root, served = chain
    last = served[NIGHTS[-1]]
    daily = [_equity_rows(last, night)["all"] for night in NIGHTS]
    start, end = daily[0]["equity_start"], daily[-1]["equity_end"]
    earned = sum(row["gross_margin_earned"] for row in daily)
    opening = _customers(served[DEMO_AS_OF], "predicted_clv_12m, gross_margin")
    middle = _customers(served[NIGHTS[0]], "gross_margin")
    closing = _customers(last, "predicted_clv_12m, gross_margin")
    assert start == sum(v[0] or 0 for v in opening.values())
    joined = [k for k in middle if k not in opening]
    assert end - sum((closing[k][0] or 0) if k in closing else 0 for k in opening) == \
        sum((closing[k][0] or 0) if k in closing else 0 for k in joined)
    direct_earned = sum((closing[k][1] if k in closing else 0) - v[1] for k, v in opening.items())
    assert earned - direct_earned == sum((closing[k][1] if k in closing else 0) - middle[k][0] for k in joined)
    assert daily[-1]["return_on_customer"] is not None
    # so the period's Return on Customer read from the daily rows equals the one computed
    # directly from the customers' own values (the opening cohort and those who joined)
    direct_end = sum((closing[k][0] or 0) if k in closing else 0 for k in [*opening, *joined])
    direct_total_earned = direct_earned + sum((closing[k][1] if k in closing else 0) - middle[k][0] for k in joined)
    read = float(earned + end - start) / float(start)
    assert read == pytest.approx(float(direct_total_earned + direct_end - start) / float(start), rel=1e-12)
    # with two dates and more the equity trend is drawn next to the serving file
    assert (root / "plots" / "customer_equity_by_segment.png").read_bytes()[:4] == b"\x89PNG"


def test_moments_compare_with_the_previous_night(chain):
    root, served = chain
    night, before = NIGHTS[-1], NIGHTS[0]
    tiers = {k: v for k, v in query(served[before], f"select customer_key, {TIERS} from customer_value")}
    now = {k: v for k, v in query(served[night], f"select customer_key, {TIERS} from customer_value")}
    upgraded = {k for k, rank in now.items() if k in tiers and rank is not None and tiers[k] is not None
                and rank > tiers[k]}
    moments = query(served[night], "select customer_key, moment, action, moment_date, as_of_date from customer_moments")
    assert {k for k, moment, *_ in moments if moment == "tier_upgrade"} == upgraded
    at_risk_before = {k for (k,) in query(served[before], "select customer_key from customer_value where is_at_risk")}
    at_risk_now = {k for (k,) in query(served[night], "select customer_key from customer_value where is_at_risk")}
    assert {k for k, moment, *_ in moments if moment == "became_at_risk"} == \
        {k for k in at_risk_now - at_risk_before if k in now and k in tiers}
    assert all(str(as_of) == night and moment_date <= as_of for *_, moment_date, as_of in moments)
    assert {moment for _, moment, *_ in moments} & {"anniversary", "orders_milestone", "tier_upgrade"}


def test_the_dates_a_night_reads_before_recording_equal_the_history_it_then_records(chain):
    """win_back_customers and customer_traits read the status history of the nights before D
    extended by D's states (int_customer_statuses_dated), because the history records D after
    the marts: once D is recorded, the history must say the same."""
    root, _ = chain
    warehouse = root / "warehouse.duckdb"
    night = NIGHTS[-1]
    dated = query(warehouse, "select customer_key, traits_changed_on, lapsed_on from intermediate.int_customer_statuses_dated")
    recorded = {key: valid_from for key, valid_from in query(
        warehouse, "select customer_key, valid_from from history.customer_statuses "
                   "where valid_from <= ? and valid_to >= ?", [night, night])}
    assert len(dated) == len(recorded) > 0
    assert {key: changed for key, changed, _ in dated} == recorded
    # a lapse from the history: the first date of the trailing run of lapsed intervals
    lapses = dict(query(warehouse, """
        with s as (select * from staging.stg_history__customer_statuses where valid_from <= ?),
        last_ok as (select customer_key, max(valid_to) as d from s where not coalesce(is_lapsed, false) group by 1)
        select s.customer_key, min(s.valid_from) from s left join last_ok using (customer_key)
        where s.is_lapsed and (last_ok.d is null or s.valid_from > last_ok.d) group by 1""", [night]))
    current_lapsed = {key for (key,) in query(warehouse, "select customer_key from marts.customer_value where is_lapsed")}
    assert {key: lapsed for key, _, lapsed in dated if lapsed is not None} == {
        key: day for key, day in lapses.items() if key in current_lapsed}
    assert any(changed < __import__("datetime").date.fromisoformat(night) for _, changed, _ in dated)
