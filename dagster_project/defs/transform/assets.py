"""The dbt models, built (with their tests) by one `dbt build` per run."""

import os
from collections.abc import Iterator
from contextlib import contextmanager

import dagster as dg
from dagster_dbt import DbtCliResource, dbt_assets

from ...settings import settings_from_env
from ..partitions import AS_OF_DATES, ONE_DATE_PER_RUN
from ..resources import WarehouseResource
from .project import dbt_project
from .target_retention import prune_invocation_targets
from .translator import WarehouseTranslator


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
    # The partition is the as-of date D, handed to dbt as its var `as_of_date`.
    partitions_def=AS_OF_DATES,
    backfill_policy=ONE_DATE_PER_RUN,
)
def dbt_models(context: dg.AssetExecutionContext, dbt: DbtCliResource, warehouse: WarehouseResource):
    # Dagster may split the models into several steps around the CLV model: each step runs
    # only the tests whose models it built or are built already (buildable), never one on a
    # model a later step builds.
    args = ["build", "--exclude", "resource_type:unit_test", "--indirect-selection", "buildable"]
    if os.environ.get("CVW_FULL_REFRESH"):
        # incremental models rebuilt whole (after a change of their logic): same result, more time
        args.append("--full-refresh")
    # D reaches dbt through the environment, not --vars: new vars would make every dbt start
    # parse the whole project again (partial parsing keys on them), ~2 s per invocation
    with environment(CVW_WAREHOUSE_PATH=warehouse.path, CVW_DBT_AS_OF_DATE=context.partition_key):
        invocation = dbt.cli(args, context=context)
        try:
            yield from invocation.stream()
        finally:
            prune_invocation_targets(invocation.target_path.parent, settings_from_env().dbt_targets_kept)
