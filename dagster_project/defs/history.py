"""The status history inside the asset graph: after dbt builds customer_value for D, record
each customer's (tier, segment, rhythm) for D; the marts that read the history
(win_back_customers, customer_traits) are built from it."""

from datetime import date

import dagster as dg

from ..core.clock import utc_now
from ..history.status_history import DATES, STATUSES, record_statuses
from ..settings import Settings
from . import keys
from .partitions import ONE_DATE_PER_RUN, as_of_dates
from .resources import WarehouseResource

GROUP = "models"


def status_history_asset(settings: Settings) -> dg.AssetsDefinition:
    @dg.multi_asset(
        name="status_history",
        specs=[
            dg.AssetSpec(
                key=keys.STATUS_HISTORY, group_name=GROUP, kinds={"duckdb"}, deps=[keys.CUSTOMER_VALUE],
                description="Every customer's (value_tier, value_segment, rhythm_status) on each recorded as-of "
                "date, as intervals (valid_from, valid_to) that grow with changes, not with days. State no "
                "rebuild touches: dbt never writes the `history` schema; re-running a date replaces it, a "
                "backfill inserts into the past.",
                metadata={"dagster/table_name": STATUSES},
            ),
            dg.AssetSpec(
                key=keys.STATUS_DATES, group_name=GROUP, kinds={"duckdb"}, deps=[keys.CUSTOMER_VALUE],
                description="The as-of dates recorded in the status history.",
                metadata={"dagster/table_name": DATES},
            ),
        ],
        partitions_def=as_of_dates(settings),
        backfill_policy=ONE_DATE_PER_RUN,
        can_subset=False,
    )
    def status_history(context: dg.AssetExecutionContext, warehouse: WarehouseResource):
        with warehouse.connect() as con:
            recorded = record_statuses(con, date.fromisoformat(context.partition_key), run_id=context.run_id,
                                       recorded_at=utc_now(whole_seconds=True))
        context.log.info(
            f"status history as of {recorded.as_of_date}: {recorded.changed:,} of {recorded.customers:,} customers "
            f"changed tier, segment or rhythm; {recorded.intervals:,} intervals over {recorded.dates:,} dates"
            + (" (a backfill: later dates were recorded already)" if recorded.backfill else "")
        )
        yield dg.MaterializeResult(asset_key=keys.STATUS_HISTORY, metadata={
            "customers": recorded.customers, "changed": recorded.changed, "intervals": recorded.intervals,
            "intervals_per_customer": round(recorded.intervals / max(recorded.customers, 1), 3),
            "dates": recorded.dates, "backfill": recorded.backfill,
        })
        yield dg.MaterializeResult(asset_key=keys.STATUS_DATES, metadata={"dates": recorded.dates})

    return status_history


def definitions(settings: Settings) -> dg.Definitions:
    return dg.Definitions(assets=[status_history_asset(settings)])
