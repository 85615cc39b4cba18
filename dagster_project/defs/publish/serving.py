"""Atomic publication of the marts into a separate serving DuckDB file.

A new file is built next to the serving file, completed and checkpointed, then renamed
over it: a reader sees the previous publication or the new one, never a half-written or
failed run, and readers that already hold the old file keep reading it undisturbed.
"""

from __future__ import annotations

import json
import os
from dataclasses import dataclass
from datetime import date, datetime, timezone
from pathlib import Path

import duckdb

PUBLICATION_LOG = "publication_log"

_LOG_DDL = f"""
create table {PUBLICATION_LOG} (
    publication_id varchar not null,
    as_of_date date not null,
    published_at timestamp not null,
    run_id varchar,
    tables varchar not null,  -- JSON: {{table: rows}}
    customers bigint,
    net_revenue_total decimal(38, 2)
)"""


@dataclass(frozen=True)
class Publication:
    path: Path
    as_of_date: date
    published_at: datetime
    row_counts: dict[str, int]
    customers: int
    net_revenue_total: float


def _fsync_dir(directory: Path) -> None:
    fd = os.open(directory, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def publish(
    warehouse_path: Path,
    serving_path: Path,
    tables: dict[str, str],
    *,
    run_id: str | None,
    as_of_date: date | None = None,
) -> Publication:
    """Copy `tables` ({published name: relation in the warehouse}) into a new serving file.

    The previous file's `publication_log` is carried over and extended with this run. With
    `as_of_date`, the tables must have been built as of that date, or nothing is published.
    """
    expected_as_of = as_of_date
    serving_path.parent.mkdir(parents=True, exist_ok=True)
    staging = serving_path.with_name(f".{serving_path.name}.{run_id or 'manual'}.building")
    for leftover in (staging, staging.with_name(staging.name + ".wal")):
        leftover.unlink(missing_ok=True)

    published_at = datetime.now(timezone.utc).replace(tzinfo=None, microsecond=0)
    con = duckdb.connect(str(staging))
    try:
        con.execute(f"attach '{warehouse_path}' as warehouse (read_only)")
        counts = {}
        for name, relation in tables.items():
            con.execute(f"create table main.{name} as select * from warehouse.{relation}")
            counts[name] = con.execute(f"select count(*) from main.{name}").fetchall()[0][0]
        # Every table carries as_of_date; history tables (clv_model) hold earlier dates too,
        # and an empty table (nobody at risk today) none.
        as_of_dates = {
            name: con.execute(f"select max(as_of_date) from main.{name}").fetchall()[0][0] for name in tables
        }
        as_of_dates = {name: value for name, value in as_of_dates.items() if value is not None}
        if len(set(as_of_dates.values())) != 1:
            raise ValueError(f"published tables disagree on their latest as_of_date: {as_of_dates}")
        (as_of_date,) = set(as_of_dates.values())
        if expected_as_of is not None and as_of_date != expected_as_of:
            raise ValueError(f"the marts were built as of {as_of_date}, not {expected_as_of}: nothing published")
        customers, revenue = con.execute(
            "select count(*), coalesce(sum(net_revenue), 0) from main.customer_value"
        ).fetchall()[0] if "customer_value" in tables else (None, None)

        con.execute(_LOG_DDL)
        if serving_path.exists():
            con.execute(f"attach '{serving_path}' as previous (read_only)")
            has_log = con.execute(
                "select count(*) from duckdb_tables() where database_name = 'previous' and table_name = ?",
                [PUBLICATION_LOG],
            ).fetchall()[0][0]
            if has_log:
                con.execute(f"insert into {PUBLICATION_LOG} by name select * from previous.{PUBLICATION_LOG}")
            con.execute("detach previous")
        con.execute(
            f"insert into {PUBLICATION_LOG} values (?, ?, ?, ?, ?, ?, ?)",
            [run_id or f"manual-{published_at:%Y%m%dT%H%M%S}", as_of_date, published_at, run_id,
             json.dumps(counts, sort_keys=True), customers, revenue],
        )
        con.execute("detach warehouse")
        con.execute("checkpoint")
    finally:
        con.close()

    with open(staging, "rb+") as handle:
        os.fsync(handle.fileno())
    os.replace(staging, serving_path)
    _fsync_dir(serving_path.parent)
    return Publication(serving_path, as_of_date, published_at, counts, int(customers or 0), float(revenue or 0))


def plots_dir(serving_path: Path) -> Path:
    return serving_path.parent / "plots"


def _replace_file(path: Path, data: bytes) -> None:
    partial = path.with_name(f".{path.name}.partial")
    partial.write_bytes(data)
    os.replace(partial, path)


def publish_plots(model_plots: Path, serving_path: Path) -> dict[str, bytes]:
    """PNGs next to the published data: the CLV model's, and the value concentration curve
    drawn from what was just published. Each file is replaced whole."""
    from ..models.plots import value_concentration_png

    with duckdb.connect(str(serving_path), read_only=True) as con:
        margin = con.execute("select gross_margin from customer_value where orders_count > 0").fetchnumpy()
    pictures = {"value_concentration": value_concentration_png(margin["gross_margin"].astype(float))}
    for png in sorted(model_plots.glob("*.png")) if model_plots.is_dir() else []:
        pictures[png.stem] = png.read_bytes()
    target = plots_dir(serving_path)
    target.mkdir(parents=True, exist_ok=True)
    for name, data in pictures.items():
        _replace_file(target / f"{name}.png", data)
    return pictures
