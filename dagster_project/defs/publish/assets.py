"""Publication: the marts that passed every blocking check, swapped in atomically."""

from datetime import date
from pathlib import Path

import dagster as dg
from pydantic import Field

from ...settings import settings_from_env
from ..models import plots
from ..models.assets import PLOTS_DIR
from ..partitions import AS_OF_DATES, ONE_DATE_PER_RUN
from ..resources import ServingResource, WarehouseResource
from ..transform.project import dbt_project
from ..transform.translator import WarehouseTranslator, is_published
from .serving import plots_dir, publish


def published_models() -> dict[str, tuple[dg.AssetKey, str]]:
    """{published table name: (asset key, warehouse relation)} for every model marked `publish`."""
    import json

    manifest = json.loads(Path(dbt_project.manifest_path).read_text())
    translator = WarehouseTranslator()
    found = {}
    for node in manifest["nodes"].values():
        if is_published(node):
            name = node.get("alias") or node["name"]
            found[name] = (translator.get_asset_key(node), f"{node['schema']}.{name}")
    return dict(sorted(found.items()))


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


def _publication_asset():
    models = published_models()

    @dg.asset(
        key=dg.AssetKey(["published", "serving_database"]),
        group_name="publish",
        partitions_def=AS_OF_DATES,
        backfill_policy=ONE_DATE_PER_RUN,
        kinds={"duckdb"},
        deps=[key for key, _ in models.values()],
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
            {name: relation for name, (_, relation) in models.items()},
            run_id=context.run_id,
            as_of_date=date.fromisoformat(context.partition_key),
            checks=run_check_results(context),
            model_plots=Path(warehouse.path).parent / PLOTS_DIR,
            versions_kept=settings_from_env().publication_versions_kept,
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


serving_database = _publication_asset()
