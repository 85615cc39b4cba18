"""Publication versions: one immutable snapshot per publication, to roll back to.

`<serving dir>/versions/<publication_id>/` holds one Parquet file per published table,
the plots, and `manifest.json` (when, as of which date, row counts, column types, the
run's check results, a sha256 per file). A snapshot is written under a dot-name and
renamed into place once complete and fsynced, so a directory with a plain name and a
manifest is whole; a dot-name left behind is debris of a crash and is swept away.
"""

from __future__ import annotations

import json
import os
import shutil
from dataclasses import dataclass
from datetime import date, datetime
from pathlib import Path
from typing import Any

import duckdb

from ..core.files import fsync_dir, replace_durably, sha256_file, write_durably
from ..core.sql import quote_identifier, quote_literal
from .serving_format import comments_of

VERSIONS_DIR = "versions"
MANIFEST = "manifest.json"
PLOTS = "plots"


class SnapshotError(ValueError):
    """A version that is missing, incomplete or does not match its manifest."""


def versions_dir(serving_path: Path) -> Path:
    return serving_path.parent / VERSIONS_DIR


@dataclass(frozen=True)
class Version:
    path: Path
    manifest: dict[str, Any]

    @property
    def publication_id(self) -> str:
        return self.manifest["publication_id"]

    @property
    def as_of_date(self) -> date:
        return date.fromisoformat(self.manifest["as_of_date"])

    @property
    def published_at(self) -> datetime:
        return datetime.fromisoformat(self.manifest["published_at"])

    @property
    def row_counts(self) -> dict[str, int]:
        return {name: table["rows"] for name, table in self.manifest["tables"].items()}


def _valid_id(publication_id: str) -> str:
    # the id becomes a directory name: nothing that could point outside versions/
    if not publication_id or publication_id.startswith(".") or Path(publication_id).name != publication_id:
        raise SnapshotError(f"not a publication id: {publication_id!r}")
    return publication_id


def write_version(
    con: duckdb.DuckDBPyConnection,
    serving_path: Path,
    publication_id: str,
    tables: list[str],
    *,
    plots: dict[str, bytes],
    about: dict[str, Any],
) -> Path:
    """Snapshot `tables` of the database `con` is building into versions/<publication_id>/.

    The tables keep the order they were built in (the marts are ordered by their key), and
    DuckDB writes the same rows to the same Parquet bytes, so an unchanged table has an
    unchanged checksum from one night to the next.
    """
    root = versions_dir(serving_path)
    target = root / _valid_id(publication_id)
    partial = root / f".{publication_id}.partial"
    root.mkdir(parents=True, exist_ok=True)
    shutil.rmtree(partial, ignore_errors=True)
    (partial / PLOTS).mkdir(parents=True)
    try:
        described = {}
        for name in tables:
            file = partial / f"{name}.parquet"
            con.execute(
                f"copy (select * from main.{quote_identifier(name)}) to {quote_literal(file)} "
                "(format parquet, compression zstd)"
            )
            columns = con.execute(
                "select column_name, data_type from duckdb_columns() "
                "where database_name = current_database() and schema_name = 'main' and table_name = ? "
                "order by column_index",
                [name],
            ).fetchall()
            rows = con.execute(f"select count(*) from main.{quote_identifier(name)}").fetchall()[0][0]
            table_comment, column_comments = comments_of(con, name)
            described[name] = {
                "file": file.name,
                "rows": rows,
                "sha256": _fsynced_sha256(file),
                "columns": [list(column) for column in columns],
                # the descriptions the serving file carries, restored with it by a rollback
                "comment": table_comment,
                "column_comments": column_comments,
            }
        pictures = {}
        for name, png in sorted(plots.items()):
            file = partial / PLOTS / f"{name}.png"
            write_durably(file, png)
            pictures[name] = {"file": f"{PLOTS}/{file.name}", "sha256": sha256_file(file)}
        manifest = {
            "publication_id": publication_id,
            **about,
            "row_counts": {name: table["rows"] for name, table in described.items()},
            "tables": described,
            "plots": pictures,
        }
        write_durably(partial / MANIFEST, (json.dumps(manifest, indent=2, sort_keys=True, default=str) + "\n").encode())
        fsync_dir(partial / PLOTS)
        fsync_dir(partial)
        aside = None
        if target.exists():  # the same run publishing again (a retried step): same id, newer snapshot
            # renamed away whole, deleted once the new one is in place: a crash never leaves
            # half a snapshot under a version's name (a dot-name is debris, swept later)
            aside = _set_aside(target, f".{publication_id}.replaced")
        replace_durably(partial, target)
        if aside is not None:
            shutil.rmtree(aside)
    finally:
        shutil.rmtree(partial, ignore_errors=True)
    return target


def _set_aside(path: Path, name: str) -> Path:
    """Rename `path` to a dot-name beside it, durably, so that it stops being a version at once."""
    aside = path.with_name(name)
    shutil.rmtree(aside, ignore_errors=True)
    os.replace(path, aside)
    fsync_dir(path.parent)
    return aside


def _fsynced_sha256(path: Path) -> str:
    with open(path, "rb") as handle:
        os.fsync(handle.fileno())
    return sha256_file(path)


def read_version(serving_path: Path, publication_id: str) -> Version:
    path = versions_dir(serving_path) / _valid_id(publication_id)
    manifest_path = path / MANIFEST
    if not path.is_dir():
        known = ", ".join(v.publication_id for v in list_versions(serving_path)) or "none"
        raise SnapshotError(f"no version {publication_id!r} in {path.parent} (versions kept: {known})")
    try:
        manifest = json.loads(manifest_path.read_text())
    except FileNotFoundError:
        raise SnapshotError(f"version {publication_id!r} is incomplete: {manifest_path} is missing") from None
    except (OSError, ValueError) as error:
        raise SnapshotError(f"version {publication_id!r} has an unreadable manifest {manifest_path}: {error}") from None
    if manifest.get("publication_id") != publication_id:
        raise SnapshotError(f"{manifest_path} belongs to {manifest.get('publication_id')!r}, not {publication_id!r}")
    return Version(path, manifest)


def verify_version(version: Version) -> None:
    """Every file of the snapshot is there and has the checksum its manifest recorded."""
    entries = [*version.manifest["tables"].values(), *version.manifest.get("plots", {}).values()]
    expected = {entry["file"]: entry["sha256"] for entry in entries}
    for file in expected:
        path = version.path / file
        if not path.is_file():
            raise SnapshotError(f"version {version.publication_id!r} is missing {path}")
        actual = sha256_file(path)
        if actual != expected[file]:
            raise SnapshotError(
                f"version {version.publication_id!r} is corrupt: {path} has sha256 {actual}, "
                f"its manifest says {expected[file]}"
            )


def list_versions(serving_path: Path) -> list[Version]:
    """Every complete version, newest publication first."""
    root = versions_dir(serving_path)
    found = []
    for path in root.iterdir() if root.is_dir() else []:
        if path.name.startswith(".") or not path.is_dir():
            continue
        try:
            found.append(read_version(serving_path, path.name))
        except SnapshotError:
            continue  # no usable manifest: never listed, never restorable
    return sorted(found, key=lambda v: (v.published_at, v.publication_id), reverse=True)


def prune_versions(serving_path: Path, keep: int, serving_version: str | None) -> list[str]:
    """Delete all but the `keep` newest versions, never the one serving; sweep crash debris.

    Run under the publication lock: a partial directory then belongs to a crashed run.
    """
    if keep < 1:
        raise ValueError(f"keep at least one version, not {keep}")
    root = versions_dir(serving_path)
    for debris in root.glob(".*") if root.is_dir() else []:
        if debris.is_dir():
            shutil.rmtree(debris, ignore_errors=True)
        else:
            debris.unlink(missing_ok=True)  # a log copy a crash left half written
    removed = []
    for version in list_versions(serving_path)[keep:]:
        if version.publication_id != serving_version:
            # out of the listing in one rename before its files go: deleted file by file under
            # its own name, a crash would leave a version listed for rollback that is broken,
            # or a directory without a manifest that no sweep ever removes
            shutil.rmtree(_set_aside(version.path, f".{version.publication_id}.deleted"))
            removed.append(version.publication_id)
    if removed:
        fsync_dir(root)
    return removed
