"""Rollback: serve an earlier version again, rebuilt from its snapshot.

The snapshot's checksums are verified before anything is built; the new serving file is
built beside the old one and renamed over it, exactly as a publication is, and the
`publication_log` carried over gains a `rollback` row naming the version restored.
"""

from __future__ import annotations

from decimal import Decimal
from pathlib import Path

import duckdb

from ..core.clock import utc_now
from ..core.files import replace_durably
from ..core.sql import quote_identifier, quote_literal
from .publication_log import ROLLBACK, LogEntry, append_log, carry_over_log, log_measures, save_log_copy, set_aside_if_damaged
from .serving import Publication, building, publication_lock, publish_plots
from .serving_format import comment_table, create_serving_file
from .versions import SnapshotError, read_version, verify_version


def rollback(serving_path: Path, publication_id: str, *, run_id: str | None = None) -> Publication:
    """Make version `publication_id` the serving publication; refuse a damaged snapshot."""
    published_at = utc_now()
    log_id = run_id or f"rollback-{published_at:%Y%m%dT%H%M%S%f}"
    with publication_lock(serving_path):  # retention can't delete the version while it is read
        version = read_version(serving_path, publication_id)
        verify_version(version)
        recovered = set_aside_if_damaged(serving_path, published_at)
        tables = version.manifest["tables"]
        with building(serving_path, log_id) as staging:
            con = create_serving_file(staging)
            try:
                for name, table in tables.items():
                    # the column types recorded at publication, not Parquet's reading of them
                    columns = ", ".join(
                        f"cast({quote_identifier(column)} as {data_type}) as {quote_identifier(column)}"
                        for column, data_type in table["columns"]
                    )
                    con.execute(
                        f"create table main.{quote_identifier(name)} as select {columns} "
                        f"from read_parquet({quote_literal(version.path / table['file'])})"
                    )
                    comment_table(con, name, table.get("comment"), table.get("column_comments") or {})
                    rows = con.execute(f"select count(*) from main.{quote_identifier(name)}").fetchall()[0][0]
                    if rows != table["rows"]:
                        raise SnapshotError(f"{version.path / table['file']} holds {rows} rows, its manifest says {table['rows']}")
                counts = {name: table["rows"] for name, table in tables.items()}
                headline = _headline(con, version.manifest)
                customers, revenue = headline["customers"], headline["net_revenue_total"]
                carry_over_log(con, serving_path)
                append_log(con, LogEntry(log_id, version.as_of_date, published_at, run_id, counts, customers, revenue,
                                         ROLLBACK, publication_id))
                con.execute("checkpoint")
            finally:
                con.close()
            replace_durably(staging, serving_path)
            save_log_copy(serving_path)
        pictures = {
            name: (version.path / plot["file"]).read_bytes() for name, plot in version.manifest.get("plots", {}).items()
        }
        publish_plots(pictures, serving_path)
    return Publication(
        serving_path, version.as_of_date, published_at, counts, int(customers or 0), float(revenue or 0),
        publication_id=log_id, version_path=version.path, served=True, serving_as_of_date=version.as_of_date,
        plots=pictures, recovered=recovered,
    )


def _headline(con: duckdb.DuckDBPyConnection, manifest: dict) -> dict:
    """The log's headline numbers for the restored tables: the measures the publication
    recorded, evaluated again (exact decimals); a snapshot from before measures were
    recorded gives the numbers its manifest kept."""
    if "log_measures" in manifest:
        return log_measures(con, {column: tuple(measure) for column, measure in manifest["log_measures"].items()})
    revenue = manifest.get("net_revenue_total")
    return {"customers": manifest.get("customers"),
            "net_revenue_total": None if revenue is None else Decimal(f"{revenue:.2f}")}
