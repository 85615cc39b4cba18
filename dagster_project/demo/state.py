"""What the generator leaves next to the sources: its state (to append days) and its manifest.

- `_generator_state.json`: parameters, the last generated day, next ids, fx levels, daily
  rates, and the name of the arrays file;
- `_generator_state.npz`: per-account latent parameters and process state, pending order
  transitions and refunds, the current CRM / referral / review / feedback records;
- `_generator_manifest.json`: rows per table and per file, and the exact number of
  deliberately bad rows per entity, reason (and column).
"""

from __future__ import annotations

import json
import os
from pathlib import Path

import numpy as np

STATE_FILE = "_generator_state.json"
ARRAYS_FILE = "_generator_state.npz"
MANIFEST_FILE = "_generator_manifest.json"
STATE_VERSION = 1


class GeneratorError(RuntimeError):
    """The generator can't do what was asked (message says why)."""


def _write_json(path: Path, data: dict) -> None:
    tmp = path.with_name(path.name + ".tmp")
    tmp.write_text(json.dumps(data, indent=2) + "\n", encoding="utf-8")
    os.replace(tmp, path)


def save_state(out: Path, scalars: dict, groups: dict[str, dict[str, np.ndarray]]) -> None:
    flat = {f"{group}.{name}": np.asarray(array) for group, arrays in groups.items() for name, array in arrays.items()}
    tmp = out / (ARRAYS_FILE + ".tmp.npz")
    np.savez(tmp, **flat)
    os.replace(tmp, out / ARRAYS_FILE)
    _write_json(out / STATE_FILE, {**scalars, "state_version": STATE_VERSION, "arrays_file": ARRAYS_FILE})


def load_state(out: Path) -> tuple[dict, dict[str, dict[str, np.ndarray]]]:
    path = out / STATE_FILE
    if not path.is_file():
        raise GeneratorError(
            f"{out} holds no generated sources ({STATE_FILE} is missing): generate them first, e.g. "
            f"`python -m dagster_project.demo --out {out}`"
        )
    scalars = json.loads(path.read_text(encoding="utf-8"))
    if scalars.get("state_version") != STATE_VERSION:
        raise GeneratorError(f"{path} was written by another version of the generator: regenerate with --force")
    groups: dict[str, dict[str, np.ndarray]] = {}
    with np.load(out / scalars["arrays_file"], allow_pickle=False) as data:
        for key in data.files:
            group, name = key.split(".", 1)
            groups.setdefault(group, {})[name] = data[key]
    return scalars, groups


# --------------------------------------------------------------------------- manifest


def new_manifest(parameters: dict) -> dict:
    return {
        "generator": "dagster_project.demo",
        "parameters": parameters,
        "first_date": None,
        "last_date": None,
        "tables": {},
        "files": {},
        "bad_rows": {},
        "bad_rows_detail": {},
        "bad_rows_total": 0,
        "runs": [],
    }


def load_manifest(out: Path) -> dict:
    return json.loads((out / MANIFEST_FILE).read_text(encoding="utf-8"))


def save_manifest(out: Path, manifest: dict) -> None:
    _write_json(out / MANIFEST_FILE, manifest)


def record_bad(manifest: dict, raw_table: str, faults: list[tuple[str, str]]) -> dict[str, int]:
    """Add bad rows (reason, column) of an entity; returns {reason: count} of these."""
    counts: dict[str, int] = {}
    for reason, column in faults:
        counts[reason] = counts.get(reason, 0) + 1
        entity = manifest["bad_rows"].setdefault(raw_table, {})
        entity[reason] = entity.get(reason, 0) + 1
        detail = manifest["bad_rows_detail"].setdefault(raw_table, {}).setdefault(reason, {})
        detail[column] = detail.get(column, 0) + 1
        manifest["bad_rows_total"] += 1
    return counts


def record_table(manifest: dict, table: str, raw_table: str, inserted: int, faults: list[tuple[str, str]]) -> None:
    entry = manifest["tables"].setdefault(table, {"entity": raw_table, "rows": 0, "rows_updated": 0, "bad_rows": {}})
    entry["rows"] += inserted
    for reason, count in record_bad(manifest, raw_table, faults).items():
        entry["bad_rows"][reason] = entry["bad_rows"].get(reason, 0) + count


def record_file(manifest: dict, name: str, raw_table: str, rows: int, faults: list[tuple[str, str]]) -> None:
    counts = record_bad(manifest, raw_table, faults)
    manifest["files"][name] = {"entity": raw_table, "rows": rows, "bad_rows": counts}
