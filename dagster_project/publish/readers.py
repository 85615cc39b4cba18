"""How a long-lived Python client (a BI server, a notebook kernel, an API) reads the serving
file so that reconnecting always shows the latest publication.

Each publication renames a new file over the serving path. DuckDB keeps one database
instance per file path within a process: `duckdb.connect(path)` while any other connection
to that path is still open in the process (a SQLAlchemy pool keeps them open) joins the
instance already there, which still reads the file it opened — the previous publication,
however often the client "reconnects". What always sees the latest file is a new in-memory
database with the serving file ATTACHed: the attach opens the path as it is now.

- `connect_latest(path)`: a new connection on the latest publication (close it when done).
- `latest_engine(path)`: a SQLAlchemy engine (duckdb-engine) whose pooled connections
  re-attach the serving file each time they are checked out of the pool, so a pooled BI
  client sees a new publication on its next query, and never half of one.
"""

from __future__ import annotations

from pathlib import Path

import duckdb

from ..core.sql import quote_literal

ALIAS = "serving"


def _attach(con, serving_path: Path) -> None:
    con.execute(f"attach {quote_literal(str(serving_path))} as {ALIAS} (read_only)")
    con.execute(f"use {ALIAS}")


def connect_latest(serving_path: str | Path) -> duckdb.DuckDBPyConnection:
    """A read-only connection on the publication serving now (tables unqualified, as in the file)."""
    con = duckdb.connect(":memory:")
    _attach(con, Path(serving_path))
    return con


def latest_engine(serving_path: str | Path, **engine_options):
    """A SQLAlchemy engine on the serving file whose every checkout sees the latest publication."""
    import sqlalchemy

    path = Path(serving_path)
    engine = sqlalchemy.create_engine("duckdb:///:memory:", **engine_options)

    @sqlalchemy.event.listens_for(engine, "checkout")
    def _reattach(dbapi_connection, connection_record, connection_proxy):  # noqa: ARG001 - SQLAlchemy's signature
        cursor = dbapi_connection.cursor()
        try:
            cursor.execute("use memory")
            cursor.execute("select count(*) from duckdb_databases() where database_name = ?", [ALIAS])
            if cursor.fetchall()[0][0]:
                cursor.execute(f"detach {ALIAS}")
            _attach(cursor, path)
        finally:
            cursor.close()

    return engine
