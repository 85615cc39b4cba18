"""The `raw` schema of the working DuckDB: typed current-state tables, quarantine, load state.

A batch is merged on the entity's key so that the latest version of a row wins and a
row delivered twice is stored once. Rows that break the contract go to
`raw._quarantine`, with their reason, never into the typed tables. The load state
(database cursors, files already loaded) is written in the same transaction as the
rows it describes, so a crash either keeps both or neither.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import datetime, timedelta

import duckdb
import pyarrow as pa

from ..core import clock
from ..core.contract import ALL_ENTITIES, LINEAGE_COLUMNS, Entity
from ..core.raw_layout import LOAD_HISTORY, LOAD_STATE, LOADED_FILES, QUARANTINE, SOURCE_COLUMNS
from ..core.sql import quote_identifier, quote_literal
from .validation import checked_select


_QUARANTINE_DDL = f"""
create table if not exists {QUARANTINE} (
    quarantine_id varchar primary key,
    source varchar not null,
    entity varchar not null,
    source_file varchar,
    source_row bigint,
    record_key varchar,
    reason varchar not null,
    record varchar,
    loaded_at timestamp not null,
    run_id varchar
)"""
# A re-delivered, corrected version of a quarantined row resolves it: the quarantined
# version stays for the record, marked with when and by which run it was replaced.
_QUARANTINE_MIGRATIONS = (
    f"alter table {QUARANTINE} add column if not exists resolved_at timestamp",
    f"alter table {QUARANTINE} add column if not exists resolved_run_id varchar",
)

_LOAD_STATE_DDL = f"""
create table if not exists {LOAD_STATE} (
    source varchar not null,
    entity varchar not null,
    cursor_value varchar,
    rows_read bigint,
    loaded_at timestamp not null,
    run_id varchar,
    primary key (source, entity)
)"""

_LOADED_FILES_DDL = f"""
create table if not exists {LOADED_FILES} (
    file_name varchar primary key,
    source varchar not null,
    entity varchar not null,
    sha256 varchar not null,
    bytes bigint not null,
    status varchar not null,  -- loaded | rejected
    reason varchar,
    rows_read bigint,
    rows_loaded bigint,
    rows_quarantined bigint,
    loaded_at timestamp not null,
    run_id varchar
)"""


# One row per load of an entity (a table read, a file): what the volume check compares with.
_LOAD_HISTORY_DDL = f"""
create table if not exists {LOAD_HISTORY} (
    source varchar not null,
    entity varchar not null,
    origin varchar not null,  -- source table, or file name
    incremental boolean not null,  -- false for a first, full read
    rows_read bigint not null,
    rows_changed bigint not null,
    rows_quarantined bigint not null,  -- rows read that broke the contract (quarantined now or by an earlier load)
    source_rows bigint,  -- rows the source table holds (database tables)
    loaded_at timestamp not null,
    run_id varchar
)"""

# The columns each source delivered at its latest load: what the schema-drift check reads.
_SOURCE_COLUMNS_DDL = f"""
create table if not exists {SOURCE_COLUMNS} (
    source varchar not null,
    entity varchar not null,
    origin varchar not null,
    column_name varchar not null,
    data_type varchar,
    previous_type varchar,  -- its type at the load before, when it had one and it differs
    observed_at timestamp not null,
    run_id varchar,
    primary key (source, entity, column_name)
)"""


def load_stamp(con) -> datetime:
    """The `loaded_at` a load stamps on its rows and bookkeeping: now, but always later than
    every stamp already in `raw` (then the latest + 1 s). The incremental models re-read the
    rows loaded after the newest stamp they hold; with wall-clock stamps a clock that ran fast
    for a night (then was corrected) or stepped back would stamp later loads *earlier* than
    rows already built, and those loads would never be read. The stamps form a strictly
    increasing load sequence that equals the wall clock whenever it is right."""
    now = clock.utc_now(whole_seconds=True)
    # the typed tables' `_loaded_at` as well as the bookkeeping's `loaded_at`: re-judged orphans
    # are stamped without a load record of their own
    stamped = con.execute(
        """select table_name, column_name from information_schema.columns
        where table_catalog = current_database() and table_schema = 'raw'
          and column_name in ('loaded_at', '_loaded_at')
        order by table_name"""
    ).fetchall()
    if not stamped:
        return now
    latest = con.execute("select max(stamp) from (" + " union all ".join(
        f"select max({quote_identifier(column)}) as stamp from raw.{quote_identifier(table)}" for table, column in stamped
    ) + ")").fetchall()[0][0]
    return now if latest is None or now > latest else latest + timedelta(seconds=1)


def record_columns(con, entity: Entity, origin: str, columns: dict[str, str | None], *, observed_at, run_id) -> None:
    """Replace the entity's observed columns ({name: declared or JSON type}) with this load's,
    remembering a column's earlier type when it changed (a retyped column)."""
    before = dict(con.execute(
        f"select column_name, data_type from {SOURCE_COLUMNS} where source = ? and entity = ?",
        [entity.source, entity.name],
    ).fetchall())
    con.execute(f"delete from {SOURCE_COLUMNS} where source = ? and entity = ?", [entity.source, entity.name])
    rows = []
    for name, kind in columns.items():
        previous = before.get(name)
        changed = previous if previous is not None and kind is not None and previous != kind else None
        rows.append([entity.source, entity.name, origin, name, kind, changed, observed_at, run_id])
    if rows:
        con.executemany(f"insert into {SOURCE_COLUMNS} values (?, ?, ?, ?, ?, ?, ?, ?)", rows)


def record_load(con, entity: Entity, origin: str, result: "BatchResult", *, incremental: bool,
                source_rows: int | None, loaded_at, run_id) -> None:
    con.execute(
        f"insert into {LOAD_HISTORY} values (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
        [entity.source, entity.name, origin, incremental, result.rows_read, result.rows_changed,
         result.rejected, source_rows, loaded_at, run_id],
    )


@dataclass(frozen=True)
class BatchResult:
    rows_read: int
    rows_changed: int  # new rows plus newer versions of known rows
    rows_quarantined: int  # newly quarantined (a row quarantined before is not counted twice)
    # Rows of this read that broke the contract, newly quarantined or already (a bad row the
    # source still delivers): what the conformance check judges. None: rows_quarantined.
    rows_rejected: int | None = None

    @property
    def rejected(self) -> int:
        return self.rows_quarantined if self.rows_rejected is None else self.rows_rejected


def ensure_raw_schema(con: duckdb.DuckDBPyConnection) -> None:
    con.execute("create schema if not exists raw")
    for entity in ALL_ENTITIES:
        columns = [f"{quote_identifier(c.name)} {c.storage_type}" for c in entity.columns]
        columns += [f"{name} {sql_type}" for name, sql_type in LINEAGE_COLUMNS]
        con.execute(f"create table if not exists raw.{quote_identifier(entity.raw_table)} ({', '.join(columns)})")
    for ddl in (_QUARANTINE_DDL, *_QUARANTINE_MIGRATIONS, _LOAD_STATE_DDL, _LOADED_FILES_DDL, _LOAD_HISTORY_DDL,
                _SOURCE_COLUMNS_DDL):
        con.execute(ddl)


def _key_match(entity: Entity, left: str, right: str) -> str:
    return " and ".join(f"{left}.{quote_identifier(k)} = {right}.{quote_identifier(k)}" for k in entity.key)


def _content_hash(entity: Entity, alias: str) -> str:
    return "hash(" + ", ".join(f"{alias}.{quote_identifier(c)}" for c in entity.column_names) + ")"


def quarantine_rows(
    con: duckdb.DuckDBPyConnection,
    entity: Entity,
    rows: list[tuple[str | None, int | None, str | None, str]],
    *,
    loaded_at: datetime,
    run_id: str | None,
) -> int:
    """Quarantine rows a reader could not even split into fields: (file, row, record, reason)."""
    if not rows:
        return 0
    table = pa.table(
        {
            "_source_file": pa.array([r[0] for r in rows], pa.string()),
            "_source_row": pa.array([r[1] for r in rows], pa.int64()),
            "_record": pa.array([r[2] for r in rows], pa.string()),
            "_reason": pa.array([r[3] for r in rows], pa.string()),
        }
    )
    con.register("_reader_rejects", table)
    try:
        return _insert_quarantine(con, entity, "_reader_rejects", "null", loaded_at, run_id)
    finally:
        con.unregister("_reader_rejects")


def _split_invalid_utf8(entity: Entity, batch: pa.Table) -> tuple[pa.Table, pa.Table | None]:
    """(rows whose text is valid UTF-8, the others with `_reason` and `_key`, or None).

    A database can hand over bytes that are no UTF-8 (SQLite stores what it is given); DuckDB
    must never see them (it fails fatally), so such a row is quarantined here, as files' lines are.
    """
    try:
        batch.validate(full=True)
        return batch, None
    except pa.ArrowInvalid:
        pass
    reasons: list[list[str]] = [[] for _ in range(batch.num_rows)]
    shown: dict[str, list[str | None]] = {}
    for name in batch.column_names:
        if not pa.types.is_string(batch.schema.field(name).type):
            continue
        values = batch.column(name).cast(pa.binary()).to_pylist()
        shown[name] = [None if v is None else v.decode("utf-8", errors="replace") for v in values]
        for row, value in enumerate(values):
            if value is None:
                continue
            try:
                value.decode("utf-8")
            except UnicodeDecodeError as error:
                reasons[row].append(f"not valid UTF-8 in {name} at byte {error.start}")
    bad = [row for row, why in enumerate(reasons) if why]
    good = batch.filter(pa.array([not why for why in reasons]))
    if not bad:
        return good, None
    records = [
        shown["_record"][row] if shown.get("_record") and shown["_record"][row] is not None
        else json.dumps({c: shown[c][row] for c in entity.column_names if c in shown})
        for row in bad
    ]
    rejects = pa.table({
        "_source_file": pa.array([shown["_source_file"][row] for row in bad], pa.string()),
        "_source_row": batch.column("_source_row").take(pa.array(bad)).cast(pa.int64()),
        "_record": pa.array(records, pa.string()),
        "_reason": pa.array(["; ".join(reasons[row]) for row in bad], pa.string()),
        "_key": pa.array(["|".join(shown[k][row] or "" for k in entity.key) for row in bad], pa.string()),
    })
    return good, rejects


def _insert_quarantine(con, entity: Entity, relation: str, record_key: str, loaded_at, run_id) -> int:
    identity = (
        f"md5(concat_ws(chr(31), {quote_literal(entity.source)}, {quote_literal(entity.name)}, "
        "coalesce(q._source_file, ''), coalesce(q._record, ''), q._reason))"
    )
    before = con.execute(f"select count(*) from {QUARANTINE}").fetchall()[0][0]
    con.execute(
        f"""
        insert into {QUARANTINE} (
            quarantine_id, source, entity, source_file, source_row, record_key, reason, record, loaded_at, run_id
        )
        select distinct on ({identity})
            {identity}, ?, ?, q._source_file, q._source_row, {record_key}, q._reason, q._record, ?, ?
        from {relation} q
        where q._reason is not null
        on conflict do nothing
        """,
        [entity.source, entity.name, loaded_at, run_id],
    ).fetchall()
    return con.execute(f"select count(*) from {QUARANTINE}").fetchall()[0][0] - before



def merge_batch(
    con: duckdb.DuckDBPyConnection,
    entity: Entity,
    batch: pa.Table,
    *,
    base_currency: str,
    loaded_at: datetime,
    run_id: str | None,
) -> BatchResult:
    """Validate a text batch, quarantine its bad rows and merge the good ones into raw.

    `batch` has one string column per contract column (absent ones are null), plus
    `_source_file`, `_source_row` and `_record` (the row as delivered, for the quarantine).
    """
    target = f"raw.{quote_identifier(entity.raw_table)}"
    rows_read = batch.num_rows
    batch, undecodable = _split_invalid_utf8(entity, batch)
    undecodable_quarantined = 0
    if undecodable is not None:
        con.register("_undecodable", undecodable)
        try:
            undecodable_quarantined = _insert_quarantine(con, entity, "_undecodable", "q._key", loaded_at, run_id)
        finally:
            con.unregister("_undecodable")
    con.register("_batch_arrow", batch)
    try:
        con.execute(
            f"create or replace temp table _checked as {checked_select(entity, '_batch_arrow', base_currency)}"
        ).fetchall()
    finally:
        con.unregister("_batch_arrow")

    keys = ", ".join(quote_identifier(k) for k in entity.key)
    if entity.cursor:
        # Two different rows under one key with the same update time: nothing says which is
        # current, so neither is loaded (the stored version, if any, stays) and both are kept.
        con.execute(
            f"""
            update _checked set _reason = 'duplicate {'/'.join(entity.key)} with the same {entity.cursor} '
                || 'and different values: which one is current is unknown'
            where _reason is null and ({keys}, {quote_identifier(entity.cursor)}) in (
                select ({keys}, {quote_identifier(entity.cursor)}) from _checked where _reason is null
                group by {keys}, {quote_identifier(entity.cursor)}
                having count(distinct {_content_hash(entity, '_checked')}) > 1
            )
            """
        )
    record_key = "concat_ws('|', " + ", ".join(f"cast(q.{quote_identifier(k)} as varchar)" for k in entity.key) + ")"
    quarantined = _insert_quarantine(con, entity, "_checked", record_key, loaded_at, run_id)
    rejected = con.execute("select count(*) from _checked where _reason is not null").fetchall()[0][0]

    # Within one batch the latest version of a key wins; on equal cursors, the later row.
    order = ([f"{quote_identifier(entity.cursor)} desc"] if entity.cursor else []) + ["_source_file desc", "_source_row desc"]
    con.execute(
        f"""
        create or replace temp table _latest as
        select * exclude (_record, _reason) from _checked
        where _reason is null
        qualify row_number() over (partition by {', '.join(quote_identifier(k) for k in entity.key)} order by {', '.join(order)}) = 1
        """
    )
    # A delivered version replaces the stored one when it is at least as recent and differs.
    newer = f"v.{quote_identifier(entity.cursor)} >= t.{quote_identifier(entity.cursor)} and " if entity.cursor else ""
    changed = con.execute(
        f"""
        select count(*) from _latest v
        where not exists (
            select 1 from {target} t
            where {_key_match(entity, 't', 'v')}
              and not ({newer}{_content_hash(entity, 'v')} <> {_content_hash(entity, 't')})
        )
        """
    ).fetchall()[0][0]
    con.execute(
        f"""
        delete from {target} t using _latest v
        where {_key_match(entity, 't', 'v')} and {newer}{_content_hash(entity, 'v')} <> {_content_hash(entity, 't')}
        """
    )
    columns = ", ".join(quote_identifier(c) for c in entity.column_names)
    con.execute(
        f"""
        insert into {target}
        select {columns}, v._source_file, v._source_row, ?::timestamp from _latest v
        where not exists (select 1 from {target} t where {_key_match(entity, 't', 'v')})
        """,
        [loaded_at],
    )
    # Quarantined versions of the keys that just arrived valid are resolved by them.
    con.execute(
        f"""
        update {QUARANTINE} set resolved_at = ?, resolved_run_id = ?
        where source = ? and entity = ? and resolved_at is null
          and record_key in (select {record_key.replace('q.', 'v.')} from _latest v)
        """,
        [loaded_at, run_id, entity.source, entity.name],
    )
    con.execute("drop table _checked; drop table _latest")
    undecodable_rows = 0 if undecodable is None else undecodable.num_rows
    return BatchResult(rows_read=rows_read, rows_changed=changed,
                       rows_quarantined=quarantined + undecodable_quarantined,
                       rows_rejected=rejected + undecodable_rows)
