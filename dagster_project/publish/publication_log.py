"""`publication_log`: the serving file's own history, carried from each file into the next.

Its last row says what is serving: which version (snapshot directory), as of which date,
and whether a nightly run published it or a rollback restored it.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import date, datetime
from decimal import Decimal
from pathlib import Path
from collections.abc import Mapping
from typing import Any

import duckdb

from ..core.files import replace_durably
from ..core.sql import quote_identifier, quote_literal

PUBLICATION_LOG = "publication_log"
PUBLISH = "publish"
ROLLBACK = "rollback"

_LOG_DDL = f"""
create table {PUBLICATION_LOG} (
    publication_id varchar not null,
    as_of_date date not null,
    published_at timestamp not null,
    run_id varchar,
    tables varchar not null,  -- JSON: {{table: rows}}
    customers bigint,
    net_revenue_total decimal(38, 2),
    kind varchar,  -- publish | rollback
    version varchar  -- the snapshot now serving: versions/<version>/
)"""


@dataclass(frozen=True)
class LogEntry:
    publication_id: str
    as_of_date: date
    published_at: datetime
    run_id: str | None
    row_counts: dict[str, int]
    customers: int | None
    net_revenue_total: Decimal | float | None
    kind: str
    version: str


@dataclass(frozen=True)
class Serving:
    """What the serving file holds, according to its last log row."""

    publication_id: str
    version: str
    as_of_date: date
    kind: str


def log_copy_path(serving_path: Path) -> Path:
    """A copy of the serving file's log kept beside the versions, rewritten after each
    publication and rollback: the history survives a serving file damaged on disk."""
    return serving_path.parent / "versions" / "publication_log.parquet"


def damage_of(serving_path: Path) -> str | None:
    """Why the serving file cannot be opened as a DuckDB database and its log read (None if it
    can, or is absent): what a publication or rollback reads of the previous file."""
    if not serving_path.exists():
        return None
    try:
        with duckdb.connect(str(serving_path), read_only=True) as con:
            has_log = con.execute(
                "select count(*) from duckdb_tables() where schema_name = 'main' and table_name = ?", [PUBLICATION_LOG]
            ).fetchall()[0][0]
            if has_log:
                con.execute(f"select * from {PUBLICATION_LOG}").fetchall()
    except duckdb.Error as error:
        return str(error).strip().splitlines()[0][:300]
    return None


def set_aside_if_damaged(serving_path: Path, now: datetime) -> str | None:
    """A damaged serving file (truncated, zeroed, empty) is renamed aside, never deleted, so
    that the publication or rollback under way can replace it; returns what was done."""
    problem = damage_of(serving_path)
    if problem is None:
        return None
    aside = serving_path.with_name(f"{serving_path.name}.damaged-{now:%Y%m%dT%H%M%S%f}")
    replace_durably(serving_path, aside)
    wal = serving_path.with_name(serving_path.name + ".wal")
    if wal.exists():
        replace_durably(wal, aside.with_name(aside.name + ".wal"))
    source = "its copy beside the versions" if log_copy_path(serving_path).exists() else "nowhere (no copy yet)"
    return (f"the serving file was damaged ({problem}): set aside as {aside.name}; publication_log carried over "
            f"from {source}")


def save_log_copy(serving_path: Path) -> None:
    """Write the serving file's log to its copy (whole or not at all)."""
    copy = log_copy_path(serving_path)
    copy.parent.mkdir(parents=True, exist_ok=True)
    partial = copy.with_name(f".{copy.name}.partial")
    with duckdb.connect(str(serving_path), read_only=True) as con:
        con.execute(f"copy (select * from {PUBLICATION_LOG} order by rowid) to {quote_literal(partial)} (format parquet)")
    replace_durably(partial, copy)


def carry_over_log(con: duckdb.DuckDBPyConnection, serving_path: Path) -> None:
    """Create the log in the file being built, with every row of the serving file's log (or,
    when there is no serving file, of the log's copy beside the versions)."""
    con.execute(_LOG_DDL)
    if not serving_path.exists():
        copy = log_copy_path(serving_path)
        if copy.exists():
            con.execute(f"insert into {PUBLICATION_LOG} by name select * from read_parquet({quote_literal(copy)})")
        return
    con.execute(f"attach {quote_literal(serving_path)} as previous (read_only)")
    try:
        has_log = con.execute(
            "select count(*) from duckdb_tables() where database_name = 'previous' and table_name = ?",
            [PUBLICATION_LOG],
        ).fetchall()[0][0]
        if has_log:
            # by name: logs written before `kind` and `version` existed get nulls there
            con.execute(f"insert into {PUBLICATION_LOG} by name select * from previous.{PUBLICATION_LOG}")
            con.execute(f"update {PUBLICATION_LOG} set kind = '{PUBLISH}' where kind is null")
    finally:
        con.execute("detach previous")


def append_log(con: duckdb.DuckDBPyConnection, entry: LogEntry) -> None:
    con.execute(
        f"insert into {PUBLICATION_LOG} values (?, ?, ?, ?, ?, ?, ?, ?, ?)",
        [entry.publication_id, entry.as_of_date, entry.published_at, entry.run_id,
         json.dumps(entry.row_counts, sort_keys=True), entry.customers, entry.net_revenue_total,
         entry.kind, entry.version],
    )


def serving_now(serving_path: Path) -> Serving | None:
    """The publication the serving file holds, or None when nothing has been published."""
    if not serving_path.exists():
        return None
    with duckdb.connect(str(serving_path), read_only=True) as con:
        columns = {
            name for (name,) in con.execute(
                "select column_name from duckdb_columns() where schema_name = 'main' and table_name = ?",
                [PUBLICATION_LOG],
            ).fetchall()
        }
        if not columns:
            return None
        kind = "coalesce(kind, 'publish')" if "kind" in columns else "'publish'"
        version = "coalesce(version, publication_id)" if "version" in columns else "publication_id"
        # rows are appended in order and copied in order: the last row is the latest
        rows = con.execute(
            f"select publication_id, {version}, as_of_date, {kind} from {PUBLICATION_LOG} order by rowid desc limit 1"
        ).fetchall()
    return Serving(*rows[0]) if rows else None


# The log's headline columns: what a publication's tables say in their `log` measures.
LOG_MEASURE_COLUMNS = ("customers", "net_revenue_total")


def log_measures(con: duckdb.DuckDBPyConnection, measures: Mapping[str, tuple[str, str]]) -> dict[str, Any]:
    """Evaluate {log column: (table, SQL aggregate)} on the file being built (exact decimals,
    not floats); a headline column no table measures stays null."""
    unknown = sorted(set(measures) - set(LOG_MEASURE_COLUMNS))
    if unknown:
        raise ValueError(f"publication_log has no column(s) {unknown}; its headline columns are {LOG_MEASURE_COLUMNS}")
    values: dict[str, Any] = {column: None for column in LOG_MEASURE_COLUMNS}
    for column, (table, aggregate) in measures.items():
        values[column] = con.execute(f"select {aggregate} from main.{quote_identifier(table)}").fetchall()[0][0]
    return values
