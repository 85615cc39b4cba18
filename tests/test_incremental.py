"""Nightly runs are incremental; their result equals a full rebuild from the same sources."""

import shutil
import sqlite3
from datetime import date

import duckdb
import pytest

from dagster_project.cli import nightly_run_config
from dagster_project.demo import append_days
from dagster_project.settings import settings_from_env

from .conftest import DEMO_AS_OF, query, run_nightly

NEXT_AS_OF = "2026-07-03"
PUBLISHED = ("customer_value", "customer_cards", "at_risk_customers", "win_back_customers", "customer_traits",
             "customer_moments", "customer_equity",
             "value_segment_summary", "clv_model", "clv_holdout")
HISTORY = "(select * from history.customer_statuses)"
HISTORY_DATES = "(select as_of_date from history.status_dates)"


def contents(path, table: str) -> str:
    return query(path, f"select md5(coalesce(string_agg(cast(t as varchar), chr(10) order by all), '')) from {table} t")[0][0]


@pytest.fixture(scope="module")
def nights(published, tmp_path_factory):
    """Three more days of activity after the session's first night, with the late arrivals
    an incremental build must not miss, run as one incremental night and as a full rebuild."""
    settings = settings_from_env()
    root = tmp_path_factory.mktemp("incremental")
    shutil.copytree(settings.sources_dir, root / "sources")
    for name in ("warehouse", "rebuilt"):
        shutil.copy(settings.warehouse_path, root / f"{name}.duckdb")
        shutil.copy(settings.serving_path, root / f"{name}_serving.duckdb")
    append_days(root / "sources", 3)
    with sqlite3.connect(root / "sources" / "commerce.sqlite") as db:
        # a corrected FX rate for a date long past, an old order completed at last, a refund
        # today on a line bought months ago: each changes lines the last night already built
        (currency, rate_date) = db.execute(
            "select currency, min(rate_date) from fx_rates where currency <> 'USD' group by currency limit 1"
        ).fetchone()
        db.execute("update fx_rates set rate_to_base = rate_to_base * 1.01 where currency = ? and rate_date = ?",
                   [currency, rate_date])
        db.execute("update orders set status = 'completed', updated_at = '2026-07-02T09:00:00' "
                   "where order_id = (select min(order_id) from orders where status = 'pending')")
        # a valid line (the sources also hold deliberately broken ones): take it from raw
        line, amount = query(settings.warehouse_path, """
            select l.order_line_id, l.unit_price from raw.commerce_order_lines l
            join raw.commerce_orders o using (order_id)
            where o.status = 'completed' and o.ordered_at < '2026-03-01' and l.discount_amount = 0
              and not exists (select 1 from raw.commerce_refunds r where r.order_line_id = l.order_line_id)
            order by l.order_line_id limit 1""")[0]
        db.execute("insert into refunds values ('R_LATE_1', ?, '2026-07-02T10:00:00', 0, ?, '2026-07-02T10:00:00')",
                   [line, str(round(float(amount) / 2, 2))])
    runs = {}
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("CVW_SOURCE_URL", f"sqlite:///{root / 'sources' / 'commerce.sqlite'}")
        patch.setenv("CVW_LANDING_DIR", str(root / "sources" / "landing"))
        for name in ("warehouse", "rebuilt"):
            patch.setenv("CVW_WAREHOUSE_PATH", str(root / f"{name}.duckdb"))
            patch.setenv("CVW_SERVING_PATH", str(root / f"{name}_serving.duckdb"))
            full_refresh = nightly_run_config(full_refresh=name == "rebuilt")
            runs[name] = run_nightly(NEXT_AS_OF, run_config=full_refresh)
            assert runs[name].success, [e.message for e in runs[name].all_events if e.is_failure]
    return root, runs, (currency, rate_date, line)


def test_incremental_night_equals_a_full_rebuild(nights):
    root, _, _ = nights
    for table in PUBLISHED:
        assert contents(root / "warehouse_serving.duckdb", table) == contents(root / "rebuilt_serving.duckdb", table), table
    for model in ("int_order_lines_converted", "int_refunds_converted"):
        facts = f"(select * exclude (loaded_at) from intermediate.{model})"
        assert contents(root / "warehouse.duckdb", facts) == contents(root / "rebuilt.duckdb", facts), model


def test_the_incremental_night_reconverted_only_what_changed(nights):
    root, _, (currency, rate_date, line) = nights
    warehouse = root / "warehouse.duckdb"
    with duckdb.connect(str(warehouse), read_only=True) as con:
        con.execute(f"attach '{settings_from_env().warehouse_path}' as night_before (read_only)")
        total, rebuilt = con.execute(
            """select count(*), count(*) filter (where before.order_line_id is null or before.loaded_at <> now.loaded_at)
               from intermediate.int_order_lines_converted now
               left join night_before.intermediate.int_order_lines_converted before using (order_line_id)"""
        ).fetchall()[0]
    assert 0 < rebuilt < total / 5  # three days of lines (and the reloaded ones), not the whole history
    # the late refund and the corrected rate did arrive
    assert query(warehouse, "select count(*) from intermediate.int_refunds_converted where refund_id = 'R_LATE_1'")[0][0] == 1
    assert query(root / "warehouse_serving.duckdb", "select max(as_of_date) from customer_value")[0][0] == \
        date.fromisoformat(NEXT_AS_OF)
    assert DEMO_AS_OF < NEXT_AS_OF


def test_a_full_refresh_keeps_the_status_history(nights):
    """dbt's --full-refresh rebuilds every model; the history it does not own survives, and
    equals the incremental night's."""
    root, _, _ = nights
    for table in (HISTORY, HISTORY_DATES):
        assert contents(root / "warehouse.duckdb", table) == contents(root / "rebuilt.duckdb", table), table
    dates = [d for (d,) in query(root / "rebuilt.duckdb", "select as_of_date from history.status_dates order by 1")]
    assert [str(d) for d in dates] == [DEMO_AS_OF, NEXT_AS_OF]
    # it grows with changes, not with days: at most one more interval per customer that changed
    customers, intervals = query(root / "rebuilt.duckdb", "select count(distinct customer_key), count(*) "
                                 "from history.customer_statuses")[0]
    assert customers <= intervals < 2 * customers


def test_rerunning_a_night_and_backfilling_an_earlier_one_keep_the_history_right(nights, tmp_path):
    """Re-running NEXT_AS_OF gives the same history; then a backfill of a date in between
    (recorded late) inserts into the past: the later date's states are untouched, and the
    history equals one recorded in date order."""
    root, _, _ = nights
    warehouse = tmp_path / "warehouse.duckdb"
    shutil.copy(root / "rebuilt.duckdb", warehouse)
    shutil.copy(root / "rebuilt_serving.duckdb", tmp_path / "serving.duckdb")
    before = contents(warehouse, HISTORY)
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("CVW_SOURCE_URL", f"sqlite:///{root / 'sources' / 'commerce.sqlite'}")
        patch.setenv("CVW_LANDING_DIR", str(root / "sources" / "landing"))
        patch.setenv("CVW_WAREHOUSE_PATH", str(warehouse))
        patch.setenv("CVW_SERVING_PATH", str(tmp_path / "serving.duckdb"))
        assert run_nightly(NEXT_AS_OF).success
        assert contents(warehouse, HISTORY) == before
        later = query(warehouse, "select customer_key, value_tier, value_segment, rhythm_status from "
                                 "history.customer_statuses where ? between valid_from and valid_to order by 1",
                      [NEXT_AS_OF])
        backfill = "2026-07-01"
        assert run_nightly(backfill).success
    dates = [str(d) for (d,) in query(warehouse, "select as_of_date from history.status_dates order by 1")]
    assert dates == [DEMO_AS_OF, backfill, NEXT_AS_OF]
    assert query(warehouse, "select customer_key, value_tier, value_segment, rhythm_status from "
                            "history.customer_statuses where ? between valid_from and valid_to order by 1",
                 [NEXT_AS_OF]) == later
    # customer_equity as of the backfilled date holds the dates up to it (the serving file
    # keeps the later night: a backfill does not replace it); the later night's row, measured
    # on its own night, stays in the working database
    assert str(query(warehouse, "select max(as_of_date) from marts.customer_equity")[0][0]) == backfill
    assert [str(d) for (d,) in query(warehouse, "select distinct as_of_date from "
                                                "intermediate.int_equity_periods_measured order by 1")] == dates
    # no overlapping intervals, none starting or ending on a date that was never recorded
    assert query(warehouse, """
        select count(*) from history.customer_statuses a join history.customer_statuses b
          on a.customer_key = b.customer_key and a.valid_from < b.valid_from and a.valid_to >= b.valid_from""")[0][0] == 0
    assert query(warehouse, """
        select count(*) from history.customer_statuses
        where valid_from not in (select as_of_date from history.status_dates)
           or valid_to not in (select as_of_date from history.status_dates)""")[0][0] == 0


def test_the_reconciliation_catches_what_the_incremental_path_missed(published, tmp_path):
    """Issue 14 (1): rows whose load stamps lie before the models' watermark (what a clock
    that ran fast used to cause) are not converted again; the reconciliation tests of the two
    incremental models find the difference and fail the build, naming it."""
    import os
    import subprocess

    from dagster_project.settings import DBT_PROJECT_DIR
    from dagster_project.transform.dbt_cli import dbt_executable

    warehouse = tmp_path / "warehouse.duckdb"
    shutil.copy(settings_from_env().warehouse_path, warehouse)
    with duckdb.connect(str(warehouse)) as con:
        for table in ("commerce_order_lines", "commerce_orders", "commerce_fx_rates", "commerce_refunds"):
            con.execute(f"update raw.{table} set _loaded_at = timestamp '2001-01-01'")
        (line,) = con.execute("""select order_line_id from raw.commerce_order_lines
            where order_line_id not in (select order_line_id from raw.commerce_refunds)
            order by order_line_id limit 1 offset 100""").fetchall()[0]
        con.execute("update raw.commerce_order_lines set unit_price = unit_price + 7 where order_line_id = ?", [line])
        (refund,) = con.execute("select min(refund_id) from raw.commerce_refunds").fetchall()[0]
        con.execute("update raw.commerce_refunds set amount = amount + 0.01 where refund_id = ?", [refund])
        (currency, rate_date) = con.execute("""select currency_code, max(fx_rate_date)
            from intermediate.int_order_lines_converted where currency_code <> 'USD'
            group by currency_code order by currency_code limit 1""").fetchall()[0]
        con.execute("update raw.commerce_fx_rates set rate_to_base = rate_to_base * 1.02 "
                    "where currency = ? and rate_date = ?", [currency, rate_date])
    completed = subprocess.run(
        [dbt_executable(), "build", "--select", "+int_order_lines_converted", "+int_refunds_converted",
         "--exclude", "test_type:unit", "--store-failures", "--target-path", str(tmp_path / "target"),
         "--project-dir", str(DBT_PROJECT_DIR), "--profiles-dir", str(DBT_PROJECT_DIR)],
        env={**os.environ, "CVW_WAREHOUSE_PATH": str(warehouse)}, capture_output=True, text=True,
    )
    assert completed.returncode != 0, completed.stdout[-4000:]
    for test in ("assert_converted_lines_reconcile", "assert_converted_refunds_reconcile"):
        assert f"Failure in test {test}" in completed.stdout, completed.stdout[-4000:]
    failures = query(warehouse, "select check_name, currency_code from dbt_test__audit.assert_converted_lines_reconcile "
                                "order by all")
    assert [f[0] for f in failures] == ["control totals", "stale fx rate"] and failures[1][1] == currency
    assert ("control totals",) in query(
        warehouse, "select check_name from dbt_test__audit.assert_converted_refunds_reconcile")
    # a full rebuild of the two models converts everything again and reconciles
    rebuilt = subprocess.run(
        [dbt_executable(), "build", "--full-refresh", "--select", "int_order_lines_converted",
         "int_refunds_converted", "--exclude", "test_type:unit", "--target-path", str(tmp_path / "target"),
         "--project-dir", str(DBT_PROJECT_DIR), "--profiles-dir", str(DBT_PROJECT_DIR)],
        env={**os.environ, "CVW_WAREHOUSE_PATH": str(warehouse)}, capture_output=True, text=True,
    )
    assert rebuilt.returncode == 0 and "Failure in test" not in rebuilt.stdout, rebuilt.stdout[-4000:]
    assert "assert_converted_lines_reconcile" in rebuilt.stdout and "assert_converted_refunds_reconcile" in rebuilt.stdout
