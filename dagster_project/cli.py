"""`cvw`: the command line of the customer-value warehouse.

    cvw demo [--customers N] [--years Y] [--seed S] [--if-missing] | [--days N]
    cvw prepare                 build the dbt manifest the Dagster definitions load
    cvw run [--as-of DATE]      the nightly job, in this process, then a summary
    cvw nights N [--customers C] [--years Y]
                                a history to look at: N nights of demo activity, each
                                appended to the demo sources and run as its own night
    cvw summary                 what the serving database currently publishes
    cvw rollback [--list | --to PUBLICATION_ID]
                                the publication versions kept, or serve one of them again
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import contextlib
import logging
import os
import subprocess
import sys
import uuid
import warnings
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from pathlib import Path

from .core.files import LockHeld
from .settings import DBT_PROJECT_DIR, settings_from_env


def _project_changed_after(manifest: Path) -> bool:
    if not manifest.exists():
        return True
    built = manifest.stat().st_mtime
    sources = [DBT_PROJECT_DIR / "dbt_project.yml", DBT_PROJECT_DIR / "profiles.yml"]
    for folder in ("models", "macros", "tests"):
        sources += [p for p in (DBT_PROJECT_DIR / folder).rglob("*") if p.is_file()]
    return any(p.stat().st_mtime > built for p in sources)


def prepare(force: bool = False) -> Path:
    """Parse the dbt project so the manifest the Dagster definitions load is current; skipped
    (saving a dbt start, ~4 s) when no file of the project changed since the last parse."""
    manifest = DBT_PROJECT_DIR / "target" / "manifest.json"
    if not force and not _project_changed_after(manifest):
        return manifest
    from .transform.dbt_cli import dbt_executable, project_environment

    settings = settings_from_env()
    # the values `dbt build` will see (other values would make it parse the project again)
    env = {**os.environ, **project_environment(
        warehouse_path=str(settings.warehouse_path), base_currency=settings.base_currency,
        clv_holdout_days=settings.clv_holdout_days, incremental_lookback_hours=settings.incremental_lookback_hours,
        memory_limit=settings.memory_limit, lapsed_p_alive=settings.lapsed_p_alive,
        moment_window_days=settings.moment_window_days,
    )}
    subprocess.run(
        [dbt_executable(), "parse", "--quiet", "--project-dir", str(DBT_PROJECT_DIR), "--profiles-dir", str(DBT_PROJECT_DIR)],
        check=True,
        env=env,
    )
    return manifest


def default_as_of() -> str:
    """Yesterday: the last complete day, as the nightly schedule would publish."""
    return os.environ.get("CVW_AS_OF_DATE") or (date.today() - timedelta(days=1)).isoformat()


def as_of_problem(as_of: str, first_as_of_date: str, first_from: str = "CVW_FIRST_AS_OF_DATE") -> str | None:
    """Why `as_of` cannot be a night's as-of date (None if it can): a real date YYYY-MM-DD,
    not after yesterday (a night publishes complete days), not before the first as-of date
    (`first_from` says where that date comes from)."""
    import re

    if not re.fullmatch(r"[0-9]{4}-[0-9]{2}-[0-9]{2}", as_of):
        return f"must be a date YYYY-MM-DD, not {as_of!r}"
    try:
        day = date.fromisoformat(as_of)
    except ValueError as error:
        return f"{as_of!r} is not a date: {error}"
    yesterday = date.today() - timedelta(days=1)
    if day > yesterday:
        return f"{as_of} is after yesterday ({yesterday}): a night publishes days that are over"
    if day < date.fromisoformat(first_as_of_date):
        return f"{as_of} is before the first as-of date {first_as_of_date} ({first_from})"
    return None


def nightly_run_config(*, full_refresh: bool = False, republish: bool = False) -> dict:
    """The nightly job's run config: what `--full-refresh` and a republished backfill set."""
    ops = {}
    if full_refresh:
        ops["dbt_models"] = {"config": {"full_refresh": True}}
    if republish:
        ops["published__serving_database"] = {"config": {"republish": True}}
    return {"ops": ops} if ops else {}


LAUNCHED_BY = "cvw/launched_by"


def _lock_refusal(held) -> str:
    from .defs.night_lock import refusal

    return f"error: {refusal(held)}"


class Progress:
    """Each step of a running night as it starts and ends (name, seconds, rows where known),
    and a line every `every` seconds while a long step runs; read from the run's own event
    log in a thread, printed to `out` (the terminal, while the run's output goes to its log)."""

    def __init__(self, instance, run_id: str, out, every: float = 30.0, poll: float = 0.5):
        import threading

        self.instance, self.run_id, self.out, self.every, self.poll = instance, run_id, out, every, poll
        self.cursor, self.started, self.rows, self.last_note = None, {}, {}, {}
        self.stop = threading.Event()
        self.thread = threading.Thread(target=self._watch, name="cvw-progress", daemon=True)

    def __enter__(self):
        self.thread.start()
        return self

    def __exit__(self, *exc):
        self.stop.set()
        self.thread.join(timeout=10)
        self._read()  # the last events

    def _say(self, text: str) -> None:
        print(text, file=self.out, flush=True)

    def _read(self) -> None:
        try:  # only the events after the last ones read, not the whole log again
            read = self.instance.get_records_for_run(self.run_id, cursor=self.cursor)
        except Exception:  # noqa: BLE001 - the run's storage is busy: next time
            return
        self.cursor = read.cursor or self.cursor
        for entry in (record.event_log_entry for record in read.records):
            event, step = entry.dagster_event, entry.step_key
            if event is None or step is None:
                continue
            kind = event.event_type_value
            if kind == "STEP_START":
                self.started[step] = entry.timestamp
                self._say(f"  start  {step}")
            elif kind == "ASSET_MATERIALIZATION":
                rows = event.event_specific_data.materialization.metadata.get("dagster/row_count")
                if rows is not None:
                    self.rows[step] = self.rows.get(step, 0) + int(rows.value)
            elif kind in _STEP_ENDS:
                seconds = entry.timestamp - self.started.pop(step, entry.timestamp)
                rows = f", {self.rows[step]:,} rows" if step in self.rows else ""
                self._say(f"  {_STEP_ENDS[kind]:<6} {step} ({seconds:.1f} s{rows})")

    def _watch(self) -> None:
        import time

        while not self.stop.wait(self.poll):
            self._read()
            now = time.time()
            for step, since in list(self.started.items()):
                if now - since >= self.every and now - self.last_note.get(step, since) >= self.every:
                    self.last_note[step] = now
                    self._say(f"  ...    {step} still running ({now - since:.0f} s)")


def run_nightly(as_of_date: str | None = None, *, verbose: bool = False, full_refresh: bool = False,
                progress: bool | None = None):
    """Run the nightly job in-process for partition D, recorded under DAGSTER_HOME.

    dbt's and Dagster's output go to a log file under the data directory (or to the console
    with `verbose`); the report printed afterwards names every step, failure and warning.
    """
    import dagster as dg

    from .defs import build_definitions
    from .defs.night_lock import probe
    from .defs.nightly import NIGHTLY_JOB_NAME

    settings = settings_from_env()
    as_of = as_of_date or default_as_of()
    home = Path(os.environ.setdefault("DAGSTER_HOME", str(settings.dagster_home)))
    home.mkdir(parents=True, exist_ok=True)
    (home / "dagster.yaml").touch()  # the defaults: run history kept under DAGSTER_HOME
    log_path = settings.logs_dir / f"nightly-{as_of}-{datetime.now():%Y%m%dT%H%M%S}.log"
    log_path.parent.mkdir(parents=True, exist_ok=True)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", dg.BetaWarning)  # backfill_policy is beta; it works as documented
        job = build_definitions(settings).resolve_job_def(NIGHTLY_JOB_NAME)
    terminal = sys.stdout
    if progress is None:  # on a terminal yes; in a scheduler's log file only when asked
        progress = not verbose and terminal.isatty()
    run_id = str(uuid.uuid4())
    # Refuse at once, before any output or work, if a night holds the warehouse; the run itself
    # holds the lock while it executes (defs/night_lock.py), however it is launched.
    probe(settings.warehouse_path)
    with dg.DagsterInstance.get() as instance, open(log_path, "w", encoding="utf-8") as log:
        quiet = contextlib.ExitStack()
        if progress:
            print(f"Night of {as_of} (log: {log_path})", file=terminal, flush=True)
            quiet.enter_context(Progress(instance, run_id, terminal))
        if not verbose:
            quiet.enter_context(contextlib.redirect_stdout(log))
            quiet.enter_context(contextlib.redirect_stderr(log))
        with quiet, warnings.catch_warnings():
            warnings.simplefilter("ignore", UserWarning)  # Dagster's own advisories, in the log with --verbose
            result = job.execute_in_process(
                instance=instance, partition_key=as_of, raise_on_error=False, run_id=run_id,
                run_config=nightly_run_config(full_refresh=full_refresh), tags={LAUNCHED_BY: "cvw"},
            )
        entries = instance.all_logs(result.run_id)
    return result, RunReport.from_log(result, entries, as_of, log_path)


_STEP_ENDS = {"STEP_SUCCESS": "ok", "STEP_FAILURE": "FAILED", "STEP_SKIPPED": "skipped"}


@dataclass
class RunReport:
    """What an operator reads after a run: steps with their time, failures, warnings, checks."""

    run_id: str
    as_of: str
    success: bool
    log_path: Path
    steps: dict[str, tuple[str, float]]
    failures: list[str]
    warnings: list[str]
    checks_passed: int
    checks_failed: list[str]
    checks_warned: list[str]

    @classmethod
    def from_log(cls, result, entries, as_of: str, log_path: Path) -> "RunReport":
        started: dict[str, float] = {}
        steps: dict[str, tuple[str, float]] = {}
        failures, warned = [], []
        for entry in entries:
            event = entry.dagster_event
            if event is None:
                message = entry.user_message.strip()
                if "Not executing." in message and entry.step_key:
                    steps.setdefault(entry.step_key, ("not run", 0.0))  # an upstream step failed
                elif entry.level >= logging.WARNING:
                    warned.append(f"{entry.step_key or 'run'}: {message.splitlines()[0]}")
                continue
            if event.step_key is None:
                continue
            if event.event_type_value == "STEP_START":
                started[event.step_key] = entry.timestamp
            elif event.event_type_value in _STEP_ENDS:
                seconds = entry.timestamp - started.get(event.step_key, entry.timestamp)
                steps[event.step_key] = (_STEP_ENDS[event.event_type_value], seconds)
                if event.event_type_value == "STEP_FAILURE":
                    error = event.step_failure_data.error
                    # the user code's own exception, not Dagster's wrapper around it
                    while error is not None and error.cause is not None and "executing op" in error.message:
                        error = error.cause
                    failures.append(f"{event.step_key}: {error.message.strip() if error else 'failed'}")
        checks = result.get_asset_check_evaluations()
        described = [
            (c, f"{c.asset_key.to_user_string()} {c.check_name}: {(c.description or '').strip()}") for c in checks
        ]
        failed = [text for c, text in described if not c.passed and c.severity.value == "ERROR"]
        warned_checks = [text for c, text in described if not c.passed and c.severity.value != "ERROR"]
        # a check's warning is logged too: show it once, as the check's
        warned = [w for w in warned if not any(w.endswith(text.split(": ", 1)[1]) for text in warned_checks)]
        return cls(result.run_id, as_of, result.success, log_path, steps, failures, warned,
                   sum(1 for c in checks if c.passed), failed, warned_checks)

    def __str__(self) -> str:
        lines = [f"nightly run {self.run_id} as of {self.as_of}: {'succeeded' if self.success else 'FAILED'}"]
        lines += [f"  {key:<52} {status:<8} {seconds:6.1f} s" for key, (status, seconds) in self.steps.items()]
        lines.append(f"  checks: {self.checks_passed} passed, {len(self.checks_warned)} warning(s), "
                     f"{len(self.checks_failed)} failed")
        lines += [f"    FAILED {c}".replace("\n", "\n      ") for c in self.checks_failed]
        lines += [f"    WARN   {c}".replace("\n", "\n      ") for c in self.checks_warned]
        lines += [f"  failure: {f}".replace("\n", "\n      ") for f in self.failures]
        lines += [f"  warning: {w}" for w in self.warnings]
        lines.append(f"  full log: {self.log_path}")
        return "\n".join(lines)


MODEL_LABELS = {"bgnbd": "BG/NBD", "pareto_nbd": "Pareto/NBD"}


def summary_text(serving_path: Path) -> str:
    import duckdb

    if not serving_path.exists():
        return f"Nothing published yet at {serving_path}."
    with duckdb.connect(str(serving_path), read_only=True) as con:
        as_of, customers, buyers, revenue, margin, predicted, low, high, at_risk = con.execute(
            "select max(as_of_date), count(*), count(*) filter (orders_count > 0), sum(net_revenue), "
            "sum(gross_margin), sum(predicted_clv_12m), sum(predicted_clv_12m_low), sum(predicted_clv_12m_high), "
            "count(*) filter (is_at_risk) from customer_value"
        ).fetchall()[0]
        tables = [r[0] for r in con.execute("select table_name from duckdb_tables() order by 1").fetchall()]
        publications = con.execute("select count(*) from publication_log").fetchall()[0][0]
        lapsed = con.execute("select count(*), sum(annual_value) from win_back_customers").fetchall()[0] \
            if "win_back_customers" in tables else None
        moments = con.execute(
            "select count(distinct customer_key) filter (action = 'thank'), "
            "count(distinct customer_key) filter (action = 'recover') from customer_moments"
        ).fetchall()[0] if "customer_moments" in tables else None
        equity = con.execute(
            "select previous_as_of_date, customers, equity_start, equity_end, gross_margin_earned, return_on_customer, "
            "customers_lapsed, annual_value_lapsed, new_customers, customer_equity "
            "from customer_equity where as_of_date = ? and value_segment = 'all'", [as_of]
        ).fetchall() if "customer_equity" in tables else []
        model = con.execute(
            "select status, purchase_model, coalesce(bgnbd_customers, pareto_nbd_customers), holdout_error, "
            "holdout_mae, concat_ws(', ', bgnbd_limit, pareto_nbd_limit, gamma_gamma_limit), problems "
            "from clv_model where as_of_date = ?", [as_of]
        ).fetchall() if "clv_model" in tables else []
    status, purchase_model, fitted, holdout_error, mae, limits, problems = (
        model[0] if model else ("not published", None, None, None, None, None, None))
    fit = f"{status}" + (f" {MODEL_LABELS.get(purchase_model, purchase_model)}" if purchase_model else "") + (
        f" on {fitted:,} customers" if fitted else "") + (
        f", holdout error {holdout_error:.1%}" if holdout_error is not None else "") + (
        f", {mae:.3f} purchases per customer" if mae is not None else "") + (
        f", at the limit {limits}" if limits else "")
    if status == "fitted":
        predicted_line = (f"  predicted margin: {predicted or 0:,.2f} over the next 12 months "
                          f"(the customers' 80 % ranges add up to {low or 0:,.2f} to {high or 0:,.2f}; CLV model {fit})")
        if problems:  # e.g. no holdout check on a short history: the numbers stand, less tested
            predicted_line += f"\n  CLV warnings:     {problems}"
    else:
        # say why there is no prediction, not "predicted margin 0.00"
        predicted_line = f"  predicted margin: none (CLV model {fit}: {problems or 'no reason recorded'})"
    return "\n".join(
        [
            f"Published customer value as of {as_of}",
            f"  customers:        {customers:,} ({buyers:,} with purchases, {at_risk:,} at risk)",
            *([f"  today:            {at_risk:,} to call (at_risk_customers), {lapsed[0]:,} to win back "
               f"(win_back_customers, {lapsed[1] or 0:,.2f} a year of margin gone with them)"] if lapsed else []),
            *_moments_and_equity_lines(moments, equity[0] if equity else None),
            f"  net revenue:      {revenue:,.2f}",
            f"  gross margin:     {margin:,.2f} (historical CLV)",
            predicted_line,
            f"  tables:           {', '.join(tables)}",
            f"  publications:     {publications} (see publication_log)",
            f"  serving database: {serving_path} (plots in {serving_path.parent / 'plots'})",
            "Open it read-only, e.g.:",
            f"  python -c \"import duckdb; print(duckdb.connect('{serving_path}', read_only=True).sql('from at_risk_customers limit 5'))\"",
            f"  {Path(sys.executable).with_name('duckdb')} -readonly {serving_path}    (DuckDB CLI; any DuckDB >= 0.10 reads it)",
        ]
    )


def _money(value) -> str:
    return "unknown (no fitted model)" if value is None else f"{value:,.2f}"


def _moments_and_equity_lines(moments, equity) -> list[str]:
    """What changed since the previous night: whom to thank or recover, who lapsed, and what
    the customers of the previous night are worth now (customer_moments, customer_equity)."""
    lines = []
    if moments:
        lines.append(f"  this week:        {moments[0]:,} to thank, {moments[1]:,} to recover after a complaint "
                     "(customer_moments)")
    if equity:
        previous, customers, start, end, earned, roc, lapsed, lapsed_value, new, total = equity
        lines.append(f"  customer equity:  {_money(total)} (12-month predicted margin of every customer)")
        if previous is not None:
            change = None if start is None or end is None else end - start
            lines.append(
                f"  since {previous}: {lapsed:,} lapsed ({lapsed_value:,.2f} a year of margin with them), "
                f"{new:,} new; the {customers:,} customers of {previous} earned {earned:,.2f} and their equity "
                f"moved {'unknown' if change is None else f'{change:+,.2f}'}: Return on Customer "
                f"{'unknown' if roc is None else f'{roc:.2%}'} (customer_equity)")
    return lines


def versions_text(serving_path: Path) -> str:
    """Every version kept for rollback, newest first, the serving one marked."""
    from .publish.publication_log import serving_now
    from .publish.versions import list_versions, versions_dir

    versions = list_versions(serving_path)
    if not versions:
        return f"No publication versions in {versions_dir(serving_path)}."
    serving = serving_now(serving_path)
    lines = [f"Publication versions in {versions_dir(serving_path)} (newest first, * = serving):"]
    for version in versions:
        mark = "*" if serving and serving.version == version.publication_id else " "
        lines.append(f"{mark} {version.publication_id:<40} as of {version.as_of_date}  "
                     f"published {version.published_at:%Y-%m-%d %H:%M:%S} UTC")
        lines.append("      rows: " + ", ".join(f"{name} {rows:,}" for name, rows in version.row_counts.items()))
    if serving and not any(v.publication_id == serving.version for v in versions):
        lines.append(f"  serving: {serving.version} as of {serving.as_of_date} (no version kept for it)")
    return "\n".join(lines)


def rollback_to(serving_path: Path, publication_id: str) -> int:
    """`cvw rollback --to`: serve that version again, or say why it can't be and change nothing."""
    from .publish.rollback import rollback
    from .publish.versions import SnapshotError

    try:
        restored = rollback(serving_path, publication_id)
    except SnapshotError as error:
        print(f"Rollback refused: {error}. The serving file is unchanged.", file=sys.stderr)
        return 1
    if restored.recovered:
        print(f"Recovered: {restored.recovered}.")
    print(f"Serving version {publication_id} (as of {restored.as_of_date}) again at {restored.path}; "
          f"logged as {restored.publication_id} in publication_log.")
    return 0


def run_nights(nights: int, *, customers: int, years: float, seed: int) -> int:
    """`cvw nights N`: N consecutive nights on the demo business, so that the tables that
    build up night by night (customer_equity, the status history, customer_moments'
    transitions) have something to show. Demo sources are generated to end N days before
    yesterday if the sources folder has none; each night appends one day of activity and
    runs the nightly job for it. Refuses, changing nothing, if N more days would pass
    yesterday (the partitions end there)."""
    from .demo.generator import append_days, generate
    from .demo.state import STATE_FILE, GeneratorError, load_manifest

    if nights < 1:
        print("error: nights must be at least 1", file=sys.stderr)
        return 2
    settings = settings_from_env()
    out = settings.sources_dir
    yesterday = date.fromisoformat(default_as_of())
    try:
        if not (out / STATE_FILE).exists():
            print(generate(out, customers=customers, years=years, seed=seed,
                           end_date=yesterday - timedelta(days=nights)))
        last = date.fromisoformat(load_manifest(out)["last_date"])
    except GeneratorError as error:
        print(f"error: {error}", file=sys.stderr)
        return 2
    if last + timedelta(days=nights) > yesterday:
        print(f"error: the demo sources in {out} end on {last}: {nights} more night(s) would pass yesterday "
              f"({yesterday}); run at most {max((yesterday - last).days, 0)}, or start over in an empty "
              "CVW_DATA_DIR", file=sys.stderr)
        return 2
    prepare()
    for night in range(1, nights + 1):
        as_of = append_days(out, 1)["last_date"]
        try:
            result, report = run_nightly(as_of, progress=False)  # one line a night instead
        except LockHeld as held:
            print(_lock_refusal(held), file=sys.stderr)
            return 2
        print(f"night {night}/{nights}: {as_of} {'published' if result.success else 'FAILED'} "
              f"in {sum(seconds for _, seconds in report.steps.values()):.0f} s of steps"
              + (f"; {_night_story(settings.serving_path, as_of)}" if result.success else ""))
        if not result.success:
            print(report)
            print("The previous publication is still serving.", file=sys.stderr)
            return 1
    print(summary_text(settings.serving_path))
    return 0


def _night_story(serving_path: Path, as_of: str) -> str:
    """One night in a line: tonight's transitions (customer_moments) and what the previous
    night's customers gained or lost (customer_equity)."""
    import duckdb

    with duckdb.connect(str(serving_path), read_only=True) as con:
        moments = dict(con.execute(
            "select moment, count(*) from customer_moments where moment_date = as_of_date group by 1").fetchall())
        equity = con.execute(
            "select customers_lapsed, annual_value_lapsed, new_customers, return_on_customer from customer_equity "
            "where as_of_date = ? and value_segment = 'all'", [as_of]).fetchall()
    parts = [f"{moments.get(moment, 0)} {label}" for moment, label in
             (("became_at_risk", "became at risk"), ("tier_upgrade", "moved up a tier"))]
    if equity and equity[0][0] is not None:
        lapsed, lapsed_value, new, roc = equity[0]
        parts.insert(1, f"{lapsed} lapsed ({lapsed_value:,.2f} a year)")
        parts.append(f"{new} new; Return on Customer {'unknown' if roc is None else f'{roc:+.2%}'}")
    else:
        parts.append("the first night of customer_equity")
    return ", ".join(parts)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="cvw", description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    commands = parser.add_subparsers(dest="command", required=True)
    settings = settings_from_env()
    from .demo.cli import add_arguments as demo_arguments

    demo_arguments(commands.add_parser("demo", help="generate (or extend) the demo source systems"),
                   default_out=settings.sources_dir)
    commands.add_parser("prepare", help="parse the dbt project for the Dagster definitions")
    run = commands.add_parser("run", help="run the nightly job now and print a summary")
    run.add_argument("--as-of", default=None, help="as-of date YYYY-MM-DD (default: yesterday)")
    run.add_argument("--verbose", action="store_true", help="stream dbt's and Dagster's output to the console")
    run.add_argument("--progress", action=argparse.BooleanOptionalAction, default=None,
                     help="print each step as it starts and ends (default: when the output is a terminal)")
    run.add_argument("--report-json", default=None, metavar="PATH",
                     help="also write the run report (steps with their seconds, checks) as JSON")
    run.add_argument("--full-refresh", action="store_true",
                     help="rebuild the incremental dbt models whole (after their logic changed)")
    history = commands.add_parser("nights", help="run N consecutive nights of demo activity (a history to look at)")
    history.add_argument("nights", type=int, help="nights to run, each on one more day of demo activity")
    history.add_argument("--customers", type=int, default=2_000,
                         help="accounts of a demo business generated when the sources folder has none (default 2000)")
    history.add_argument("--years", type=float, default=2, help="years of history of that business (default 2)")
    history.add_argument("--seed", type=int, default=42, help="its random seed (default 42)")
    commands.add_parser("summary", help="summarise the current publication")
    roll = commands.add_parser("rollback", help="list the publication versions, or serve an earlier one again")
    choice = roll.add_mutually_exclusive_group()
    choice.add_argument("--list", action="store_true", help="list the versions kept (the default)")
    choice.add_argument("--to", metavar="PUBLICATION_ID", help="serve this version again")
    args = parser.parse_args(argv)

    if args.command == "demo":
        from .demo.cli import run as run_demo

        return run_demo(args)
    if args.command == "prepare":
        print(f"dbt manifest: {prepare(force=True)}")
        return 0
    if args.command == "run":
        as_of = args.as_of or default_as_of()
        from .ingest import data_span

        problem = as_of_problem(as_of, *data_span.first_as_of_date(settings.first_as_of_date, settings.warehouse_path))
        if problem:
            print(f"error: --as-of {problem}", file=sys.stderr)
            return 2
        prepare()
        try:
            result, report = run_nightly(as_of, verbose=args.verbose, full_refresh=args.full_refresh,
                                         progress=args.progress)
        except LockHeld as held:
            print(_lock_refusal(held), file=sys.stderr)
            return 2
        print(report)
        if args.report_json:
            Path(args.report_json).write_text(json.dumps(dataclasses.asdict(report), default=str, indent=2))
        if not result.success:
            print("The previous publication is still serving.", file=sys.stderr)
        print(summary_text(settings.serving_path))
        return 0 if result.success else 1
    if args.command == "nights":
        return run_nights(args.nights, customers=args.customers, years=args.years, seed=args.seed)
    if args.command == "summary":
        print(summary_text(settings.serving_path))
        return 0
    if args.command == "rollback":
        if args.to:
            return rollback_to(settings.serving_path, args.to)
        print(versions_text(settings.serving_path))
        return 0
    return 2


if __name__ == "__main__":
    sys.exit(main())
