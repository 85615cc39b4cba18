"""Inputs are checked before any work starts: one clear line, exit code 2, nothing written."""

from __future__ import annotations

import re
from datetime import date, timedelta

import pytest

from dagster_project.cli import as_of_problem, main
from dagster_project.demo import GeneratorError, append_days, generate
from dagster_project.settings import settings_from_env

from .conftest import query


@pytest.mark.parametrize("as_of, says", [
    ("2026/11/30", "must be a date YYYY-MM-DD"),
    ("2026-02-30", "is not a date"),
    (str(date.today()), "after yesterday"),
    ("2019-12-31", "before the first as-of date 2020-01-01"),
])
def test_bad_as_of_dates_are_refused_at_once(as_of, says, capsys, tmp_path, monkeypatch):
    monkeypatch.setenv("CVW_DATA_DIR", str(tmp_path))
    assert main(["run", "--as-of", as_of]) == 2
    err = capsys.readouterr().err
    assert says in err and err.count("\n") == 1 and "Traceback" not in err
    assert not (tmp_path / "logs").exists()  # refused before anything was started


def test_a_good_as_of_date_passes():
    assert as_of_problem(str(date.today() - timedelta(days=1)), "2020-01-01") is None
    assert as_of_problem("2020-01-01", "2020-01-01") is None


def test_the_demo_refuses_to_generate_days_that_are_not_over(tmp_path):
    yesterday = date.today() - timedelta(days=1)
    with pytest.raises(GeneratorError, match="after yesterday"):
        generate(tmp_path / "future", customers=60, years=0.1, end_date=str(date.today()))
    out, told = tmp_path / "sources", []
    generate(out, customers=60, years=0.1, end_date=str(yesterday - timedelta(days=1)), progress=told.append)
    # a long generation tells its phases as they start
    assert any("simulating 60 accounts" in line for line in told) and any("order_lines" in line for line in told)
    manifest = (out / "_generator_manifest.json").read_bytes()
    with pytest.raises(GeneratorError, match="at most 1 more day"):
        append_days(out, 2)
    assert (out / "_generator_manifest.json").read_bytes() == manifest
    assert append_days(out, 1)["last_date"] == str(yesterday)


@pytest.mark.parametrize("url, says", [
    ("not a url", "is not a database URL"),
    ("nosuchdialect://host/db", "knows no such database dialect"),
    ("mssql+pymssql://user@host/db", "driver 'pymssql', which is not installed: pip install 'pymssql'"),
    ("sqlite:////no/such/dir/commerce.sqlite", "which does not exist"),
])
def test_source_configuration_mistakes_are_named(url, says):
    from dagster_project.ingest.database_reader import SourceConfigurationError, check_source_url

    with pytest.raises(SourceConfigurationError, match=re.escape(says)):
        check_source_url(url)


def test_a_configuration_mistake_fails_the_night_at_once_with_its_cause(tmp_path, monkeypatch):
    """Not three retries over two minutes ending in "Exceeded max_retries": one attempt, and
    the report names the cause."""
    from dagster_project.cli import run_nightly

    monkeypatch.setenv("CVW_DATA_DIR", str(tmp_path))
    monkeypatch.setenv("DAGSTER_HOME", str(tmp_path / "dagster_home"))
    monkeypatch.setenv("CVW_SOURCE_URL", f"sqlite:///{tmp_path / 'missing.sqlite'}")
    result, report = run_nightly(str(date.today() - timedelta(days=1)))
    assert not result.success
    assert not [e for e in result.all_events if e.event_type_value == "STEP_UP_FOR_RETRY"]
    assert any("extract_commerce" in f and "which does not exist" in f for f in report.failures), report.failures
    assert "missing.sqlite" in str(report) and "max_retries" not in str(report)


def test_a_missing_landing_folder_fails_its_extraction_at_once(tmp_path):
    import dagster as dg

    from dagster_project.core.contract import CRM_ACCOUNTS
    from dagster_project.defs import build_definitions, keys
    from dagster_project.settings import Settings

    definitions = build_definitions(Settings(data_dir=tmp_path, landing_dir=tmp_path / "never_created"))
    extract_crm = definitions.resolve_assets_def(keys.raw_table(CRM_ACCOUNTS))
    result = dg.materialize([extract_crm], instance=dg.DagsterInstance.ephemeral(),
                            raise_on_error=False)
    assert not result.success
    assert not [e for e in result.all_events if e.event_type_value == "STEP_UP_FOR_RETRY"]
    failure = next(e for e in result.all_events if e.event_type_value == "STEP_FAILURE").step_failure_data.error
    assert "CVW_LANDING_DIR" in failure.message and "never_created does not exist: create it" in failure.message


def test_landing_folder_mistakes_are_named(tmp_path):
    import os

    from dagster_project.ingest.file_reader import LandingFolderError, check_landing_dir

    with pytest.raises(LandingFolderError, match="does not exist: create it"):
        check_landing_dir(tmp_path / "nowhere")
    (tmp_path / "a_file").write_text("")
    with pytest.raises(LandingFolderError, match="is a file, not a folder"):
        check_landing_dir(tmp_path / "a_file")
    locked = tmp_path / "locked"
    locked.mkdir()
    check_landing_dir(locked)
    if os.geteuid() != 0:  # root may read anything: the permission case can only fail for others
        locked.chmod(0)
        try:
            with pytest.raises(LandingFolderError, match="permission denied for user"):
                check_landing_dir(locked)
        finally:
            locked.chmod(0o755)


def _warehouse_with_orders(path, *timestamps):
    import duckdb

    with duckdb.connect(str(path)) as con:
        con.execute("create schema raw")
        con.execute("create table raw.commerce_orders (order_id varchar, ordered_at timestamp)")
        con.executemany("insert into raw.commerce_orders values (?, ?)", [[str(i), t] for i, t in enumerate(timestamps)])


def test_partitions_and_as_of_dates_start_with_the_first_order_loaded(tmp_path, monkeypatch, capsys):
    """The UI shows the days the data supports, not years before the first customer."""
    import duckdb

    from dagster_project.defs.partitions import as_of_dates
    from dagster_project.ingest import data_span
    from dagster_project.settings import Settings

    settings = Settings(data_dir=tmp_path)
    assert as_of_dates(settings).start.date().isoformat() == data_span.FALLBACK_FIRST_AS_OF_DATE
    _warehouse_with_orders(settings.warehouse_path, "2024-03-05 23:10:00", "2025-01-02 08:00:00")
    with duckdb.connect(str(settings.warehouse_path)) as con:
        assert data_span.record(con, settings.warehouse_path) == {
            "first_order_date": "2024-03-05", "last_order_date": "2025-01-02"}
    assert as_of_dates(settings).start.date().isoformat() == "2024-03-05"
    # an explicit setting wins, and a bad one fails at once with its variable
    assert as_of_dates(Settings(data_dir=tmp_path, first_as_of_date="2024-06-01")).start.date().isoformat() \
        == "2024-06-01"
    from dagster_project.settings import SettingsError

    with pytest.raises(SettingsError, match="CVW_FIRST_AS_OF_DATE='2024/06/01': not a date"):
        Settings(data_dir=tmp_path, first_as_of_date="2024/06/01")

    monkeypatch.setenv("CVW_DATA_DIR", str(tmp_path))
    assert main(["run", "--as-of", "2024-03-04"]) == 2
    assert "before the first as-of date 2024-03-05 (the first order loaded)" in capsys.readouterr().err
    # a damaged span file is ignored (the next extraction rewrites it), never a crash
    data_span.span_path(settings.warehouse_path).write_text("{not json")
    assert as_of_dates(settings).start.date().isoformat() == data_span.FALLBACK_FIRST_AS_OF_DATE


def test_a_night_records_the_span_of_its_orders(published, data_dir):
    from dagster_project.defs.partitions import as_of_dates
    from dagster_project.ingest import data_span

    settings = settings_from_env()
    first = query(settings.warehouse_path, "select min(ordered_at)::date from raw.commerce_orders")[0][0]
    assert data_span.read(settings.warehouse_path)["first_order_date"] == first.isoformat()
    assert as_of_dates(settings).start.date() == first
