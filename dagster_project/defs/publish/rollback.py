"""Rollback: serve an earlier version again, rebuilt from its snapshot.

The snapshot's checksums are verified before anything is built; the new serving file is
built beside the old one and renamed over it, exactly as a publication is, and the
`publication_log` carried over gains a `rollback` row naming the version restored.
"""

from __future__ import annotations

from pathlib import Path

import duckdb

from .durable import publication_lock, replace_durably, sql_identifier, sql_literal
from .publication_log import ROLLBACK, LogEntry, append_log, carry_over_log, customers_and_revenue
from .serving import Publication, building, publish_plots, utc_now
from .versions import SnapshotError, read_version, verify_version


def rollback(serving_path: Path, publication_id: str, *, run_id: str | None = None) -> Publication:
    """Make version `publication_id` the serving publication; refuse a damaged snapshot."""
    published_at = utc_now()
    log_id = run_id or f"rollback-{published_at:%Y%m%dT%H%M%S%f}"
    with publication_lock(serving_path):  # retention can't delete the version while it is read
        version = read_version(serving_path, publication_id)
        verify_version(version)
        tables = version.manifest["tables"]
        with building(serving_path, log_id) as staging:
            con = duckdb.connect(str(staging))
            try:
                for name, table in tables.items():
                    # the column types recorded at publication, not Parquet's reading of them
                    columns = ", ".join(
                        f"cast({sql_identifier(column)} as {data_type}) as {sql_identifier(column)}"
                        for column, data_type in table["columns"]
                    )
                    con.execute(
                        f"create table main.{sql_identifier(name)} as select {columns} "
                        f"from read_parquet({sql_literal(version.path / table['file'])})"
                    )
                    rows = con.execute(f"select count(*) from main.{sql_identifier(name)}").fetchall()[0][0]
                    if rows != table["rows"]:
                        raise SnapshotError(f"{version.path / table['file']} holds {rows} rows, its manifest says {table['rows']}")
                counts = {name: table["rows"] for name, table in tables.items()}
                customers, revenue = customers_and_revenue(con, tables)
                carry_over_log(con, serving_path)
                append_log(con, LogEntry(log_id, version.as_of_date, published_at, run_id, counts, customers, revenue,
                                         ROLLBACK, publication_id))
                con.execute("checkpoint")
            finally:
                con.close()
            replace_durably(staging, serving_path)
        pictures = {
            name: (version.path / plot["file"]).read_bytes() for name, plot in version.manifest.get("plots", {}).items()
        }
        publish_plots(pictures, serving_path)
    return Publication(
        serving_path, version.as_of_date, published_at, counts, int(customers or 0), float(revenue or 0),
        publication_id=log_id, version_path=version.path, served=True, serving_as_of_date=version.as_of_date,
        plots=pictures,
    )
