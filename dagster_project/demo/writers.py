"""Writing the sources: the commerce SQLite database, CRM CSV drops, JSON Lines exports.

SQLite is written in bulk (journal and sync off while generating, one transaction per
table, `executemany` over rendered column chunks) and set back to a normal journal at
the end. Columns are declared TEXT / NUMERIC / INTEGER in the contract's order, so a bad
row can hold an unparseable value such as `'12,5x'`; money is stored as 2-decimal
numbers (fx rates 6 decimals), timestamps as ISO-8601 text.
"""

from __future__ import annotations

import csv
import json
import sqlite3
from pathlib import Path

from ..core.contract import COMMERCE_ENTITIES, Entity
from .columns import Table

CHUNK_ROWS = 200_000
SQLITE_FILE = "commerce.sqlite"

_SQLITE_TYPES = {"text": "TEXT", "timestamp": "TEXT", "date": "TEXT", "decimal": "NUMERIC", "integer": "INTEGER",
                 "boolean": "INTEGER"}


def ddl(entity: Entity) -> str:
    columns = ", ".join(f'"{c.name}" {_SQLITE_TYPES[c.kind]}' for c in entity.columns)
    return f'CREATE TABLE IF NOT EXISTS "{entity.name}" ({columns})'


def index_ddl(entity: Entity) -> list[str]:
    """The key as a unique index (NULL keys allowed: a row whose fault is a missing key fits)
    and an index on the `updated_at` cursor. Built after the bulk load: faster than
    maintaining them row by row."""
    key = ", ".join(f'"{k}"' for k in entity.key)
    statements = [f'CREATE UNIQUE INDEX IF NOT EXISTS "pk_{entity.name}" ON "{entity.name}" ({key})']
    if entity.cursor:
        statements.append(
            f'CREATE INDEX IF NOT EXISTS "ix_{entity.name}_{entity.cursor}" ON "{entity.name}" ("{entity.cursor}")'
        )
    return statements


def open_database(path: Path, *, bulk: bool) -> sqlite3.Connection:
    """Open (creating the tables); `bulk`: journal and sync off, indexes built by close_database."""
    con = sqlite3.connect(path, isolation_level=None)
    if bulk:
        con.execute("PRAGMA journal_mode=OFF")
        con.execute("PRAGMA synchronous=OFF")
    con.execute("PRAGMA cache_size=-200000")
    for entity in COMMERCE_ENTITIES:
        con.execute(ddl(entity))
        if not bulk:
            for statement in index_ddl(entity):
                con.execute(statement)
    return con


def close_database(con: sqlite3.Connection) -> None:
    """Build the indexes, and go back to a normal journal (rollback journal, full sync)."""
    for entity in COMMERCE_ENTITIES:
        for statement in index_ddl(entity):
            con.execute(statement)
    con.execute("PRAGMA journal_mode=DELETE")
    con.execute("PRAGMA synchronous=FULL")
    con.close()


def insert_table(con: sqlite3.Connection, entity: Entity, table: Table) -> int:
    """Insert every row of `table` (columns in the contract's order) in one transaction."""
    names = list(table.columns)
    if names != entity.column_names:
        raise ValueError(f"{entity.name}: columns {names} differ from the contract {entity.column_names}")
    sql = f'INSERT INTO "{entity.name}" VALUES ({", ".join("?" * len(names))})'
    n = len(table)
    con.execute("BEGIN")
    try:
        for lo in range(0, n, CHUNK_ROWS):
            con.executemany(sql, zip(*table.render(lo, min(n, lo + CHUNK_ROWS))))
        con.execute("COMMIT")
    except BaseException:
        con.execute("ROLLBACK")
        raise
    return n


def insert_rows(con: sqlite3.Connection, entity: Entity, rows: list[tuple]) -> int:
    if rows:
        sql = f'INSERT INTO "{entity.name}" VALUES ({", ".join("?" * len(entity.columns))})'
        con.execute("BEGIN")
        con.executemany(sql, rows)
        con.execute("COMMIT")
    return len(rows)


def update_rows(con: sqlite3.Connection, entity: Entity, columns: list[str], rows: list[tuple]) -> int:
    """UPDATE `columns` of existing rows; each row is (*new values, *key values)."""
    if not rows:
        return 0
    where = " AND ".join(f'"{k}" = ?' for k in entity.key)
    assignments = ", ".join(f'"{c}" = ?' for c in columns)
    sql = f'UPDATE "{entity.name}" SET {assignments} WHERE {where}'
    con.execute("BEGIN")
    con.executemany(sql, rows)
    con.execute("COMMIT")
    return len(rows)


# --------------------------------------------------------------------------- file drops


def _csv_value(value, kind: str) -> str:
    if value is None:
        return ""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, float) and kind == "decimal":
        return f"{value:.2f}"
    return str(value)


def write_csv(path: Path, entity: Entity, table: Table) -> int:
    """Header row with the contract's columns, `true`/`false` booleans, empty cell = null."""
    kinds = [c.kind for c in entity.columns]
    columns = table.render(0, len(table))
    with open(path, "w", newline="", encoding="utf-8") as handle:
        writer = csv.writer(handle, lineterminator="\n")
        writer.writerow(entity.column_names)
        for row in zip(*columns):
            writer.writerow([_csv_value(v, k) for v, k in zip(row, kinds)])
    return len(table)


def write_jsonl(path: Path, entity: Entity, table: Table) -> int:
    """One JSON object per line with the contract's field names, null as JSON null."""
    names = entity.column_names
    columns = table.render(0, len(table))
    with open(path, "w", encoding="utf-8", newline="\n") as handle:
        for row in zip(*columns):
            handle.write(json.dumps(dict(zip(names, row)), ensure_ascii=False))
            handle.write("\n")
    return len(table)


def write_drop(path: Path, entity: Entity, table: Table) -> int:
    if list(table.columns) != entity.column_names:
        raise ValueError(f"{entity.name}: columns {list(table.columns)} differ from the contract")
    return (write_csv if entity.file_format == "csv" else write_jsonl)(path, entity, table)
