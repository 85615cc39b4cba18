"""What the serving file is on disk, so that the tools a BI user has can open it: DuckDB's
storage format of v1.0.0 (storage version 64), which every DuckDB reader since 0.10 reads —
the DuckDB CLI on a laptop, the DuckDB drivers BI tools embed — where DuckDB 2.x's default
(version 69) opens only in DuckDB 2.x; and each table's and column's dbt description as a
DuckDB comment, so that the description travels with the data."""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path

import duckdb

from ..core.sql import quote_identifier, quote_literal

SERVING_STORAGE_VERSION = "v1.0.0"


def create_serving_file(path: Path) -> duckdb.DuckDBPyConnection:
    """A new serving (or staging) file, written in SERVING_STORAGE_VERSION's format."""
    return duckdb.connect(str(path), config={"storage_compatibility_version": SERVING_STORAGE_VERSION})


def descriptions_of(props: Mapping) -> tuple[str | None, dict[str, str]]:
    """(table description, {column: description}) of a dbt manifest node, blanks left out."""
    columns = {name: " ".join(str(column.get("description") or "").split())
               for name, column in (props.get("columns") or {}).items()}
    table = " ".join(str(props.get("description") or "").split()) or None
    return table, {name: text for name, text in columns.items() if text}


def comment_table(con: duckdb.DuckDBPyConnection, name: str, table: str | None, columns: Mapping[str, str]) -> None:
    """COMMENT ON the table and those of its columns it has (a description of a column the
    table lacks is not an error: the GX suite says which columns it must have)."""
    present = {column for (column,) in con.execute(
        "select column_name from duckdb_columns() where database_name = current_database() "
        "and schema_name = 'main' and table_name = ?", [name]).fetchall()}
    relation = f"main.{quote_identifier(name)}"
    if table:
        con.execute(f"comment on table {relation} is {quote_literal(table)}")
    for column, text in columns.items():
        if column in present:
            con.execute(f"comment on column {relation}.{quote_identifier(column)} is {quote_literal(text)}")


def comments_of(con: duckdb.DuckDBPyConnection, name: str) -> tuple[str | None, dict[str, str]]:
    """The comments a built table carries (for its version snapshot, so a rollback keeps them)."""
    table = con.execute(
        "select comment from duckdb_tables() where database_name = current_database() "
        "and schema_name = 'main' and table_name = ?", [name]).fetchall()
    columns = con.execute(
        "select column_name, comment from duckdb_columns() where database_name = current_database() "
        "and schema_name = 'main' and table_name = ? and comment is not null order by column_index",
        [name]).fetchall()
    return (table[0][0] if table else None), dict(columns)
