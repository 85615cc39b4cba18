"""The one place that knows where the dbt project is."""

from functools import cache

from dagster_dbt import DbtProject

from ..settings import DBT_PROJECT_DIR


@cache
def dbt_project() -> DbtProject:
    project = DbtProject(project_dir=DBT_PROJECT_DIR, profiles_dir=DBT_PROJECT_DIR)
    # Under `dagster dev` the manifest is rebuilt from the models on load; elsewhere `cvw prepare`
    # (run by `make run` / `make test`) builds it.
    project.prepare_if_dev()
    return project
