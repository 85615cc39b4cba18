"""Tiny hand-made source systems, small enough to compute every metric by hand."""

from __future__ import annotations

import json
import sqlite3
from pathlib import Path

from dagster_project.core.contract import COMMERCE_ENTITIES

CUSTOMERS = [
    # customer_id, email, phone, first, last, type, region, created_at, updated_at
    ("C1", "ann@example.com", "555-1", "Ann", "Lee", "consumer", "north", "2024-01-01T09:00:00", "2024-01-01T09:00:00"),
    # Ann's second account: same email once normalised, created later -> key stays C1
    ("C2", " ANN@Example.com ", None, "Ann", "Lee", "consumer", "north", "2024-02-01T09:00:00", "2024-02-01T09:00:00"),
    ("C3", "bob@example.com", None, "Bob", "Ray", "business", "south", "2024-01-05T10:00:00", "2024-01-05T10:00:00"),
    ("C4", None, None, "Cy", "Dee", "consumer", "north", "2024-03-01T10:00:00", "2024-03-01T10:00:00"),
]
PRODUCTS = [
    ("P1", "Record", "music", "4.00", "2024-01-01T00:00:00"),
    ("P2", "Player", "audio", "60.00", "2024-01-01T00:00:00"),
]
FX = [("USD", "2024-01-01", "1"), ("EUR", "2024-01-01", "1.10"), ("EUR", "2024-03-01", "1.20")]
ORDERS = [
    ("O1", "C1", "2024-01-10T12:00:00", "completed", "store", "USD", "2024-01-10T12:00:00"),
    ("O2", "C2", "2024-03-05T12:00:00", "completed", "web", "EUR", "2024-03-05T12:00:00"),
    ("O3", "C3", "2024-02-01T12:00:00", "completed", "phone", "USD", "2024-02-01T12:00:00"),
    ("O4", "C3", "2024-02-02T12:00:00", "cancelled", "phone", "USD", "2024-02-02T12:00:00"),
]
ORDER_LINES = [
    # id, order, product, qty, unit_price, discount, updated_at
    ("L1", "O1", "P1", "2", "10.00", "0", "2024-01-10T12:00:00"),
    ("L2", "O2", "P2", "1", "100.00", "10.00", "2024-03-05T12:00:00"),
    ("L3", "O3", "P1", "5", "8.00", "0", "2024-02-01T12:00:00"),
    ("L4", "O4", "P2", "1", "90.00", "0", "2024-02-02T12:00:00"),
]
REFUNDS = [
    # L3: 2 units back for 16.00 -> returned 2 of 5
    ("R1", "L3", "2024-02-10T12:00:00", "2", "16.00", "2024-02-10T12:00:00"),
]
TABLES = {
    "customers": CUSTOMERS,
    "products": PRODUCTS,
    "fx_rates": FX,
    "orders": ORDERS,
    "order_lines": ORDER_LINES,
    "refunds": REFUNDS,
}


def write_commerce(path: Path, tables: dict[str, list[tuple]] | None = None) -> Path:
    tables = tables or TABLES
    path.parent.mkdir(parents=True, exist_ok=True)
    with sqlite3.connect(path) as db:
        for entity in COMMERCE_ENTITIES:
            columns = entity.column_names
            db.execute(f"create table if not exists {entity.name} ({', '.join(columns)})")
            rows = tables.get(entity.name, [])
            if rows:
                db.executemany(f"insert into {entity.name} values ({', '.join('?' * len(columns))})", rows)
    return path


def upsert(path: Path, table: str, row: tuple, key: str) -> None:
    with sqlite3.connect(path) as db:
        db.execute(f"delete from {table} where {key} = ?", [row[0]])
        db.execute(f"insert into {table} values ({', '.join('?' * len(row))})", row)


def write_jsonl(path: Path, records: list[dict]) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text("".join(json.dumps(r) + "\n" for r in records), encoding="utf-8")
    return path
