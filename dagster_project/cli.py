"""`cvw`: the command line of the customer-value warehouse.

    cvw demo [--customers N] [--years Y] [--seed S] [--if-missing] | [--days N]
    cvw prepare                 build the dbt manifest the Dagster definitions load
    cvw run [--as-of DATE]      the nightly job, in this process, then a summary
    cvw summary                 what the serving database currently publishes
"""

from __future__ import annotations

import argparse
import contextlib
import os
import subprocess
import sys
from datetime import date, datetime, timedelta
from pathlib import Path

from .settings import DBT_PROJECT_DIR, settings_from_env


def prepare() -> Path:
    """Parse the dbt project (partial parsing keeps repeats cheap) so the manifest is current."""
    from .defs.transform.project import dbt_executable

    settings = settings_from_env()
    env = {**os.environ, "CVW_WAREHOUSE_PATH": str(settings.warehouse_path)}
    subprocess.run(
        [dbt_executable(), "parse", "--quiet", "--project-dir", str(DBT_PROJECT_DIR), "--profiles-dir", str(DBT_PROJECT_DIR)],
        check=True,
        env=env,
    )
    return DBT_PROJECT_DIR / "target" / "manifest.json"


def default_as_of() -> str:
    """Yesterday: the last complete day, as the nightly schedule would publish."""
    return os.environ.get("CVW_AS_OF_DATE") or (date.today() - timedelta(days=1)).isoformat()


def run_nightly(as_of_date: str | None = None, *, verbose: bool = False):
    """Run the nightly job in-process, recorded in the Dagster instance under DAGSTER_HOME.

    dbt's and Dagster's own output go to a log file under the data directory (or to the
    console with `verbose`); warnings and errors always reach the console.
    """
    import dagster as dg

    from .defs.orchestration.nightly import NIGHTLY_JOB_NAME, nightly_run_config
    from .definitions import defs

    settings = settings_from_env()
    as_of = as_of_date or default_as_of()
    home = Path(os.environ.setdefault("DAGSTER_HOME", str(settings.dagster_home)))
    home.mkdir(parents=True, exist_ok=True)
    (home / "dagster.yaml").touch()  # the defaults: run history kept under DAGSTER_HOME
    log_path = settings.data_dir / "logs" / f"nightly-{as_of}-{datetime.now():%Y%m%dT%H%M%S}.log"
    log_path.parent.mkdir(parents=True, exist_ok=True)
    run_config = nightly_run_config(as_of)
    if not verbose:
        run_config["loggers"] = {"console": {"config": {"log_level": "WARNING"}}}
    job = defs().resolve_job_def(NIGHTLY_JOB_NAME)
    with dg.DagsterInstance.get() as instance, open(log_path, "w", encoding="utf-8") as log:
        with contextlib.redirect_stdout(sys.stdout if verbose else log):
            result = job.execute_in_process(run_config=run_config, instance=instance, raise_on_error=False)
        steps = step_timings(instance.all_logs(result.run_id))
    return result, steps, log_path


_STEP_ENDS = {"STEP_SUCCESS": "ok", "STEP_FAILURE": "FAILED", "STEP_SKIPPED": "skipped"}


def step_timings(entries) -> dict[str, tuple[str, float]]:
    """{step: (status, seconds)} from a run's event log, in the order the steps ended."""
    started: dict[str, float] = {}
    steps: dict[str, tuple[str, float]] = {}
    for entry in entries:
        event = entry.dagster_event
        if event is None or event.step_key is None:
            continue
        if event.event_type_value == "STEP_START":
            started[event.step_key] = entry.timestamp
        elif event.event_type_value in _STEP_ENDS:
            seconds = entry.timestamp - started.get(event.step_key, entry.timestamp)
            steps[event.step_key] = (_STEP_ENDS[event.event_type_value], seconds)
    return steps


def run_report(result, steps: dict[str, tuple[str, float]], as_of: str, log_path: Path) -> str:
    """One line per step (status, seconds) and the checks that failed."""
    checks = result.get_asset_check_evaluations()
    failed = [c for c in checks if not c.passed]
    lines = [f"nightly run {result.run_id} as of {as_of}: {'succeeded' if result.success else 'FAILED'}"]
    lines += [f"  {key:<58} {status:<8} {seconds:6.1f} s" for key, (status, seconds) in steps.items()]
    lines.append(f"  checks: {len(checks) - len(failed)} passed, {len(failed)} failed")
    for check in failed:
        description = (check.description or "").strip().replace("\n", "\n      ")
        lines.append(f"    FAILED {check.asset_key.to_user_string()} {check.check_name}: {description}")
    lines.append(f"  full log: {log_path}")
    return "\n".join(lines)


def summary_text(serving_path: Path) -> str:
    import duckdb

    if not serving_path.exists():
        return f"Nothing published yet at {serving_path}."
    with duckdb.connect(str(serving_path), read_only=True) as con:
        as_of, customers, buyers, revenue, margin = con.execute(
            "select max(as_of_date), count(*), count(*) filter (orders_count > 0), sum(net_revenue), sum(gross_margin) "
            "from customer_value"
        ).fetchall()[0]
        tables = [r[0] for r in con.execute("select table_name from duckdb_tables() order by 1").fetchall()]
        publications = con.execute("select count(*) from publication_log").fetchall()[0][0]
    return "\n".join(
        [
            f"Published customer value as of {as_of}",
            f"  customers:        {customers:,} ({buyers:,} with purchases)",
            f"  net revenue:      {revenue:,.2f}",
            f"  gross margin:     {margin:,.2f} (historical CLV)",
            f"  tables:           {', '.join(tables)}",
            f"  publications:     {publications} (see publication_log)",
            f"  serving database: {serving_path}",
            "Open it read-only, e.g.:",
            f"  python -c \"import duckdb; print(duckdb.connect('{serving_path}', read_only=True).sql('from customer_value limit 5'))\"",
            f"  duckdb -readonly {serving_path}    (DuckDB CLI, if installed)",
        ]
    )


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="cvw", description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    commands = parser.add_subparsers(dest="command", required=True)
    demo = commands.add_parser("demo", help="generate (or extend) the demo source systems")
    demo.add_argument("--customers", type=int, default=20_000)
    demo.add_argument("--years", type=float, default=3)
    demo.add_argument("--seed", type=int, default=42)
    demo.add_argument("--end-date", default=None, help="last generated day (default: yesterday)")
    demo.add_argument("--if-missing", action="store_true", help="do nothing when demo sources already exist")
    demo.add_argument("--days", type=int, default=None, help="append N more days to existing sources")
    commands.add_parser("prepare", help="parse the dbt project for the Dagster definitions")
    run = commands.add_parser("run", help="run the nightly job now and print a summary")
    run.add_argument("--as-of", default=None, help="as-of date YYYY-MM-DD (default: yesterday)")
    run.add_argument("--verbose", action="store_true", help="stream dbt's and Dagster's output to the console")
    commands.add_parser("summary", help="summarise the current publication")
    args = parser.parse_args(argv)
    settings = settings_from_env()

    if args.command == "demo":
        from .demo import append_days, generate

        out = settings.sources_dir
        if args.days:
            print(append_days(out, args.days))
            return 0
        if args.if_missing and (out / "_generator_state.json").exists():
            print(f"Demo sources already in {out}: reusing them (make clean to start over).")
            return 0
        print(generate(out, customers=args.customers, years=args.years, seed=args.seed, end_date=args.end_date))
        return 0
    if args.command == "prepare":
        print(f"dbt manifest: {prepare()}")
        return 0
    if args.command == "run":
        prepare()
        as_of = args.as_of or default_as_of()
        result, steps, log_path = run_nightly(as_of, verbose=args.verbose)
        print(run_report(result, steps, as_of, log_path))
        if not result.success:
            print("The previous publication is still serving.", file=sys.stderr)
        print(summary_text(settings.serving_path))
        return 0 if result.success else 1
    if args.command == "summary":
        print(summary_text(settings.serving_path))
        return 0
    return 2


if __name__ == "__main__":
    sys.exit(main())
