"""How dbt resources become Dagster assets: keys and groups follow rules, not name lists.

- a source table `<schema>.<identifier>` is the asset that writes it: `<schema>/<identifier>`
  (`raw/...` from the extraction, `clv/...` from the CLV model);
- a model's key is `<layer>/<name>`, its group the layer folder it lives in
  (`models/staging/...` -> `staging`), so a new model lands in the right place by itself;
- staging models also wait for the night's quarantine summary, so the transformation starts
  from a complete load (and Dagster runs the dbt models in two steps around the CLV fit,
  not three).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import dagster as dg
from dagster_dbt import DagsterDbtTranslator, DagsterDbtTranslatorSettings

from ..ingest.quarantine import QUARANTINE_ASSET


def model_layer(props: Mapping[str, Any]) -> str:
    fqn = props.get("fqn") or []
    # fqn = [project, layer, ..., name]; a model at the models/ root has no layer folder.
    return fqn[1] if len(fqn) > 2 else "models"


class WarehouseTranslator(DagsterDbtTranslator):
    def __init__(self) -> None:
        super().__init__(settings=DagsterDbtTranslatorSettings(enable_asset_checks=True))

    def get_asset_key(self, dbt_resource_props: Mapping[str, Any]) -> dg.AssetKey:
        if dbt_resource_props["resource_type"] == "source":
            return dg.AssetKey([dbt_resource_props["schema"], dbt_resource_props["identifier"]])
        return dg.AssetKey([model_layer(dbt_resource_props), dbt_resource_props["name"]])

    def get_asset_spec(self, manifest: Mapping[str, Any], unique_id: str, project) -> dg.AssetSpec:
        spec = super().get_asset_spec(manifest, unique_id, project)
        props = manifest["nodes"].get(unique_id) or {}
        if props.get("resource_type") == "model" and model_layer(props) == "staging":
            return spec.merge_attributes(deps=[QUARANTINE_ASSET])
        return spec

    def get_group_name(self, dbt_resource_props: Mapping[str, Any]) -> str | None:
        if dbt_resource_props["resource_type"] == "source":
            return "ingest"
        return model_layer(dbt_resource_props)


def is_published(props: Mapping[str, Any]) -> bool:
    """Marts opt into publication with `meta: {publish: true}` (set for the whole marts folder)."""
    config_meta = (props.get("config") or {}).get("meta") or {}
    meta = props.get("meta") or {}
    return props.get("resource_type") == "model" and bool(config_meta.get("publish") or meta.get("publish"))
