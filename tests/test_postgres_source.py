"""The commerce database on a real PostgreSQL server loads exactly the `raw` that SQLite does.

The demo's commerce SQLite file is copied into PostgreSQL (every value as the text SQLite
holds, bad rows included) and both are extracted night after night into warehouses of their
own, the second and third nights from their incremental cursors after the demo business has
lived another day (new orders, changed rows, late refunds). Every raw table, the quarantine,
the cursors and the night's counts must agree; only what records *when* a load ran (its
stamp and run id), the declared column types (text in the copy) and a row's position in
its read (`_source_row`, `source_row`: the order a database returns rows in is its query
plan's, e.g. SQLite walks its `updated_at` index for an incremental read, PostgreSQL its heap)
may differ.
"""

from __future__ import annotations

from datetime import timedelta

import duckdb
import pytest

from dagster_project.core.contract import COMMERCE_ENTITIES
from dagster_project.demo.generator import append_days, generate
from dagster_project.ingest.extract import extract_table

from .postgres_server import copy_sqlite_database

# columns that say when or by which run a row was loaded, not what was loaded
STAMPS = {"_loaded_at", "loaded_at", "run_id", "observed_at", "resolved_run_id", "resolved_at"}
# a row's position in its read, the database's order (a key names the row)
POSITIONS = {"_source_row", "source_row"}
# the source's declared types: text in the copy, NUMERIC or INTEGER in the SQLite file
DECLARED = {"_source_columns"}


def raw_contents(con: duckdb.DuckDBPyConnection) -> dict[str, list[tuple]]:
    contents = {}
    tables = con.execute("select table_name from information_schema.tables where table_schema = 'raw' "
                         "order by table_name").fetchall()
    for (table,) in tables:
        if table in DECLARED:
            continue
        columns = [c for (c,) in con.execute(
            "select column_name from information_schema.columns where table_schema = 'raw' and table_name = ? "
            "order by ordinal_position", [table]).fetchall() if c not in STAMPS | POSITIONS]
        select = ", ".join(f'"{c}"' for c in columns)
        contents[table] = [columns, *con.execute(f'select {select} from raw."{table}" order by all').fetchall()]
    return contents


def extract(con: duckdb.DuckDBPyConnection, url: str, night: int) -> dict[str, tuple]:
    loads = {}
    for entity in COMMERCE_ENTITIES:
        load = extract_table(con, url, entity, base_currency="USD", lookback=timedelta(days=1), run_id=f"night-{night}")
        assert load.problem is None, load.problem
        loads[entity.name] = (load.cursor, load.rows_read, load.rows_changed, load.rows_quarantined)
    return loads


@pytest.fixture(scope="module")
def nights(postgres, tmp_path_factory):
    root = tmp_path_factory.mktemp("postgres-source")
    sources = root / "sources"
    generate(sources, customers=200, years=1, seed=11, end_date="2026-06-30")
    sqlite_url = f"sqlite:///{sources / 'commerce.sqlite'}"
    copy_url = postgres.create_database("commerce")
    postgres_url = postgres.url("commerce", driver="postgresql+psycopg")  # the README's driver
    warehouses = {"sqlite": duckdb.connect(str(root / "from-sqlite.duckdb")),
                  "postgres": duckdb.connect(str(root / "from-postgres.duckdb"))}
    results = []
    try:
        for night in range(3):
            if night:
                append_days(sources, 1)
            copied = copy_sqlite_database(sources / "commerce.sqlite", copy_url)
            loads = {name: extract(con, url, night) for (name, con), url in
                     zip(warehouses.items(), (sqlite_url, postgres_url))}
            results.append({"copied": copied, "loads": loads,
                            "raw": {name: raw_contents(con) for name, con in warehouses.items()}})
    finally:
        for con in warehouses.values():
            con.close()
    return results


def test_postgres_and_sqlite_load_the_same_rows_counts_and_cursors_every_night(nights):
    for night, result in enumerate(nights):
        assert result["loads"]["postgres"] == result["loads"]["sqlite"], night


def test_postgres_and_sqlite_give_the_same_raw_tables_and_quarantine(nights):
    for night, result in enumerate(nights):
        postgres, sqlite = result["raw"]["postgres"], result["raw"]["sqlite"]
        assert postgres.keys() == sqlite.keys()
        different = [table for table in sqlite if postgres[table] != sqlite[table]]
        assert different == [], (night, different)


def test_the_later_nights_read_from_their_cursors_and_the_copy_held_every_row(nights):
    first, *later = nights
    orders = "orders"
    assert first["loads"]["postgres"][orders][0] is None  # the first night reads everything
    for result in later:
        cursor, rows_read, _, _ = result["loads"]["postgres"][orders]
        assert cursor is not None and 0 < rows_read < result["copied"][orders]
    # the raw tables hold the bad rows' neighbours, the quarantine the bad rows themselves
    assert len(nights[-1]["raw"]["postgres"]["_quarantine"]) > 1
    assert len(nights[-1]["raw"]["postgres"]["commerce_orders"]) - 1 > len(first["raw"]["postgres"]["commerce_orders"]) - 1
