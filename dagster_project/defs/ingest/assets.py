"""Extraction assets: one multi-asset per source system, each loading its `raw` tables."""

from datetime import timedelta
from pathlib import Path

import dagster as dg

from ..resources import SourcesResource, WarehouseResource
from . import raw_store
from .contract import ALL_ENTITIES, COMMERCE_ENTITIES, Entity
from .extract import EntityLoad, extract_drops, extract_table

GROUP = "ingest"
# A source system that is briefly unreachable should not cost the night's publication.
RETRY = dg.RetryPolicy(max_retries=3, delay=10, backoff=dg.Backoff.EXPONENTIAL)


def raw_asset_key(entity: Entity) -> dg.AssetKey:
    return dg.AssetKey(["raw", entity.raw_table])


def _spec(entity: Entity, deps: tuple[dg.AssetKey, ...] = ()) -> dg.AssetSpec:
    kind = "sqlalchemy" if entity.source == "commerce" else entity.file_format
    return dg.AssetSpec(
        key=raw_asset_key(entity),
        description=f"Current state of `{entity.source}.{entity.name}`, validated against the source contract "
        f"(key: {', '.join(entity.key)}). Rows that break the contract are in `raw._quarantine`.",
        group_name=GROUP,
        kinds={"duckdb", kind},
        metadata={"dagster/table_name": f"raw.{entity.raw_table}"},
        skippable=True,
        deps=deps,
    )


def _quarantine_table(con, entity: Entity, run_id: str) -> str:
    """This run's quarantined rows of the entity, counted per reason, as a markdown table."""
    counts = con.execute(
        f"""select regexp_replace(reason, ':[^;]*', '', 'g') as why, count(*) from {raw_store.QUARANTINE}
            where source = ? and entity = ? and run_id = ? group by why order by count(*) desc, why""",
        [entity.source, entity.name, run_id],
    ).fetchall()
    lines = ["| reason | rows |", "|---|---|"] + [f"| {why} | {n} |" for why, n in counts]
    return "\n".join(lines) if counts else "nothing quarantined in this run"


def _result(entity: Entity, load: EntityLoad, con, run_id: str) -> dg.MaterializeResult:
    rows = con.execute(f'select count(*) from raw."{entity.raw_table}"').fetchall()[0][0]
    open_rows = con.execute(
        f"select count(*) from {raw_store.QUARANTINE} where source = ? and entity = ? and resolved_at is null",
        [entity.source, entity.name],
    ).fetchall()[0][0]
    metadata = {
        "dagster/row_count": rows,
        "rows_read": load.rows_read,
        "rows_changed": load.rows_changed,
        "rows_quarantined_this_run": load.rows_quarantined,
        "rows_in_quarantine": open_rows,
        "quarantined_this_run": dg.MetadataValue.md(_quarantine_table(con, entity, run_id)),
    }
    if load.problem:
        metadata["not_loaded"] = load.problem
    if entity.file_prefix:
        metadata["files_loaded"] = dg.MetadataValue.json(load.files_loaded)
        metadata["files_rejected"] = dg.MetadataValue.json(load.files_rejected)
        metadata["files_duplicated"] = dg.MetadataValue.json(load.files_duplicated)
    else:
        metadata["cursor_from"] = load.cursor or "(full load)"
    return dg.MaterializeResult(asset_key=raw_asset_key(entity), metadata=metadata)


def _entities_of(source: str) -> tuple[Entity, ...]:
    return tuple(e for e in ALL_ENTITIES if e.source == source)


@dg.multi_asset(
    name="extract_commerce",
    specs=[_spec(e) for e in COMMERCE_ENTITIES],
    retry_policy=RETRY,
    description="Commerce database (any SQLAlchemy URL), incremental by `updated_at` cursor.",
)
def extract_commerce(context: dg.AssetExecutionContext, warehouse: WarehouseResource, sources: SourcesResource):
    lookback = timedelta(days=sources.extract_lookback_days)
    with warehouse.connect() as con:
        for entity in COMMERCE_ENTITIES:
            load = extract_table(
                con, sources.source_url, entity,
                base_currency=sources.base_currency, lookback=lookback, run_id=context.run_id,
            )
            context.log.info(
                f"{entity.raw_table}: read {load.rows_read}, changed {load.rows_changed}, "
                f"quarantined {load.rows_quarantined} (cursor {load.cursor})"
            )
            if load.problem:
                context.log.warning(f"{entity.raw_table} not loaded: {load.problem}")
            yield _result(entity, load, con, context.run_id)


def _file_source_asset(source: str, description: str):
    entities = _entities_of(source)

    @dg.multi_asset(
        name=f"extract_{source}",
        # Drops reference commerce customers: load them after the commerce tables.
        specs=[_spec(e, deps=tuple(raw_asset_key(c) for c in COMMERCE_ENTITIES)) for e in entities],
        retry_policy=RETRY,
        description=description,
    )
    def _extract(context: dg.AssetExecutionContext, warehouse: WarehouseResource, sources: SourcesResource):
        with warehouse.connect() as con:
            for entity in entities:
                load = extract_drops(
                    con, Path(sources.landing_dir), entity, base_currency=sources.base_currency, run_id=context.run_id
                )
                for name, reason in load.files_rejected.items():
                    context.log.warning(f"{name} rejected: {reason}")
                for name, earlier in load.files_duplicated.items():
                    context.log.warning(f"{name} skipped: the same bytes as {earlier}, already received")
                context.log.info(
                    f"{entity.raw_table}: {len(load.files_loaded)} new file(s), read {load.rows_read}, "
                    f"changed {load.rows_changed}, quarantined {load.rows_quarantined}"
                )
                yield _result(entity, load, con, context.run_id)

    return _extract


extract_crm = _file_source_asset("crm", "CRM account exports (`crm_accounts_<YYYYMMDD>.csv`), each file loaded once.")
extract_referrals = _file_source_asset("referrals", "Referral program exports (`referrals_<YYYYMMDD>.jsonl`).")
extract_voice = _file_source_asset(
    "voice", "Voice of the customer: `reviews_<YYYYMMDD>.jsonl` and `feedback_<YYYYMMDD>.jsonl`."
)
