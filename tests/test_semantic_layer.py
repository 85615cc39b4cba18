"""The semantic layer, as a BI user queries it: MetricFlow's own validation against the
warehouse, and two `mf query` calls whose answers equal the published marts."""

from __future__ import annotations

import csv
import os
import subprocess
import sys
from pathlib import Path

import pytest

from dagster_project.settings import DBT_PROJECT_DIR, settings_from_env

from .conftest import query


def mf(*args: str, timeout: int = 300) -> subprocess.CompletedProcess:
    settings = settings_from_env()
    return subprocess.run(
        [str(Path(sys.executable).with_name("mf")), *args], cwd=DBT_PROJECT_DIR, capture_output=True, text=True,
        timeout=timeout,
        env={**os.environ, "CVW_WAREHOUSE_PATH": str(settings.warehouse_path), "DBT_PROFILES_DIR": str(DBT_PROJECT_DIR)},
    )


@pytest.fixture(scope="module")
def validated(published):
    completed = mf("validate-configs")
    assert completed.returncode == 0, completed.stdout[-3000:] + completed.stderr[-2000:]
    return completed


def test_metricflow_validates_the_semantic_models_and_metrics_against_the_warehouse(validated):
    out = validated.stdout
    assert "Successfully validated the semantics" in out and "Successfully validated metrics against data warehouse" in out
    assert "ERRORS: 0" in out


def test_customers_and_the_at_risk_share_by_tier_equal_the_marts(validated, tmp_path):
    result = tmp_path / "by_tier.csv"
    completed = mf("query", "--metrics", "customers,net_revenue,customers_at_risk,at_risk_share",
                   "--group-by", "customer__value_tier", "--csv", str(result))
    assert completed.returncode == 0, completed.stdout[-2000:] + completed.stderr[-2000:]
    rows = {row["customer__value_tier"] or None: row for row in csv.DictReader(result.open())}
    warehouse = settings_from_env().warehouse_path
    expected = {tier: (n, at_risk) for tier, n, at_risk in query(
        warehouse, "select value_tier, count(*), count(*) filter (is_at_risk) from marts.customer_value group by 1")}
    assert {tier: (int(r["customers"]), int(float(r["customers_at_risk"]))) for tier, r in rows.items()} == expected
    platinum = rows["platinum"]
    assert float(platinum["at_risk_share"]) == pytest.approx(expected["platinum"][1] / expected["platinum"][0])


def test_customer_equity_by_day(validated, tmp_path):
    result = tmp_path / "equity.csv"
    completed = mf("query", "--metrics", "customer_equity_end,margin_earned", "--group-by", "metric_time__day",
                   "--csv", str(result))
    assert completed.returncode == 0, completed.stdout[-2000:] + completed.stderr[-2000:]
    rows = list(csv.DictReader(result.open()))
    warehouse = settings_from_env().warehouse_path
    expected = dict(query(warehouse, "select as_of_date, equity_end from marts.customer_equity "
                                     "where value_segment = 'all'"))
    assert len(rows) == len(expected) >= 1
    for row in rows:
        day = row["metric_time__day"][:10]
        assert float(row["customer_equity_end"]) == pytest.approx(float(expected[next(
            d for d in expected if str(d) == day)]))
