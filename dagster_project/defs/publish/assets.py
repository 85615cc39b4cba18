"""Publication: the marts that passed every blocking check, swapped in atomically."""

from datetime import date
from pathlib import Path

import dagster as dg

from ..partitions import AS_OF_DATES, ONE_DATE_PER_RUN
from ..resources import ServingResource, WarehouseResource
from ..transform.project import dbt_project
from ..transform.translator import WarehouseTranslator, is_published
from ..models import plots
from ..models.assets import PLOTS_DIR
from .serving import plots_dir, publish, publish_plots


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
        "only after the dbt tests and the Great Expectations gate passed.",
    )
    def serving_database(context: dg.AssetExecutionContext, warehouse: WarehouseResource, serving: ServingResource):
        publication = publish(
            Path(warehouse.path),
            Path(serving.path),
            {name: relation for name, (_, relation) in models.items()},
            run_id=context.run_id,
            as_of_date=date.fromisoformat(context.partition_key),
        )
        context.log.info(f"published {publication.row_counts} as of {publication.as_of_date} to {publication.path}")
        pictures = publish_plots(Path(warehouse.path).parent / PLOTS_DIR, publication.path)
        return dg.MaterializeResult(
            metadata={
                "path": dg.MetadataValue.path(str(publication.path)),
                "as_of_date": str(publication.as_of_date),
                "row_counts": dg.MetadataValue.json(publication.row_counts),
                "customers": publication.customers,
                "net_revenue_total": publication.net_revenue_total,
                "plots": dg.MetadataValue.path(str(plots_dir(publication.path))),
                **{name: dg.MetadataValue.md(plots.markdown_image(png, name)) for name, png in pictures.items()},
            }
        )

    return serving_database


serving_database = _publication_asset()
