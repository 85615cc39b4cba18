"""Source-level rules, judged before any transformation, per entity of the source contract.

For every entity of the source contract, four checks with an explicit severity:

- `schema`: the source delivers the contract's columns. A database table that is missing or
  lacks a contract column is an ERROR (nothing of it was loaded); a file without a contract
  column was rejected whole (a WARN, the rest loaded). New columns (a rename?) and columns
  whose type changed are WARNs.
- `conformance`: the share of this run's rows that broke the contract. Above
  CVW_GATE_MAX_QUARANTINE_SHARE (5 %) it is an ERROR (a systematic break, e.g. a retyped
  column, not a few bad rows); any quarantined row is a WARN with its reasons.
- `volume`: a database table that is empty while rows were loaded from it before is an
  ERROR; a read CVW_GATE_VOLUME_FACTOR (10) times larger than the median of the recent
  incremental reads is an ERROR, 10 times smaller a WARN; for file drops both are WARNs
  (exports legitimately vary between full and partial snapshots).
- `freshness`: the latest data is older than CVW_GATE_FRESHNESS_DAYS (3) before the run's
  as-of date (today outside a partitioned run): a WARN.

ERRORs block everything downstream (no publication); WARNs are recorded and shown.
"""

from dataclasses import dataclass
from datetime import date

from ..core.contract import ALL_ENTITIES, Entity
from ..core.raw_layout import LOAD_HISTORY, LOADED_FILES, QUARANTINE, QUARANTINE_REASON_SQL, SOURCE_COLUMNS
from ..core.severity import Severity
from ..settings import Settings
from .report import ReportLine

CHECKS = ("schema", "conformance", "volume", "freshness")
RECENT_LOADS = 7  # incremental reads the volume check compares with
MIN_BASELINE = 3  # fewer earlier reads: too little history to call a volume unusual


@dataclass(frozen=True)
class GateSettings:
    max_quarantine_share: float
    volume_factor: float
    freshness_days: int

    @classmethod
    def from_settings(cls, settings: Settings) -> "GateSettings":
        return cls(settings.gate_max_quarantine_share, settings.gate_volume_factor, settings.gate_freshness_days)


@dataclass(frozen=True)
class Finding:
    check: str
    severity: Severity | None  # None: passed
    message: str
    metadata: dict


def _ok(check: str, message: str, **metadata) -> Finding:
    return Finding(check, None, message, metadata)


def _error(check: str, message: str, **metadata) -> Finding:
    return Finding(check, Severity.ERROR, message, metadata)


def _warn(check: str, message: str, **metadata) -> Finding:
    return Finding(check, Severity.WARN, message, metadata)


def _rows(con, sql: str, params: list) -> list[tuple]:
    return con.execute(sql, params).fetchall()


def check_schema(con, entity: Entity) -> Finding:
    observed = {
        name: (kind, previous)
        for name, kind, previous in _rows(
            con,
            f"select column_name, data_type, previous_type from {SOURCE_COLUMNS} "
            "where source = ? and entity = ? order by column_name",
            [entity.source, entity.name],
        )
    }
    origin = _rows(con, f"select any_value(origin) from {SOURCE_COLUMNS} where source = ? and entity = ?",
                   [entity.source, entity.name])[0][0]
    if not observed:
        if entity.is_file_drop:
            return _ok("schema", f"no {entity.file_prefix}_*.{entity.file_format} delivered yet (optional source)")
        return _error("schema", f"{entity.source}.{entity.name}: the table does not exist in the source database")
    missing = [c for c in entity.column_names if c not in observed]
    extra = sorted(set(observed) - set(entity.column_names))
    retyped = {name: f"{previous} -> {kind}" for name, (kind, previous) in observed.items() if previous}
    details = {"origin": origin, "missing": missing, "new": extra, "retyped": retyped}
    where = f"{entity.source}.{entity.name} ({origin})"
    hint = f"; new column(s) {', '.join(extra)}: renamed?" if extra else ""
    if missing and not entity.is_file_drop:
        return _error("schema", f"{where} lacks contract column(s) {', '.join(missing)}{hint}: not loaded", **details)
    if missing:
        return _warn("schema", f"{where} was rejected: it lacks contract column(s) {', '.join(missing)}{hint}", **details)
    if extra or retyped:
        changes = [f"new column(s) {', '.join(extra)}"] if extra else []
        changes += [f"{name} retyped {change}" for name, change in retyped.items()]
        return _warn("schema", f"{where}: {'; '.join(changes)}", **details)
    return _ok("schema", f"{where}: every contract column present", **details)


def check_conformance(con, entity: Entity, run_id: str, settings: GateSettings) -> Finding:
    read, quarantined = _rows(
        con,
        f"select coalesce(sum(rows_read), 0), coalesce(sum(rows_quarantined), 0) from {LOAD_HISTORY} "
        "where source = ? and entity = ? and run_id = ?",
        [entity.source, entity.name, run_id],
    )[0]
    # The rows this run quarantined; when it read only rows an earlier load quarantined (the
    # source still delivers them, unchanged), the entity's open quarantine names them.
    earlier = False
    for which in ("run_id = ?", "resolved_at is null and coalesce(run_id, '') <> ?"):
        reasons = _rows(
            con,
            f"""select {QUARANTINE_REASON_SQL} as why, count(*) from {QUARANTINE}
                where source = ? and entity = ? and {which} group by why order by count(*) desc, why limit 5""",
            [entity.source, entity.name, run_id],
        )
        examples = _rows(
            con,
            f"""select coalesce(source_file, '') || coalesce(':' || source_row, ''), reason from {QUARANTINE}
                where source = ? and entity = ? and {which} order by source_file, source_row limit 3""",
            [entity.source, entity.name, run_id],
        )
        if reasons or not quarantined:
            break
        earlier = True
    metadata = {"rows_read": int(read), "rows_quarantined": int(quarantined),
                "reasons": dict(reasons), "examples": [f"{where}: {why}" for where, why in examples]}
    if not quarantined:
        return _ok("conformance", f"{entity.raw_table}: {read} row(s) read this run, none broke the contract", **metadata)
    share = quarantined / read if read else 1.0
    summary = (f"{entity.raw_table}: {quarantined} of {read} row(s) read this run ({share:.1%}) quarantined"
               + (" (by an earlier load: the source still delivers them; open in quarantine: " if earlier else "; ")
               + "; ".join(f"{why} ({n})" for why, n in reasons) + (")" if earlier else "")
               + (f"; e.g. {metadata['examples'][0]}" if examples else ""))
    if share > settings.max_quarantine_share and quarantined >= 10:
        return _error("conformance", f"{summary} — over CVW_GATE_MAX_QUARANTINE_SHARE "
                      f"{settings.max_quarantine_share:.0%}: a systematic break, not a few bad rows", **metadata)
    return _warn("conformance", summary, **metadata)


def check_volume(con, entity: Entity, run_id: str, settings: GateSettings) -> Finding:
    """Database tables are judged by the rows a read changed (the lookback re-reads the last
    days every night: a spike must not block the nights after it); file drops by rows per file."""
    measure = "rows_read" if entity.is_file_drop else "rows_changed"
    loads = _rows(
        con,
        f"""select {measure}, source_rows, incremental, run_id = ? as this_run from {LOAD_HISTORY}
            where source = ? and entity = ? order by loaded_at desc, origin desc limit ?""",
        [run_id, entity.source, entity.name, RECENT_LOADS + 50],
    )
    current = [load for load in loads if load[3]]
    if not current:
        return _ok("volume", f"{entity.raw_table}: nothing read this run")
    earlier = [load[0] for load in loads if not load[3] and load[2]][:RECENT_LOADS]
    stored = _rows(con, f'select count(*) from raw."{entity.raw_table}"', [])[0][0]
    amount = sum(load[0] for load in current)
    source_rows = current[0][1]
    noun = "row(s) read" if entity.is_file_drop else "row(s) new or changed"
    metadata = {measure: int(amount), f"recent_{measure}": earlier, "rows_stored": int(stored)}
    if not entity.is_file_drop and source_rows == 0 and stored > 0:
        return _error("volume", f"{entity.source}.{entity.name}: the source table is empty, while {stored:,} of its "
                      "rows were loaded before: an empty extract", **metadata)
    unread = _unread_rows(con, entity, source_rows, stored)
    if unread > 0:
        return _warn("volume", f"{entity.source}.{entity.name} holds {unread:,} row(s) more than were ever loaded or "
                     "quarantined: rows committed with an update time older than the cursor's lookback are not read "
                     "(raise CVW_EXTRACT_LOOKBACK_DAYS for a night to read them)", unread=unread, **metadata)
    if len(earlier) < MIN_BASELINE or not current[0][2]:
        return _ok("volume", f"{entity.raw_table}: {amount:,} {noun} ({len(earlier)} earlier loads to compare with)",
                   **metadata)
    typical = max(sorted(earlier)[len(earlier) // 2], 1)
    ratio = amount / typical
    message = f"{entity.raw_table}: {amount:,} {noun}, {ratio:.1f}× the median {typical:,} of the last {len(earlier)}"
    if ratio >= settings.volume_factor:
        # reference data (a product catalogue) changes in bursts: a warning, not a block
        finding = _warn if entity.is_file_drop or not entity.expect_fresh else _error
        return finding("volume", f"{message}: a volume spike (CVW_GATE_VOLUME_FACTOR {settings.volume_factor:g})",
                       **metadata)
    if ratio <= 1 / settings.volume_factor:
        return _warn("volume", f"{message}: unusually little", **metadata)
    return _ok("volume", message, **metadata)


def _unread_rows(con, entity: Entity, source_rows: int | None, stored: int) -> int:
    """Source rows neither stored nor quarantined (a lower bound of rows the cursor missed)."""
    if entity.is_file_drop or source_rows is None:
        return 0
    # record_key is concat_ws('|', key columns) (ingest's identity of a row): a row that broke
    # its key (a part missing or empty) is told apart by its content, not counted as one
    parts = "string_split(record_key, '|')"
    complete = f"len({parts}) = {len(entity.key)} and not list_contains({parts}, '')"
    stored_key = "concat_ws('|', " + ", ".join(f'cast("{k}" as varchar)' for k in entity.key) + ")"
    quarantined = _rows(
        con,
        f"""select count(distinct case when {complete} then record_key else record end) from {QUARANTINE}
            where source = ? and entity = ? and resolved_at is null
              and coalesce(record_key, '') not in (select {stored_key} from raw."{entity.raw_table}")""",
        [entity.source, entity.name],
    )[0][0]
    return source_rows - stored - quarantined


def check_freshness(con, entity: Entity, reference: date, settings: GateSettings) -> Finding:
    if not entity.expect_fresh:
        return _ok("freshness", f"{entity.raw_table}: may rightly stay unchanged for long, no freshness expected")
    if entity.is_file_drop:
        (latest,) = _rows(
            con,
            f"""select max(strptime(regexp_extract(file_name, '_(\\d{{8}})\\.', 1), '%Y%m%d'))
                from {LOADED_FILES} where source = ? and entity = ?""",
            [entity.source, entity.name],
        )[0]
        if latest is None:
            return _ok("freshness", f"no {entity.file_prefix} export delivered yet (optional source)")
    else:
        column = entity.cursor or "rate_date"
        (latest,) = _rows(con, f'select max("{column}") from raw."{entity.raw_table}"', [])[0]
        if latest is None:
            return _ok("freshness", f"{entity.raw_table}: no rows yet")
    latest_day = latest.date() if hasattr(latest, "date") else latest
    age = (reference - latest_day).days
    metadata = {"latest": str(latest), "reference_date": str(reference), "age_days": age}
    message = f"{entity.raw_table}: latest data of {latest_day}, {age} day(s) before {reference}"
    if age > settings.freshness_days:
        return _warn("freshness", f"{message}: stale (CVW_GATE_FRESHNESS_DAYS {settings.freshness_days})", **metadata)
    return _ok("freshness", message, **metadata)


def evaluate(con, entity: Entity, run_id: str, reference: date, settings: GateSettings) -> list[Finding]:
    return [
        check_schema(con, entity),
        check_conformance(con, entity, run_id, settings),
        check_volume(con, entity, run_id, settings),
        check_freshness(con, entity, reference, settings),
    ]


def finding_status(finding: Finding) -> str:
    """The finding as a report line's status."""
    if finding.severity is None:
        return "passed"
    return "failed" if finding.severity == Severity.ERROR else "warning"


def report_lines(findings: list[tuple[Entity, Finding]]) -> list[ReportLine]:
    return [ReportLine(f"{entity.raw_table} {finding.check}", finding_status(finding), finding.message,
                       finding.metadata.get("examples", [])) for entity, finding in findings]


def entities_by_source() -> dict[str, tuple[Entity, ...]]:
    grouped: dict[str, tuple[Entity, ...]] = {}
    for entity in ALL_ENTITIES:
        grouped[entity.source] = grouped.get(entity.source, ()) + (entity,)
    return grouped
