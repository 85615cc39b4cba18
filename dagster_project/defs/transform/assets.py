"""The dbt models, built (with their tests) by one `dbt build` per run."""

import json
import os
from collections.abc import Iterator
from contextlib import contextmanager

import dagster as dg
from dagster_dbt import DbtCliResource, dbt_assets

from ..resources import WarehouseResource
from .project import dbt_project
from .translator import WarehouseTranslator


class NightlyConfig(dg.Config):
    """Run configuration of the transformation."""

    as_of_date: str | None = None  # YYYY-MM-DD; dbt's own default (the run's date) when unset


@contextmanager
def environment(**values: str) -> Iterator[None]:
    """dbt runs as a subprocess that reads its profile from the environment: set it for the call."""
    saved = {name: os.environ.get(name) for name in values}
    os.environ.update(values)
    try:
        yield
    finally:
        for name, value in saved.items():
            if value is None:
                os.environ.pop(name, None)
            else:
                os.environ[name] = value


@dbt_assets(
    manifest=dbt_project.manifest_path,
    project=dbt_project,
    dagster_dbt_translator=WarehouseTranslator(),
    # Unit tests check the SQL, not the night's data: they run in CI (`make test`).
    exclude="resource_type:unit_test",
)
def dbt_models(context: dg.AssetExecutionContext, dbt: DbtCliResource, warehouse: WarehouseResource, config: NightlyConfig):
    args = ["build", "--exclude", "resource_type:unit_test"]
    if config.as_of_date:
        args += ["--vars", json.dumps({"as_of_date": config.as_of_date})]
    with environment(CVW_WAREHOUSE_PATH=warehouse.path):
        yield from dbt.cli(args, context=context).stream()
