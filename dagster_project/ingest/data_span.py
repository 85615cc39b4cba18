"""The dates the loaded data covers, kept in a small file next to the warehouse.

The first order date is the earliest as-of date the data supports: the Dagster partitions
start there (so the UI does not show years of days before the business had a customer as
"missing"), and `cvw run --as-of` refuses earlier dates. It lives in a file, not only in
the warehouse, because the definitions are loaded while a night may hold the warehouse
open for writing, and DuckDB then allows no other process to open it.
"""

from __future__ import annotations

import json
from pathlib import Path

import duckdb

from ..core.contract import ORDERS
from ..core.files import replace_file

# Before anything is loaded (and when CVW_FIRST_AS_OF_DATE is not set), partitions start here.
FALLBACK_FIRST_AS_OF_DATE = "2020-01-01"


def span_path(warehouse_path: Path) -> Path:
    warehouse_path = Path(warehouse_path)
    return warehouse_path.with_name(f".{warehouse_path.name}.data_span.json")


def record(con: duckdb.DuckDBPyConnection, warehouse_path: Path) -> dict[str, str] | None:
    """Write the span of the orders loaded into `raw` (None, and nothing written, if none are)."""
    first, last = con.execute(
        f'select min(ordered_at)::date, max(ordered_at)::date from raw."{ORDERS.raw_table}"'
    ).fetchall()[0]
    if first is None:
        return None
    span = {"first_order_date": first.isoformat(), "last_order_date": last.isoformat()}
    if read(warehouse_path) != span:
        replace_file(span_path(warehouse_path), (json.dumps(span, indent=2) + "\n").encode())
    return span


def read(warehouse_path: Path) -> dict[str, str] | None:
    path = span_path(warehouse_path)
    try:
        span = json.loads(path.read_text())
    except (FileNotFoundError, ValueError):
        return None  # nothing loaded yet, or a damaged file: the next extraction rewrites it
    return span if isinstance(span, dict) and isinstance(span.get("first_order_date"), str) else None


def first_as_of_date(configured: str | None, warehouse_path: Path) -> tuple[str, str]:
    """The first as-of date and where it comes from: CVW_FIRST_AS_OF_DATE if set, else the first
    order date loaded, else a fixed early date (nothing loaded yet)."""
    if configured:
        return configured, "CVW_FIRST_AS_OF_DATE"
    span = read(warehouse_path)
    if span:
        return span["first_order_date"], "the first order loaded"
    return FALLBACK_FIRST_AS_OF_DATE, "the default, as no order is loaded yet"
