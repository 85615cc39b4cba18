"""Inputs are checked before any work starts: one clear line, exit code 2, nothing written."""

from __future__ import annotations

import re
from datetime import date, timedelta

import pytest

from dagster_project.cli import as_of_problem, main
from dagster_project.demo import GeneratorError, append_days, generate


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
