"""The resources every stage uses, each built from one `Settings` (nothing else configures them)."""

from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import dagster as dg
import duckdb
from dagster_dbt import DbtCliResource

from ..prediction.fit import ClvSettings
from ..quality.source_rules import GateSettings
from ..settings import Settings
from ..transform.dbt_cli import dbt_executable, project_environment
from .dbt_project import dbt_project
from .night_lock import night


class WarehouseResource(dg.ConfigurableResource):
    """The working DuckDB file. One writer at a time: open, use, close within a step; and one
    night at a time: a run holds the warehouse's night lock while it executes."""

    path: str
    memory_limit: str

    @contextmanager
    def yield_for_execution(self, context: dg.InitResourceContext):
        with night(context, self.path):
            yield self

    @contextmanager
    def connect(self, read_only: bool = False) -> Iterator[duckdb.DuckDBPyConnection]:
        Path(self.path).parent.mkdir(parents=True, exist_ok=True)
        con = duckdb.connect(self.path, read_only=read_only, config={"memory_limit": self.memory_limit})
        try:
            con.execute("set TimeZone = 'UTC'")
            yield con
        finally:
            con.close()

    @property
    def data_dir(self) -> Path:
        """Where the working file's companions live: the CLV plots, the validation reports."""
        return Path(self.path).parent

    @property
    def model_plots_dir(self) -> Path:
        return self.data_dir / "plots"


class SourcesResource(dg.ConfigurableResource):
    """Where the source systems are: the commerce database URL and the file landing folder."""

    source_url: str
    landing_dir: str
    base_currency: str
    extract_lookback_days: int


class TransformResource(dg.ConfigurableResource):
    """What the dbt project is told through its environment, and how many dbt invocation
    folders are kept."""

    base_currency: str
    clv_holdout_days: int
    incremental_lookback_hours: int
    memory_limit: str
    targets_kept: int
    lapsed_p_alive: float
    moment_window_days: int

    def environment(self, warehouse_path: str, as_of_date: str) -> dict[str, str]:
        return {
            **project_environment(
                warehouse_path=warehouse_path, base_currency=self.base_currency,
                clv_holdout_days=self.clv_holdout_days, incremental_lookback_hours=self.incremental_lookback_hours,
                memory_limit=self.memory_limit, lapsed_p_alive=self.lapsed_p_alive,
                moment_window_days=self.moment_window_days,
            ),
            "CVW_DBT_AS_OF_DATE": as_of_date,
        }


class ClvModelResource(dg.ConfigurableResource):
    """Settings of the CLV model fit and of its blocking holdout check."""

    annual_discount_rate: float
    max_holdout_error: float
    min_repeat_customers: int
    holdout_noise_sigmas: float

    def settings(self) -> ClvSettings:
        return ClvSettings(
            self.annual_discount_rate, self.max_holdout_error, self.min_repeat_customers, self.holdout_noise_sigmas
        )


class QualityResource(dg.ConfigurableResource):
    """The source gate's thresholds and the folder of the Great Expectations suites."""

    max_quarantine_share: float
    volume_factor: float
    freshness_days: int
    expectations_dir: str
    lapsed_p_alive: float

    def gate_settings(self) -> GateSettings:
        return GateSettings(self.max_quarantine_share, self.volume_factor, self.freshness_days)

    def suite_settings(self) -> dict[str, float]:
        """Configured values the expectation suites may name as parameters."""
        return {"lapsed_p_alive": self.lapsed_p_alive}


class ServingResource(dg.ConfigurableResource):
    """The published DuckDB file BI tools read; replaced whole, atomically, on each publication."""

    path: str
    versions_kept: int


def build_resources(settings: Settings) -> dict[str, dg.ConfigurableResource | DbtCliResource]:
    return {
        "warehouse": WarehouseResource(path=str(settings.warehouse_path), memory_limit=settings.memory_limit),
        "sources": SourcesResource(
            source_url=settings.source_url, landing_dir=str(settings.landing_dir),
            base_currency=settings.base_currency, extract_lookback_days=settings.extract_lookback_days,
        ),
        "transform": TransformResource(
            base_currency=settings.base_currency, clv_holdout_days=settings.clv_holdout_days,
            incremental_lookback_hours=settings.incremental_lookback_hours, memory_limit=settings.memory_limit,
            targets_kept=settings.dbt_targets_kept, lapsed_p_alive=settings.lapsed_p_alive,
            moment_window_days=settings.moment_window_days,
        ),
        "clv": ClvModelResource(
            annual_discount_rate=settings.clv_annual_discount_rate, max_holdout_error=settings.clv_max_holdout_error,
            min_repeat_customers=settings.clv_min_repeat_customers,
            holdout_noise_sigmas=settings.clv_holdout_noise_sigmas,
        ),
        "quality": QualityResource(
            max_quarantine_share=settings.gate_max_quarantine_share, volume_factor=settings.gate_volume_factor,
            freshness_days=settings.gate_freshness_days, expectations_dir=str(settings.expectations_dir),
            lapsed_p_alive=settings.lapsed_p_alive,
        ),
        "serving": ServingResource(path=str(settings.serving_path), versions_kept=settings.publication_versions_kept),
        "dbt": DbtCliResource(project_dir=dbt_project(), dbt_executable=dbt_executable()),
    }
