"""The demo source generator: contract shape, determinism, bad rows as recorded, realism basics."""

from __future__ import annotations

import csv
import hashlib
import json
import shutil
import sqlite3
from collections import Counter
from datetime import date, datetime, timedelta, timezone
from pathlib import Path

import pytest

from dagster_project.core.contract import COMMERCE_ENTITIES, CUSTOMERS, FILE_ENTITIES, ORDERS
from dagster_project.demo import GeneratorError, append_days, generate
from dagster_project.demo.cli import main as demo_main

END = "2026-06-30"
SMALL = {"customers": 300, "years": 1, "end_date": END}


@pytest.fixture(scope="module")
def demo(tmp_path_factory) -> Path:
    out = tmp_path_factory.mktemp("demo") / "sources"
    generate(out, seed=11, **SMALL)
    return out


@pytest.fixture(scope="module")
def appended(demo, tmp_path_factory) -> tuple[Path, dict]:
    out = tmp_path_factory.mktemp("appended") / "sources"
    shutil.copytree(demo, out)
    return out, append_days(out, 2)


def rows(db: Path, table: str) -> list[dict]:
    con = sqlite3.connect(db)
    con.row_factory = sqlite3.Row
    try:
        return [dict(r) for r in con.execute(f'select * from "{table}" order by rowid')]
    finally:
        con.close()


def fingerprint(out: Path) -> dict[str, str]:
    """sha256 of every landing file and of every table's contents."""
    prints = {p.name: hashlib.sha256(p.read_bytes()).hexdigest() for p in sorted((out / "landing").iterdir())}
    for entity in COMMERCE_ENTITIES:
        content = repr([tuple(r.values()) for r in rows(out / "commerce.sqlite", entity.name)])
        prints[entity.name] = hashlib.sha256(content.encode()).hexdigest()
    return prints


def parse_ts(value) -> datetime | None:
    """ISO-8601 as UTC (naive = UTC), None when it doesn't parse."""
    try:
        ts = datetime.fromisoformat(str(value))
    except ValueError:
        return None
    return ts.astimezone(timezone.utc).replace(tzinfo=None) if ts.tzinfo else ts


def number(value, integer=False):
    if value is None or isinstance(value, str) and not value.strip():
        return None
    if integer:
        return value if isinstance(value, int) else None
    if isinstance(value, (int, float)):
        return float(value)
    try:
        return float(value)
    except ValueError:
        return None


def jsonl(path: Path) -> list[dict]:
    return [json.loads(line) for line in path.read_text().splitlines()]


def drops(out: Path, prefix: str) -> list[Path]:
    return sorted((out / "landing").glob(f"{prefix}_*"))


def domain(entity, column: str) -> tuple[str, ...]:
    return next(c.domain for c in entity.columns if c.name == column)


def manifest(out: Path) -> dict:
    return json.loads((out / "_generator_manifest.json").read_text())


# --------------------------------------------------------------------------- shape and determinism


def test_same_seed_gives_identical_sources_and_another_seed_does_not(demo, tmp_path):
    again = tmp_path / "again"
    generate(again, seed=11, **SMALL)
    assert fingerprint(again) == fingerprint(demo)
    other = tmp_path / "other"
    generate(other, seed=12, **SMALL)
    differing = [k for k, v in fingerprint(other).items() if fingerprint(demo).get(k) != v]
    assert {"customers", "orders", "order_lines"} <= set(differing)


def test_every_table_and_file_has_exactly_the_contract_columns(demo):
    con = sqlite3.connect(demo / "commerce.sqlite")
    for entity in COMMERCE_ENTITIES:
        columns = [r[1] for r in con.execute(f'pragma table_info("{entity.name}")')]
        assert columns == entity.column_names, entity.name
        indexes = {r[1] for r in con.execute(f'pragma index_list("{entity.name}")')}
        if entity.cursor:
            assert f"ix_{entity.name}_updated_at" in indexes
    con.close()
    for entity in FILE_ENTITIES:
        files = drops(demo, entity.file_prefix)
        assert len(files) >= 2, entity.name
        for path in files:
            if entity.file_format == "csv":
                with open(path, newline="") as handle:
                    reader = csv.reader(handle)
                    assert next(reader) == entity.column_names
                    assert all(len(r) == len(entity.column_names) for r in reader)
            else:
                assert all(list(obj) == entity.column_names for obj in jsonl(path)), path.name


def test_refuses_to_overwrite_without_force(demo, tmp_path, capsys):
    with pytest.raises(GeneratorError, match="already holds generated sources"):
        generate(demo, seed=11, **SMALL)
    assert demo_main(["--out", str(demo), "--customers", "300"]) == 2
    assert "--force" in capsys.readouterr().err
    target = tmp_path / "forced"
    generate(target, seed=1, customers=100, years=1, end_date=END)
    summary = generate(target, seed=11, force=True, **SMALL)
    assert summary["last_date"] == END
    assert fingerprint(target) == fingerprint(demo)


def test_timestamps_are_iso_utc_with_a_few_explicit_offsets(demo):
    orders = rows(demo / "commerce.sqlite", "orders")
    stamps = [o["ordered_at"] for o in orders] + [o["updated_at"] for o in orders]
    with_offset = [s for s in stamps if s[-6] in "+-" and s[-3] == ":"]
    assert 0 < len(with_offset) < 0.05 * len(stamps)
    assert parse_ts("2025-03-01T13:00:00+01:00") == datetime(2025, 3, 1, 12)
    last = datetime.fromisoformat(END) + timedelta(days=1)
    assert all(ts < last for ts in map(parse_ts, stamps) if ts)


# --------------------------------------------------------------------------- bad rows


def test_manifest_counts_the_bad_rows_that_are_really_there(demo):
    m = manifest(demo)
    detail = m["bad_rows_detail"]
    db = demo / "commerce.sqlite"
    customers = rows(db, "customers")
    valid_customers = {c["customer_id"] for c in customers}
    orders = rows(db, "orders")
    status_domain = domain(ORDERS, "status")
    assert sum(o["status"] not in status_domain for o in orders) == detail["commerce_orders"]["out_of_domain"]["status"]
    assert sum(o["order_id"] is None for o in orders) == m["bad_rows"]["commerce_orders"]["missing_key"]
    assert sum(o["currency"] not in {"USD", "EUR", "GBP", "CAD", "AUD"} for o in orders) == (
        m["bad_rows"]["commerce_orders"]["unknown_currency"])
    assert sum(o["customer_id"] not in valid_customers for o in orders) == (
        m["bad_rows"]["commerce_orders"]["reference_to_nothing"])
    assert sum(parse_ts(o["ordered_at"]) is None for o in orders) == (
        m["bad_rows"]["commerce_orders"]["unparseable_timestamp"])
    type_domain = domain(CUSTOMERS, "customer_type")
    assert sum(c["customer_type"] not in type_domain for c in customers) == (
        m["bad_rows"]["commerce_customers"]["out_of_domain"])
    lines = rows(db, "order_lines")
    assert sum(isinstance(line["quantity"], int) and line["quantity"] <= 0 for line in lines) == (
        detail["commerce_order_lines"]["out_of_domain"]["quantity"])
    reviews = [r for path in drops(demo, "reviews") for r in jsonl(path)]
    assert sum(isinstance(r["rating"], int) and not 1 <= r["rating"] <= 5 for r in reviews) == (
        m["bad_rows"]["voice_reviews"]["out_of_domain"])
    assert sum(r["review_id"] in (None, "") for r in reviews) == m["bad_rows"]["voice_reviews"]["missing_key"]
    # every entity of the contract carries some bad rows, and the totals add up
    entities = {e.raw_table for e in COMMERCE_ENTITIES + FILE_ENTITIES}
    assert set(m["bad_rows"]) == entities
    assert m["bad_rows_total"] == sum(sum(r.values()) for r in m["bad_rows"].values())
    for name, entry in m["files"].items():
        path = demo / "landing" / name
        n = len(path.read_text().splitlines()) - (1 if name.endswith(".csv") else 0)
        assert n == entry["rows"], name
    assert m["tables"]["orders"]["rows"] == len(orders)


# --------------------------------------------------------------------------- realism


def valid_lines_and_refunds(db: Path):
    orders = {o["order_id"] for o in rows(db, "orders") if o["order_id"] and o["status"] == "completed"}
    products = {p["product_id"] for p in rows(db, "products") if p["product_id"]}
    lines = {}
    for line in rows(db, "order_lines"):
        q, price, disc = number(line["quantity"], True), number(line["unit_price"]), number(line["discount_amount"])
        if line["order_line_id"] and line["order_id"] in orders and line["product_id"] in products and q and q > 0 \
                and price is not None and price >= 0 and disc is not None and disc >= 0:
            lines[line["order_line_id"]] = (q, q * price - disc)
    refunds = []
    for r in rows(db, "refunds"):
        q, amount = number(r["quantity"], True), number(r["amount"])
        if r["refund_id"] and r["order_line_id"] in lines and q is not None and q >= 0 and amount and amount > 0 \
                and parse_ts(r["refunded_at"]):
            refunds.append(r)
    return lines, refunds


def test_refunds_never_exceed_their_line(demo):
    lines, refunds = valid_lines_and_refunds(demo / "commerce.sqlite")
    assert 0.01 * len(lines) < len(refunds) < 0.08 * len(lines)
    amount, units = Counter(), Counter()
    for r in refunds:
        amount[r["order_line_id"]] += float(r["amount"])
        units[r["order_line_id"]] += r["quantity"]
    assert all(amount[k] <= lines[k][1] + 0.005 and units[k] <= lines[k][0] for k in amount)
    kinds = Counter("money" if r["quantity"] == 0 else "goods" for r in refunds)
    assert kinds["money"] and kinds["goods"]


def test_duplicate_email_accounts_and_accounts_without_email_exist(demo):
    customers = [c for c in rows(demo / "commerce.sqlite", "customers") if c["customer_id"]]
    by_email: dict[str, list[dict]] = {}
    for c in customers:
        key = (c["email"] or "").strip().lower()
        if key:
            by_email.setdefault(key, []).append(c)
    shared = [group for group in by_email.values() if len(group) > 1]
    assert shared
    assert any(len({c["email"] for c in group}) > 1 for group in shared)  # written differently
    for group in shared:  # the second account is created later
        group.sort(key=lambda c: c["customer_id"])
        assert parse_ts(group[0]["created_at"]) <= parse_ts(group[1]["created_at"])
    assert any(not (c["email"] or "").strip() for c in customers)


def test_some_customers_churn(demo):
    orders = [o for o in rows(demo / "commerce.sqlite", "orders") if o["status"] == "completed" and o["order_id"]]
    end = datetime.fromisoformat(END) + timedelta(days=1)
    start, middle = end - timedelta(days=365), end - timedelta(days=182)
    dates: dict[str, list[datetime]] = {}
    for o in orders:
        ts = parse_ts(o["ordered_at"])
        if ts:
            dates.setdefault(o["customer_id"], []).append(ts)
    early = {c for c, d in dates.items() if min(d) < start + timedelta(days=90)}
    churned = {c for c in early if max(dates[c]) < middle and len(dates[c]) >= 2}
    loyal = {c for c in early if max(dates[c]) >= middle}
    assert churned and loyal


def test_fx_rates_cover_the_history_with_weekend_gaps(demo):
    fx = [r for r in rows(demo / "commerce.sqlite", "fx_rates") if r["currency"]]
    first_order = min(filter(None, (parse_ts(o["ordered_at"]) for o in rows(demo / "commerce.sqlite", "orders"))))
    assert all(r["rate_to_base"] == 1 for r in fx if r["currency"] == "USD")
    by_currency: dict[str, set[date]] = {}
    for r in fx:
        try:
            by_currency.setdefault(r["currency"], set()).add(date.fromisoformat(r["rate_date"]))
        except ValueError:
            pass  # a deliberately unparseable rate_date
    assert set(by_currency) == {"USD", "EUR", "GBP", "CAD", "AUD"}
    for days in by_currency.values():
        assert min(days) < first_order.date()
    weekday_only = [c for c, days in by_currency.items() if sum(d.weekday() >= 5 for d in days) <= 5]
    assert len(weekday_only) >= 2


# --------------------------------------------------------------------------- appending days


def test_append_days_adds_later_rows_and_new_files(demo, appended):
    out, summary = appended
    assert summary["first_date"] == "2026-07-01" and summary["last_date"] == "2026-07-02"
    for entity in FILE_ENTITIES:
        names = {p.name for p in drops(out, entity.file_prefix)}
        assert {f"{entity.file_prefix}_20260701.{entity.file_format}",
                f"{entity.file_prefix}_20260702.{entity.file_format}"} <= names
    before = {o["order_id"] for o in rows(demo / "commerce.sqlite", "orders")}
    new = [o for o in rows(out / "commerce.sqlite", "orders") if o["order_id"] not in before]
    assert new and summary["tables"]["orders"] == len(new)
    last = datetime.fromisoformat(END) + timedelta(days=1)
    assert all(parse_ts(o["updated_at"]) >= last for o in new)
    state = json.loads((out / "_generator_state.json").read_text())
    assert state["last_date"] == "2026-07-02" and manifest(out)["last_date"] == "2026-07-02"
    # earlier rows are only ever updated forwards (e.g. pending -> completed)
    old = {o["order_id"]: o for o in rows(demo / "commerce.sqlite", "orders")}
    changed = [o for o in rows(out / "commerce.sqlite", "orders") if o["order_id"] in old and o != old[o["order_id"]]]
    assert all(parse_ts(o["updated_at"]) >= last for o in changed)


def test_append_days_is_deterministic(demo, appended, tmp_path):
    out, _ = appended
    stepwise = tmp_path / "stepwise"
    shutil.copytree(demo, stepwise)
    append_days(stepwise, 1)
    assert demo_main(["--out", str(stepwise), "--days", "1"]) == 0
    assert fingerprint(stepwise) == fingerprint(out)
