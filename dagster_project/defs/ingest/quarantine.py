"""The night's quarantine, as an asset: what each source delivered that broke the contract.

It follows every extraction, so the transformation (whose staging models wait for it) starts
from a complete, summarised load; its metadata shows, per run, the rows quarantined per
source, entity and reason, the ones a corrected delivery resolved, and what is still open.
"""

import dagster as dg

from ..resources import WarehouseResource
from . import raw_store
from .assets import raw_asset_key
from .contract import ALL_ENTITIES

QUARANTINE_ASSET = dg.AssetKey(["raw", "quarantine"])
_REASON = "regexp_replace(reason, ':[^;]*', '', 'g')"  # the reason without the offending value


def _markdown(rows: list[tuple], header: tuple[str, ...]) -> str:
    if not rows:
        return "nothing"
    lines = ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
    return "\n".join(lines + ["| " + " | ".join(str(v) for v in row) + " |" for row in rows])


@dg.asset(
    key=QUARANTINE_ASSET,
    group_name="ingest",
    kinds={"duckdb"},
    deps=[raw_asset_key(entity) for entity in ALL_ENTITIES],
    metadata={"dagster/table_name": raw_store.QUARANTINE},
    description="Rows that broke the source contract (raw._quarantine), kept with their source, file or "
    "table, line, reason and load time; a corrected re-delivery resolves them.",
)
def quarantine(context: dg.AssetExecutionContext, warehouse: WarehouseResource) -> dg.MaterializeResult:
    run_id = context.run.run_id
    with warehouse.connect(read_only=True) as con:
        this_run = con.execute(
            f"""select source, entity, {_REASON} as reason, count(*) from {raw_store.QUARANTINE}
                where run_id = ? group by all order by all""",
            [run_id],
        ).fetchall()
        resolved = con.execute(
            f"select count(*) from {raw_store.QUARANTINE} where resolved_run_id = ?", [run_id]
        ).fetchall()[0][0]
        still_open = con.execute(
            f"""select source, entity, count(*) from {raw_store.QUARANTINE}
                where resolved_at is null group by all order by all"""
        ).fetchall()
    total_open = sum(n for *_, n in still_open)
    context.log.info(f"{sum(n for *_, n in this_run)} row(s) quarantined this run, {resolved} resolved, "
                     f"{total_open} open")
    return dg.MaterializeResult(
        metadata={
            "dagster/row_count": total_open,
            "quarantined_this_run": sum(n for *_, n in this_run),
            "resolved_this_run": resolved,
            "this_run_by_reason": dg.MetadataValue.md(_markdown(this_run, ("source", "entity", "reason", "rows"))),
            "open_by_entity": dg.MetadataValue.md(_markdown(still_open, ("source", "entity", "rows"))),
        }
    )
