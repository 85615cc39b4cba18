"""Every setting of the warehouse, with its default, in one place.

`Settings` holds the defaults; `settings_from_env()` overrides them from `CVW_*` variables
when called (by the Dagster definitions at load time and by the CLI — never at import).
Every Dagster resource is built from a `Settings`. Every path defaults to a place under one
data directory, `CVW_DATA_DIR` (default: `data/` in the project folder), so pointing that
one variable elsewhere moves the whole installation.
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field, fields
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
    "CVW_DBT_AS_OF_DATE": "set by the orchestrator for dbt (never by hand): the as-of date D of the run",
    "CVW_FIRST_AS_OF_DATE": "first daily partition, the earliest as-of date a backfill can rebuild (default: the first order date loaded)",
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
    "CVW_CLV_MIN_REPEAT_CUSTOMERS": "fewest customers with a repeat purchase to fit the CLV model (default 20)",
    "CVW_CLV_PURCHASE_MODEL": "purchase model: bgnbd (default), pareto_nbd, or auto (both, the lower holdout error publishes)",
    "CVW_CLV_HOLDOUT_NOISE_SIGMAS": "the holdout bound widens to this many sigmas of holdout noise (predictive spread + parameter uncertainty) for small data (default 3)",
    "CVW_LAPSED_P_ALIVE": "an overdue regular whose P(alive) is below this has lapsed rather than being at risk (default 0.2)",
    "CVW_MOMENT_WINDOW_DAYS": "customer_moments reports what happened in the last N days, (D - N, D] (default 7, at most 365)",
    "CVW_PUBLICATION_VERSIONS_KEPT": "publication snapshots kept under <serving dir>/versions/ for rollback (default 14)",
    "CVW_DBT_TARGETS_KEPT": "dbt invocation folders (logs, compiled SQL, run_results.json) kept under dbt/target/ (default 10)",
}


PURCHASE_MODELS = ("bgnbd", "pareto_nbd", "auto")


def _default_data_dir() -> Path:
    return PROJECT_ROOT / "data"


@dataclass(frozen=True)
class Settings:
    """Paths left None are derived from `data_dir` (see `__post_init__`)."""

    data_dir: Path = field(default_factory=_default_data_dir)
    source_url: str | None = None  # default: the demo's SQLite file under <data_dir>/sources
    landing_dir: Path | None = None  # default: <data_dir>/sources/landing
    warehouse_path: Path | None = None  # default: <data_dir>/warehouse.duckdb
    serving_path: Path | None = None  # default: <data_dir>/serving/customer_value.duckdb
    expectations_dir: Path = EXPECTATIONS_DIR
    base_currency: str = "USD"
    extract_lookback_days: int = 1
    incremental_lookback_hours: int = 1
    first_as_of_date: str | None = None  # default: the first order date loaded (ingest/data_span.py)
    schedule_cron: str = "0 2 * * *"
    schedule_timezone: str | None = None  # default: the machine's local zone
    # DuckDB takes 80 % of the machine's memory by default; bounded, it spills to disk instead.
    memory_limit: str = "2GB"
    gate_max_quarantine_share: float = 0.05
    gate_volume_factor: float = 10.0
    gate_freshness_days: int = 3
    clv_annual_discount_rate: float = 0.10
    clv_holdout_days: int = 180
    clv_max_holdout_error: float = 0.15
    clv_min_repeat_customers: int = 20
    clv_purchase_model: str = "bgnbd"
    clv_holdout_noise_sigmas: float = 3.0
    lapsed_p_alive: float = 0.2
    moment_window_days: int = 7
    publication_versions_kept: int = 14
    dbt_targets_kept: int = 10

    def __post_init__(self) -> None:
        data_dir = Path(self.data_dir).resolve()
        derived = {
            "data_dir": data_dir,
            "source_url": self.source_url or f"sqlite:///{data_dir / 'sources' / 'commerce.sqlite'}",
            "landing_dir": Path(self.landing_dir or data_dir / "sources" / "landing").resolve(),
            "warehouse_path": Path(self.warehouse_path or data_dir / "warehouse.duckdb").resolve(),
            "serving_path": Path(self.serving_path or data_dir / "serving" / "customer_value.duckdb").resolve(),
            "expectations_dir": Path(self.expectations_dir).resolve(),
            "schedule_timezone": self.schedule_timezone or local_timezone(),
        }
        for name, value in derived.items():
            object.__setattr__(self, name, value)
        if self.first_as_of_date is not None and not _is_iso_date(self.first_as_of_date):
            raise SettingsError(f"CVW_FIRST_AS_OF_DATE={self.first_as_of_date!r}: not a date YYYY-MM-DD")
        if not 0.0 <= self.lapsed_p_alive <= 1.0:
            raise SettingsError(f"CVW_LAPSED_P_ALIVE={self.lapsed_p_alive!r}: a probability must lie in [0, 1]")
        if not 1 <= self.moment_window_days <= 365:
            raise SettingsError(
                f"CVW_MOMENT_WINDOW_DAYS={self.moment_window_days!r}: a window of 1 to 365 days (a moment happens at most "
                "once a year per customer)"
            )
        if self.clv_purchase_model not in PURCHASE_MODELS:
            raise SettingsError(
                f"CVW_CLV_PURCHASE_MODEL={self.clv_purchase_model!r}: not one of {', '.join(PURCHASE_MODELS)}"
            )

    @property
    def sources_dir(self) -> Path:
        return self.data_dir / "sources"

    @property
    def dagster_home(self) -> Path:
        return self.data_dir / "dagster_home"

    @property
    def logs_dir(self) -> Path:
        return self.data_dir / "logs"


# CVW_* variable -> the Settings field it sets (ENV_VARS says what each means).
ENV_FIELDS: dict[str, str] = {
    "CVW_DATA_DIR": "data_dir",
    "CVW_SOURCE_URL": "source_url",
    "CVW_LANDING_DIR": "landing_dir",
    "CVW_WAREHOUSE_PATH": "warehouse_path",
    "CVW_SERVING_PATH": "serving_path",
    "CVW_EXPECTATIONS_DIR": "expectations_dir",
    "CVW_DUCKDB_MEMORY_LIMIT": "memory_limit",
    "CVW_BASE_CURRENCY": "base_currency",
    "CVW_EXTRACT_LOOKBACK_DAYS": "extract_lookback_days",
    "CVW_INCREMENTAL_LOOKBACK_HOURS": "incremental_lookback_hours",
    "CVW_FIRST_AS_OF_DATE": "first_as_of_date",
    "CVW_SCHEDULE_CRON": "schedule_cron",
    "CVW_SCHEDULE_TIMEZONE": "schedule_timezone",
    "CVW_GATE_MAX_QUARANTINE_SHARE": "gate_max_quarantine_share",
    "CVW_GATE_VOLUME_FACTOR": "gate_volume_factor",
    "CVW_GATE_FRESHNESS_DAYS": "gate_freshness_days",
    "CVW_CLV_ANNUAL_DISCOUNT_RATE": "clv_annual_discount_rate",
    "CVW_CLV_HOLDOUT_DAYS": "clv_holdout_days",
    "CVW_CLV_MAX_HOLDOUT_ERROR": "clv_max_holdout_error",
    "CVW_CLV_MIN_REPEAT_CUSTOMERS": "clv_min_repeat_customers",
    "CVW_CLV_PURCHASE_MODEL": "clv_purchase_model",
    "CVW_CLV_HOLDOUT_NOISE_SIGMAS": "clv_holdout_noise_sigmas",
    "CVW_LAPSED_P_ALIVE": "lapsed_p_alive",
    "CVW_MOMENT_WINDOW_DAYS": "moment_window_days",
    "CVW_PUBLICATION_VERSIONS_KEPT": "publication_versions_kept",
    "CVW_DBT_TARGETS_KEPT": "dbt_targets_kept",
}


class SettingsError(ValueError):
    """A configuration value that cannot be used: named with its variable and the reason."""


def _is_iso_date(text: str) -> bool:
    import re
    from datetime import date

    if not re.fullmatch(r"[0-9]{4}-[0-9]{2}-[0-9]{2}", text):
        return False
    try:
        date.fromisoformat(text)
    except ValueError:
        return False
    return True


def _convert(variable: str, text: str, kind: type) -> object:
    if kind in (int, float):
        try:
            return kind(text)
        except ValueError:
            raise SettingsError(f"{variable}={text!r}: not a{'n integer' if kind is int else ' number'}") from None
    return text


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


def settings_from_env(environ: dict[str, str] | None = None, **overrides) -> Settings:
    """The defaults of `Settings`, overridden by every `CVW_*` variable that is set (and
    non-empty), then by `overrides`. A value of the wrong type fails here, naming it."""
    env = os.environ if environ is None else environ
    kinds = {f.name: f.type for f in fields(Settings)}
    values = {}
    for variable, name in ENV_FIELDS.items():
        text = env.get(variable)
        if text:
            values[name] = _convert(variable, text, {"int": int, "float": float}.get(kinds[name], str))
    return Settings(**{**values, **overrides})
