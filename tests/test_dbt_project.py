"""The dbt project's own unit tests (SQL logic on fixed inputs) run in CI, not at night."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

from dagster_project.transform.dbt_cli import dbt_executable
from dagster_project.settings import DBT_PROJECT_DIR, settings_from_env


def test_dbt_unit_tests_pass(published):
    settings = settings_from_env()
    completed = subprocess.run(
        [dbt_executable(), "test", "--select", "test_type:unit",
         "--project-dir", str(DBT_PROJECT_DIR), "--profiles-dir", str(DBT_PROJECT_DIR)],
        env={**os.environ, "CVW_WAREHOUSE_PATH": str(settings.warehouse_path)},
        capture_output=True,
        text=True,
    )
    assert completed.returncode == 0, completed.stdout[-4000:]
    assert " PASS=" in completed.stdout and "ERROR=0" in completed.stdout
    passed = int(completed.stdout.rsplit(" PASS=", 1)[1].split()[0])
    assert passed >= 10  # every metric rule with an edge has its unit test


def test_dbt_models_pass_sqlfluff(tmp_path):
    """The style of the SQL (lowercase, trailing commas, explicit aliases, …) is checked, not hoped for."""
    completed = subprocess.run(
        [str(Path(sys.executable).with_name("sqlfluff")), "lint", "dbt/models", "--disable-progress-bar"],
        cwd=DBT_PROJECT_DIR.parent,
        env={**os.environ, "CVW_WAREHOUSE_PATH": str(tmp_path / "lint.duckdb")},
        capture_output=True,
        text=True,
    )
    assert completed.returncode == 0, completed.stdout[-4000:]


def test_the_docs_build_with_the_overview_exposures_and_every_published_table(published, tmp_path):
    """`make docs`: the project's own overview page, its exposures, and a catalog of the
    tables as built (what `dbt docs serve` shows)."""
    import json

    settings = settings_from_env()
    completed = subprocess.run(
        [dbt_executable(), "docs", "generate", "--project-dir", str(DBT_PROJECT_DIR), "--profiles-dir",
         str(DBT_PROJECT_DIR), "--target-path", str(tmp_path)],
        env={**os.environ, "CVW_WAREHOUSE_PATH": str(settings.warehouse_path)},
        capture_output=True, text=True,
    )
    assert completed.returncode == 0, completed.stdout[-3000:]
    manifest = json.loads((tmp_path / "manifest.json").read_text())
    overview = [d for d in manifest["docs"].values() if d["name"] == "__overview__" and
                d["package_name"] == "customer_value_warehouse"]
    assert overview and "Customer-value warehouse" in overview[0]["block_contents"]
    assert {e["name"] for e in manifest["exposures"].values()} >= {"serving_database", "frontline_lists",
                                                                  "crm_traits_sync"}
    catalog = json.loads((tmp_path / "catalog.json").read_text())
    built = {node["metadata"]["name"] for node in catalog["nodes"].values()}
    assert {"customer_value", "customer_moments", "customer_equity", "customer_traits"} <= built
    assert (tmp_path / "index.html").exists()
