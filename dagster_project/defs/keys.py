"""Every asset key more than one stage names, and the rules that derive the others.

- a raw table `raw/<source>_<entity>` is the extraction's; `raw/quarantine` its summary;
- a dbt model's key is `<layer>/<name>` (its folder under `models/`); a dbt source table
  `<schema>.<identifier>` is the asset that writes it (`raw/...`, `clv/...`);
- the CLV fit writes `clv/*`, the status history `history/*`; publication is
  `published/serving_database`.
"""

from collections.abc import Mapping
from pathlib import Path
from typing import Any

import dagster as dg

from ..core.contract import Entity
from ..core.dbt_manifest import PublishedTable, load_manifest, model_layer, published_tables

QUARANTINE = dg.AssetKey(["raw", "quarantine"])
SERVING = dg.AssetKey(["published", "serving_database"])
MODEL_FITS = dg.AssetKey(["clv", "model_fits"])
CUSTOMER_VALUE = dg.AssetKey(["marts", "customer_value"])
STATUS_HISTORY = dg.AssetKey(["history", "customer_statuses"])
STATUS_DATES = dg.AssetKey(["history", "status_dates"])
CLV_INPUTS = (dg.AssetKey(["intermediate", "int_customers_rfm_summarised"]),
              dg.AssetKey(["intermediate", "int_customers_holdout_split"]),
              # the holdout tracking curve counts repeat purchase days week by week
              dg.AssetKey(["intermediate", "int_purchase_days_aggregated"]))


def raw_table(entity: Entity) -> dg.AssetKey:
    return dg.AssetKey(["raw", entity.raw_table])


def clv_table(name: str) -> dg.AssetKey:
    return dg.AssetKey(["clv", name])


def dbt_resource(props: Mapping[str, Any]) -> dg.AssetKey:
    if props["resource_type"] == "source":
        return dg.AssetKey([props["schema"], props["identifier"]])
    return dg.AssetKey([model_layer(props), props["name"]])


def published_models(manifest_path: Path) -> dict[str, tuple[dg.AssetKey, PublishedTable]]:
    """{published table name: (asset key, PublishedTable)} for every model marked `publish`."""
    return {name: (dbt_resource(table.props), table)
            for name, table in published_tables(load_manifest(manifest_path)).items()}
