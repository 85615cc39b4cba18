"""Resources shared by every stage; paths come from environment variables."""

from __future__ import annotations

import os
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import dagster as dg
import duckdb
from dagster_dbt import DbtCliResource

from ..settings import settings_from_env
from .transform.project import dbt_executable, dbt_project


class WarehouseResource(dg.ConfigurableResource):
    """The working DuckDB file. One writer at a time: open, use, close within a step."""

    path: str
    # DuckDB takes 80 % of the machine's memory by default; bounded, it spills to disk instead.
    memory_limit: str = "2GB"

    @contextmanager
    def connect(self, read_only: bool = False) -> Iterator[duckdb.DuckDBPyConnection]:
        Path(self.path).parent.mkdir(parents=True, exist_ok=True)
        con = duckdb.connect(self.path, read_only=read_only, config={"memory_limit": self.memory_limit})
        try:
            con.execute("set TimeZone = 'UTC'")
            yield con
        finally:
            con.close()


class SourcesResource(dg.ConfigurableResource):
    """Where the source systems are: the commerce database URL and the file landing folder."""

    source_url: str
    landing_dir: str
    base_currency: str = "USD"
    extract_lookback_days: int = 1


class ClvModelResource(dg.ConfigurableResource):
    """Settings of the CLV model fit and of its blocking holdout check."""

    annual_discount_rate: float = 0.10
    max_holdout_error: float = 0.15
    min_repeat_customers: int = 100
    holdout_noise_sigmas: float = 3.0

    def settings(self):
        from .models.clv_fit import ClvSettings

        return ClvSettings(
            self.annual_discount_rate, self.max_holdout_error, self.min_repeat_customers, self.holdout_noise_sigmas
        )


class ServingResource(dg.ConfigurableResource):
    """The published DuckDB file BI tools read; replaced whole, atomically, on each publication."""

    path: str


def _env_or(name: str, default: str):
    """An `EnvVar` when the variable is set (shown as such in the UI), else the default value."""
    return dg.EnvVar(name) if os.environ.get(name) else default


@dg.definitions
def resources() -> dg.Definitions:
    settings = settings_from_env()
    return dg.Definitions(
        resources={
            "warehouse": WarehouseResource(
                path=_env_or("CVW_WAREHOUSE_PATH", str(settings.warehouse_path)), memory_limit=settings.memory_limit
            ),
            "sources": SourcesResource(
                source_url=_env_or("CVW_SOURCE_URL", settings.source_url),
                landing_dir=_env_or("CVW_LANDING_DIR", str(settings.landing_dir)),
                base_currency=_env_or("CVW_BASE_CURRENCY", settings.base_currency),
                extract_lookback_days=settings.extract_lookback_days,
            ),
            "serving": ServingResource(path=_env_or("CVW_SERVING_PATH", str(settings.serving_path))),
            "clv": ClvModelResource(
                annual_discount_rate=settings.clv_annual_discount_rate,
                max_holdout_error=settings.clv_max_holdout_error,
                min_repeat_customers=settings.clv_min_repeat_customers,
                holdout_noise_sigmas=settings.clv_holdout_noise_sigmas,
            ),
            "dbt": DbtCliResource(project_dir=dbt_project, dbt_executable=dbt_executable()),
        }
    )
