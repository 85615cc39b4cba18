"""What the dbt manifest says about the models, read as plain JSON (no dbt import).

A model's layer is the folder under `models/` it lives in; a mart opts into publication with
`meta: {publish: true}`, and may say what it contributes to `publication_log` and which
concentration curve to draw (`meta: {publication: {...}}`, see `PublishedTable`).
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any


def model_layer(props: Mapping[str, Any]) -> str:
    fqn = props.get("fqn") or []
    # fqn = [project, layer, ..., name]; a model at the models/ root has no layer folder.
    return fqn[1] if len(fqn) > 2 else "models"


def node_meta(props: Mapping[str, Any]) -> dict:
    return {**(props.get("meta") or {}), **((props.get("config") or {}).get("meta") or {})}


def is_published(props: Mapping[str, Any]) -> bool:
    """Marts opt into publication with `meta: {publish: true}` (set for the whole marts folder)."""
    return props.get("resource_type") == "model" and bool(node_meta(props).get("publish"))


@dataclass(frozen=True)
class PublishedTable:
    """A published mart. `log_measures` are SQL aggregates over the published table that fill
    the columns of the same name in `publication_log` (e.g. `customers: count(*)`);
    `concentration` = {name, value, where}: draw the concentration curve of `value` over the
    rows `where` holds, as plot `name`; `trend` = {name, date, value, by}: draw `value` over
    `date`, one line per `by`, as plot `name` (once the table holds two dates)."""

    name: str
    relation: str  # schema.table in the working database
    props: Mapping[str, Any] = field(repr=False, compare=False, hash=False)
    log_measures: Mapping[str, str] = field(default_factory=dict, compare=False, hash=False)
    concentration: Mapping[str, str] | None = field(default=None, compare=False, hash=False)
    trend: Mapping[str, str] | None = field(default=None, compare=False, hash=False)
    # a history table (one row per fit) holds earlier dates and may lack the latest one
    history: bool = field(default=False, compare=False, hash=False)


def load_manifest(path: Path) -> dict:
    return json.loads(Path(path).read_text())


def published_tables(manifest: Mapping[str, Any]) -> dict[str, PublishedTable]:
    """{published table name: PublishedTable} for every model marked `publish`, by name."""
    found = {}
    for node in manifest["nodes"].values():
        if not is_published(node):
            continue
        name = node.get("alias") or node["name"]
        publication = node_meta(node).get("publication") or {}
        found[name] = PublishedTable(
            name, f"{node['schema']}.{name}", node,
            log_measures=dict(publication.get("log") or {}), concentration=publication.get("concentration"),
            trend=publication.get("trend"),
            history=bool(publication.get("history")),
        )
    return dict(sorted(found.items()))


@dataclass(frozen=True)
class Exposure:
    """A dbt exposure: who reads the published marts (a BI tool, a frontline screen, a sync)."""

    name: str
    label: str
    kind: str  # dbt's type: application, dashboard, notebook, analysis, ml
    description: str
    owner: str
    url: str | None
    tables: tuple[str, ...]  # the published tables it depends on


def exposures(manifest: Mapping[str, Any]) -> list[Exposure]:
    """Every exposure in the manifest, by name, with the published tables it reads."""
    models = {unique_id: node.get("alias") or node["name"] for unique_id, node in manifest["nodes"].items()}
    found = []
    for exposure in manifest.get("exposures", {}).values():
        owner = exposure.get("owner") or {}
        found.append(Exposure(
            name=exposure["name"], label=exposure.get("label") or exposure["name"], kind=exposure.get("type") or "",
            description=" ".join(str(exposure.get("description") or "").split()),
            owner=owner.get("email") or owner.get("name") or "", url=exposure.get("url"),
            tables=tuple(sorted(models[n] for n in exposure.get("depends_on", {}).get("nodes", []) if n in models)),
        ))
    return sorted(found, key=lambda e: e.name)
