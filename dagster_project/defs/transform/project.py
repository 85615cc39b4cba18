"""The one place that knows where the dbt project is, and which dbt runs it."""

import shutil
import sys
from pathlib import Path

from dagster_dbt import DbtProject

from ...settings import DBT_PROJECT_DIR

dbt_project = DbtProject(project_dir=DBT_PROJECT_DIR, profiles_dir=DBT_PROJECT_DIR)
# Under `dagster dev` the manifest is rebuilt from the models on load; elsewhere `cvw prepare`
# (run by `make run` / `make test`) builds it.
dbt_project.prepare_if_dev()


def dbt_executable() -> str:
    """The dbt of this interpreter's environment, so an unactivated `.venv/bin/...` finds it."""
    local = Path(sys.executable).with_name("dbt")
    return str(local) if local.exists() else (shutil.which("dbt") or "dbt")
