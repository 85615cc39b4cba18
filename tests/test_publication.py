"""Versioned publication, retention, rollback and backfills: real DuckDB files and Dagster runs."""

from __future__ import annotations

import csv
import hashlib
import json
import logging
import shutil
import subprocess
import sys
from datetime import date
from pathlib import Path

import dagster as dg
import duckdb
import pytest

from dagster_project.cli import main
from dagster_project.publish.rollback import rollback
from dagster_project.publish.serving import publish
from dagster_project.publish.versions import SnapshotError, list_versions, read_version, versions_dir
from dagster_project.settings import settings_from_env

from .conftest import DEMO_AS_OF, query

TABLES = {"customer_value": "marts.customer_value", "clv_model": "marts.clv_model"}
SERVING_ASSET = dg.AssetKey(["published", "serving_database"])


def sha256(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def small_warehouse(path: Path, as_of: str, customers: int) -> Path:
    """Two marts shaped like the real ones (as_of_date, keys, decimals), `customers` rows."""
    with duckdb.connect(str(path)) as con:
        con.execute("create schema if not exists marts")
        con.execute(
            f"""create or replace table marts.customer_value as
            select i as customer_key, date '{as_of}' as as_of_date, cast(i * 10.25 as decimal(18, 2)) as net_revenue,
                   cast(i * 3.5 as decimal(18, 2)) as gross_margin, cast(i % 4 as integer) as orders_count,
                   i % 2 = 0 as is_at_risk, 'customer ' || i as first_name
            from range({customers}) r(i) order by customer_key"""
        )
        con.execute(
            f"""create or replace table marts.clv_model as
            select date '{as_of}' - cast(d as integer) as as_of_date, 0.25 + d / 100 as r, 'converged' as status
            from range(3) r(d) order by as_of_date"""
        )
    return path


def publish_small(tmp_path: Path, run_id: str, as_of: str, customers: int = 20, **options):
    warehouse = small_warehouse(tmp_path / "warehouse.duckdb", as_of, customers)
    return publish(warehouse, tmp_path / "serving" / "customer_value.duckdb", TABLES, run_id=run_id, **options)


def table_rows(database: Path, table: str) -> list[tuple]:
    return query(database, f"select * from {table}")


def parquet_rows(file: Path) -> list[tuple]:
    with duckdb.connect() as con:
        return con.execute(f"select * from read_parquet('{file}')").fetchall()


def column_types(database: Path, table: str) -> list[list[str]]:
    return [list(c) for c in query(
        database, "select column_name, data_type from duckdb_columns() where table_name = ? order by column_index", [table]
    )]


def last_log_row(serving: Path) -> dict:
    with duckdb.connect(str(serving), read_only=True) as con:
        cursor = con.execute("select * from publication_log order by rowid desc limit 1")
        names = [d[0] for d in cursor.description]
        return dict(zip(names, cursor.fetchall()[0]))


def assert_serves_exactly(serving: Path, version_path: Path) -> None:
    manifest = json.loads((version_path / "manifest.json").read_text())
    served_tables = {t for (t,) in query(serving, "select table_name from duckdb_tables()")} - {"publication_log"}
    assert served_tables == set(manifest["tables"])
    for name, table in manifest["tables"].items():
        assert table_rows(serving, name) == parquet_rows(version_path / table["file"]), name
        assert column_types(serving, name) == table["columns"], name


# (a) a complete snapshot per publication

def test_a_publication_writes_a_complete_snapshot_matching_the_serving_tables(tmp_path):
    checks = [{"name": "customer_value_expectations", "asset": "marts/customer_value", "passed": True}]
    publication = publish_small(tmp_path, "run-1", "2026-06-30", checks=checks)

    serving = publication.path
    version = publication.version_path
    assert version == versions_dir(serving) / "run-1" and publication.served
    manifest = json.loads((version / "manifest.json").read_text())
    assert (manifest["publication_id"], manifest["run_id"], manifest["as_of_date"]) == ("run-1", "run-1", "2026-06-30")
    assert manifest["published_at"] and manifest["checks"] == checks
    for name, table in manifest["tables"].items():
        assert sha256(version / table["file"]) == table["sha256"]
        assert manifest["row_counts"][name] == table["rows"] == query(serving, f"select count(*) from {name}")[0][0]
    assert manifest["row_counts"] == {"clv_model": 3, "customer_value": 20}
    assert_serves_exactly(serving, version)
    assert not [p for p in versions_dir(serving).iterdir() if p.name.startswith(".")]  # no partial snapshot left
    row = last_log_row(serving)
    assert (row["publication_id"], row["kind"], row["version"], row["run_id"]) == ("run-1", "publish", "run-1", "run-1")


def test_the_nightly_publication_keeps_a_verified_snapshot_with_the_runs_checks(published):
    serving = settings_from_env().serving_path
    version = read_version(serving, published.run_id)
    recorded = {(c["asset"], c["name"]): c["passed"] for c in version.manifest["checks"]}
    assert recorded == {
        (e.asset_key.to_user_string(), e.check_name): e.passed for e in published.get_asset_check_evaluations()
    }
    assert recorded[("marts/customer_value", "customer_value_expectations")] is True
    assert all(c["passed"] for c in version.manifest["checks"] if c["severity"] == "ERROR")
    assert {"value_concentration", "calibration_holdout"} <= set(version.manifest["plots"])
    for entry in [*version.manifest["tables"].values(), *version.manifest["plots"].values()]:
        assert sha256(version.path / entry["file"]) == entry["sha256"]
    # whichever nightly publication serves now (other tests publish again), its snapshot is it
    serving_version = last_log_row(serving)["version"]
    assert_serves_exactly(serving, read_version(serving, serving_version).path)



def test_bi_tools_read_the_serving_file_through_duckdb_engine_read_only(published):
    """The README's SQLAlchemy URL, as Superset or Metabase would use it: reads, never writes."""
    import sqlalchemy

    serving = settings_from_env().serving_path
    # one process may not hold the file under two configurations: count first, then connect
    published_customers = query(serving, "select count(*) from customer_value")[0][0]
    published_columns = {
        table: [column for (column,) in query(serving, "select column_name from duckdb_columns() "
                                                       "where table_name = ? order by column_index", [table])]
        for (table,) in query(serving, "select table_name from duckdb_tables() order by 1")}
    engine = sqlalchemy.create_engine(f"duckdb:///{serving}?access_mode=read_only")
    try:
        with engine.connect() as connection:
            inspector = sqlalchemy.inspect(connection)
            tables = set(inspector.get_table_names())
            assert {"customer_value", "customer_cards", "at_risk_customers", "value_segment_summary",
                    "clv_model", "clv_holdout", "publication_log", "customer_moments", "customer_equity"} <= tables
            # what a BI tool's schema browser does: every table's columns, as published
            for table, columns in published_columns.items():
                assert [column["name"] for column in inspector.get_columns(table)] == columns, table
            customers = connection.execute(sqlalchemy.text("select count(*) from customer_value")).scalar()
            assert customers == published_customers > 0
            with pytest.raises(sqlalchemy.exc.DBAPIError, match="read-only"):
                connection.execute(sqlalchemy.text("create table scratch as select 1 as x"))
    finally:
        engine.dispose()

def test_the_newest_duckdb_cli_on_the_index_opens_the_serving_file(published):
    """DuckDB 2.x writes a storage format DuckDB 1.x readers cannot open; the serving file is
    written in v1.0.0's, which the DuckDB CLI (1.5) and the drivers BI tools embed read."""
    cli = Path(sys.executable).with_name("duckdb")
    serving = settings_from_env().serving_path
    completed = subprocess.run(
        [str(cli), "-readonly", "-csv", "-noheader", str(serving), "-c",
         "select version(), (select count(*) from customer_value), "
         "(select comment from duckdb_tables() where table_name = 'customer_value')"],
        capture_output=True, text=True, timeout=60)
    assert completed.returncode == 0, completed.stderr
    version, customers, comment = next(csv.reader([completed.stdout.strip()]))
    assert version.startswith("v1.") and int(customers) == query(serving, "select count(*) from customer_value")[0][0]
    assert comment.startswith("One row per customer")


def test_every_published_table_and_column_carries_its_dbt_description(published):
    from dagster_project.core.dbt_manifest import load_manifest, published_tables
    from dagster_project.defs.dbt_project import dbt_project
    from dagster_project.publish.serving_format import descriptions_of

    serving = settings_from_env().serving_path
    comments = dict(query(serving, "select table_name, comment from duckdb_tables()"))
    column_comments = {(t, c): text for t, c, text in query(
        serving, "select table_name, column_name, comment from duckdb_columns()")}
    for name, table in published_tables(load_manifest(dbt_project().manifest_path)).items():
        description, columns = descriptions_of(table.props)
        assert description and comments[name] == description, name
        published = {c for t, c in column_comments if t == name}
        assert set(columns) == published, name  # every published column is documented in dbt
        assert all(column_comments[(name, c)] == text for c, text in columns.items()), name


# (b) deterministic snapshots

def test_the_same_sources_published_twice_give_byte_identical_parquet(published, tmp_path):
    from dagster_project.defs.dbt_project import dbt_project
    from dagster_project.defs.keys import published_models

    shutil.copy(settings_from_env().warehouse_path, tmp_path / "warehouse.duckdb")
    tables = {name: table for name, (_, table) in published_models(dbt_project().manifest_path).items()}
    first, second = (
        publish(tmp_path / "warehouse.duckdb", tmp_path / "serving.duckdb", tables, run_id=run_id)
        for run_id in ("first", "second")
    )
    sums = [{name: t["sha256"] for name, t in read_version(tmp_path / "serving.duckdb", p.publication_id).manifest["tables"].items()}
            for p in (first, second)]
    assert set(sums[0]) == set(tables) and "publication_log" not in sums[0]
    assert sums[0] == sums[1]
    assert first.row_counts["customer_value"] > 300


# (c) retention

def test_retention_keeps_the_newest_versions_and_never_the_serving_one(tmp_path):
    for run_id, as_of in (("a", "2026-06-28"), ("b", "2026-06-29"), ("c", "2026-06-30")):
        last = publish_small(tmp_path, run_id, as_of, versions_kept=2)
    serving = last.path
    assert [v.publication_id for v in list_versions(serving)] == ["c", "b"] and last.removed_versions == ["a"]

    rollback(serving, "b")
    (versions_dir(serving) / ".crashed.partial").mkdir()  # debris of a publication that died midway
    (serving.parent / f".{serving.name}.crashed.building").write_bytes(b"half a database")
    for run_id, as_of in (("d", "2026-06-01"), ("e", "2026-06-02")):  # backfills: written, not served
        backfill = publish_small(tmp_path, run_id, as_of, versions_kept=2)
        assert not backfill.served

    assert [v.publication_id for v in list_versions(serving)] == ["e", "d", "b"]  # b serves: kept beyond 2
    assert sorted(p.name for p in versions_dir(serving).iterdir()) == ["b", "d", "e", "publication_log.parquet"]
    assert not list(serving.parent.glob("*.building"))
    assert last_log_row(serving)["version"] == "b"


def test_the_number_of_versions_kept_comes_from_the_environment(monkeypatch):
    monkeypatch.setenv("CVW_PUBLICATION_VERSIONS_KEPT", "3")
    assert settings_from_env().publication_versions_kept == 3
    monkeypatch.delenv("CVW_PUBLICATION_VERSIONS_KEPT")
    assert settings_from_env().publication_versions_kept == 14


# (d) rollback

def test_cli_rollback_lists_versions_and_restores_an_earlier_one_exactly(tmp_path, monkeypatch, capsys):
    publish_small(tmp_path, "old", "2026-06-29", customers=15)
    serving = publish_small(tmp_path, "new", "2026-06-30", customers=25).path
    monkeypatch.setenv("CVW_SERVING_PATH", str(serving))

    assert main(["rollback", "--list"]) == 0
    listing = capsys.readouterr().out
    assert "* new" in listing and "  old" in listing and "as of 2026-06-29" in listing and "customer_value 15" in listing

    assert main(["rollback", "--to", "old"]) == 0
    assert "Serving version old" in capsys.readouterr().out
    assert_serves_exactly(serving, versions_dir(serving) / "old")
    row = last_log_row(serving)
    assert (row["kind"], row["version"], row["as_of_date"], row["run_id"]) == ("rollback", "old", date(2026, 6, 29), None)
    assert json.loads(row["tables"]) == {"clv_model": 3, "customer_value": 15}
    assert query(serving, "select kind, version from publication_log") == [
        ("publish", "old"), ("publish", "new"), ("rollback", "old")]

    assert main(["rollback"]) == 0
    assert "* old" in capsys.readouterr().out
    # the next nightly publication, as of a later date than the one rolled back to, serves again
    assert publish_small(tmp_path, "next", "2026-07-01").served


@pytest.mark.parametrize(
    "damage, named",
    [
        ("flip a byte", "customer_value.parquet"),
        ("delete a table", "clv_model.parquet"),
        ("delete the manifest", "manifest.json"),
    ],
)
def test_a_damaged_snapshot_is_refused_and_the_serving_file_is_left_alone(tmp_path, monkeypatch, capsys, damage, named):
    publish_small(tmp_path, "old", "2026-06-29")
    serving = publish_small(tmp_path, "new", "2026-06-30").path
    old = versions_dir(serving) / "old"
    if damage == "flip a byte":
        data = bytearray((old / named).read_bytes())
        data[len(data) // 2] ^= 0x01
        (old / named).write_bytes(bytes(data))
    else:
        (old / named).unlink()
    monkeypatch.setenv("CVW_SERVING_PATH", str(serving))
    before = sha256(serving)

    assert main(["rollback", "--to", "old"]) == 1

    error = capsys.readouterr().err
    assert "Rollback refused" in error and str(old / named) in error
    assert sha256(serving) == before
    assert not [p for p in serving.parent.iterdir() if p.name.endswith((".building", ".wal"))]


def test_an_unknown_or_unsafe_publication_id_is_refused(tmp_path):
    serving = publish_small(tmp_path, "only", "2026-06-30").path
    with pytest.raises(SnapshotError, match="no version 'missing'.*only"):
        rollback(serving, "missing")
    for unsafe in ("../serving", ".hidden", "a/b", ""):
        with pytest.raises(SnapshotError, match="not a publication id"):
            rollback(serving, unsafe)


def copy_session_serving(tmp_path: Path, monkeypatch) -> Path:
    """The session's serving file and its versions, copied, with CVW_SERVING_PATH pointing at the copy."""
    settings = settings_from_env()
    serving = tmp_path / "serving" / "customer_value.duckdb"
    serving.parent.mkdir()
    shutil.copy(settings.serving_path, serving)
    shutil.copytree(versions_dir(settings.serving_path), versions_dir(serving))
    monkeypatch.setenv("CVW_SERVING_PATH", str(serving))
    return serving


def test_the_rollback_job_restores_the_nightly_version(published, tmp_path, monkeypatch):
    from dagster_project.definitions import defs

    serving = copy_session_serving(tmp_path, monkeypatch)
    later = publish(small_warehouse(tmp_path / "later.duckdb", "2026-07-31", 5), serving, TABLES, run_id="later")
    assert later.served and query(serving, "select count(*) from customer_value")[0][0] == 5
    job = defs().resolve_job_def("rollback")

    def run(publication_id: str) -> dg.ExecuteInProcessResult:
        return job.execute_in_process(
            run_config={"ops": {"rollback_serving_database": {"config": {"publication_id": publication_id}}}},
            instance=dg.DagsterInstance.ephemeral(), raise_on_error=False,
        )

    result = run(published.run_id)

    assert result.success
    assert_serves_exactly(serving, versions_dir(serving) / published.run_id)
    row = last_log_row(serving)
    assert (row["kind"], row["version"], row["run_id"], row["as_of_date"]) == (
        "rollback", published.run_id, result.run_id, date.fromisoformat(DEMO_AS_OF))
    (materialization,) = result.asset_materializations_for_node("rollback_serving_database")
    assert materialization.asset_key == SERVING_ASSET and materialization.partition == DEMO_AS_OF
    assert materialization.metadata["kind"].value == "rollback"
    # the descriptions come back with the data
    assert query(serving, "select comment from duckdb_tables() where table_name = 'customer_value'")[0][0] \
        .startswith("One row per customer")

    before = sha256(serving)
    failed = run("no-such-version")
    assert not failed.success and sha256(serving) == before
    assert any("rollback refused" in e.step_failure_data.error.message and "no-such-version" in e.step_failure_data.error.message
               for e in failed.all_events if e.is_step_failure)


# (e) backfills

def test_a_backfill_writes_its_version_and_serves_only_with_republish(published, tmp_path, monkeypatch):
    from dagster_project.definitions import defs

    settings = settings_from_env()
    shutil.copy(settings.warehouse_path, tmp_path / "warehouse.duckdb")
    monkeypatch.setenv("CVW_WAREHOUSE_PATH", str(tmp_path / "warehouse.duckdb"))
    serving = tmp_path / "serving" / "customer_value.duckdb"
    monkeypatch.setenv("CVW_SERVING_PATH", str(serving))
    # A later night already serves: the warehouse's marts (as of DEMO_AS_OF) are a backfill now.
    publish(small_warehouse(tmp_path / "later.duckdb", "2026-07-31", 5), serving, TABLES, run_id="later")
    before = sha256(serving)
    nightly = defs().resolve_job_def("nightly")
    instance = dg.DagsterInstance.ephemeral()

    def publish_partition(**config) -> dg.ExecuteInProcessResult:
        result = nightly.execute_in_process(
            partition_key=DEMO_AS_OF, asset_selection=[SERVING_ASSET], instance=instance,
            run_config={"ops": {"published__serving_database": {"config": config}}},
        )
        assert result.success
        return result

    backfill = publish_partition()

    (materialization,) = backfill.asset_materializations_for_node("published__serving_database")
    assert materialization.metadata["served"].value is False
    assert materialization.metadata["serving_as_of_date"].value == "2026-07-31"
    assert sha256(serving) == before
    version = read_version(serving, backfill.run_id)
    assert version.as_of_date == date.fromisoformat(DEMO_AS_OF) and version.row_counts["customer_value"] > 300
    warnings = [e.user_message for e in instance.all_logs(backfill.run_id) if e.level == logging.WARNING]
    assert any(f"backfill as of {DEMO_AS_OF}" in w and "2026-07-31" in w for w in warnings)

    republished = publish_partition(republish=True)

    (materialization,) = republished.asset_materializations_for_node("published__serving_database")
    assert materialization.metadata["served"].value is True
    assert_serves_exactly(serving, versions_dir(serving) / republished.run_id)
    assert query(serving, "select version, as_of_date from publication_log") == [
        ("later", date(2026, 7, 31)), (republished.run_id, date.fromisoformat(DEMO_AS_OF))]


def _damage(serving: Path, how: str) -> None:
    data = serving.read_bytes()
    if how == "truncated":
        serving.write_bytes(data[: len(data) // 3])
    elif how == "zeroed header":
        serving.write_bytes(b"\0" * 4096 + data[4096:])
    else:
        serving.write_bytes(b"")


@pytest.mark.parametrize("how", ["truncated", "zeroed header", "empty"])
def test_a_damaged_serving_file_is_set_aside_and_the_next_publication_keeps_the_history(tmp_path, how):
    publish_small(tmp_path, "first", "2026-06-29", customers=15)
    serving = publish_small(tmp_path, "second", "2026-06-30", customers=20).path
    _damage(serving, how)
    damaged = serving.read_bytes()

    third = publish_small(tmp_path, "third", "2026-07-01", customers=25)
    assert third.served and third.recovered and "the serving file was damaged" in third.recovered
    assert query(serving, "select publication_id, kind from publication_log") == [
        ("first", "publish"), ("second", "publish"), ("third", "publish")]
    assert_serves_exactly(serving, versions_dir(serving) / "third")
    # nothing lost: the damaged bytes are kept aside, by name
    (aside,) = serving.parent.glob("customer_value.duckdb.damaged-*")
    assert aside.read_bytes() == damaged
    assert publish_small(tmp_path, "fourth", "2026-07-02").recovered is None  # sound again


def test_rollback_recovers_from_a_damaged_serving_file_and_says_so(tmp_path, monkeypatch, capsys):
    publish_small(tmp_path, "old", "2026-06-29", customers=15)
    serving = publish_small(tmp_path, "new", "2026-06-30", customers=25).path
    _damage(serving, "zeroed header")
    monkeypatch.setenv("CVW_SERVING_PATH", str(serving))

    assert main(["rollback", "--to", "old"]) == 0
    out = capsys.readouterr()
    assert "Recovered: the serving file was damaged" in out.out and "Traceback" not in out.err
    assert_serves_exactly(serving, versions_dir(serving) / "old")
    assert query(serving, "select kind, version from publication_log") == [
        ("publish", "old"), ("publish", "new"), ("rollback", "old")]


def test_a_long_lived_client_sees_each_new_publication_on_its_next_connection(tmp_path):
    """DuckDB keeps one instance per path per process: a plain reconnect while another
    connection stays open (as a pool keeps them) reads the old publication. The readers'
    helpers see the new one, directly and through a pooled SQLAlchemy engine."""
    import sqlalchemy

    from dagster_project.publish.readers import connect_latest, latest_engine

    serving = publish_small(tmp_path, "first", "2026-06-29", customers=15).path
    count = "select count(*) from customer_value"
    held = duckdb.connect(str(serving), read_only=True)  # e.g. a dashboard's open connection
    engine = latest_engine(serving, poolclass=sqlalchemy.pool.QueuePool, pool_size=1)
    with engine.connect() as pooled:
        assert pooled.execute(sqlalchemy.text(count)).scalar() == 15
    publish_small(tmp_path, "second", "2026-06-30", customers=25)

    with duckdb.connect(str(serving), read_only=True) as plain:
        assert plain.execute(count).fetchall() == [(15,)]  # the trap the helpers avoid
    with connect_latest(serving) as latest:
        assert latest.execute(count).fetchall() == [(25,)]
        assert latest.execute("select publication_id from publication_log order by rowid desc limit 1"
                              ).fetchall() == [("second",)]
    with engine.connect() as pooled:  # the same pooled connection, checked out again
        assert pooled.execute(sqlalchemy.text(count)).scalar() == 25
    assert engine.pool.checkedout() == 0 and engine.pool.size() == 1
    # and a SQL tool's inspector finds the tables and their columns through it
    inspector = sqlalchemy.inspect(engine)
    assert {"customer_value", "publication_log"} <= set(inspector.get_table_names())
    assert "net_revenue" in {c["name"] for c in inspector.get_columns("customer_value")}
    held.close()
