"""dagster-dbt gives every dbt invocation its own folder under dbt/target/ (`<op>-<run>-<id>`,
with its dbt.log, compiled SQL, run_results.json and a copy of the manifest: ~8 MB at 1M
customers). Run every night, they would fill the disk; the newest few are kept to debug with."""

from __future__ import annotations

import re
import shutil
import time
from pathlib import Path

INVOCATION_FOLDER = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*-[0-9a-f]{7}-[0-9a-f]{7}$")

# An invocation of a run going on in parallel (a backfill next to the night) may be older than
# the newest few while still in use: only folders untouched for this long are removed.
MIN_AGE_SECONDS = 3600


def prune_invocation_targets(
    target_root: Path, keep: int, *, min_age_seconds: float = MIN_AGE_SECONDS, now: float | None = None
) -> list[Path]:
    """Remove the invocation folders beyond the `keep` newest that are older than
    `min_age_seconds`; anything else under `target_root` is left alone. Returns what went."""
    if not target_root.is_dir():
        return []
    now = time.time() if now is None else now
    folders = [p for p in target_root.iterdir() if p.is_dir() and INVOCATION_FOLDER.match(p.name)]
    folders.sort(key=lambda p: p.stat().st_mtime, reverse=True)
    removed = []
    for folder in folders[max(keep, 0):]:
        if now - folder.stat().st_mtime >= min_age_seconds:
            shutil.rmtree(folder, ignore_errors=True)
            removed.append(folder)
    return removed
