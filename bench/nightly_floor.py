"""The floors the nightly pipeline is measured against (run by bench/nightly_benchmark.py).

    python bench/nightly_floor.py sql --db COPY.duckdb --as-of D
        bench/customer_value_floor.sql on a copy of the pipeline's working DuckDB (its raw.* and
        clv.* tables), then a value-for-value comparison with the pipeline's marts.customer_value.
    python bench/nightly_floor.py e2e --sources DIR --predictions-from COPY.duckdb --out DIR --as-of D
        the same sources loaded straight into a new DuckDB file with no validation (SQLite through
        ADBC -> Arrow -> DuckDB; landing CSV / JSON Lines through read_csv / read_json), the same
        SQL, the result copied into a new DuckDB file.

Each prints one JSON object as its last line of output. Both connections get the pipeline's
DuckDB memory limit, so the floor has no more memory to work with than dbt has.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from contextlib import contextmanager
from pathlib import Path

import duckdb

BENCH_DIR = Path(__file__).resolve().parent
PROJECT_ROOT = BENCH_DIR.parent
FLOOR_SQL = BENCH_DIR / "customer_value_floor.sql"
FLOOR_TABLE = "floor.customer_value"
PIPELINE_TABLE = "marts.customer_value"
CLV_TABLES = ("purchase_predictions", "order_value_predictions", "model_fits")
# doubles are compared within this relative tolerance; everything else exactly
DOUBLE_TOLERANCE = 1e-9
ADBC_BATCH_ROWS = 500_000

sys.path.insert(0, str(PROJECT_ROOT))
from dagster_project.core import contract as C  # noqa: E402  (the source contract, as data)


@contextmanager
def timed(timings: dict, name: str):
    started = time.perf_counter()
    yield
    timings[name] = time.perf_counter() - started


def connect(path: Path, memory_limit: str) -> duckdb.DuckDBPyConnection:
    con = duckdb.connect(str(path), config={"memory_limit": memory_limit})
    con.execute("set TimeZone = 'UTC'")  # as the pipeline's connections
    return con


def run_floor_sql(con: duckdb.DuckDBPyConnection, as_of: str, base_currency: str) -> float:
    """Run the floor script as it stands in the file; seconds."""
    con.execute("set variable as_of_date = cast(? as date)", [as_of])
    con.execute("set variable base_currency = ?", [base_currency])
    script = FLOOR_SQL.read_text(encoding="utf-8")
    started = time.perf_counter()
    con.execute(script)  # several statements: DuckDB runs them all
    return time.perf_counter() - started


# --------------------------------------------------------------------------- verification


def _columns(con, table: str) -> dict[str, str]:
    """{column: type} of `[catalog.]schema.table`."""
    *catalog, schema, name = table.split(".")
    in_catalog = " and database_name = ?" if catalog else ""
    return dict(con.execute(
        "select column_name, data_type from duckdb_columns() where schema_name = ? and table_name = ?"
        f"{in_catalog} order by column_index", [schema, name, *catalog]).fetchall())


def _is_numeric(sql_type: str) -> bool:
    return sql_type.startswith(("DECIMAL", "DOUBLE", "INTEGER", "BIGINT", "HUGEINT", "FLOAT"))


def _aggregates(con, table: str, columns: dict[str, str]) -> dict[str, dict]:
    """Per column: non-null count, and the sum (numbers) or distinct count (everything else)."""
    exprs = []
    for name, sql_type in columns.items():
        q = f'"{name}"'
        second = f"cast(sum({q}) as double)" if _is_numeric(sql_type) else (
            f"sum(cast({q} as integer))" if sql_type == "BOOLEAN" else f"count(distinct {q})")
        exprs += [f"count({q})", second]
    row = con.execute(f"select count(*), {', '.join(exprs)} from {table}").fetchone()
    label = {True: "sum", False: "distinct"}
    out = {"_rows": row[0]}
    for i, (name, sql_type) in enumerate(columns.items()):
        kind = "true" if sql_type == "BOOLEAN" else label[_is_numeric(sql_type)]
        out[name] = {"non_null": row[1 + 2 * i], kind: row[2 + 2 * i]}
    return out


def _differs(name: str, sql_type: str) -> str:
    f, p = f'f."{name}"', f'p."{name}"'
    if sql_type == "DOUBLE":
        tolerance = f"abs({f} - {p}) > {DOUBLE_TOLERANCE} * greatest(1, abs({p}))"
        return f"(({f} is null) <> ({p} is null) or {tolerance})"
    return f"{f} is distinct from {p}"


def compare(con, floor_table: str = FLOOR_TABLE, pipeline_table: str = PIPELINE_TABLE) -> dict:
    """The floor against the pipeline: types, row counts, per-column aggregates, and rows that differ.

    Rows are matched on customer_key (a full join: a customer missing on one side differs in
    every column). A column differs when its type, its aggregates or any row's value differ.
    """
    pipeline, floor = _columns(con, pipeline_table), _columns(con, floor_table)
    type_differences = {n: [floor.get(n), t] for n, t in pipeline.items() if floor.get(n) != t}
    shared = {n: t for n, t in pipeline.items() if n in floor}
    counts = ", ".join(f"count(*) filter (where {_differs(n, t)})" for n, t in shared.items() if n != "customer_key")
    keys_missing = con.execute(
        f"select count(*) filter (where f.customer_key is null), count(*) filter (where p.customer_key is null), "
        f"{counts} from {floor_table} f full join {pipeline_table} p on f.customer_key = p.customer_key"
    ).fetchone()
    rows_differing = dict(zip([n for n in shared if n != "customer_key"], keys_missing[2:]))
    agg_floor, agg_pipeline = _aggregates(con, floor_table, shared), _aggregates(con, pipeline_table, shared)
    differing = {}
    for name in pipeline:
        aggregates_differ = name in shared and not _same_aggregates(agg_floor[name], agg_pipeline[name])
        if name in type_differences or aggregates_differ or rows_differing.get(name):
            differing[name] = {
                "rows_differing": rows_differing.get(name),
                "floor": agg_floor.get(name), "pipeline": agg_pipeline.get(name),
                "types": type_differences.get(name),
            }
    matches = not differing and agg_floor["_rows"] == agg_pipeline["_rows"] and not any(keys_missing[:2])
    return {
        "matches": matches,
        "rows": {"floor": agg_floor["_rows"], "pipeline": agg_pipeline["_rows"]},
        "keys_only_in_pipeline": keys_missing[0], "keys_only_in_floor": keys_missing[1],
        "columns_compared": len(pipeline),
        "differing_columns": differing,
        "aggregates": {"floor": agg_floor, "pipeline": agg_pipeline},
    }


def _same_aggregates(a: dict, b: dict) -> bool:
    for key, value in a.items():
        other = b.get(key)
        if isinstance(value, float) and isinstance(other, float):
            if abs(value - other) > DOUBLE_TOLERANCE * max(1.0, abs(other)):
                return False
        elif value != other:
            return False
    return True


# --------------------------------------------------------------------------- end-to-end loading


def _typed(column: C.Column, name: str) -> str:
    """The cast of a text value to its raw type, no questions asked: what can't be cast is null.

    Timestamps with an offset become UTC, as extraction stores them (the demo writes some).
    """
    value = f'"{name}"'
    if column.kind == "text":
        return value
    if column.kind == "timestamp":
        return f"cast(timezone('UTC', try_cast({value} as timestamptz)) as timestamp)"
    return f"try_cast({value} as {column.storage_type})"


def _typed_select(entity: C.Entity, relation: str, *, latest_version: bool) -> str:
    columns = ", ".join(f'{_typed(c, c.name)} as "{c.name}"' for c in entity.columns)
    select = f"select {columns}, filename from {relation}" if latest_version else f"select {columns} from {relation}"
    if not latest_version:
        return select
    # Files are exports that overlap: the latest version of a key wins (ties: the later file), as
    # extraction's merge does. Nothing else is checked.
    keys = ", ".join(f'"{k}"' for k in entity.key)
    return (f"select * exclude (filename) from ({select}) "
            f"qualify row_number() over (partition by {keys} order by \"{entity.cursor}\" desc nulls last, "
            f"filename desc) = 1")


def load_commerce(con, sqlite_path: Path) -> None:
    """Every commerce table through ADBC as Arrow batches, streamed into a typed DuckDB table."""
    import adbc_driver_sqlite.dbapi as adbc

    with adbc.connect(str(sqlite_path)) as sqlite, sqlite.cursor() as cursor:
        for entity in C.COMMERCE_ENTITIES:
            # text first, as extraction reads them: SQLite types per value, and a stray '12,5x' in a
            # number column would stop a typed read
            select = ", ".join(f'cast("{c}" as text) as "{c}"' for c in entity.column_names)
            # big batches, as extraction reads them (the driver's default is 1,024 rows)
            cursor.adbc_statement.set_options(**{"adbc.sqlite.query.batch_rows": str(ADBC_BATCH_ROWS)})
            cursor.execute(f'select {select} from "{entity.name}"')
            batches = cursor.fetch_record_batch()
            con.register("_batches", batches)
            con.execute(f"create or replace table raw.{entity.raw_table} as "
                        f"{_typed_select(entity, '_batches', latest_version=False)}")
            con.unregister("_batches")


def load_files(con, landing_dir: Path) -> None:
    """Every drop of each file entity in one read_csv / read_json call, typed, latest version per key."""
    for entity in C.FILE_ENTITIES:
        files = sorted(landing_dir.glob(f"{entity.file_prefix}_*.{entity.file_format}"))
        names = "[" + ", ".join(f"'{f}'" for f in files) + "]"
        if entity.file_format == "csv":
            # the dialect spelled out: sniffing a sample without quotes would read '"200,00"' as two fields
            relation = (f"read_csv({names}, header = true, delim = ',', quote = '\"', escape = '\"', "
                        "all_varchar = true, filename = true)")
        else:
            columns = "{" + ", ".join(f"'{c}': 'VARCHAR'" for c in entity.column_names) + "}"
            relation = (f"read_json({names}, format = 'newline_delimited', columns = {columns}, "
                        "filename = true)")
        con.execute(f"create or replace table raw.{entity.raw_table} as "
                    f"{_typed_select(entity, relation, latest_version=True)}")


def copy_predictions(con, pipeline_db: Path) -> None:
    """The CLV model's outputs, copied from the pipeline: the fit is Python, not part of the floor."""
    con.execute(f"attach '{pipeline_db}' as pipeline (read_only)")
    con.execute("create schema if not exists clv")
    for table in CLV_TABLES:
        con.execute(f"create or replace table clv.{table} as select * from pipeline.clv.{table}")


def publish(con, serving: Path) -> None:
    """The floor of publication: the result copied into a new DuckDB file, made durable."""
    serving.unlink(missing_ok=True)
    con.execute(f"attach '{serving}' as serving")
    con.execute(f"create table serving.customer_value as select * from {FLOOR_TABLE}")
    con.execute("detach serving")  # checkpoints the new file


def end_to_end(sources: Path, pipeline_db: Path, out: Path, as_of: str, memory_limit: str, base_currency: str
               ) -> dict:
    out.mkdir(parents=True, exist_ok=True)
    working = out / "floor_working.duckdb"
    working.unlink(missing_ok=True)
    timings: dict[str, float] = {}
    con = connect(working, memory_limit)
    try:
        con.execute("create schema raw")
        with timed(timings, "load_commerce"):
            load_commerce(con, sources / "commerce.sqlite")
        with timed(timings, "load_files"):
            load_files(con, sources / "landing")
        with timed(timings, "copy_predictions"):
            copy_predictions(con, pipeline_db)
        timings["sql"] = run_floor_sql(con, as_of, base_currency)
        with timed(timings, "publish"):
            publish(con, out / "floor_serving.duckdb")
        # not a verification (unvalidated rows are in), but how far apart the two results are
        comparison = compare(con, FLOOR_TABLE, f"pipeline.{PIPELINE_TABLE}")
        raw_rows = {e.raw_table: con.execute(f"select count(*) from raw.{e.raw_table}").fetchone()[0]
                    for e in C.ALL_ENTITIES}
    finally:
        con.close()
    return {"seconds": timings, "raw_rows": raw_rows, "comparison": _summary(comparison)}


def _summary(comparison: dict) -> dict:
    """What the end-to-end floor's difference is made of, without the full aggregates."""
    return {
        "rows": comparison["rows"],
        "differing_columns": {n: d["rows_differing"] for n, d in comparison["differing_columns"].items()},
        "net_revenue": {side: comparison["aggregates"][side]["net_revenue"]["sum"] for side in ("floor", "pipeline")},
    }


def sql_floor(db: Path, as_of: str, memory_limit: str, base_currency: str) -> dict:
    con = connect(db, memory_limit)
    try:
        seconds = run_floor_sql(con, as_of, base_currency)
        started = time.perf_counter()
        comparison = compare(con)
        return {"seconds": seconds, "compare_seconds": time.perf_counter() - started, "comparison": comparison}
    finally:
        con.close()


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    commands = parser.add_subparsers(dest="command", required=True)
    sql = commands.add_parser("sql", help="the SQL floor on a copy of the working DuckDB, verified")
    sql.add_argument("--db", type=Path, required=True)
    e2e = commands.add_parser("e2e", help="load the sources without validation + the SQL floor + publish")
    e2e.add_argument("--sources", type=Path, required=True, help="folder with commerce.sqlite and landing/")
    e2e.add_argument("--predictions-from", type=Path, required=True, help="a copy of the pipeline's working DuckDB")
    e2e.add_argument("--out", type=Path, required=True)
    for command in (sql, e2e):
        command.add_argument("--as-of", required=True)
        command.add_argument("--memory-limit", default="2GB")
        command.add_argument("--base-currency", default="USD")
    args = parser.parse_args(argv)
    if args.command == "sql":
        result = sql_floor(args.db, args.as_of, args.memory_limit, args.base_currency)
    else:
        result = end_to_end(args.sources, args.predictions_from, args.out, args.as_of, args.memory_limit,
                            args.base_currency)
    print(json.dumps(result, default=str))
    return 0


if __name__ == "__main__":
    sys.exit(main())
