"""The nightly job end to end on generated demo sources: extract, dbt, gate, publish."""

from __future__ import annotations

import hashlib
import json
from datetime import date
from pathlib import Path

import dagster as dg
import pytest

from dagster_project.quality.suite_parameters import RESOLVED_CUSTOMERS_SQL
from dagster_project.settings import EXPECTATIONS_DIR, settings_from_env

from .conftest import DEMO_AS_OF, query, run_nightly

CONTENT_HASH = "select md5(string_agg(cast(t as varchar), chr(10) order by customer_key)) from customer_value t"


def raw_asset_metadata(result: dg.ExecuteInProcessResult) -> dict[str, dict]:
    return {
        m.asset_key.to_user_string(): m.metadata
        for m in result.asset_materializations_for_node("extract_commerce")
        + result.asset_materializations_for_node("extract_crm")
        + result.asset_materializations_for_node("extract_referrals")
        + result.asset_materializations_for_node("extract_voice")
    }


def test_nightly_run_publishes_one_row_per_resolved_customer(published):
    settings = settings_from_env()
    rows, keys, as_of = query(
        settings.serving_path, "select count(*), count(distinct customer_key), max(as_of_date) from customer_value"
    )[0]
    assert as_of == date.fromisoformat(DEMO_AS_OF)
    resolved = query(settings.warehouse_path, RESOLVED_CUSTOMERS_SQL, [as_of])[0][0]
    assert rows == keys == resolved > 300
    columns = {c for (c,) in query(settings.serving_path, "select column_name from duckdb_columns() where table_name = 'customer_value'")}
    assert not {"email", "phone"} & columns
    log = query(settings.serving_path, "select run_id, as_of_date, tables from publication_log")
    assert log[-1][0] == published.run_id and log[-1][1] == as_of
    assert json.loads(log[-1][2])["customer_value"] == rows
    evaluations = published.get_asset_check_evaluations()
    checks = {(e.asset_key.to_user_string(), e.check_name): e for e in evaluations}
    assert checks[("marts/customer_value", "customer_value_expectations")].passed is True
    assert all(e.passed for e in evaluations if e.severity == dg.AssetCheckSeverity.ERROR)
    # the demo's deliberately bad rows are warned about, per source entity, with their reasons
    conformance = checks[("raw/commerce_order_lines", "conformance")]
    assert not conformance.passed and conformance.severity == dg.AssetCheckSeverity.WARN
    assert "quarantined" in conformance.description and "references nothing" in conformance.description


def test_generated_bad_rows_are_quarantined_not_published(published, demo_sources):
    settings = settings_from_env()
    manifest = json.loads((demo_sources / "_generator_manifest.json").read_text())
    quarantined = query(settings.warehouse_path, "select count(*) from raw._quarantine")[0][0]
    assert quarantined > 0
    reasons = {r for (r,) in query(settings.warehouse_path, "select distinct reason from raw._quarantine")}
    assert any("references nothing" in r for r in reasons)
    assert manifest  # the generator records what it broke on purpose


def test_a_clean_demo_night_warns_only_of_what_is_true(published):
    """The demo's deliberately bad rows (some without their key, some with half of a composite
    one) are quarantined: a conformance warning, true. Nothing was left unread, so no volume
    warning may say so (a keyless row once counted as one for all of them)."""
    evaluations = [event.event_specific_data for event in published.all_events
                   if event.event_type_value == "ASSET_CHECK_EVALUATION"]
    volume = [e for e in evaluations if e.check_name == "volume"]
    assert len(volume) >= 6
    assert all(e.passed for e in volume), [e.description for e in volume if not e.passed]
    conformance = [e for e in evaluations if e.check_name == "conformance" and not e.passed]
    assert conformance and all("quarantined" in e.description for e in conformance)
    settings = settings_from_env()
    keyless = query(settings.warehouse_path, "select count(*) from raw._quarantine where record_key = ''")[0][0]
    assert keyless > 1  # the case the arithmetic has to get right is in the demo


def test_second_run_loads_nothing_twice_and_publishes_identical_marts(published):
    settings = settings_from_env()
    before = query(settings.serving_path, CONTENT_HASH)[0][0]
    raw_before = query(settings.warehouse_path, "select count(*) from raw.commerce_order_lines")[0][0]
    again = run_nightly(DEMO_AS_OF)
    assert again.success
    changed = {key: meta["rows_changed"].value for key, meta in raw_asset_metadata(again).items()}
    assert set(changed) >= {"raw/commerce_orders", "raw/voice_reviews"} and set(changed.values()) == {0}
    assert query(settings.warehouse_path, "select count(*) from raw.commerce_order_lines")[0][0] == raw_before
    assert query(settings.serving_path, CONTENT_HASH)[0][0] == before
    assert query(settings.serving_path, "select count(*) from publication_log")[0][0] >= 2


def test_failing_expectation_blocks_publication_and_keeps_the_previous_file(published, tmp_path, monkeypatch):
    settings = settings_from_env()
    suite = json.loads((EXPECTATIONS_DIR / "customer_value.json").read_text())
    suite["expectations"].append(
        {"type": "expect_column_values_to_be_between", "kwargs": {"column": "net_revenue", "max_value": 1}}
    )
    (tmp_path / "customer_value.json").write_text(json.dumps(suite))
    monkeypatch.setenv("CVW_EXPECTATIONS_DIR", str(tmp_path))
    digest = hashlib.sha256(settings.serving_path.read_bytes()).hexdigest()

    result = run_nightly(DEMO_AS_OF)

    assert not result.success
    gate = {e.check_name: e for e in result.get_asset_check_evaluations()}["customer_value_expectations"]
    assert gate.passed is False
    assert "net_revenue" in gate.description and "marts.customer_value" in gate.description
    # the operator's page: the failed expectation first, with examples of the offending values
    report = Path(gate.metadata["report"].value)
    assert report.parent.name == DEMO_AS_OF and (report.parent / "index.html").exists()
    page = report.read_text()
    assert "FAILED" in page and page.index("class='failed'") < page.index("class='passed'")
    assert "expect_column_values_to_be_between" in page and "examples of offending rows" in page
    assert not result.asset_materializations_for_node("serving_database")
    assert hashlib.sha256(settings.serving_path.read_bytes()).hexdigest() == digest
