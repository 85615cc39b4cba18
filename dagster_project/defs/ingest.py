"""Extraction assets, one multi-asset per source system, and the night's quarantine summary."""

from datetime import timedelta
from pathlib import Path

import dagster as dg

from ..core.contract import ALL_ENTITIES, COMMERCE_ENTITIES, FILE_ENTITIES, Entity
from ..ingest import data_span, quarantine_summary, raw_store
from ..ingest.database_reader import SourceConfigurationError, check_source_url
from ..ingest.extract import EntityLoad, extract_drops, extract_table
from ..ingest.file_reader import LandingFolderError, check_landing_dir, survey_landing
from ..settings import Settings
from . import keys
from .resources import SourcesResource, WarehouseResource

GROUP = "ingest"
# A source system that is briefly unreachable should not cost the night's publication.
RETRY = dg.RetryPolicy(max_retries=3, delay=10, backoff=dg.Backoff.EXPONENTIAL)


def _spec(entity: Entity, deps: tuple[dg.AssetKey, ...] = ()) -> dg.AssetSpec:
    kind = entity.file_format if entity.is_file_drop else "sqlalchemy"
    return dg.AssetSpec(
        key=keys.raw_table(entity),
        description=f"Current state of `{entity.source}.{entity.name}`, validated against the source contract "
        f"(key: {', '.join(entity.key)}). Rows that break the contract are in `raw._quarantine`.",
        group_name=GROUP,
        kinds={"duckdb", kind},
        metadata={"dagster/table_name": f"raw.{entity.raw_table}"},
        skippable=True,
        deps=deps,
    )


def _result(entity: Entity, load: EntityLoad, con, run_id: str) -> dg.MaterializeResult:
    rows = con.execute(f'select count(*) from raw."{entity.raw_table}"').fetchall()[0][0]
    reasons = quarantine_summary.entity_reasons_this_run(con, entity, run_id)
    metadata = {
        "dagster/row_count": rows,
        "rows_read": load.rows_read,
        "rows_changed": load.rows_changed,
        "rows_quarantined_this_run": load.rows_quarantined,
        "rows_in_quarantine": quarantine_summary.open_rows(con, entity),
        "quarantined_this_run": dg.MetadataValue.md(
            quarantine_summary.markdown_table(reasons, ("reason", "rows"), empty="nothing quarantined in this run")
        ),
    }
    if load.problem:
        metadata["not_loaded"] = load.problem
    if entity.is_file_drop:
        metadata["files_loaded"] = dg.MetadataValue.json(load.files_loaded)
        metadata["files_rejected"] = dg.MetadataValue.json(load.files_rejected)
        metadata["files_duplicated"] = dg.MetadataValue.json(load.files_duplicated)
    else:
        metadata["cursor_from"] = load.cursor or "(full load)"
    return dg.MaterializeResult(asset_key=keys.raw_table(entity), metadata=metadata)


def _entities_of(source: str) -> tuple[Entity, ...]:
    return tuple(e for e in ALL_ENTITIES if e.source == source)


@dg.multi_asset(
    name="extract_commerce",
    specs=[_spec(e) for e in COMMERCE_ENTITIES],
    retry_policy=RETRY,
    description="Commerce database (any SQLAlchemy URL), incremental by `updated_at` cursor.",
)
def extract_commerce(context: dg.AssetExecutionContext, warehouse: WarehouseResource, sources: SourcesResource):
    try:
        check_source_url(sources.source_url)
    except SourceConfigurationError as error:
        # a configuration mistake: retrying three times over two minutes would only hide it
        raise dg.Failure(description=str(error), allow_retries=False) from None
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
        span = data_span.record(con, Path(warehouse.path))
        if span:
            context.log.info(f"orders loaded span {span['first_order_date']} .. {span['last_order_date']}: "
                             "the partitions start with the first (unless CVW_FIRST_AS_OF_DATE is set)")


def _file_source_asset(source: str, description: str):
    entities = _entities_of(source)

    @dg.multi_asset(
        name=f"extract_{source}",
        # Drops reference commerce customers: load them after the commerce tables.
        specs=[_spec(e, deps=tuple(keys.raw_table(c) for c in COMMERCE_ENTITIES)) for e in entities],
        retry_policy=RETRY,
        description=description,
    )
    def _extract(context: dg.AssetExecutionContext, warehouse: WarehouseResource, sources: SourcesResource):
        try:
            check_landing_dir(Path(sources.landing_dir))
        except LandingFolderError as error:
            raise dg.Failure(description=str(error), allow_retries=False) from None
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


@dg.asset(
    key=keys.QUARANTINE,
    group_name=GROUP,
    kinds={"duckdb"},
    deps=[keys.raw_table(entity) for entity in ALL_ENTITIES],
    metadata={"dagster/table_name": raw_store.QUARANTINE},
    description="Rows that broke the source contract (raw._quarantine), kept with their source, file or "
    "table, line, reason and load time; a corrected re-delivery resolves them. It follows every "
    "extraction, so the transformation (whose staging models wait for it) starts from a complete load.",
    check_specs=[dg.AssetCheckSpec(
        "landing_folder", asset=keys.QUARANTINE,
        description="Every entry of the landing folder is a drop that was read: an entry named unlike any drop "
        "(upper case, another date format, .txt), or named like one but not one (a directory, a broken link, "
        "an impossible date), is not loaded and is named here as a warning (it blocks nothing).",
    )],
)
def quarantine(context: dg.AssetExecutionContext, warehouse: WarehouseResource,
               sources: SourcesResource) -> dg.MaterializeResult:
    run_id = context.run.run_id
    with warehouse.connect(read_only=True) as con:
        this_run = quarantine_summary.run_by_reason(con, run_id)
        resolved = quarantine_summary.resolved_by_run(con, run_id)
        still_open = quarantine_summary.open_by_entity(con)
    total_open = sum(n for *_, n in still_open)
    survey = survey_landing(Path(sources.landing_dir), FILE_ENTITIES)
    not_loaded = survey.not_loaded()
    for name, reason in sorted(not_loaded.items()):
        context.log.warning(f"landing folder: {name}: {reason}")
    context.log.info(f"{sum(n for *_, n in this_run)} row(s) quarantined this run, {resolved} resolved, "
                     f"{total_open} open")
    return dg.MaterializeResult(
        metadata={
            "dagster/row_count": total_open,
            "quarantined_this_run": sum(n for *_, n in this_run),
            "resolved_this_run": resolved,
            "this_run_by_reason": dg.MetadataValue.md(
                quarantine_summary.markdown_table(this_run, ("source", "entity", "reason", "rows"))),
            "open_by_entity": dg.MetadataValue.md(
                quarantine_summary.markdown_table(still_open, ("source", "entity", "rows"))),
        },
        check_results=[dg.AssetCheckResult(
            check_name="landing_folder", passed=not not_loaded, severity=dg.AssetCheckSeverity.WARN,
            description=(f"{len(not_loaded)} entr{'y' if len(not_loaded) == 1 else 'ies'} of the landing folder "
                         "not loaded: " + "; ".join(f"{name} ({reason})" for name, reason in sorted(not_loaded.items()))
                         ) if not_loaded else "every entry of the landing folder is a drop",
            metadata={"not_loaded": dg.MetadataValue.json(not_loaded)},
        )],
    )


def definitions(settings: Settings) -> dg.Definitions:
    # Extraction is not partitioned: it loads whatever the sources hold when it runs.
    return dg.Definitions(assets=[
        extract_commerce,
        _file_source_asset("crm", "CRM account exports (`crm_accounts_<YYYYMMDD>.csv`), each file loaded once."),
        _file_source_asset("referrals", "Referral program exports (`referrals_<YYYYMMDD>.jsonl`)."),
        _file_source_asset("voice", "Voice of the customer: `reviews_<YYYYMMDD>.jsonl` and `feedback_<YYYYMMDD>.jsonl`."),
        quarantine,
    ])
