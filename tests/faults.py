"""The fault catalogue: bad inputs on top of the hand-made sources (tests/handmade.py), as data.

Two kinds of fault:

- `Fault`: rows or files a night can deliver that the contract rejects one by one (or a file
  it rejects whole), or that must be tolerated without double counting. Each says what must
  end in `raw._quarantine` (entity, reason, a marker of the record), which valid rows
  delivered alongside must be loaded, and which bad keys must never reach `raw`. Their
  ids, rows and files are disjoint, so that all of them can be delivered in one night.
- `Blocking`: a break of a whole source that must stop the night before anything is
  published (a source-level check with severity ERROR, or a blocking dbt test), with the
  check and the words its message must hold, and how the source is repaired.
"""

from __future__ import annotations

import json
import shutil
import sqlite3
from collections.abc import Callable
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import date, timedelta
from pathlib import Path

import duckdb

from dagster_project.core.contract import ALL_ENTITIES, COMMERCE_ENTITIES, FILE_ENTITIES, ORDERS
from dagster_project.ingest.extract import extract_drops, extract_table

from . import handmade

AS_OF = "2024-06-30"
BASE_CURRENCY = "USD"
LOOKBACK = timedelta(days=1)
BY_TABLE = {e.raw_table: e for e in ALL_ENTITIES}
CRM_HEADER = "customer_id,lifestage,declared_category_spend,third_party_wallet_estimate,updated_at,is_deleted\n"


def jsonl(*records: dict) -> bytes:
    return "".join(json.dumps(r) + "\n" for r in records).encode()


# The night before the faults: the hand-made commerce system and one drop of each file kind.
BASELINE_FILES: dict[str, bytes] = {
    "crm_accounts_20240601.csv": (CRM_HEADER + "C3,growth,1000,,2024-06-01T00:00:00,false\n"
                                  "C2,single,,500,2024-06-01T00:00:00,false\n").encode(),
    "referrals_20240601.jsonl": jsonl(
        {"referral_id": "F1", "referrer_customer_id": "C1", "referee_email": "bob@example.com",
         "referee_customer_id": "C3", "referred_at": "2024-01-20T10:00:00", "status": "rewarded",
         "reward_amount": 10, "updated_at": "2024-02-01T00:00:00"},
    ),
    "reviews_20240601.jsonl": jsonl(
        {"review_id": "V1", "customer_id": "C1", "rating": 5, "posted_at": "2024-03-01T00:00:00", "platform": "web",
         "updated_at": "2024-03-01T00:00:00"},
        {"review_id": "V2", "customer_id": "C2", "rating": 4, "posted_at": "2024-04-01T00:00:00", "platform": "app",
         "updated_at": "2024-04-01T00:00:00"},
    ),
    "feedback_20240601.jsonl": jsonl(
        {"feedback_id": "B1", "customer_id": "C3", "submitted_at": "2024-02-15T00:00:00", "kind": "complaint",
         "csat": 2, "nps": 3, "updated_at": "2024-02-15T00:00:00"},
        {"feedback_id": "B2", "customer_id": "C3", "submitted_at": "2024-05-01T00:00:00", "kind": "compliment",
         "csat": 4, "nps": 9, "updated_at": "2024-05-01T00:00:00"},
        {"feedback_id": "B3", "customer_id": "C3", "submitted_at": "2024-06-01T00:00:00", "kind": "suggestion",
         "csat": None, "nps": None, "updated_at": "2024-06-01T00:00:00"},
    ),
}


@dataclass(frozen=True)
class Sources:
    root: Path

    @property
    def db(self) -> Path:
        return self.root / "commerce.sqlite"

    @property
    def url(self) -> str:
        return f"sqlite:///{self.db}"

    @property
    def landing(self) -> Path:
        return self.root / "landing"

    @property
    def warehouse(self) -> Path:
        return self.root / "warehouse.duckdb"

    @property
    def serving(self) -> Path:
        return self.root / "serving" / "customer_value.duckdb"

    def copy_to(self, root: Path) -> Sources:
        shutil.copytree(self.root, root, dirs_exist_ok=True)
        return Sources(root)

    def env(self) -> dict[str, str]:
        return {"CVW_SOURCE_URL": self.url, "CVW_LANDING_DIR": str(self.landing),
                "CVW_WAREHOUSE_PATH": str(self.warehouse), "CVW_SERVING_PATH": str(self.serving)}


def write_baseline(root: Path) -> Sources:
    sources = Sources(root)
    handmade.write_commerce(sources.db)
    sources.landing.mkdir(parents=True, exist_ok=True)
    for name, data in BASELINE_FILES.items():
        (sources.landing / name).write_bytes(data)
    return sources


@contextmanager
def connect(path: Path, read_only: bool = False):
    """The working DuckDB as the pipeline opens it (UTC session)."""
    con = duckdb.connect(str(path), read_only=read_only)
    try:
        con.execute("set TimeZone = 'UTC'")
        yield con
    finally:
        con.close()


def load_all(con: duckdb.DuckDBPyConnection, sources: Sources, run_id: str) -> None:
    """Every extraction of a night, with the real functions (what the ingest assets call)."""
    for entity in COMMERCE_ENTITIES:
        extract_table(con, sources.url, entity, base_currency=BASE_CURRENCY, lookback=LOOKBACK, run_id=run_id)
    for entity in FILE_ENTITIES:
        extract_drops(con, sources.landing, entity, base_currency=BASE_CURRENCY, run_id=run_id)


def insert_rows(db: Path, table: str, rows) -> None:
    with sqlite3.connect(db) as con:
        for row in rows:
            con.execute(f"insert into {table} values ({', '.join('?' * len(row))})", row)


# --------------------------------------------------------------------------- row and file faults


@dataclass(frozen=True)
class Bad:
    entity: str  # raw table
    reason: str  # the reason word for word; ending in '…': its beginning
    marker: str  # text of the quarantined record (or the file's name, for a file rejected whole)
    count: int = 1


@dataclass(frozen=True)
class Fault:
    id: str
    rows: dict[str, tuple[tuple, ...]] = field(default_factory=dict)  # commerce table -> rows added
    files: dict[str, bytes] = field(default_factory=dict)  # landing file -> its bytes
    bad: tuple[Bad, ...] = ()
    loaded: tuple[tuple[str, str], ...] = ()  # (raw table, key): valid rows delivered alongside
    absent: tuple[tuple[str, str], ...] = ()  # (raw table, key): bad rows that never reach raw
    stored: tuple[tuple[str, str, str, object], ...] = ()  # (raw table, key, expression, value) after the load
    file_status: dict[str, tuple[str, str | None]] = field(default_factory=dict)  # file -> (status, reason)
    warns: tuple[tuple[str, str, str], ...] = ()  # (raw table, check, words of its WARN message)
    # landing entries that are not plain files: name -> "directory", "dangling-link" or "link-loop"
    entries: dict[str, str] = field(default_factory=dict)
    old_mtime: bool = False  # the files are written with an mtime long past (cp -p, rsync -t, unzip)
    # landing entries not loaded, named by the quarantine's `landing_folder` warning: name -> words of the reason
    not_loaded: dict[str, str] = field(default_factory=dict)

    def apply(self, sources: Sources) -> None:
        import os

        for table, rows in self.rows.items():
            insert_rows(sources.db, table, rows)
        for name, data in self.files.items():
            (sources.landing / name).write_bytes(data)
            if self.old_mtime:
                os.utime(sources.landing / name, (946684800, 946684800))  # 2000-01-01
        for name, kind in self.entries.items():
            path = sources.landing / name
            if kind == "directory":
                path.mkdir()
                (path / "inside.jsonl").write_bytes(b"{}\n")
            elif kind == "dangling-link":
                path.symlink_to(sources.landing / "no-such-file.jsonl")
            else:
                path.symlink_to(path)


def _customer(cid, email, first, *, created="2024-06-01T09:00:00", updated="2024-06-01T09:00:00",
              kind="consumer", region="west"):
    return (cid, email, None, first, "Doe", kind, region, created, updated)


def _order(oid, customer="C1", at="2024-06-05T12:00:00", status="completed", currency="USD",
           updated="2024-06-05T12:00:00", channel="web"):
    return (oid, customer, at, status, channel, currency, updated)


def _line(lid, order, product="P1", quantity="1", price="10.00", discount="0", updated="2024-06-05T12:00:00"):
    return (lid, order, product, quantity, price, discount, updated)


def _refund(rid, line, quantity="0", amount="5.00", at="2024-06-06T12:00:00", updated="2024-06-06T12:00:00"):
    return (rid, line, at, quantity, amount, updated)


NON_UTF8_LINE = b'{"review_id": "V90", "customer_id": "C4", "rating": 5, "platform": "caf\xe9"}'

FAULTS: tuple[Fault, ...] = (
    Fault(
        "null-key",
        rows={"customers": (_customer("", "zed@example.com", "Zed"), _customer("C5", "dee@example.com", "Dee"))},
        bad=(Bad("commerce_customers", "missing customer_id", "zed@example.com"),),
        loaded=(("commerce_customers", "C5"),),
    ),
    Fault(
        "duplicate-key-same-version-different-values",
        rows={"orders": (_order("O94", status="completed", updated="2024-06-05T10:00:00"),
                         _order("O94", status="cancelled", updated="2024-06-05T10:00:00"))},
        bad=(Bad("commerce_orders", "duplicate order_id with the same updated_at and different values: "
                 "which one is current is unknown", '"O94"', count=2),),
        absent=(("commerce_orders", "O94"),),
    ),
    Fault(
        "identical-row-delivered-twice",
        rows={"orders": (_order("O96", customer="C4", at="2024-06-12T12:00:00", channel="store",
                                updated="2024-06-12T12:00:00"),) * 2,
              "order_lines": (_line("L96", "O96", product="P2", price="100.00", updated="2024-06-12T12:00:00"),)},
        loaded=(("commerce_orders", "O96"), ("commerce_order_lines", "L96")),
    ),
    Fault(
        "orphan-reference",
        rows={"orders": (_order("O90", customer="C404"),)},
        bad=(Bad("commerce_orders", "customer_id references nothing in commerce_customers: C404", '"O90"'),),
        absent=(("commerce_orders", "O90"),),
    ),
    Fault(
        "orphan-line-of-a-missing-order",
        rows={"order_lines": (_line("L91", "O404"),)},
        bad=(Bad("commerce_order_lines", "order_id references nothing in commerce_orders: O404", '"L91"'),),
        absent=(("commerce_order_lines", "L91"),),
    ),
    Fault(
        "line-of-a-quarantined-order",
        rows={"orders": (_order("O97", status="shipped"),), "order_lines": (_line("L97", "O97"),)},
        bad=(Bad("commerce_orders", "status not one of completed|cancelled|pending: shipped", '"O97"'),
             Bad("commerce_order_lines", "order_id references nothing in commerce_orders: O97", '"L97"')),
        absent=(("commerce_orders", "O97"), ("commerce_order_lines", "L97")),
    ),
    Fault(
        "negative-quantity",
        rows={"order_lines": (_line("L90", "O1", quantity="-2"),)},
        bad=(Bad("commerce_order_lines", "quantity must be > 0: -2", '"L90"'),),
        absent=(("commerce_order_lines", "L90"),),
    ),
    Fault(
        "discount-larger-than-the-line",
        rows={"order_lines": (_line("L92", "O1", quantity="1", price="10.00", discount="15.00"),)},
        bad=(Bad("commerce_order_lines", "discount_amount 15.0000 exceeds quantity × unit_price 10.0000", '"L92"'),),
        absent=(("commerce_order_lines", "L92"),),
    ),
    Fault(
        "unparseable-number",
        rows={"order_lines": (_line("L93", "O1", price="12,5x"),)},
        bad=(Bad("commerce_order_lines", "unparseable decimal in unit_price: 12,5x", '"L93"'),),
        absent=(("commerce_order_lines", "L93"),),
    ),
    Fault(
        # L1 sold 2 x 10.00: 25.00 back is more than the line ever brought in
        "refund-larger-than-the-line",
        rows={"refunds": (_refund("R90", "L1", amount="25.00"),)},
        bad=(Bad("commerce_refunds", "refunds on line L1 would exceed its revenue: amount 25.0000", '"R90"'),),
        absent=(("commerce_refunds", "R90"),),
    ),
    Fault(
        # L3 sold 5 x 8.00 = 40.00 and R1 gave 16.00 back already: 30.00 more is too much
        "refunds-adding-up-over-the-line",
        rows={"refunds": (_refund("R91", "L3", amount="30.00"),)},
        bad=(Bad("commerce_refunds", "refunds on line L3 would exceed its revenue: amount 30.0000", '"R91"'),),
        absent=(("commerce_refunds", "R91"),),
        stored=(("commerce_refunds", "R1", "amount", 16),),
    ),
    Fault(
        "negative-refund",
        rows={"refunds": (_refund("R92", "L2", amount="-5"),)},
        bad=(Bad("commerce_refunds", "amount must be > 0: -5", '"R92"'),),
        absent=(("commerce_refunds", "R92"),),
    ),
    Fault(
        "unknown-currency",
        rows={"orders": (_order("O91", currency="XXX"),)},
        bad=(Bad("commerce_orders", "unknown currency: XXX", '"O91"'),),
        absent=(("commerce_orders", "O91"),),
    ),
    Fault(
        "fx-rate-zero",
        rows={"fx_rates": (("GBP", "2024-06-01", "0"), ("EUR", "2024-06-01", "1.25"))},
        bad=(Bad("commerce_fx_rates", "rate_to_base must be > 0: 0", '"GBP"'),),
        absent=(("commerce_fx_rates", "GBP"),),
        stored=(("commerce_fx_rates", "EUR", "max(rate_date)", date(2024, 6, 1)),),
    ),
    Fault(
        # DuckDB would read '-infinity' as a date before every other: a rate covering every order
        "fx-rate-dated-minus-infinity",
        rows={"fx_rates": (("CHF", "-infinity", "1.05"),)},
        bad=(Bad("commerce_fx_rates", "unparseable date in rate_date: -infinity", '"CHF"'),),
        absent=(("commerce_fx_rates", "CHF"),),
    ),
    Fault(
        "future-date",
        rows={"orders": (_order("O92", at="2099-01-01T00:00:00"),)},
        bad=(Bad("commerce_orders", "ordered_at is in the future: 2099-01-01T00:00:00", '"O92"'),),
        absent=(("commerce_orders", "O92"),),
    ),
    Fault(
        # valid, it would move the updated_at cursor to 2099 and freeze extraction for good
        "future-updated-at",
        rows={"customers": (_customer("C95", "fut@example.com", "Fut", updated="2099-06-01T00:00:00"),)},
        bad=(Bad("commerce_customers", "updated_at is in the future: 2099-06-01T00:00:00", '"C95"'),),
        absent=(("commerce_customers", "C95"),),
    ),
    Fault(
        "timestamp-without-parseable-format",
        rows={"orders": (_order("O93", at="31/12/2024 10:00"),)},
        bad=(Bad("commerce_orders", "unparseable timestamp in ordered_at: 31/12/2024 10:00", '"O93"'),),
        absent=(("commerce_orders", "O93"),),
    ),
    Fault(
        # DuckDB casts 'epoch' to 1970-01-01: not an ISO-8601 timestamp of the contract
        "timestamp-epoch-keyword",
        rows={"orders": (_order("O98", at="epoch"),)},
        bad=(Bad("commerce_orders", "unparseable timestamp in ordered_at: epoch", '"O98"'),),
        absent=(("commerce_orders", "O98"),),
    ),
    Fault(
        # SQLite keeps whatever bytes it is given; DuckDB must never see them
        "non-utf8-bytes-in-the-database",
        rows={"customers": (_customer("C96", b"caf\xe9@example.com", "Cafe"),
                            _customer("C97", "eve@example.com", "Eve"))},
        bad=(Bad("commerce_customers", "not valid UTF-8 in email at byte 3", '"C96"'),),
        loaded=(("commerce_customers", "C97"),),
        absent=(("commerce_customers", "C96"),),
    ),
    Fault(
        "non-utf8-bytes-in-a-file",
        files={"reviews_20240620.jsonl": jsonl(
            {"review_id": "V5", "customer_id": "C4", "rating": 4, "posted_at": "2024-06-02T00:00:00",
             "platform": "web", "updated_at": "2024-06-02T00:00:00"},
        ) + NON_UTF8_LINE + b"\n"},
        bad=(Bad("voice_reviews", f"not valid UTF-8 at byte {NON_UTF8_LINE.index(0xE9)}", "V90"),),
        loaded=(("voice_reviews", "V5"),),
        absent=(("voice_reviews", "V90"),),
    ),
    Fault(
        "rating-out-of-range-and-not-an-object",
        files={"reviews_20240621.jsonl": jsonl(
            {"review_id": "V6", "customer_id": "C4", "rating": 2, "posted_at": "2024-06-03T00:00:00",
             "platform": "app", "updated_at": "2024-06-03T00:00:00"},
            {"review_id": "V92", "customer_id": "C1", "rating": 7, "posted_at": "2024-06-03T00:00:00",
             "platform": "app", "updated_at": "2024-06-03T00:00:00"},
        ) + b'["V93", "C1", 5]\n'},
        bad=(Bad("voice_reviews", "rating must be <= 5: 7", "V92"),
             Bad("voice_reviews", "JSON line is not an object", "V93")),
        loaded=(("voice_reviews", "V6"),),
        absent=(("voice_reviews", "V92"), ("voice_reviews", "V93")),
    ),
    Fault(
        "truncated-jsonl-file",
        files={"referrals_20240620.jsonl": jsonl(
            {"referral_id": "F4", "referrer_customer_id": "C3", "referee_email": "cy@example.com",
             "referee_customer_id": "C4", "referred_at": "2024-06-01T10:00:00", "status": "signed_up",
             "reward_amount": None, "updated_at": "2024-06-01T10:00:00"},
        ) + b'{"referral_id": "F90", "referrer_customer_id": "C1", "referee_em'},
        bad=(Bad("referrals_referrals", "unparseable JSON: …", "F90"),),
        loaded=(("referrals_referrals", "F4"),),
        absent=(("referrals_referrals", "F90"),),
    ),
    Fault(
        "truncated-csv-file",
        files={"crm_accounts_20240620.csv": (CRM_HEADER + "C4,retired,800,,2024-06-20T00:00:00,false\n"
                                             "C1,single,12").encode()},
        bad=(Bad("crm_accounts", "expected 6 fields, found 3", "C1,single,12"),),
        loaded=(("crm_accounts", "C4"),),
        stored=(("crm_accounts", "C4", "lifestage", "retired"),),
    ),
    Fault(
        "orphan-and-unparseable-boolean-in-a-csv",
        files={"crm_accounts_20240624.csv": (CRM_HEADER + "C404,single,,,2024-06-24T00:00:00,false\n"
                                             "C3,growth,,,2024-06-24T00:00:00,maybe\n").encode()},
        bad=(Bad("crm_accounts", "customer_id references nothing in commerce_customers: C404", "C404"),
             Bad("crm_accounts", "unparseable boolean in is_deleted: maybe", "maybe")),
        absent=(("crm_accounts", "C404"),),
        # C3's earlier CRM row stays as it was
        stored=(("crm_accounts", "C3", "declared_category_spend", 1000),),
    ),
    Fault(
        "empty-file",
        files={"feedback_20240620.jsonl": b""},
        bad=(Bad("voice_feedback", "file rejected: empty file", "feedback_20240620.jsonl"),),
        file_status={"feedback_20240620.jsonl": ("rejected", "empty file")},
    ),
    Fault(
        "empty-csv-without-header",
        files={"crm_accounts_20240621.csv": b""},
        bad=(Bad("crm_accounts", "file rejected: empty file: no header row", "crm_accounts_20240621.csv"),),
        file_status={"crm_accounts_20240621.csv": ("rejected", "empty file: no header row")},
    ),
    Fault(
        "file-with-a-column-missing",
        files={"crm_accounts_20240622.csv": (
            "customer_id,lifestage,declared_category_spend,third_party_wallet_estimate,updated_at\n"
            "C1,couple,,,2024-06-22T00:00:00\n").encode()},
        bad=(Bad("crm_accounts", "file rejected: header lacks contract column(s): is_deleted",
                 "crm_accounts_20240622.csv"),),
        file_status={"crm_accounts_20240622.csv": ("rejected", "header lacks contract column(s): is_deleted")},
        stored=(("crm_accounts", "C1", "count(*)", 0),),
    ),
    Fault(
        "file-with-a-renamed-column",
        files={"crm_accounts_20240623.csv": (
            "customer_id,lifestage,declared_category_spend,third_party_wallet_estimate,updated_at,deleted\n"
            "C1,couple,,,2024-06-23T00:00:00,false\n").encode()},
        bad=(Bad("crm_accounts", "file rejected: header lacks contract column(s): is_deleted",
                 "crm_accounts_20240623.csv"),),
        file_status={"crm_accounts_20240623.csv": ("rejected", "header lacks contract column(s): is_deleted")},
        warns=(("crm_accounts", "schema", "new column(s) deleted: renamed?"),),
    ),
    Fault(
        "file-delivered-twice",
        files={"reviews_20240625.jsonl": BASELINE_FILES["reviews_20240601.jsonl"]},
        file_status={"reviews_20240625.jsonl": ("duplicate",
                                                "same content as reviews_20240601.jsonl, already received")},
        stored=(("voice_reviews", "V1", "_source_file", "reviews_20240601.jsonl"),),
    ),
    Fault(
        # an export of 15 May arriving after the one of 1 June: new rows load, older versions lose
        "a-days-file-delivered-late",
        files={"feedback_20240515.jsonl": jsonl(
            {"feedback_id": "B2", "customer_id": "C3", "submitted_at": "2024-05-01T00:00:00", "kind": "complaint",
             "csat": 1, "nps": 2, "updated_at": "2024-04-15T00:00:00"},
            {"feedback_id": "B5", "customer_id": "C1", "submitted_at": "2024-05-10T00:00:00", "kind": "compliment",
             "csat": 5, "nps": 10, "updated_at": "2024-05-10T00:00:00"},
        )},
        loaded=(("voice_feedback", "B5"),),
        stored=(("voice_feedback", "B2", "kind", "compliment"),),
        file_status={"feedback_20240515.jsonl": ("loaded", None)},
    ),
    Fault(
        "duplicate-key-in-a-file",
        files={"feedback_20240622.jsonl": jsonl(
            {"feedback_id": "B90", "customer_id": "C1", "submitted_at": "2024-06-10T00:00:00", "kind": "complaint",
             "csat": 1, "nps": 0, "updated_at": "2024-06-10T00:00:00"},
            {"feedback_id": "B90", "customer_id": "C1", "submitted_at": "2024-06-10T00:00:00", "kind": "compliment",
             "csat": 5, "nps": 10, "updated_at": "2024-06-10T00:00:00"},
            {"feedback_id": "B6", "customer_id": "C4", "submitted_at": "2024-06-11T00:00:00", "kind": "suggestion",
             "csat": 3, "nps": 7, "updated_at": "2024-06-11T00:00:00"},
        )},
        bad=(Bad("voice_feedback", "duplicate feedback_id with the same updated_at and different values: "
                 "which one is current is unknown", "B90", count=2),),
        loaded=(("voice_feedback", "B6"),),
        absent=(("voice_feedback", "B90"),),
    ),
    Fault(
        # Ann inviting herself, directly and through her second account: loaded, never counted
        "self-referral-loops",
        files={"referrals_20240622.jsonl": jsonl(
            {"referral_id": "F5", "referrer_customer_id": "C1", "referee_email": "ann@example.com",
             "referee_customer_id": "C1", "referred_at": "2024-06-05T10:00:00", "status": "rewarded",
             "reward_amount": 10, "updated_at": "2024-06-05T10:00:00"},
            {"referral_id": "F6", "referrer_customer_id": "C2", "referee_email": None,
             "referee_customer_id": "C1", "referred_at": "2024-06-06T10:00:00", "status": "signed_up",
             "reward_amount": None, "updated_at": "2024-06-06T10:00:00"},
            {"referral_id": "F7", "referrer_customer_id": "C3", "referee_email": "zed@example.com",
             "referee_customer_id": None, "referred_at": "2024-06-07T10:00:00", "status": "invited",
             "reward_amount": None, "updated_at": "2024-06-07T10:00:00"},
        )},
        loaded=(("referrals_referrals", "F5"), ("referrals_referrals", "F6"), ("referrals_referrals", "F7")),
    ),
    Fault(
        # entries named like drops that are not files: each named with its reason, the rest loads
        "entries-named-like-drops-that-are-not-files",
        entries={"reviews_20240626.jsonl": "directory", "feedback_20240626.jsonl": "dangling-link",
                 "referrals_20240626.jsonl": "link-loop"},
        files={"reviews_20240627.jsonl": jsonl(
            {"review_id": "V40", "customer_id": "C97", "rating": 4, "posted_at": "2024-06-20T00:00:00",
             "platform": "web", "updated_at": "2024-06-20T00:00:00"})},
        loaded=(("voice_reviews", "V40"),),
        not_loaded={"reviews_20240626.jsonl": "a directory, not a file",
                    "feedback_20240626.jsonl": "a symbolic link to nothing",
                    "referrals_20240626.jsonl": "a symbolic link that cannot be followed"},
    ),
    Fault(
        "an-impossible-date-in-a-file-name",
        files={"crm_accounts_20241345.csv": (CRM_HEADER + "C97,family,,,2024-06-20T00:00:00,false\n").encode()},
        absent=(("crm_accounts", "C97"),),
        not_loaded={"crm_accounts_20241345.csv": "20241345 in the name is not a calendar date (YYYYMMDD)"},
    ),
    Fault(
        # misnamed drops are named as warnings, not loaded; a gzip-compressed drop is a drop
        "misnamed-drops-and-a-compressed-one",
        files={
            "CRM_ACCOUNTS_20240627.CSV": (CRM_HEADER + "C97,family,,,2024-06-20T00:00:00,false\n").encode(),
            "crm_accounts_2024-06-27.csv": (CRM_HEADER + "C97,family,,,2024-06-20T00:00:00,false\n").encode(),
            "crm accounts_20240627.csv": (CRM_HEADER + "C97,family,,,2024-06-20T00:00:00,false\n").encode(),
            "reviews_20240627.txt": b"not a drop\n",
            "reviews_20240628.jsonl.gz": __import__("gzip").compress(jsonl(
                {"review_id": "V41", "customer_id": "C97", "rating": 5, "posted_at": "2024-06-21T00:00:00",
                 "platform": "app", "updated_at": "2024-06-21T00:00:00"}), mtime=0),
        },
        loaded=(("voice_reviews", "V41"),),
        file_status={"reviews_20240628.jsonl.gz": ("loaded", None)},
        not_loaded={"CRM_ACCOUNTS_20240627.CSV": "looks like a crm_accounts drop but is not named",
                    "crm_accounts_2024-06-27.csv": "looks like a crm_accounts drop but is not named",
                    "crm accounts_20240627.csv": "not named like any drop",
                    "reviews_20240627.txt": "looks like a reviews drop but is not named"},
    ),
    Fault(
        # a corrected export under the same name, copied with its old mtime: reloaded by content
        "a-correction-with-an-older-mtime",
        files={"referrals_20240601.jsonl": jsonl(
            {"referral_id": "F1", "referrer_customer_id": "C1", "referee_email": "bob@example.com",
             "referee_customer_id": "C3", "referred_at": "2024-01-20T10:00:00", "status": "rewarded",
             "reward_amount": 15, "updated_at": "2024-02-02T00:00:00"},
            {"referral_id": "F40", "referrer_customer_id": "C97", "referee_email": "max@example.com",
             "referee_customer_id": None, "referred_at": "2024-06-20T10:00:00", "status": "invited",
             "reward_amount": None, "updated_at": "2024-06-20T10:00:00"})},
        old_mtime=True,
        loaded=(("referrals_referrals", "F40"),),
        stored=(("referrals_referrals", "F1", "reward_amount", 15),),
        file_status={"referrals_20240601.jsonl": ("loaded", None)},
    ),
    Fault(
        # the valid rows of the night the other faults are delivered with (what must not be lost)
        "valid-rows-alongside",
        rows={"orders": (_order("O5", customer="C5", at="2024-06-10T12:00:00", updated="2024-06-10T12:00:00"),
                         _order("O6", customer="C3", at="2024-06-15T12:00:00", currency="EUR",
                                updated="2024-06-15T12:00:00", channel="store")),
              "order_lines": (_line("L5", "O5", quantity="3", price="10.00", updated="2024-06-10T12:00:00"),
                              _line("L6", "O6", quantity="2", price="10.00", updated="2024-06-15T12:00:00")),
              "refunds": (_refund("R5", "L5", quantity="1", amount="10.00", at="2024-06-12T12:00:00",
                                  updated="2024-06-12T12:00:00"),)},
        loaded=(("commerce_orders", "O5"), ("commerce_orders", "O6"), ("commerce_order_lines", "L5"),
                ("commerce_order_lines", "L6"), ("commerce_refunds", "R5")),
    ),
)


def faults_by_id() -> dict[str, Fault]:
    return {f.id: f for f in FAULTS}


# Faults whose valid rows need another's (O5 is C5's order; C5 arrives with the null key).
# faults whose valid rows name a customer another fault adds (C5, C97)
DEPENDS = {"valid-rows-alongside": ("null-key",),
           "entries-named-like-drops-that-are-not-files": ("non-utf8-bytes-in-the-database",),
           "misnamed-drops-and-a-compressed-one": ("non-utf8-bytes-in-the-database",),
           "a-correction-with-an-older-mtime": ("non-utf8-bytes-in-the-database",)}


# --------------------------------------------------------------------------- blocking faults


VALID_CUSTOMER = {"customers": (_customer("C70", "liz@example.com", "Liz"),)}
VALID_PRODUCT = {"products": (("P70", "Mug", "kitchen", "3.00", "2024-06-01T00:00:00"),)}


@dataclass(frozen=True)
class Blocking:
    id: str
    breaks: Callable[[Sources], None]  # breaks the source (may also run loads to build history)
    asset: str | None  # the asset the failing check is on (None: a dbt test, on whichever model holds it)
    check: str
    words: tuple[str, ...]  # in the check's message
    repair: Callable[[Sources], None] | None = None  # brings the source back to the contract
    # valid rows delivered the same night by a part of the source that isn't broken
    alongside: dict[str, tuple[tuple, ...]] = field(default_factory=lambda: VALID_CUSTOMER)
    loaded_anyway: tuple[tuple[str, str], ...] = (("commerce_customers", "C70"),)
    after_repair: tuple[tuple[str, str], ...] = ()  # valid rows the broken part delivered, loaded once repaired

    @property
    def step(self) -> str:
        """The step of the nightly job that fails."""
        return "dbt_models" if self.asset is None else f"{BY_TABLE[self.asset.split('/')[1]].source}_source_gate"

    def apply(self, sources: Sources) -> None:
        for table, rows in self.alongside.items():
            insert_rows(sources.db, table, rows)
        self.breaks(sources)


def sql(db: Path, *statements: str) -> None:
    with sqlite3.connect(db) as con:
        for statement in statements:
            con.execute(statement)


def _rename_channel(sources: Sources) -> None:
    sql(sources.db, "alter table orders rename column channel to sales_channel")
    insert_rows(sources.db, "orders", [_order("O71", customer="C3")])


def _rename_channel_back(sources: Sources) -> None:
    sql(sources.db, "alter table orders rename column sales_channel to channel")


def _drop_region(sources: Sources) -> None:
    sql(sources.db, "alter table customers drop column region")


def _add_region_back(sources: Sources) -> None:
    sql(sources.db, "alter table customers add column region", "update customers set region = 'north'")


EPOCH_ORDERS = [(f"O8{i:02d}", "C1", 1718000000 + i * 3600, "completed", "web", "USD", f"2024-06-10T{i:02d}:00:00")
                for i in range(12)]


def _retype_ordered_at(sources: Sources) -> None:
    """The source starts delivering ordered_at as epoch seconds in an INTEGER column."""
    sql(sources.db,
         "alter table orders rename to orders_before",
         "create table orders (order_id, customer_id, ordered_at integer, status, channel, currency, updated_at)",
         "insert into orders select * from orders_before",
         "drop table orders_before")
    insert_rows(sources.db, "orders", EPOCH_ORDERS)


def _type_ordered_at_back(sources: Sources) -> None:
    sql(sources.db, "update orders set ordered_at = strftime('%Y-%m-%dT%H:%M:%S', ordered_at, 'unixepoch') "
                     "where typeof(ordered_at) = 'integer'")


def _empty_orders(sources: Sources) -> None:
    sql(sources.db, "delete from orders")


def _restore_orders(sources: Sources) -> None:
    insert_rows(sources.db, "orders", handmade.ORDERS)


def _drop_refunds(sources: Sources) -> None:
    sql(sources.db, "drop table refunds")


def _restore_refunds(sources: Sources) -> None:
    sql(sources.db, "create table refunds (refund_id, order_line_id, refunded_at, quantity, amount, updated_at)")
    insert_rows(sources.db, "refunds", handmade.REFUNDS)


SPIKE_ORDERS = [(f"O9{i:02d}", "C3", "2024-06-10T12:00:00", "completed", "web", "USD", f"2024-06-10T12:{i:02d}:00")
                for i in range(30)]


def _volume_spike(sources: Sources) -> None:
    """Three small incremental reads of orders (the history), then thirty new orders at once."""
    with connect(sources.warehouse) as con:
        for day in (1, 2, 3):
            insert_rows(sources.db, "orders", [_order(f"O6{day}", at=f"2024-06-0{day}T12:00:00",
                                                      updated=f"2024-06-0{day}T12:00:00")])
            extract_table(con, sources.url, ORDERS, base_currency=BASE_CURRENCY, lookback=LOOKBACK,
                          run_id=f"increment-{day}")
    insert_rows(sources.db, "orders", SPIKE_ORDERS)


def _fx_gap(sources: Sources) -> None:
    """A GBP order of 10 June, while the first GBP rate is of 15 June."""
    insert_rows(sources.db, "fx_rates", [("GBP", "2024-06-15", "1.27")])
    insert_rows(sources.db, "orders", [_order("O80", at="2024-06-10T12:00:00", currency="GBP",
                                              updated="2024-06-10T12:00:00")])
    insert_rows(sources.db, "order_lines", [_line("L80", "O80", updated="2024-06-10T12:00:00")])


def _fx_gap_filled(sources: Sources) -> None:
    insert_rows(sources.db, "fx_rates", [("GBP", "2024-06-01", "1.26")])


BLOCKING: tuple[Blocking, ...] = (
    Blocking("renamed-column", _rename_channel, "raw/commerce_orders", "schema",
             ("commerce.orders", "lacks contract column(s) channel", "new column(s) sales_channel: renamed?"),
             repair=_rename_channel_back, after_repair=(("commerce_orders", "O71"),)),
    Blocking("database-column-missing", _drop_region, "raw/commerce_customers", "schema",
             ("commerce.customers", "lacks contract column(s) region", "not loaded"),
             repair=_add_region_back, alongside=VALID_PRODUCT, loaded_anyway=(("commerce_products", "P70"),)),
    Blocking("retyped-column", _retype_ordered_at, "raw/commerce_orders", "conformance",
             ("commerce_orders: 12 of 13 row(s) read this run", "unparseable timestamp in ordered_at",
              "CVW_GATE_MAX_QUARANTINE_SHARE"),
             repair=_type_ordered_at_back, after_repair=(("commerce_orders", "O800"), ("commerce_orders", "O811"))),
    Blocking("empty-extract-from-the-database", _empty_orders, "raw/commerce_orders", "volume",
             ("commerce.orders: the source table is empty", "4 of its rows were loaded before", "empty extract"),
             repair=_restore_orders),
    Blocking("missing-table", _drop_refunds, "raw/commerce_refunds", "schema",
             ("commerce.refunds: the table does not exist in the source database",),
             repair=_restore_refunds),
    Blocking("volume-spike", _volume_spike, "raw/commerce_orders", "volume",
             ("commerce_orders: 30 row(s) new or changed", "the median 1 of the last 3", "a volume spike"),
             loaded_anyway=(("commerce_customers", "C70"), ("commerce_orders", "O900"), ("commerce_orders", "O929"))),
    Blocking("fx-gap", _fx_gap, None, "fx_rate_exists_for_every_purchase_line",
             (), repair=_fx_gap_filled,
             loaded_anyway=(("commerce_customers", "C70"), ("commerce_orders", "O80"),
                            ("commerce_order_lines", "L80"))),
)
