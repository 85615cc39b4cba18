"""How dbt is started: which executable, and the environment its profile and project read."""

from __future__ import annotations

import os
import shutil
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path


def dbt_executable() -> str:
    """The dbt of this interpreter's environment, so an unactivated `.venv/bin/...` finds it."""
    local = Path(sys.executable).with_name("dbt")
    return str(local) if local.exists() else (shutil.which("dbt") or "dbt")


@contextmanager
def environment(**values: str) -> Iterator[None]:
    """dbt runs as a subprocess that reads its profile and vars from the environment: set
    them for the call, and restore what was there after."""
    saved = {name: os.environ.get(name) for name in values}
    os.environ.update(values)
    try:
        yield
    finally:
        for name, value in saved.items():
            if value is None:
                os.environ.pop(name, None)
            else:
                os.environ[name] = value


def project_environment(
    *, warehouse_path: str, base_currency: str, clv_holdout_days: int, incremental_lookback_hours: int,
    memory_limit: str, lapsed_p_alive: float, moment_window_days: int,
) -> dict[str, str]:
    """The variables dbt's profile and project read (their defaults in `dbt/` are for running
    dbt by hand). `dbt parse` and `dbt build` must see the same values: a changed value makes
    dbt parse the whole project again."""
    return {
        "CVW_WAREHOUSE_PATH": str(warehouse_path),
        "CVW_BASE_CURRENCY": base_currency,
        "CVW_CLV_HOLDOUT_DAYS": str(clv_holdout_days),
        "CVW_INCREMENTAL_LOOKBACK_HOURS": str(incremental_lookback_hours),
        "CVW_DUCKDB_MEMORY_LIMIT": memory_limit,
        "CVW_LAPSED_P_ALIVE": f"{float(lapsed_p_alive):.12f}".rstrip("0").rstrip(".") or "0",
        "CVW_MOMENT_WINDOW_DAYS": str(int(moment_window_days)),
    }
