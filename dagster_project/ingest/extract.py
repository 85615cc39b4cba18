"""Incremental, idempotent loads of each source system into `raw`.

Database tables load from their `updated_at` cursor; file drops load once each, by
name. Every unit of work (one table, one file) commits its rows, its quarantined rows
and its load state together, so a re-run after a crash resumes exactly where the last
commit left off.
"""

from __future__ import annotations

import json
import logging
import re
from dataclasses import dataclass, field
from datetime import timedelta
from pathlib import Path

import duckdb

from . import raw_store
from ..core.contract import Entity
from ..core.files import sha256_bytes
from ..core.sql import transaction
from .database_reader import cursor_floor, inspect_table, read_table, schema_problem
from .file_reader import FileRejected, decoded, parse_file, read_bytes, survey_landing

log = logging.getLogger(__name__)


@dataclass
class EntityLoad:
    entity: str
    rows_read: int = 0
    rows_changed: int = 0
    rows_quarantined: int = 0
    rows_rejected: int = 0  # rows read that broke the contract, quarantined now or by an earlier load
    cursor: str | None = None
    files_loaded: list[str] = field(default_factory=list)
    files_rejected: dict[str, str] = field(default_factory=dict)
    files_duplicated: dict[str, str] = field(default_factory=dict)  # file: the earlier file with its bytes
    rows_rejudged: int = 0  # quarantined only for a reference to a row not yet loaded, loaded now
    problem: str | None = None  # the source can't be read as the contract describes: nothing loaded

    def add(self, result: raw_store.BatchResult) -> None:
        self.rows_read += result.rows_read
        self.rows_changed += result.rows_changed
        self.rows_quarantined += result.rows_quarantined
        self.rows_rejected += result.rejected


def _stored_cursor_max(con: duckdb.DuckDBPyConnection, entity: Entity):
    """The latest cursor value loaded; None for tables without a cursor, which are read whole
    (fx_rates: a corrected rate for an old date must reach the marts too)."""
    if not entity.cursor:
        return None
    return con.execute(f'select max("{entity.cursor}") from raw."{entity.raw_table}"').fetchall()[0][0]


def extract_table(
    con: duckdb.DuckDBPyConnection,
    url: str,
    entity: Entity,
    *,
    base_currency: str,
    lookback: timedelta,
    run_id: str | None = None,
) -> EntityLoad:
    raw_store.ensure_raw_schema(con)
    cursor = cursor_floor(_stored_cursor_max(con, entity), lookback)
    load = EntityLoad(entity.raw_table, cursor=cursor)
    loaded_at = raw_store.load_stamp(con)
    columns, source_rows = inspect_table(url, entity)
    load.problem = schema_problem(url, entity, columns)
    with transaction(con):
        raw_store.record_columns(con, entity, entity.name, columns or {}, observed_at=loaded_at, run_id=run_id)
        if load.problem is None:
            for batch in read_table(url, entity, cursor):
                load.add(raw_store.merge_batch(
                    con, entity, batch, base_currency=base_currency, loaded_at=loaded_at, run_id=run_id
                ))
            con.execute(
                f"insert or replace into {raw_store.LOAD_STATE} values (?, ?, ?, ?, ?, ?)",
                [entity.source, entity.name, cursor, load.rows_read, loaded_at, run_id],
            )
        raw_store.record_load(
            con, entity, entity.name,
            raw_store.BatchResult(load.rows_read, load.rows_changed, load.rows_quarantined, load.rows_rejected),
            incremental=cursor is not None, source_rows=source_rows, loaded_at=loaded_at, run_id=run_id,
        )
        if load.problem is None:
            load.rows_rejudged = rejudge_orphans(con, entity, None, base_currency=base_currency, run_id=run_id)
    if load.problem:
        log.warning("%s not loaded: %s", entity.raw_table, load.problem)
    return load


def extract_drops(
    con: duckdb.DuckDBPyConnection,
    landing_dir: Path,
    entity: Entity,
    *,
    base_currency: str,
    run_id: str | None = None,
) -> EntityLoad:
    raw_store.ensure_raw_schema(con)
    load = EntityLoad(entity.raw_table)
    received = {
        name: (digest, loaded_at) for name, digest, loaded_at in con.execute(
            f"select file_name, sha256, loaded_at from {raw_store.LOADED_FILES} where entity = ? and source = ?",
            [entity.name, entity.source],
        ).fetchall()
    }
    by_content = {digest: name for name, (digest, _) in sorted(received.items())}
    survey = survey_landing(landing_dir, [entity])
    for name, reason in survey.rejected_of(entity).items():
        # named like a drop, but not one (a directory, a broken link, an impossible date): said
        # by name every night it is there, and the drops beside it load
        load.files_rejected[name] = reason
        log.warning("%s rejected: %s", name, reason)
    for path in survey.drops_of(entity):
        try:
            data = read_bytes(path)
        except OSError as error:  # gone or unreadable since the folder was read
            load.files_rejected[path.name] = f"cannot be read: {error.strerror or error}"
            log.warning("%s rejected: %s", path.name, load.files_rejected[path.name])
            continue
        if path.name in received and sha256_bytes(data) == received[path.name][0]:
            continue  # received before with these very bytes
        if path.name in received:
            # Decided by content, not by time: a correction copied with its old mtime (cp -p,
            # rsync -t, unzip) is a correction all the same. The merge keeps each row's latest version.
            log.warning("%s was delivered again with other contents: loading it again", path.name)
        load_file(con, path, entity, load, base_currency=base_currency, run_id=run_id, loaded_by_content=by_content,
                  data=data)
    with transaction(con):
        load.rows_rejudged = rejudge_orphans(con, entity, landing_dir, base_currency=base_currency, run_id=run_id)
    return load


_ORPHAN = re.compile(r"^[a-z_]+ references nothing in [a-z_]+: ")


def _orphans(con: duckdb.DuckDBPyConnection, entity: Entity) -> list[tuple[str, int, str]]:
    """Open quarantined rows of `entity` whose only fault is a reference to a row not loaded
    (yet): (file or table, row, record as delivered)."""
    rows = con.execute(
        f"""select source_file, source_row, record, reason from {raw_store.QUARANTINE}
            where source = ? and entity = ? and resolved_at is null and reason like '%references nothing in%'
            order by source_file, source_row""",
        [entity.source, entity.name],
    ).fetchall()
    return [(f, n, record) for f, n, record, reason in rows
            if record is not None and all(_ORPHAN.match(part) for part in reason.split("; "))]


def _records_batch(entity: Entity, rows: list[tuple[str, int, str, dict]]):
    import pyarrow as pa

    from .file_reader import _text

    data = {name: pa.array([_text(fields.get(name)) for *_, fields in rows], pa.string()) for name in entity.column_names}
    data["_source_file"] = pa.array([f for f, *_ in rows], pa.string())
    data["_source_row"] = pa.array([n for _, n, *_ in rows], pa.int64())
    data["_record"] = pa.array([record for _, _, record, _ in rows], pa.string())
    return pa.table(data)


def rejudge_orphans(con: duckdb.DuckDBPyConnection, entity: Entity, landing_dir: Path | None, *,
                    base_currency: str, run_id: str | None) -> int:
    """Judge again the rows quarantined only because they referred to a row not loaded yet (a
    refund whose order line arrives nights later, a review of a customer created since): the
    cursor or the file has moved on, so no later read brings them back. Those whose reference
    now exists load and their quarantined version is resolved; the others stay, unchanged.
    A database row and a JSON line come back from their record as delivered; a CSV line from
    its file, re-read (if the file is gone, the line stays quarantined). Returns how many loaded.
    Not counted in the night's rows read or quarantined (they were counted when they came)."""
    import pyarrow as pa
    import pyarrow.compute as pc

    orphans = _orphans(con, entity)
    if not orphans:
        return 0
    if entity.file_format == "csv":
        batches, wanted = [], {}
        for file_name, number, _ in orphans:
            wanted.setdefault(file_name, set()).add(number)
        for file_name, numbers in wanted.items():
            path = Path(landing_dir) / file_name if landing_dir is not None else None
            if path is None or not path.is_file():
                continue
            try:
                rows = parse_file(entity, path, decoded(path, read_bytes(path))).rows
            except (OSError, FileRejected):
                continue
            batches.append(rows.filter(pc.is_in(rows.column("_source_row"), pa.array(sorted(numbers)))))
        batch = pa.concat_tables(batches) if batches else None
    else:
        parsed = []
        for file_name, number, record in orphans:
            try:
                fields = json.loads(record)
            except ValueError:
                continue
            if isinstance(fields, dict):
                parsed.append((file_name, number, record, fields))
        batch = _records_batch(entity, parsed) if parsed else None
    if batch is None or batch.num_rows == 0:
        return 0
    before = len(orphans)
    raw_store.merge_batch(con, entity, batch, base_currency=base_currency, loaded_at=raw_store.load_stamp(con),
                          run_id=run_id)
    loaded = before - len(_orphans(con, entity))
    if loaded:
        log.info("%s: %d row(s) quarantined for a reference not yet loaded loaded now", entity.raw_table, loaded)
    return loaded


def load_file(
    con: duckdb.DuckDBPyConnection,
    path: Path,
    entity: Entity,
    load: EntityLoad,
    *,
    base_currency: str,
    run_id: str | None,
    loaded_by_content: dict[str, str] | None = None,
    data: bytes | None = None,
) -> None:
    """Load one drop (`data`: its bytes as delivered, read here if not given)."""
    data = read_bytes(path) if data is None else data
    digest = sha256_bytes(data)
    loaded_at = raw_store.load_stamp(con)
    earlier = (loaded_by_content or {}).get(digest)
    with transaction(con):
        if earlier is not None:
            # The same bytes under another name: a re-delivery. Recorded, not loaded twice.
            status, reason, counts = "duplicate", f"same content as {earlier}, already received", (0, 0, 0)
            load.files_duplicated[path.name] = earlier
            log.warning("%s skipped: %s", path.name, reason)
            con.execute(
                f"insert or replace into {raw_store.LOADED_FILES} values (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
                [path.name, entity.source, entity.name, digest, len(data), status, reason, *counts, loaded_at, run_id],
            )
            return
        try:
            parsed = parse_file(entity, path, decoded(path, data))
        except FileRejected as rejection:
            status, reason, counts = "rejected", str(rejection), (0, 0, 0)
            raw_store.quarantine_rows(
                con, entity, [(path.name, None, None, f"file rejected: {reason}")], loaded_at=loaded_at, run_id=run_id
            )
            if rejection.columns is not None:
                raw_store.record_columns(con, entity, path.name, rejection.columns, observed_at=loaded_at, run_id=run_id)
            load.files_rejected[path.name] = reason
            log.warning("%s rejected: %s", path.name, reason)
        else:
            rejected = raw_store.quarantine_rows(
                con, entity, [(path.name, n, line, why) for n, line, why in parsed.rejects],
                loaded_at=loaded_at, run_id=run_id,
            )
            result = raw_store.merge_batch(
                con, entity, parsed.rows, base_currency=base_currency, loaded_at=loaded_at, run_id=run_id
            )
            counts = (result.rows_read + len(parsed.rejects), result.rows_changed, result.rows_quarantined + rejected)
            load.add(raw_store.BatchResult(*counts, result.rejected + len(parsed.rejects)))
            status, reason = "loaded", None
            load.files_loaded.append(path.name)
            raw_store.record_columns(
                con, entity, path.name, parsed.columns, observed_at=loaded_at, run_id=run_id
            )
            raw_store.record_load(
                con, entity, path.name, raw_store.BatchResult(*counts, result.rejected + len(parsed.rejects)),
                incremental=True, source_rows=None,
                loaded_at=loaded_at, run_id=run_id,
            )
            if loaded_by_content is not None:
                loaded_by_content[digest] = path.name
        con.execute(
            f"insert or replace into {raw_store.LOADED_FILES} values (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
            [path.name, entity.source, entity.name, digest, len(data), status, reason, *counts, loaded_at, run_id],
        )
