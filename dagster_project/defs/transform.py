"""The dbt models as assets, built (with their tests) by `dbt build`, and the translator
whose rules give every dbt resource its key and group."""

from collections.abc import Mapping
from typing import Any

import dagster as dg
from dagster_dbt import DagsterDbtTranslator, DagsterDbtTranslatorSettings, DbtCliResource, dbt_assets
from pydantic import Field

from ..core.dbt_manifest import model_layer, node_meta
from ..settings import Settings
from ..transform.dbt_cli import environment
from ..transform.target_retention import prune_invocation_targets
from . import keys
from .dbt_project import dbt_project
from .partitions import ONE_DATE_PER_RUN, as_of_dates
from .resources import TransformResource, WarehouseResource


class WarehouseTranslator(DagsterDbtTranslator):
    """Keys and groups follow rules, not name lists (see `keys.dbt_resource`): a model's group
    is its layer folder, so a new model lands in the right place by itself. Staging models
    also wait for the night's quarantine summary, so the transformation starts from a complete
    load (and Dagster runs the dbt models in two steps around the CLV fit, not more)."""

    def __init__(self) -> None:
        super().__init__(settings=DagsterDbtTranslatorSettings(enable_asset_checks=True))

    def get_asset_key(self, dbt_resource_props: Mapping[str, Any]) -> dg.AssetKey:
        return keys.dbt_resource(dbt_resource_props)

    def get_asset_spec(self, manifest: Mapping[str, Any], unique_id: str, project) -> dg.AssetSpec:
        spec = super().get_asset_spec(manifest, unique_id, project)
        props = manifest["nodes"].get(unique_id) or {}
        if props.get("resource_type") != "model":
            return spec
        # State a night reads as earlier nights left it and writes after its marts (the status
        # history): a dependency on its writer within the run would split the dbt build in two.
        later = _recorded_after_the_marts(manifest)
        if any(dep.asset_key in later for dep in spec.deps):
            spec = spec.replace_attributes(deps=[dep for dep in spec.deps if dep.asset_key not in later])
        # Staging models, and models that read nothing (a time spine), wait for the night's load:
        # a model ready before it would cost a dbt invocation (~5 s) of its own.
        if model_layer(props) == "staging" or not spec.deps:
            return spec.merge_attributes(deps=[keys.QUARANTINE])
        return spec

    def get_group_name(self, dbt_resource_props: Mapping[str, Any]) -> str | None:
        if dbt_resource_props["resource_type"] == "source":
            return "ingest"
        return model_layer(dbt_resource_props)


def _recorded_after_the_marts(manifest: Mapping[str, Any]) -> set[dg.AssetKey]:
    return {
        keys.dbt_resource(source) for source in manifest.get("sources", {}).values()
        if node_meta(source).get("recorded_after_the_marts")
    }


class DbtBuildConfig(dg.Config):
    full_refresh: bool = Field(
        default=False,
        description="Rebuild the incremental dbt models whole (after a change of their logic): "
        "the same result, more time.",
    )


def dbt_models_asset(settings: Settings) -> dg.AssetsDefinition:
    @dbt_assets(
        manifest=dbt_project().manifest_path,
        project=dbt_project(),
        dagster_dbt_translator=WarehouseTranslator(),
        # Unit tests check the SQL, not the night's data: they run in CI (`make test`).
        exclude="resource_type:unit_test",
        # The partition is the as-of date D, handed to dbt through CVW_DBT_AS_OF_DATE.
        partitions_def=as_of_dates(settings),
        backfill_policy=ONE_DATE_PER_RUN,
    )
    def dbt_models(
        context: dg.AssetExecutionContext, config: DbtBuildConfig, dbt: DbtCliResource,
        warehouse: WarehouseResource, transform: TransformResource,
    ):
        # Dagster may split the models into several steps around the CLV model: each step runs
        # only the tests whose models it built or are built already (buildable), never one on a
        # model a later step builds.
        args = ["build", "--exclude", "resource_type:unit_test", "--indirect-selection", "buildable"]
        if config.full_refresh:
            args.append("--full-refresh")
        # D reaches dbt through the environment, not --vars: new vars would make every dbt start
        # parse the whole project again (partial parsing keys on them), ~2 s per invocation
        with environment(**transform.environment(warehouse.path, context.partition_key)):
            invocation = dbt.cli(args, context=context)
            try:
                yield from invocation.stream()
            finally:
                prune_invocation_targets(invocation.target_path.parent, transform.targets_kept)

    return dbt_models


def definitions(settings: Settings) -> dg.Definitions:
    return dg.Definitions(assets=[dbt_models_asset(settings)])
