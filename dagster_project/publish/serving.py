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
from collections.abc import Mapping
from datetime import date, datetime
from pathlib import Path
from typing import Any

import duckdb

from ..core.clock import utc_now
from ..core.files import exclusive_lock, replace_durably, replace_pngs
from ..core.sql import quote_identifier, quote_literal
from ..core.dbt_manifest import PublishedTable
from ..core.plots import trend_png, value_concentration_png
from .serving_format import comment_table, create_serving_file, descriptions_of
from .publication_log import (
    PUBLISH, LogEntry, append_log, carry_over_log, log_measures, save_log_copy, serving_now, set_aside_if_damaged,
)
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
    # what was done about a damaged serving file found on the way (None: it was sound)
    recovered: str | None = None


@contextmanager
def publication_lock(serving_path: Path) -> Iterator[None]:
    """Serialise publications and rollbacks of one serving file.

    Each carries the previous publication_log over into its new file: two at once would
    lose one's row, and a retention sweep could delete the snapshot a rollback is reading.
    Readers never take this lock.
    """
    with exclusive_lock(serving_path.with_name(f".{serving_path.name}.lock")):
        yield


def _relations(tables: Mapping[str, str | PublishedTable]) -> dict[str, str]:
    return {name: t.relation if isinstance(t, PublishedTable) else t for name, t in tables.items()}


def _measures(tables: Mapping[str, str | PublishedTable]) -> dict[str, tuple[str, str]]:
    """{publication_log column: (table, SQL aggregate)} from what the tables declare."""
    measures: dict[str, tuple[str, str]] = {}
    for name, table in tables.items():
        for column, aggregate in (table.log_measures if isinstance(table, PublishedTable) else {}).items():
            if column in measures:
                raise ValueError(f"publication_log column {column!r} is measured by both {measures[column][0]} and {name}")
            measures[column] = (name, aggregate)
    return measures


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
    tables: Mapping[str, str | PublishedTable],
    *,
    run_id: str | None,
    as_of_date: date | None = None,
    checks: list[dict[str, Any]] | None = None,
    model_plots: Path | None = None,
    versions_kept: int = 14,
    republish: bool = False,
) -> Publication:
    """Copy `tables` ({published name: relation in the warehouse, or its PublishedTable})
    into a new serving file.

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
        recovered = set_aside_if_damaged(serving_path, published_at)
        con = create_serving_file(staging)
        try:
            con.execute(f"attach {quote_literal(warehouse_path)} as warehouse (read_only)")
            counts = {}
            for name, relation in _relations(tables).items():
                con.execute(f"create table main.{quote_identifier(name)} as select * from warehouse.{relation}")
                if isinstance(tables[name], PublishedTable):
                    comment_table(con, name, *descriptions_of(tables[name].props))
                counts[name] = con.execute(f"select count(*) from main.{quote_identifier(name)}").fetchall()[0][0]
            con.execute("detach warehouse")
            as_of_date = _latest_as_of(con, tables)
            if expected_as_of is not None and as_of_date != expected_as_of:
                raise ValueError(f"the marts were built as of {as_of_date}, not {expected_as_of}: nothing published")
            measures = _measures(tables)
            headline = log_measures(con, measures)
            customers, revenue = headline["customers"], headline["net_revenue_total"]
            pictures = draw_plots(con, tables, model_plots)
            version_path = write_version(
                con, serving_path, publication_id, list(tables), plots=pictures,
                about={"run_id": run_id, "as_of_date": as_of_date.isoformat(), "published_at": published_at.isoformat(),
                       "customers": customers, "net_revenue_total": None if revenue is None else float(revenue), "checks": checks or [],
                       "log_measures": {column: list(measure) for column, measure in measures.items()}},
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
            save_log_copy(serving_path)
            publish_plots(pictures, serving_path)
        serving = serving_now(serving_path)
        removed = prune_versions(serving_path, versions_kept, serving.version if serving else None)
    return Publication(
        serving_path, as_of_date, published_at, counts, int(customers or 0), float(revenue or 0),
        publication_id=publication_id, version_path=version_path, served=served,
        serving_as_of_date=serving.as_of_date if serving else None, removed_versions=removed, plots=pictures,
        recovered=recovered,
    )


def _latest_as_of(con: duckdb.DuckDBPyConnection, tables) -> date:
    # Every table carries as_of_date. A snapshot table holds the one date it was built for
    # (an empty one, nobody at risk today, none); a history table (clv_model, the holdout
    # diagnostics) holds earlier dates too and may lack today's (no holdout this time).
    latest = {
        name: con.execute(f"select max(as_of_date) from main.{quote_identifier(name)}").fetchall()[0][0]
        for name in tables
    }
    latest = {name: value for name, value in latest.items() if value is not None}
    history = {name for name, table in tables.items() if isinstance(table, PublishedTable) and table.history}
    snapshots = {name: value for name, value in latest.items() if name not in history}
    if len(set(snapshots.values())) > 1 or not latest:
        raise ValueError(f"published tables disagree on their latest as_of_date: {latest}")
    as_of_date = max(snapshots.values()) if snapshots else max(latest.values())
    later = {name: value for name, value in latest.items() if value > as_of_date}
    if later:
        raise ValueError(f"history tables hold dates after the publication's {as_of_date}: {later}")
    return as_of_date


def plots_dir(serving_path: Path) -> Path:
    return serving_path.parent / "plots"


def draw_plots(
    con: duckdb.DuckDBPyConnection, tables: Mapping[str, str | PublishedTable], model_plots: Path | None
) -> dict[str, bytes]:
    """The model's PNGs (a folder of them, if given), and the concentration curves the
    published tables ask for, drawn from what is published."""
    pictures = {}
    for name, table in tables.items():
        curve = table.concentration if isinstance(table, PublishedTable) else None
        if curve:
            where = f" where {curve['where']}" if curve.get("where") else ""
            values = con.execute(
                f"select {quote_identifier(curve['value'])} as v from main.{quote_identifier(name)}{where}"
            ).fetchnumpy()["v"]
            pictures[curve["name"]] = value_concentration_png(values.astype(float))
        trend = table.trend if isinstance(table, PublishedTable) else None
        if trend:
            rows = con.execute(
                f"select {quote_identifier(trend['date'])}, {quote_identifier(trend['by'])}, "
                f"{quote_identifier(trend['value'])} from main.{quote_identifier(name)} order by 1, 2"
            ).fetchall()
            if len({row[0] for row in rows}) >= 2:  # a single night is a point, not a trend
                dates, groups, values = zip(*rows)
                pictures[trend["name"]] = trend_png(
                    dates, groups, values, title=trend.get("title", trend["name"].replace("_", " ")),
                    ylabel=trend.get("ylabel", trend["value"]))
    if model_plots is not None and model_plots.is_dir():
        for png in sorted(model_plots.glob("*.png")):
            pictures[png.stem] = png.read_bytes()
    return pictures


def publish_plots(pictures: dict[str, bytes], serving_path: Path) -> None:
    """The serving publication's PNGs next to it (a plot it does not have is removed)."""
    replace_pngs(plots_dir(serving_path), pictures)
