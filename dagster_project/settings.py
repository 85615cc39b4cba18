"""Where everything lives, read from the environment when asked (never at import).

Every path defaults to a place under one data directory, `CVW_DATA_DIR`
(default: `data/` in the project folder), so pointing that one variable elsewhere
moves the whole installation.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

PROJECT_ROOT = Path(__file__).resolve().parent.parent
DBT_PROJECT_DIR = PROJECT_ROOT / "dbt"
EXPECTATIONS_DIR = PROJECT_ROOT / "expectations"

# name -> (meaning, default given the data dir)
ENV_VARS: dict[str, str] = {
    "CVW_DATA_DIR": "root of everything below (default: ./data)",
    "CVW_SOURCE_URL": "SQLAlchemy URL of the commerce database (default: SQLite file of the demo sources)",
    "CVW_LANDING_DIR": "folder where CRM, referral and voice-of-customer files are dropped",
    "CVW_WAREHOUSE_PATH": "working DuckDB file (raw, staging, intermediate, marts)",
    "CVW_SERVING_PATH": "published DuckDB file that BI tools open read-only",
    "CVW_DUCKDB_MEMORY_LIMIT": "memory DuckDB may use before spilling to disk, in the pipeline and in dbt (default 2GB)",
    "CVW_BASE_CURRENCY": "ISO 4217 code all money is converted to (default USD)",
    "CVW_EXTRACT_LOOKBACK_DAYS": "how far before the stored cursor database extraction re-reads (default 1)",
    "CVW_INCREMENTAL_LOOKBACK_HOURS": "how far before their latest load the incremental dbt models re-read (default 1)",
    "CVW_FULL_REFRESH": "set: rebuild the incremental dbt models from scratch (cvw run --full-refresh)",
    "CVW_DBT_AS_OF_DATE": "set by the orchestrator for dbt: the as-of date D of the run",
    "CVW_FIRST_AS_OF_DATE": "first daily partition, the earliest as-of date a backfill can rebuild (default 2020-01-01)",
    "CVW_SCHEDULE_CRON": "cron of the nightly schedule (default '0 2 * * *')",
    "CVW_SCHEDULE_TIMEZONE": "IANA timezone of the schedule (default: the machine's local zone)",
    "CVW_EXPECTATIONS_DIR": "folder of the Great Expectations suites (default: ./expectations)",
    "CVW_AS_OF_DATE": "as-of date for `cvw run` (default: yesterday, the last complete day)",
    "CVW_GATE_MAX_QUARANTINE_SHARE": "share of a load's rows quarantined above which the run is blocked (default 0.05)",
    "CVW_GATE_VOLUME_FACTOR": "a database read this many times the recent median blocks the run (default 10)",
    "CVW_GATE_FRESHNESS_DAYS": "data older than this many days before the as-of date is a warning (default 3)",
    "CVW_CLV_ANNUAL_DISCOUNT_RATE": "annual discount rate of predicted_clv_12m (default 0.10)",
    "CVW_CLV_HOLDOUT_DAYS": "length of the CLV holdout period in days (default 180)",
    "CVW_CLV_MAX_HOLDOUT_ERROR": "largest relative holdout error that still publishes predictions (default 0.15)",
    "CVW_CLV_MIN_REPEAT_CUSTOMERS": "fewest customers with a repeat purchase to fit the CLV model (default 100)",
    "CVW_CLV_HOLDOUT_NOISE_SIGMAS": "the holdout bound widens to this many sigmas of Poisson noise for small data (default 3)",
    "CVW_PUBLICATION_VERSIONS_KEPT": "publication snapshots kept under <serving dir>/versions/ for rollback (default 14)",
    "CVW_DBT_TARGETS_KEPT": "dbt invocation folders (logs, compiled SQL, run_results.json) kept under dbt/target/ (default 10)",
}


@dataclass(frozen=True)
class Settings:
    data_dir: Path
    source_url: str
    landing_dir: Path
    warehouse_path: Path
    serving_path: Path
    base_currency: str
    extract_lookback_days: int
    schedule_cron: str
    schedule_timezone: str
    expectations_dir: Path
    memory_limit: str = "2GB"
    gate_max_quarantine_share: float = 0.05
    gate_volume_factor: float = 10.0
    gate_freshness_days: int = 3
    clv_annual_discount_rate: float = 0.10
    clv_max_holdout_error: float = 0.15
    clv_min_repeat_customers: int = 100
    clv_holdout_noise_sigmas: float = 3.0
    publication_versions_kept: int = 14
    dbt_targets_kept: int = 10

    @property
    def sources_dir(self) -> Path:
        return self.data_dir / "sources"

    @property
    def dagster_home(self) -> Path:
        return self.data_dir / "dagster_home"


def local_timezone() -> str:
    """The machine's IANA zone name (falls back to UTC)."""
    if os.environ.get("TZ"):
        return os.environ["TZ"].lstrip(":")
    localtime = Path("/etc/localtime")
    if localtime.is_symlink():
        target = str(localtime.resolve())
        if "zoneinfo/" in target:
            return target.split("zoneinfo/", 1)[1]
    timezone_file = Path("/etc/timezone")
    if timezone_file.is_file():
        name = timezone_file.read_text().strip()
        if name:
            return name
    return "UTC"


def settings_from_env(environ: dict[str, str] | None = None) -> Settings:
    env = os.environ if environ is None else environ
    data_dir = Path(env.get("CVW_DATA_DIR") or PROJECT_ROOT / "data").resolve()
    return Settings(
        data_dir=data_dir,
        source_url=env.get("CVW_SOURCE_URL") or f"sqlite:///{data_dir / 'sources' / 'commerce.sqlite'}",
        landing_dir=Path(env.get("CVW_LANDING_DIR") or data_dir / "sources" / "landing").resolve(),
        warehouse_path=Path(env.get("CVW_WAREHOUSE_PATH") or data_dir / "warehouse.duckdb").resolve(),
        serving_path=Path(env.get("CVW_SERVING_PATH") or data_dir / "serving" / "customer_value.duckdb").resolve(),
        base_currency=env.get("CVW_BASE_CURRENCY") or "USD",
        extract_lookback_days=int(env.get("CVW_EXTRACT_LOOKBACK_DAYS") or 1),
        schedule_cron=env.get("CVW_SCHEDULE_CRON") or "0 2 * * *",
        schedule_timezone=env.get("CVW_SCHEDULE_TIMEZONE") or local_timezone(),
        expectations_dir=Path(env.get("CVW_EXPECTATIONS_DIR") or EXPECTATIONS_DIR).resolve(),
        memory_limit=env.get("CVW_DUCKDB_MEMORY_LIMIT") or "2GB",
        gate_max_quarantine_share=float(env.get("CVW_GATE_MAX_QUARANTINE_SHARE") or 0.05),
        gate_volume_factor=float(env.get("CVW_GATE_VOLUME_FACTOR") or 10),
        gate_freshness_days=int(env.get("CVW_GATE_FRESHNESS_DAYS") or 3),
        clv_annual_discount_rate=float(env.get("CVW_CLV_ANNUAL_DISCOUNT_RATE") or 0.10),
        clv_max_holdout_error=float(env.get("CVW_CLV_MAX_HOLDOUT_ERROR") or 0.15),
        clv_min_repeat_customers=int(env.get("CVW_CLV_MIN_REPEAT_CUSTOMERS") or 100),
        clv_holdout_noise_sigmas=float(env.get("CVW_CLV_HOLDOUT_NOISE_SIGMAS") or 3.0),
        publication_versions_kept=int(env.get("CVW_PUBLICATION_VERSIONS_KEPT") or 14),
        dbt_targets_kept=int(env.get("CVW_DBT_TARGETS_KEPT") or 10),
    )
