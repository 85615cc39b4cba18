"""Atomic publication of the marts into a separate serving DuckDB file.

A new file is built next to the serving file, completed and checkpointed, then renamed
over it: a reader sees the previous publication or the new one, never a half-written or
failed run, and readers that already hold the old file keep reading it undisturbed.
Every publication also leaves a version snapshot (see `versions`), written before the
rename, so whatever is serving can be rolled back to.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import date, datetime, timezone
from pathlib import Path
from typing import Any

import duckdb

from .durable import publication_lock, replace_durably, replace_file, sql_identifier, sql_literal
from .publication_log import PUBLISH, LogEntry, append_log, carry_over_log, customers_and_revenue, serving_now
from .versions import prune_versions, write_version


@dataclass(frozen=True)
class Publication:
    path: Path
    as_of_date: date
    published_at: datetime
    row_counts: dict[str, int]
    customers: int
    net_revenue_total: float
    publication_id: str = ""
    version_path: Path | None = None
    # False for a backfill left beside a later publication: the serving file is untouched.
    served: bool = True
    serving_as_of_date: date | None = None
    removed_versions: list[str] = field(default_factory=list)
    plots: dict[str, bytes] = field(default_factory=dict, repr=False)


def utc_now() -> datetime:
    return datetime.now(timezone.utc).replace(tzinfo=None)


@contextmanager
def building(serving_path: Path, tag: str) -> Iterator[Path]:
    """A fresh file beside the serving file to build the next one in; removed if left over.

    Entered under the publication lock: any other file being built is debris of a crash.
    """
    staging = serving_path.with_name(f".{serving_path.name}.{tag}.building")
    leftovers = (staging, staging.with_name(staging.name + ".wal"))
    for debris in serving_path.parent.glob(f".{serving_path.name}.*.building*"):
        debris.unlink(missing_ok=True)
    try:
        yield staging
    finally:
        for leftover in leftovers:
            leftover.unlink(missing_ok=True)


def publish(
    warehouse_path: Path,
    serving_path: Path,
    tables: dict[str, str],
    *,
    run_id: str | None,
    as_of_date: date | None = None,
    checks: list[dict[str, Any]] | None = None,
    model_plots: Path | None = None,
    versions_kept: int = 14,
    republish: bool = False,
) -> Publication:
    """Copy `tables` ({published name: relation in the warehouse}) into a new serving file.

    The previous file's `publication_log` is carried over and extended with this run. With
    `as_of_date`, the tables must have been built as of that date, or nothing is published.
    The version snapshot is always written; the serving file is replaced only if it does not
    serve a later as-of date (a backfill leaves it alone), or with `republish`. With
    `model_plots` (a folder of PNGs), the plots join the snapshot and the serving folder.
    """
    expected_as_of = as_of_date
    published_at = utc_now()
    publication_id = run_id or f"manual-{published_at:%Y%m%dT%H%M%S}-{uuid.uuid4().hex[:6]}"
    with publication_lock(serving_path), building(serving_path, publication_id) as staging:
        con = duckdb.connect(str(staging))
        try:
            con.execute(f"attach {sql_literal(warehouse_path)} as warehouse (read_only)")
            counts = {}
            for name, relation in tables.items():
                con.execute(f"create table main.{sql_identifier(name)} as select * from warehouse.{relation}")
                counts[name] = con.execute(f"select count(*) from main.{sql_identifier(name)}").fetchall()[0][0]
            con.execute("detach warehouse")
            as_of_date = _latest_as_of(con, tables)
            if expected_as_of is not None and as_of_date != expected_as_of:
                raise ValueError(f"the marts were built as of {as_of_date}, not {expected_as_of}: nothing published")
            customers, revenue = customers_and_revenue(con, tables)
            pictures = draw_plots(con, model_plots) if model_plots is not None else {}
            version_path = write_version(
                con, serving_path, publication_id, list(tables), plots=pictures,
                about={"run_id": run_id, "as_of_date": as_of_date.isoformat(), "published_at": published_at.isoformat(),
                       "customers": customers, "net_revenue_total": None if revenue is None else float(revenue), "checks": checks or []},
            )
            carry_over_log(con, serving_path)
            append_log(con, LogEntry(publication_id, as_of_date, published_at, run_id, counts, customers, revenue,
                                     PUBLISH, publication_id))
            con.execute("checkpoint")
        finally:
            con.close()

        current = serving_now(serving_path)
        served = republish or current is None or as_of_date >= current.as_of_date
        if served:
            replace_durably(staging, serving_path)
            publish_plots(pictures, serving_path)
        serving = serving_now(serving_path)
        removed = prune_versions(serving_path, versions_kept, serving.version if serving else None)
    return Publication(
        serving_path, as_of_date, published_at, counts, int(customers or 0), float(revenue or 0),
        publication_id=publication_id, version_path=version_path, served=served,
        serving_as_of_date=serving.as_of_date if serving else None, removed_versions=removed, plots=pictures,
    )


def _latest_as_of(con: duckdb.DuckDBPyConnection, tables) -> date:
    # Every table carries as_of_date; history tables (clv_model) hold earlier dates too,
    # and an empty table (nobody at risk today) none.
    latest = {
        name: con.execute(f"select max(as_of_date) from main.{sql_identifier(name)}").fetchall()[0][0]
        for name in tables
    }
    latest = {name: value for name, value in latest.items() if value is not None}
    if len(set(latest.values())) != 1:
        raise ValueError(f"published tables disagree on their latest as_of_date: {latest}")
    (as_of_date,) = set(latest.values())
    return as_of_date


def plots_dir(serving_path: Path) -> Path:
    return serving_path.parent / "plots"


def draw_plots(con: duckdb.DuckDBPyConnection, model_plots: Path) -> dict[str, bytes]:
    """The CLV model's PNGs, and the value concentration curve drawn from what is published."""
    from ..models.plots import value_concentration_png

    margin = con.execute("select gross_margin from main.customer_value where orders_count > 0").fetchnumpy()
    pictures = {"value_concentration": value_concentration_png(margin["gross_margin"].astype(float))}
    for png in sorted(model_plots.glob("*.png")) if model_plots.is_dir() else []:
        pictures[png.stem] = png.read_bytes()
    return pictures


def publish_plots(pictures: dict[str, bytes], serving_path: Path) -> None:
    """The serving publication's PNGs next to it, each replaced whole; a plot the serving
    publication does not have is removed rather than left to describe another one."""
    target = plots_dir(serving_path)
    target.mkdir(parents=True, exist_ok=True)
    for debris in target.glob(".*.partial"):  # a plot being replaced when a publication crashed
        debris.unlink(missing_ok=True)
    for name, data in pictures.items():
        replace_file(target / f"{name}.png", data)
    for stale in target.glob("*.png"):
        if stale.stem not in pictures:
            stale.unlink()
