"""Extraction into `raw`: incremental, idempotent, latest version wins, bad rows quarantined."""

from __future__ import annotations

import os
from datetime import timedelta
from decimal import Decimal

import duckdb
import pytest

from dagster_project.ingest import raw_store
from dagster_project.core.contract import COMMERCE_ENTITIES, CRM_ACCOUNTS, REVIEWS
from dagster_project.ingest.extract import extract_drops, extract_table

from . import handmade


def load_commerce(con, url):
    return {
        e.name: extract_table(con, url, e, base_currency="USD", lookback=timedelta(days=1), run_id="test")
        for e in COMMERCE_ENTITIES
    }


@pytest.fixture
def sources(tmp_path):
    db = handmade.write_commerce(tmp_path / "commerce.sqlite")
    con = duckdb.connect(str(tmp_path / "warehouse.duckdb"))
    con.execute("set TimeZone = 'UTC'")
    yield f"sqlite:///{db}", db, tmp_path / "landing", con
    con.close()


def raw_count(con, table):
    return con.execute(f"select count(*) from raw.{table}").fetchall()[0][0]


def test_second_extraction_loads_nothing_twice(sources):
    url, _, _, con = sources
    first = load_commerce(con, url)
    assert first["orders"].rows_changed == 4
    counts = {e.name: raw_count(con, e.raw_table) for e in COMMERCE_ENTITIES}
    second = load_commerce(con, url)
    assert all(load.rows_changed == 0 for load in second.values())
    assert {e.name: raw_count(con, e.raw_table) for e in COMMERCE_ENTITIES} == counts
    assert second["orders"].cursor == "2024-03-04"  # max updated_at 2024-03-05 minus the 1-day lookback


def test_latest_version_of_a_row_wins(sources):
    url, db, _, con = sources
    load_commerce(con, url)
    handmade.upsert(db, "orders", ("O4", "C3", "2024-02-02T12:00:00", "completed", "phone", "USD", "2024-04-01T08:00:00"), "order_id")
    again = load_commerce(con, url)
    assert again["orders"].rows_changed == 1
    status = con.execute("select status, updated_at from raw.commerce_orders where order_id = 'O4'").fetchall()
    assert status == [("completed", __import__("datetime").datetime(2024, 4, 1, 8, 0))]
    # An older version delivered late never overwrites a newer one.
    handmade.upsert(db, "orders", ("O4", "C3", "2024-02-02T12:00:00", "pending", "phone", "USD", "2024-04-01T07:00:00"), "order_id")
    load_commerce(con, url)
    assert con.execute("select status from raw.commerce_orders where order_id = 'O4'").fetchall()[0][0] == "completed"


def test_timestamps_with_offsets_are_stored_in_utc(sources):
    url, db, _, con = sources
    handmade.upsert(db, "orders", ("O5", "C4", "2024-03-10T13:00:00+02:00", "completed", "web", "USD", "2024-03-10T13:00:00+02:00"), "order_id")
    load_commerce(con, url)
    assert str(con.execute("select ordered_at from raw.commerce_orders where order_id = 'O5'").fetchall()[0][0]) == "2024-03-10 11:00:00"


@pytest.mark.parametrize(
    "table,row,key,reason",
    [
        ("orders", ("O9", "C404", "2024-03-01T00:00:00", "completed", "web", "USD", "2024-03-01T00:00:00"), "order_id",
         "customer_id references nothing in commerce_customers: C404"),
        ("orders", ("O9", "C1", "2024-03-01T00:00:00", "shipped", "web", "USD", "2024-03-01T00:00:00"), "order_id",
         "status not one of completed|cancelled|pending: shipped"),
        ("orders", ("O9", "C1", "2024-03-01T00:00:00", "completed", "web", "XXX", "2024-03-01T00:00:00"), "order_id",
         "unknown currency: XXX"),
        ("orders", ("O9", "C1", "yesterday noon", "completed", "web", "USD", "2024-03-01T00:00:00"), "order_id",
         "unparseable timestamp in ordered_at: yesterday noon"),
        ("order_lines", ("L9", "O1", "P1", "0", "1.00", "0", "2024-03-01T00:00:00"), "order_line_id",
         "quantity must be > 0: 0"),
        ("order_lines", ("L9", "O1", "P1", "1", "12,5x", "0", "2024-03-01T00:00:00"), "order_line_id",
         "unparseable decimal in unit_price: 12,5x"),
        ("order_lines", ("L9", "O1", "P1", "1.5", "1.00", "0", "2024-03-01T00:00:00"), "order_line_id",
         "unparseable integer in quantity: 1.5"),
        ("customers", ("", "z@example.com", None, "Z", "Z", "consumer", "north", "2024-01-01T00:00:00", "2024-03-01T00:00:00"),
         "customer_id", "missing customer_id"),
    ],
)
def test_bad_row_is_quarantined_with_its_reason(sources, table, row, key, reason):
    url, db, _, con = sources
    handmade.upsert(db, table, row, key)
    load_commerce(con, url)
    quarantined = con.execute(f"select entity, source_file, reason, record from {raw_store.QUARANTINE}").fetchall()
    assert [(q[0], q[1], q[2]) for q in quarantined] == [(table, table, reason)]
    assert row[1] in quarantined[0][3] or row[0] in quarantined[0][3]  # the row is kept as delivered
    # ... and never reaches raw, and is not quarantined twice by the next run.
    assert con.execute(f"select count(*) from raw.commerce_{table} where {key} = 'O9' or {key} = 'L9' or {key} = ''").fetchall()[0][0] == 0
    load_commerce(con, url)
    assert con.execute(f"select count(*) from {raw_store.QUARANTINE}").fetchall()[0][0] == 1


def test_each_drop_loads_once_and_bad_lines_keep_their_line_number(sources):
    url, _, landing, con = sources
    load_commerce(con, url)
    handmade.write_jsonl(landing / "reviews_20240401.jsonl", [
        {"review_id": "V1", "customer_id": "C1", "rating": 5, "posted_at": "2024-03-01T00:00:00", "platform": "web", "updated_at": "2024-03-01T00:00:00"},
        {"review_id": "V2", "customer_id": "C3", "rating": 7, "posted_at": "2024-03-01T00:00:00", "platform": "web", "updated_at": "2024-03-01T00:00:00"},
    ])
    with open(landing / "reviews_20240401.jsonl", "ab") as handle:
        handle.write(b'{"review_id": "V3", "customer_id": "C\xff1"}\n{"review_id": "V4", "cust')
    load = extract_drops(con, landing, REVIEWS, base_currency="USD", run_id="t")
    assert (load.rows_changed, load.rows_quarantined, load.files_loaded) == (1, 3, ["reviews_20240401.jsonl"])
    reasons = dict(con.execute(f"select source_row, reason from {raw_store.QUARANTINE} order by source_row").fetchall())
    assert reasons[2] == "rating must be <= 5: 7"
    assert reasons[3].startswith("not valid UTF-8")
    assert reasons[4].startswith("unparseable JSON")
    again = extract_drops(con, landing, REVIEWS, base_currency="USD", run_id="t")
    assert (again.rows_read, again.files_loaded) == (0, [])
    assert raw_count(con, "voice_reviews") == 1


def test_unreadable_file_is_reported_by_name_and_the_rest_loads(sources):
    url, _, landing, con = sources
    load_commerce(con, url)
    landing.mkdir(parents=True, exist_ok=True)
    (landing / "crm_accounts_20240301.csv").write_text("customer_id,lifestage,updated_at\nC1,single,2024-03-01\n")
    (landing / "crm_accounts_20240302.csv").write_text(
        "customer_id,lifestage,declared_category_spend,third_party_wallet_estimate,updated_at,is_deleted\n"
        "C1,single,1200.50,,2024-03-02T00:00:00,false\n"
        "C3,growth,,9000,2024-03-02T00:00:00,maybe\n"
    )
    load = extract_drops(con, landing, CRM_ACCOUNTS, base_currency="USD", run_id="t")
    assert load.files_rejected == {
        "crm_accounts_20240301.csv": "header lacks contract column(s): declared_category_spend, third_party_wallet_estimate, is_deleted"
    }
    assert load.files_loaded == ["crm_accounts_20240302.csv"]
    assert con.execute("select customer_id, declared_category_spend from raw.crm_accounts").fetchall() == [
        ("C1", __import__("decimal").Decimal("1200.5000"))
    ]
    status = dict(con.execute(f"select file_name, status from {raw_store.LOADED_FILES}").fetchall())
    assert status == {"crm_accounts_20240301.csv": "rejected", "crm_accounts_20240302.csv": "loaded"}
    assert "unparseable boolean in is_deleted: maybe" in [r[0] for r in con.execute(f"select reason from {raw_store.QUARANTINE}").fetchall()]


def test_a_failed_load_leaves_no_trace_and_the_rerun_completes(sources, monkeypatch):
    url, _, landing, con = sources
    load_commerce(con, url)
    handmade.write_jsonl(landing / "reviews_20240401.jsonl", [
        {"review_id": "V1", "customer_id": "C1", "rating": 5, "posted_at": "2024-03-01T00:00:00", "platform": "web", "updated_at": "2024-03-01T00:00:00"},
    ])
    original = raw_store.merge_batch

    def crash(*args, **kwargs):
        original(*args, **kwargs)
        raise KeyboardInterrupt("killed mid-load")

    monkeypatch.setattr(raw_store, "merge_batch", crash)
    with pytest.raises(KeyboardInterrupt):
        extract_drops(con, landing, REVIEWS, base_currency="USD", run_id="t")
    assert raw_count(con, "voice_reviews") == 0
    assert con.execute(f"select count(*) from {raw_store.LOADED_FILES}").fetchall()[0][0] == 0
    monkeypatch.setattr(raw_store, "merge_batch", original)
    load = extract_drops(con, landing, REVIEWS, base_currency="USD", run_id="t")
    assert load.files_loaded == ["reviews_20240401.jsonl"] and raw_count(con, "voice_reviews") == 1


def test_a_corrected_file_under_the_same_name_is_loaded_again(sources):
    url, _, landing, con = sources
    load_commerce(con, url)
    header = "customer_id,lifestage,declared_category_spend,third_party_wallet_estimate,updated_at,is_deleted\n"
    export = landing / "crm_accounts_20240302.csv"
    landing.mkdir(parents=True, exist_ok=True)
    export.write_text(header + "C1,single,12OO,,2024-03-02T00:00:00,false\n")  # letter O for zeros
    first = extract_drops(con, landing, CRM_ACCOUNTS, base_currency="USD", run_id="t1")
    assert first.rows_quarantined == 1 and raw_count(con, "crm_accounts") == 0
    # unchanged, it is not read again
    assert extract_drops(con, landing, CRM_ACCOUNTS, base_currency="USD", run_id="t2").files_loaded == []
    export.write_text(header + "C1,single,1200,,2024-03-02T00:00:00,false\n")
    later = export.stat().st_mtime + 5
    os.utime(export, (later, later))
    again = extract_drops(con, landing, CRM_ACCOUNTS, base_currency="USD", run_id="t3")
    assert again.files_loaded == ["crm_accounts_20240302.csv"]
    assert con.execute("select declared_category_spend from raw.crm_accounts").fetchall() == [(Decimal("1200.0000"),)]
    # the quarantined version is resolved by the corrected one, and the file is recorded once
    assert con.execute(f"select count(*) from {raw_store.QUARANTINE} where resolved_at is null").fetchall()[0][0] == 0
    assert con.execute(f"select count(*), max(run_id) from {raw_store.LOADED_FILES}").fetchall()[0] == (1, "t3")


def test_load_stamps_never_go_back_when_the_clock_does(sources, monkeypatch):
    """Issue 14 (1): a night with the clock 3 h fast, then the clock corrected and a price fix
    loaded an hour later. Stamped by the wall clock, the fix would be stamped 2 h *before* the
    rows the incremental models last built, and never converted again."""
    from datetime import datetime

    from dagster_project.core import clock

    url, db, _, con = sources
    real = datetime(2024, 4, 1, 2, 0, 0)
    monkeypatch.setattr(clock, "utc_now", lambda whole_seconds=False: real + timedelta(hours=3))
    load_commerce(con, url)
    fast_night = con.execute("select max(_loaded_at) from raw.commerce_order_lines").fetchall()[0][0]
    # the clock stood still here: each load of the night one second after the one before
    assert real + timedelta(hours=3) <= fast_night < real + timedelta(hours=3, minutes=1)
    monkeypatch.setattr(clock, "utc_now", lambda whole_seconds=False: real + timedelta(hours=1))
    line = con.execute("""select order_line_id, order_id, product_id, quantity, unit_price, discount_amount
        from raw.commerce_order_lines order by order_line_id limit 1""").fetchall()[0]
    handmade.upsert(db, "order_lines", (line[0], line[1], line[2], str(line[3]), str(line[4] + 1), str(line[5]),
                                        "2024-04-01T03:00:00"), "order_line_id")
    load_commerce(con, url)
    fixed = con.execute("select unit_price, _loaded_at from raw.commerce_order_lines where order_line_id = ?",
                        [line[0]]).fetchall()[0]
    assert fixed[0] == line[4] + 1
    assert fixed[1] > fast_night  # later than everything loaded before, whatever the clock says
    stamps = [s for (s,) in con.execute(f"select loaded_at from {raw_store.LOAD_HISTORY} order by loaded_at").fetchall()]
    assert len(set(stamps)) == len(stamps)  # a strictly increasing sequence, one stamp per load
    # with the clock right again and ahead of every stamp, the stamp is the clock
    monkeypatch.setattr(clock, "utc_now", lambda whole_seconds=False: real + timedelta(days=1))
    assert raw_store.load_stamp(con) == real + timedelta(days=1)
