"""Publication: the marts that passed every blocking check, swapped in atomically; and the
`rollback` job (`cvw rollback --to ID`, launched from Dagster: UI, API, schedule)."""

from datetime import date
from pathlib import Path

import dagster as dg
from pydantic import Field

from ..core import plots
from ..core.dbt_manifest import exposures, load_manifest
from ..publish.rollback import rollback
from ..publish.serving import plots_dir, publish
from ..publish.versions import SnapshotError
from ..settings import Settings
from . import keys
from .dbt_project import dbt_project
from .partitions import ONE_DATE_PER_RUN, as_of_dates
from .resources import ServingResource, WarehouseResource

ROLLBACK_JOB_NAME = "rollback"


class PublishConfig(dg.Config):
    republish: bool = Field(
        default=False,
        description="Replace the serving file even when it serves a later as-of date than this run's "
        "partition (a backfill otherwise only writes its version snapshot).",
    )


def run_check_results(context: dg.AssetExecutionContext) -> list[dict]:
    """Every asset check this run evaluated, for the version's manifest."""
    entries = context.instance.all_logs(context.run_id, of_type=dg.DagsterEventType.ASSET_CHECK_EVALUATION)
    results = {}
    for entry in entries:
        evaluation = entry.dagster_event.asset_check_evaluation_data
        asset = evaluation.asset_key.to_user_string()
        results[(asset, evaluation.check_name)] = {
            "name": evaluation.check_name, "asset": asset, "passed": evaluation.passed,
            # a failed warning (severity WARN) did not hold the publication back; say so
            "severity": evaluation.severity.value, "blocking": bool(evaluation.blocking),
        }
    return [results[key] for key in sorted(results)]


def serving_database_asset(settings: Settings) -> dg.AssetsDefinition:
    models = keys.published_models(dbt_project().manifest_path)

    @dg.asset(
        key=keys.SERVING,
        group_name="publish",
        partitions_def=as_of_dates(settings),
        backfill_policy=ONE_DATE_PER_RUN,
        kinds={"duckdb"},
        # the status history records D before D is published, so a failure to record it holds
        # the publication back (tomorrow's moments and lapses compare with D)
        deps=[key for key, _ in models.values()] + [keys.STATUS_HISTORY],
        description="The serving DuckDB file BI and frontline tools read (read-only): "
        + ", ".join(f"`{n}`" for n in models)
        + ", and `publication_log`. Built as a new file and renamed over the previous one, "
        "only after the dbt tests and the Great Expectations gate passed. Each publication also "
        "keeps a version snapshot (Parquet + manifest) under `versions/` to roll back to; a "
        "backfill of a date earlier than the one serving writes only its snapshot unless `republish`.",
    )
    def serving_database(
        context: dg.AssetExecutionContext, config: PublishConfig, warehouse: WarehouseResource, serving: ServingResource
    ):
        publication = publish(
            Path(warehouse.path),
            Path(serving.path),
            {name: table for name, (_, table) in models.items()},
            run_id=context.run_id,
            as_of_date=date.fromisoformat(context.partition_key),
            checks=run_check_results(context),
            model_plots=warehouse.model_plots_dir,
            versions_kept=serving.versions_kept,
            republish=config.republish,
        )
        if publication.served:
            context.log.info(
                f"published {publication.row_counts} as of {publication.as_of_date} to {publication.path}; "
                f"version {publication.version_path}"
            )
        else:
            # a warning, so `cvw run` reports it: the run succeeded but changed nothing readers see
            context.log.warning(
                f"backfill as of {publication.as_of_date}: version written to {publication.version_path}, "
                f"the serving file still serves {publication.serving_as_of_date} (run with config "
                f"republish: true, or `cvw rollback --to {publication.publication_id}`, to serve it)"
            )
        if publication.recovered:
            # a warning, so `cvw run` reports it: the operator should know the disk damaged a file
            context.log.warning(f"{publication.recovered}; this publication replaced it")
        if publication.removed_versions:
            context.log.info(f"retention removed versions {publication.removed_versions}")
        return dg.MaterializeResult(
            metadata={
                "path": dg.MetadataValue.path(str(publication.path)),
                "served": publication.served,
                "serving_as_of_date": str(publication.serving_as_of_date),
                "publication_id": publication.publication_id,
                "version": dg.MetadataValue.path(str(publication.version_path)),
                "as_of_date": str(publication.as_of_date),
                "row_counts": dg.MetadataValue.json(publication.row_counts),
                "customers": publication.customers,
                "net_revenue_total": publication.net_revenue_total,
                "plots": dg.MetadataValue.path(str(plots_dir(publication.path))),
                **{name: dg.MetadataValue.md(plots.markdown_image(png, name)) for name, png in publication.plots.items()},
            }
        )

    return serving_database


class RollbackConfig(dg.Config):
    publication_id: str = Field(description="The version to serve again: a directory name under versions/ "
                                "(`cvw rollback --list` shows them).")


@dg.op(description="Rebuild the serving file from a verified version snapshot and rename it over the current one.")
def rollback_serving_database(context: dg.OpExecutionContext, config: RollbackConfig, serving: ServingResource) -> None:
    try:
        restored = rollback(Path(serving.path), config.publication_id, run_id=context.run_id)
    except SnapshotError as error:
        # the refusal itself is the message an operator needs, not a traceback
        raise dg.Failure(description=f"rollback refused, the serving file is unchanged: {error}") from error
    if restored.recovered:
        context.log.warning(f"{restored.recovered}; the rollback replaced it")
    context.log.info(f"serving version {config.publication_id} as of {restored.as_of_date} again: {restored.row_counts}")
    context.log_event(
        dg.AssetMaterialization(
            asset_key=keys.SERVING,
            partition=restored.as_of_date.isoformat(),  # the as-of date the serving file holds again
            description=f"rollback to version {config.publication_id}",
            metadata={
                "path": dg.MetadataValue.path(str(restored.path)),
                "served": True,
                "kind": "rollback",
                "version": dg.MetadataValue.path(str(restored.version_path)),
                "as_of_date": str(restored.as_of_date),
                "row_counts": dg.MetadataValue.json(restored.row_counts),
            },
        )
    )


@dg.job(
    name=ROLLBACK_JOB_NAME,
    description="Serve an earlier publication again from its version snapshot (config: publication_id).",
    executor_def=dg.in_process_executor,
)
def rollback_job():
    rollback_serving_database()


def exposure_specs(manifest_path: Path) -> list[dg.AssetSpec]:
    """The readers of the serving file (dbt exposures) as assets downstream of it, so the
    lineage in the UI ends where the data is used; they are not materialised by Dagster."""
    return [
        dg.AssetSpec(
            key=dg.AssetKey(["exposures", exposure.name]), deps=[keys.SERVING], group_name="exposures",
            description=f"{exposure.label}: {exposure.description} Reads: {', '.join(exposure.tables)}.",
            kinds={exposure.kind} if exposure.kind else None,
            owners=[exposure.owner] if "@" in exposure.owner else None,
            metadata={"tables": list(exposure.tables), **({"url": dg.MetadataValue.url(exposure.url)} if exposure.url else {})},
        )
        for exposure in exposures(load_manifest(manifest_path))
    ]


def definitions(settings: Settings) -> dg.Definitions:
    return dg.Definitions(assets=[serving_database_asset(settings), *exposure_specs(dbt_project().manifest_path)],
                          jobs=[rollback_job])
