"""Generate the demo source systems from scratch (`generate`) or append days (`append_days`).

Determinism: the initial history draws from numpy Generators spawned from
SeedSequence(seed), one per concern; an appended day d from SeedSequence([seed, d]).
So the same arguments give byte-identical files and identical database contents, and
appending 2 days equals appending 1 day twice. The entities themselves are generated in
`history.py` (the initial history) and `daily.py` (an appended day).
"""

from __future__ import annotations

import time
from datetime import date, datetime, timedelta, timezone
from pathlib import Path

from . import daily
from . import history
from .columns import iso_date, ordinal_of
from .context import Run, streams, tables_summary
from .files import FILE_ENTITIES
from .state import (
    ARRAYS_FILE, MANIFEST_FILE, STATE_FILE, GeneratorError, load_manifest, load_state, new_manifest, save_manifest,
    save_state,
)
from .writers import SQLITE_FILE, close_database, open_database

LANDING_PATTERNS = tuple(f"{entity.file_prefix}_*.{entity.file_format}" for entity in FILE_ENTITIES.values())


class Summary(dict):
    """The run's summary (a dict); prints as a short report."""

    def __str__(self) -> str:
        lines = [f"{self['action']}: {self['first_date']} .. {self['last_date']} "
                 f"({self['days']} day(s)) in {self['out_dir']} [{self['seconds']:.1f}s]"]
        tables = ", ".join(f"{name} {n:,}" for name, n in self["tables"].items())
        lines.append(f"  commerce.sqlite rows added: {tables}")
        if self.get("rows_updated"):
            lines.append("  rows updated: " + ", ".join(f"{name} {n:,}" for name, n in self["rows_updated"].items()))
        files = self["files"]
        lines.append(f"  landing files written: {len(files)} ({sum(files.values()):,} rows)")
        bad = {entity: sum(reasons.values()) for entity, reasons in self["bad_rows"].items()}
        lines.append(f"  deliberately bad rows: {sum(bad.values())} ("
                     + ", ".join(f"{entity} {n}" for entity, n in bad.items() if n) + ")")
        lines.append(f"  manifest: {Path(self['out_dir']) / MANIFEST_FILE}")
        return "\n".join(lines)


def generate(out_dir, customers: int = 20_000, years: float = 3, seed: int = 42, end_date=None, *,
             force: bool = False, progress=None) -> Summary:
    """Generate the demo sources in `out_dir` from scratch (see the package docstring).
    `progress`, if given, is called with a line as each phase starts (a million customers
    take minutes)."""
    started = time.perf_counter()

    def phase(text: str) -> None:
        if progress is not None:
            progress(f"  {time.perf_counter() - started:6.1f} s  {text}")

    out = Path(out_dir)
    customers, years, seed = int(customers), float(years), int(seed)
    if customers < 50:
        raise GeneratorError("--customers must be at least 50")
    if years <= 0:
        raise GeneratorError("--years must be positive")
    end_day = _end_day(end_date)
    if end_day > _end_day(None):
        raise GeneratorError(f"--end-date {iso_date(end_day)} is after yesterday ({iso_date(_end_day(None))}): "
                             "a day is generated once it is over")
    n_days = max(28, int(round(years * 365)))
    start_day = end_day - n_days + 1
    _prepare_out(out, force)
    parameters = {"customers": customers, "years": years, "seed": seed, "end_date": iso_date(end_day)}
    run = history.History(out=out, con=None, manifest=new_manifest(parameters), streams=streams(seed),
                          first_day=start_day, last_day=end_day, appending=False, next_ids={}, next_person=1,
                          added=tables_summary(), files={}, parameters=parameters)
    phase(f"simulating {customers:,} accounts over {n_days:,} days")
    history.simulate_accounts(run)
    phase("simulating their purchases")
    history.simulate_purchases(run)
    run.con = open_database(out / SQLITE_FILE, bulk=True)
    try:
        for load in (history.load_customers, history.load_products, history.load_orders, history.load_order_lines,
                     history.load_refunds, history.load_fx_rates):
            phase(f"writing commerce.sqlite: {load.__name__.removeprefix('load_')}")
            load(run)
    finally:
        close_database(run.con)
    for export in (history.export_crm, history.export_referrals, history.export_reviews, history.export_feedback):
        phase(f"writing landing files: {export.__name__.removeprefix('export_')}")
        export(run)
    phase("saving the generator state")
    history.save(run)
    manifest = run.manifest
    manifest["first_date"] = iso_date(start_day)
    manifest["last_date"] = iso_date(end_day)
    run_bad = {entity: dict(reasons) for entity, reasons in manifest["bad_rows"].items()}
    manifest["runs"].append({"action": "generate", "first_date": iso_date(start_day), "last_date": iso_date(end_day)})
    save_manifest(out, manifest)
    return Summary(action="generate", out_dir=str(out), first_date=iso_date(start_day), last_date=iso_date(end_day),
                   days=n_days, tables=run.added, rows_updated={}, files=run.files, bad_rows=run_bad,
                   seconds=time.perf_counter() - started)


def append_days(out_dir, days: int) -> Summary:
    """Append `days` more days of activity after the last generated day (see the package docstring)."""
    started = time.perf_counter()
    out = Path(out_dir)
    days = int(days)
    if days < 1:
        raise GeneratorError("--days must be at least 1")
    scalars, groups = load_state(out)
    manifest = load_manifest(out)
    before = {entity: dict(reasons) for entity, reasons in manifest["bad_rows"].items()}
    first_day = ordinal_of(scalars["last_date"]) + 1
    last_day = first_day + days - 1
    # a day is generated once it is over: the nightly job of yesterday would otherwise read
    # (and block on) activity after its as-of date
    if last_day > _end_day(None):
        raise GeneratorError(
            f"--days {days} would generate up to {iso_date(last_day)}, after yesterday ({iso_date(_end_day(None))}): "
            f"the sources end on {scalars['last_date']}, so at most {max(_end_day(None) - first_day + 1, 0)} more day(s)")
    run = Run(out=out, con=open_database(out / SQLITE_FILE, bulk=False), manifest=manifest, streams={},
              first_day=first_day, last_day=last_day, appending=True, next_ids=scalars["next_ids"],
              next_person=scalars["next_person"], added=tables_summary(), files={})
    updated_rows: dict[str, int] = {}
    try:
        for day in range(first_day, last_day + 1):
            daily.append_day(run, scalars, groups, updated_rows, day)
            scalars["last_date"] = iso_date(day)
    finally:
        close_database(run.con)
    save_state(out, scalars, groups)
    manifest["last_date"] = scalars["last_date"]
    manifest["runs"].append({"action": "append", "first_date": iso_date(first_day), "last_date": scalars["last_date"]})
    save_manifest(out, manifest)
    run_bad = {}
    for entity, reasons in manifest["bad_rows"].items():
        new = {reason: n - before.get(entity, {}).get(reason, 0) for reason, n in reasons.items()}
        new = {reason: n for reason, n in new.items() if n}
        if new:
            run_bad[entity] = new
    return Summary(action="append", out_dir=str(out), first_date=iso_date(first_day), last_date=scalars["last_date"],
                   days=days, tables=run.added, rows_updated=updated_rows, files=run.files, bad_rows=run_bad,
                   seconds=time.perf_counter() - started)


def _end_day(end_date) -> int:
    if end_date is None:
        end_date = datetime.now(timezone.utc).date() - timedelta(days=1)
    if isinstance(end_date, str):
        try:
            end_date = date.fromisoformat(end_date)
        except ValueError as error:
            raise GeneratorError(f"--end-date must be YYYY-MM-DD, not {end_date!r}") from error
    return ordinal_of(end_date.isoformat())


def _existing_outputs(out: Path) -> list[Path]:
    found = [out / name for name in (SQLITE_FILE, STATE_FILE, MANIFEST_FILE, ARRAYS_FILE) if (out / name).exists()]
    landing = out / "landing"
    if landing.is_dir():
        for pattern in LANDING_PATTERNS:
            found.extend(sorted(landing.glob(pattern)))
    return found


def _prepare_out(out: Path, force: bool) -> None:
    existing = _existing_outputs(out)
    if existing and not force:
        raise GeneratorError(
            f"{out} already holds generated sources ({len(existing)} file(s), e.g. {existing[0].name}). "
            "Use --force to regenerate from scratch, or --days N to append days to them."
        )
    for path in existing:
        path.unlink()
    for extra in (out / (SQLITE_FILE + "-journal"), out / (SQLITE_FILE + "-wal")):
        if extra.exists():
            extra.unlink()
    (out / "landing").mkdir(parents=True, exist_ok=True)
