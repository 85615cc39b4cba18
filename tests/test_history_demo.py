"""`cvw nights N` (`make history`): a newcomer's week of nightly history on the demo data,
run as a user runs it, so that moments, lapses and equity changes are there to see."""

from __future__ import annotations

import json
from datetime import date, timedelta

from dagster_project.cli import main

from .conftest import query


def test_nights_build_a_history_and_refuse_to_pass_yesterday(tmp_path, monkeypatch, capsys):
    monkeypatch.setenv("CVW_DATA_DIR", str(tmp_path))
    monkeypatch.setenv("DAGSTER_HOME", str(tmp_path / "dagster_home"))
    yesterday = date.today() - timedelta(days=1)
    assert main(["nights", "2", "--customers", "300", "--years", "1.5", "--seed", "3"]) == 0
    printed = capsys.readouterr().out
    nights = [str(yesterday - timedelta(days=1)), str(yesterday)]
    assert f"night 1/2: {nights[0]} published" in printed and f"night 2/2: {nights[1]} published" in printed
    assert "customer equity:" in printed and f"since {nights[0]}:" in printed
    lines = {line.split(":")[0]: line for line in printed.splitlines() if line.startswith("night ")}
    assert "the first night of customer_equity" in lines["night 1/2"]
    assert " lapsed (" in lines["night 2/2"] and "Return on Customer" in lines["night 2/2"]

    serving = tmp_path / "serving" / "customer_value.duckdb"
    rows = query(serving, "select as_of_date, previous_as_of_date, customers, customer_equity from customer_equity "
                          "where value_segment = 'all' order by 1")
    assert [(str(d), p and str(p)) for d, p, *_ in rows] == [(nights[0], None), (nights[1], nights[0])]
    assert rows[1][2] > 0 and rows[1][3] is not None
    assert query(serving, "select count(*) from customer_moments")[0][0] > 0
    assert query(tmp_path / "warehouse.duckdb", "select count(*) from history.status_dates")[0][0] == 2

    # the sources now end yesterday: one more night would pass it, and nothing changes
    manifest = tmp_path / "sources" / "_generator_manifest.json"
    before = manifest.read_bytes()
    assert main(["nights", "1"]) == 2
    assert "would pass yesterday" in capsys.readouterr().err
    assert manifest.read_bytes() == before
    assert json.loads(before)["last_date"] == nights[1]
