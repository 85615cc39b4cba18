"""The fault catalogue: every kind of bad input a night can bring, and what becomes of it.

For each fault (tests/faults.py), either the bad row is quarantined with the right reason
while the valid rows delivered with it load, or the run is blocked with a message naming the
check and table, and the previous publication keeps serving, byte for byte.

- `test_extraction_*`: each fault alone, through the real extraction functions on a real
  SQLite source and DuckDB warehouse, judged by the source gate's own `evaluate` (milliseconds).
- `test_faulty_night_*`: every row and file fault delivered in one night on top of a published
  baseline: one full nightly run (real Dagster, dbt, Great Expectations) that must still publish,
  with every bad row in quarantine and none in the marts, and the valid ones all there.
- `test_blocking_fault_*`: one full nightly run per source break, each from a copy of the
  published baseline, that must publish nothing.
"""

from __future__ import annotations

import hashlib
from datetime import date, datetime
from decimal import Decimal

import dagster as dg
import pytest

from dagster_project.ingest import raw_store
from dagster_project.core.contract import ALL_ENTITIES, FILE_ENTITIES
from dagster_project.ingest.file_reader import survey_landing
from dagster_project.quality.source_rules import CHECKS, GateSettings, evaluate
from dagster_project.core.severity import Severity
from dagster_project.settings import Settings

from . import faults
from .conftest import query, run_nightly
from .faults import AS_OF, BLOCKING, BY_TABLE, DEPENDS, FAULTS, Fault, Sources, connect, load_all

ERROR, WARN = Severity.ERROR, Severity.WARN  # of the source rules' findings
CHECK_ERROR, CHECK_WARN = dg.AssetCheckSeverity.ERROR, dg.AssetCheckSeverity.WARN  # of Dagster's check results
REFERENCE = date.fromisoformat(AS_OF)


def fault_id(fault) -> str:
    return fault.id


# --------------------------------------------------------------------------- what a fault must leave


def quarantined(con, run_id: str) -> list[tuple[str, str, str]]:
    """(raw table, reason, file and record) of every row the run quarantined."""
    return con.execute(
        f"""select source || '_' || entity, reason, coalesce(source_file, '') || ' ' || coalesce(record, '')
            from {raw_store.QUARANTINE} where run_id = ? order by all""",
        [run_id],
    ).fetchall()


def _matches(bad: faults.Bad, row: tuple[str, str, str]) -> bool:
    table, reason, text = row
    same_reason = reason.startswith(bad.reason[:-1]) if bad.reason.endswith("…") else reason == bad.reason
    return table == bad.entity and same_reason and bad.marker in text


def _key_column(table: str) -> str:
    return BY_TABLE[table].key[0]


def count_rows(con, table: str, key: str) -> int:
    """How many rows of raw.<table> have this key (its first key column)."""
    return con.execute(f'select count(*) from raw."{table}" where "{_key_column(table)}" = ?', [key]).fetchall()[0][0]


def assert_outcome(con, fault: Fault, run_id: str) -> None:
    rows = quarantined(con, run_id)
    for bad in fault.bad:
        found = [row for row in rows if _matches(bad, row)]
        near = [row for row in rows if bad.marker in row[2]]
        assert len(found) == bad.count, f"{bad} not quarantined as expected; rows with its marker: {near}"
    for table, key in fault.absent:
        assert count_rows(con, table, key) == 0, f"bad row {key} reached raw.{table}"
    for table, key in fault.loaded:
        assert count_rows(con, table, key) == 1, f"valid row {key} of raw.{table} lost (or stored twice)"
    for table, key, expression, value in fault.stored:
        assert con.execute(f'select {expression} from raw."{table}" where "{_key_column(table)}" = ?',
                           [key]).fetchall() == [(value,)], (table, key, expression)
    for name, status in fault.file_status.items():
        assert con.execute(f"select status, reason from {raw_store.LOADED_FILES} where file_name = ?",
                           [name]).fetchall() == [status], name


def findings(con, run_id: str) -> dict[tuple[str, str], object]:
    return {(entity.raw_table, finding.check): finding
            for entity in ALL_ENTITIES for finding in evaluate(con, entity, run_id, REFERENCE, GateSettings.from_settings(Settings()))}


# --------------------------------------------------------------------------- extraction level, one fault at a time


@pytest.fixture(scope="module")
def extracted(tmp_path_factory) -> Sources:
    """The hand-made sources, loaded once by the extraction functions (the night before)."""
    sources = faults.write_baseline(tmp_path_factory.mktemp("extracted"))
    with connect(sources.warehouse) as con:
        load_all(con, sources, "baseline")
    return sources


@pytest.mark.parametrize("fault", FAULTS, ids=fault_id)
def test_extraction_quarantines_each_bad_row_with_its_reason_and_loads_the_rest(fault, extracted, tmp_path):
    sources = extracted.copy_to(tmp_path / "sources")
    others = [faults.faults_by_id()[d] for d in DEPENDS.get(fault.id, ())]
    for other in others + [fault]:
        other.apply(sources)

    with connect(sources.warehouse) as con:
        load_all(con, sources, "fault")
        assert_outcome(con, fault, "fault")
        expected = [bad for f in others + [fault] for bad in f.bad]
        unexpected = [row for row in quarantined(con, "fault") if not any(_matches(bad, row) for bad in expected)]
        assert not unexpected, f"quarantined for no catalogued reason: {unexpected}"
        gate = findings(con, "fault")

    # a few bad rows are worth a warning, never a blocked night
    assert not [f.message for f in gate.values() if f.severity == ERROR]
    for bad in fault.bad:
        if not bad.reason.startswith("file rejected"):
            conformance = gate[(bad.entity, "conformance")]
            assert conformance.severity == WARN and bad.reason.split(":")[0].rstrip("…") in conformance.message
    for table, check, words in fault.warns:
        assert gate[(table, check)].severity == WARN and words in gate[(table, check)].message
    not_loaded = survey_landing(sources.landing, FILE_ENTITIES).not_loaded()
    for name, words in fault.not_loaded.items():
        assert words in not_loaded.get(name, ""), (name, not_loaded)


def test_extraction_a_corrected_redelivery_resolves_the_quarantined_row(extracted, tmp_path):
    sources = extracted.copy_to(tmp_path / "sources")
    bad = faults.faults_by_id()["timestamp-without-parseable-format"]
    bad.apply(sources)
    with connect(sources.warehouse) as con:
        load_all(con, sources, "fault")
        # the source corrects the timestamp (a new version)
        faults.sql(sources.db, "update orders set ordered_at = '2024-06-05T12:00:00', "
                               "updated_at = '2024-06-06T08:00:00' where order_id = 'O93'")
        load_all(con, sources, "corrected")
        assert con.execute("select ordered_at from raw.commerce_orders where order_id = 'O93'").fetchall() \
            == [(datetime(2024, 6, 5, 12, 0),)]
        assert con.execute(f"select run_id, resolved_run_id from {raw_store.QUARANTINE} where record_key = 'O93'"
                           ).fetchall() == [("fault", "corrected")]
        assert not [f for f in findings(con, "corrected").values() if f.severity is not None and f.check != "freshness"]


def test_extraction_a_future_updated_at_does_not_freeze_the_cursor(extracted, tmp_path):
    sources = extracted.copy_to(tmp_path / "sources")
    faults.faults_by_id()["future-updated-at"].apply(sources)
    with connect(sources.warehouse) as con:
        load_all(con, sources, "fault")
        faults.insert_rows(sources.db, "customers", [("C6", "gus@example.com", None, "Gus", "Roe", "consumer",
                                                      "east", "2024-06-20T09:00:00", "2024-06-20T09:00:00")])
        load_all(con, sources, "next")
        assert count_rows(con, "commerce_customers", "C6") == 1
        # the floor of that read: the latest valid version (1 March) minus the lookback, not 2099
        cursor = con.execute(f"select cursor_value from {raw_store.LOAD_STATE} where entity = 'customers'").fetchall()
        assert cursor == [("2024-02-29",)]


def test_extraction_an_orphan_whose_parent_commits_late_loads_on_the_next_read(extracted, tmp_path):
    """The line was read before its order was committed: quarantined, then re-read within the
    lookback once the order is there, loaded, and its quarantined version resolved."""
    sources = extracted.copy_to(tmp_path / "sources")
    faults.insert_rows(sources.db, "order_lines", [("L50", "O50", "P1", "1", "10.00", "0", "2024-06-05T12:00:00")])
    with connect(sources.warehouse) as con:
        load_all(con, sources, "before")
        assert [r[1] for r in quarantined(con, "before")] == ["order_id references nothing in commerce_orders: O50"]
        faults.insert_rows(sources.db, "orders", [("O50", "C1", "2024-06-05T11:00:00", "completed", "web", "USD",
                                                   "2024-06-05T11:00:00")])
        load_all(con, sources, "after")
        assert count_rows(con, "commerce_order_lines", "L50") == 1
        assert con.execute(f"select resolved_run_id from {raw_store.QUARANTINE} where record_key = 'L50'").fetchall() \
            == [("after",)]


def test_extraction_rows_waiting_for_a_reference_load_when_it_arrives_nights_later(extracted, tmp_path):
    """A refund whose order line arrives nights later (the refunds cursor long past it), and
    file rows (JSON Lines and CSV) naming a customer created nights later: quarantined, then
    judged again when the row they name loads, and resolved in the quarantine — as a load
    from scratch would have them."""
    sources = extracted.copy_to(tmp_path / "sources")
    faults.insert_rows(sources.db, "refunds", [("R60", "L60", "2024-06-06T12:00:00", "0", "4.00",
                                                "2024-06-06T12:00:00")])
    (sources.landing / "reviews_20240610.jsonl").write_bytes(faults.jsonl(
        {"review_id": "V60", "customer_id": "C60", "rating": 5, "posted_at": "2024-06-09T00:00:00",
         "platform": "web", "updated_at": "2024-06-09T00:00:00"}))
    (sources.landing / "crm_accounts_20240610.csv").write_bytes(
        (faults.CRM_HEADER + "C60,family,,,2024-06-09T00:00:00,false\n").encode())
    with connect(sources.warehouse) as con:
        load_all(con, sources, "night-1")
        assert sorted(r[1] for r in quarantined(con, "night-1")) == [
            "customer_id references nothing in commerce_customers: C60",
            "customer_id references nothing in commerce_customers: C60",
            "order_line_id references nothing in commerce_order_lines: L60"]
        # nights later the refunds cursor has moved on, and the line and the customer arrive
        faults.insert_rows(sources.db, "refunds", [("R61", "L1", "2024-06-20T12:00:00", "0", "1.00",
                                                    "2024-06-20T12:00:00")])
        load_all(con, sources, "night-2")
        faults.insert_rows(sources.db, "customers", [faults._customer("C60", "max@example.com", "Max",
                                                                      updated="2024-06-21T09:00:00")])
        faults.insert_rows(sources.db, "orders", [("O60", "C1", "2024-06-05T11:00:00", "completed", "web", "USD",
                                                   "2024-06-21T11:00:00")])
        faults.insert_rows(sources.db, "order_lines", [("L60", "O60", "P1", "1", "10.00", "0",
                                                        "2024-06-21T11:00:00")])
        load_all(con, sources, "night-3")
        for table, key in (("commerce_refunds", "R60"), ("voice_reviews", "V60"), ("crm_accounts", "C60")):
            assert count_rows(con, table, key) == 1, (table, key)
        assert con.execute(f"select record_key, resolved_run_id from {raw_store.QUARANTINE} "
                           "where resolved_at is not null and run_id = 'night-1' order by 1").fetchall() == [
            ("C60", "night-3"), ("R60", "night-3"), ("V60", "night-3")]
        assert quarantined(con, "night-3") == []  # nothing quarantined anew, nothing counted twice
        load_all(con, sources, "night-4")  # and judged once: the next night changes nothing
        assert count_rows(con, "commerce_refunds", "R60") == 1


@pytest.mark.parametrize("blocking", BLOCKING, ids=fault_id)
def test_extraction_a_broken_source_is_an_error_until_repaired(blocking, extracted, tmp_path):
    sources = extracted.copy_to(tmp_path / "sources")
    blocking.apply(sources)
    table = blocking.asset.split("/")[1] if blocking.asset else None
    with connect(sources.warehouse) as con:
        load_all(con, sources, "broken")
        gate = findings(con, "broken")
        errors = {key: f.message for key, f in gate.items() if f.severity == ERROR}
        for raw_table, key in blocking.loaded_anyway:
            assert count_rows(con, raw_table, key) == 1, f"valid row {key} of raw.{raw_table} lost"
        if blocking.check not in CHECKS:
            # an FX gap breaks no row of the contract: the blocking dbt test is what stops it
            assert not errors
            return
        assert list(errors) == [(table, blocking.check)], errors
        assert all(words in errors[(table, blocking.check)] for words in blocking.words), errors
        if blocking.repair is None:
            # a spike of new rows blocks its night; re-run once they are looked at, it loads
            # nothing new and passes: the re-run is how an operator accepts it
            load_all(con, sources, "re-run")
            assert findings(con, "re-run")[(table, blocking.check)].severity != ERROR
            return
        # unrepaired, the next night is blocked again: a gate that lifts by itself would publish without it
        load_all(con, sources, "still-broken")
        assert findings(con, "still-broken")[(table, blocking.check)].severity == ERROR
        blocking.repair(sources)
        load_all(con, sources, "repaired")
        assert not [f.message for f in findings(con, "repaired").values() if f.severity == ERROR]
        for raw_table, key in blocking.after_repair + blocking.loaded_anyway:
            assert count_rows(con, raw_table, key) == 1, f"valid row {key} of raw.{raw_table} lost"


# --------------------------------------------------------------------------- full nightly runs


def _nightly(sources: Sources, patch: pytest.MonkeyPatch) -> dg.ExecuteInProcessResult:
    for name, value in sources.env().items():
        patch.setenv(name, value)
    return run_nightly(AS_OF)


def _failures(result: dg.ExecuteInProcessResult) -> list[str]:
    return [e.message for e in result.all_events if e.is_failure]


@pytest.fixture(scope="module")
def baseline(tmp_path_factory, manifest) -> Sources:
    """The hand-made sources, published once by a full nightly run: what every fault starts from."""
    sources = faults.write_baseline(tmp_path_factory.mktemp("published"))
    with pytest.MonkeyPatch.context() as patch:
        result = _nightly(sources, patch)
    assert result.success, _failures(result)
    return sources


@pytest.fixture(scope="module")
def faulty_night(baseline, tmp_path_factory) -> tuple[Sources, dg.ExecuteInProcessResult]:
    """Every row and file fault of the catalogue, delivered in one night."""
    sources = baseline.copy_to(tmp_path_factory.mktemp("faulty-night"))
    for fault in FAULTS:
        fault.apply(sources)
    with pytest.MonkeyPatch.context() as patch:
        result = _nightly(sources, patch)
    return sources, result


def test_faulty_night_still_publishes(faulty_night):
    sources, result = faulty_night
    assert result.success, _failures(result)
    log = query(sources.serving, "select run_id, as_of_date from publication_log order by published_at")
    assert len(log) == 2 and log[-1] == (result.run_id, REFERENCE)
    checks = {(e.asset_key.to_user_string(), e.check_name): e for e in result.get_asset_check_evaluations()}
    assert not [c.description for c in checks.values() if not c.passed and c.severity == CHECK_ERROR]
    # the bad rows are reported, as warnings, per entity and reason
    orders = checks[("raw/commerce_orders", "conformance")]
    assert (orders.passed, orders.severity) == (False, CHECK_WARN)
    assert orders.description.startswith("commerce_orders: 8 of 13 row(s) read this run (61.5%) quarantined; "
                                         "duplicate order_id with the same updated_at")


def test_faulty_night_names_every_landing_entry_it_did_not_load(faulty_night):
    """Misnamed drops, directories and broken links in the landing folder: one warning that
    names each with its reason (not a silent skip, not a failed extraction)."""
    _, result = faulty_night
    (check,) = [e for e in result.get_asset_check_evaluations() if e.check_name == "landing_folder"]
    assert (check.passed, check.severity) == (False, CHECK_WARN)
    expected = {name: words for fault in FAULTS for name, words in fault.not_loaded.items()}
    assert check.description.startswith(f"{len(expected)} entries of the landing folder not loaded: ")
    for name, words in expected.items():
        assert f"{name} ({words}" in check.description, (name, check.description)


@pytest.mark.parametrize("fault", FAULTS, ids=fault_id)
def test_faulty_night_quarantined_each_bad_row_and_loaded_the_valid_ones(fault, faulty_night):
    sources, result = faulty_night
    with connect(sources.warehouse, read_only=True) as con:
        assert_outcome(con, fault, result.run_id)


def test_faulty_night_quarantined_nothing_else(faulty_night):
    sources, result = faulty_night
    expected = [bad for fault in FAULTS for bad in fault.bad]
    with connect(sources.warehouse, read_only=True) as con:
        rows = quarantined(con, result.run_id)
    assert not [row for row in rows if not any(_matches(bad, row) for bad in expected)]
    assert len(rows) == sum(bad.count for bad in expected)


def test_faulty_night_no_bad_row_reached_the_marts_and_no_valid_one_is_missing(faulty_night):
    sources, _ = faulty_night
    # the lines converted to the base currency: the purchase lines (at least), the valid lines (at most)
    lines = {k for (k,) in query(sources.warehouse, "select order_line_id from intermediate.int_order_lines_converted")}
    assert {"L1", "L2", "L3", "L5", "L6", "L96"} <= lines <= {"L1", "L2", "L3", "L4", "L5", "L6", "L96"}
    refunds = {k for (k,) in query(sources.warehouse, "select refund_id from intermediate.int_refunds_converted")}
    assert refunds == {"R1", "R5"}
    columns = ("orders_count", "gross_revenue", "refunded_amount", "net_revenue", "gross_margin", "lifestage",
               "referrals_sent", "referrals_converted", "referred_net_revenue", "reviews_count", "feedback_count",
               "complaints_count")
    published = {row[0]: dict(zip(columns, row[1:])) for row in query(
        sources.serving, f"select customer_key, {', '.join(columns)} from customer_value order by customer_key")}
    # no customer from a quarantined row (C95 from the future, C96 with its bytes, the one without key)
    assert sorted(published) == ["C1", "C3", "C4", "C5", "C97"]

    def money(value: str) -> Decimal:
        return Decimal(value)

    # Ann: only O1 and O2 count; none of the bad orders made in her name, no refund over L1;
    # her self-referrals don't count; the late file's feedback B5 does
    assert published["C1"] == dict(
        orders_count=2, gross_revenue=money("128.00"), refunded_amount=0, net_revenue=money("128.00"),
        gross_margin=money("60.00"), lifestage="single", referrals_sent=1, referrals_converted=1,
        referred_net_revenue=money("49.00"), reviews_count=2, feedback_count=1, complaints_count=0)
    # Bob: O3 plus the EUR order O6 (2 x 10.00 EUR at the rate of 1 June, 1.25; cost 2 x 4.00), R91 over L3
    # not counted; his referral of Cy converted (she bought O96); B2 stays a compliment (the late file's
    # complaint is an older version)
    assert published["C3"] == dict(
        orders_count=2, gross_revenue=money("65.00"), refunded_amount=money("16.00"), net_revenue=money("49.00"),
        gross_margin=money("29.00"), lifestage="growth", referrals_sent=2, referrals_converted=1,
        referred_net_revenue=money("100.00"), reviews_count=0, feedback_count=3, complaints_count=1)
    # Cy: O96 delivered twice, counted once; CRM row of the truncated file; two valid reviews, one feedback
    assert published["C4"] == dict(
        orders_count=1, gross_revenue=money("100.00"), refunded_amount=0, net_revenue=money("100.00"),
        gross_margin=money("40.00"), lifestage="retired", referrals_sent=0, referrals_converted=0,
        referred_net_revenue=0, reviews_count=2, feedback_count=1, complaints_count=0)
    # Dee (new with the null-key row): 3 x 10.00, one unit refunded for 10.00, 2 kept at cost 4.00
    assert published["C5"] == dict(
        orders_count=1, gross_revenue=money("30.00"), refunded_amount=money("10.00"), net_revenue=money("20.00"),
        gross_margin=money("12.00"), lifestage=None, referrals_sent=0, referrals_converted=0,
        referred_net_revenue=0, reviews_count=0, feedback_count=0, complaints_count=0)
    assert published["C97"]["orders_count"] == 0


@pytest.mark.parametrize("blocking", BLOCKING, ids=fault_id)
def test_blocking_fault_stops_the_night_and_the_previous_publication_serves(blocking, baseline, tmp_path,
                                                                            monkeypatch):
    sources = baseline.copy_to(tmp_path / "night")
    digest = hashlib.sha256(sources.serving.read_bytes()).hexdigest()
    versions = sorted(p.name for p in (sources.serving.parent / "versions").iterdir())
    blocking.apply(sources)

    result = _nightly(sources, monkeypatch)

    assert not result.success
    assert f'Execution of step "{blocking.step}" failed.' in _failures(result)
    failed = [e for e in result.get_asset_check_evaluations() if not e.passed and e.severity == CHECK_ERROR]
    assert [e.check_name for e in failed] == [blocking.check], [(e.check_name, e.description) for e in failed]
    (gate,) = failed
    if blocking.asset is None:  # a dbt test: on an intermediate model, failing for the one line without a rate
        assert gate.asset_key.path[0] == "intermediate"
        assert gate.metadata["dagster_dbt/failed_row_count"].value == 1
    else:
        assert gate.asset_key.to_user_string() == blocking.asset
        assert all(words in gate.description for words in blocking.words), gate.description
    materialized = {e.asset_key.to_user_string() for e in result.get_asset_materialization_events()}
    assert not {key for key in materialized if key.startswith(("marts/", "published/"))}
    if blocking.check in CHECKS:  # stopped at the source gate: nothing downstream of extraction ran
        assert materialized <= {f"raw/{e.raw_table}" for e in ALL_ENTITIES}
    # the previous publication still serves, byte for byte, and no version was added
    assert hashlib.sha256(sources.serving.read_bytes()).hexdigest() == digest
    assert sorted(p.name for p in (sources.serving.parent / "versions").iterdir()) == versions
    # the valid rows the night delivered are loaded all the same, ready for the night after the repair
    with connect(sources.warehouse, read_only=True) as con:
        for table, key in blocking.loaded_anyway:
            assert count_rows(con, table, key) == 1, f"valid row {key} of raw.{table} lost"
