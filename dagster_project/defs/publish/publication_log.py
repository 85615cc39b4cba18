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

import duckdb

from .durable import sql_literal

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


def carry_over_log(con: duckdb.DuckDBPyConnection, serving_path: Path) -> None:
    """Create the log in the file being built, with every row of the serving file's log."""
    con.execute(_LOG_DDL)
    if not serving_path.exists():
        return
    con.execute(f"attach {sql_literal(serving_path)} as previous (read_only)")
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


def customers_and_revenue(con: duckdb.DuckDBPyConnection, tables) -> tuple[int | None, Decimal | None]:
    """The log's headline numbers, from the file being built (exact decimals, not floats)."""
    if "customer_value" not in tables:
        return None, None
    customers, revenue = con.execute(
        "select count(*), coalesce(sum(net_revenue), 0) from main.customer_value"
    ).fetchall()[0]
    return int(customers), revenue
