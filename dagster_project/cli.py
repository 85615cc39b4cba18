"""`cvw`: the command line of the customer-value warehouse.

    cvw demo [--customers N] [--years Y] [--seed S] [--if-missing] | [--days N]
    cvw prepare                 build the dbt manifest the Dagster definitions load
    cvw run [--as-of DATE]      the nightly job, in this process, then a summary
    cvw summary                 what the serving database currently publishes
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
from datetime import date, timedelta
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


def run_nightly(as_of_date: str | None = None):
    """Run the nightly job in-process, recorded in the Dagster instance under DAGSTER_HOME."""
    import dagster as dg

    from .defs.orchestration.nightly import NIGHTLY_JOB_NAME, nightly_run_config
    from .definitions import defs

    settings = settings_from_env()
    home = Path(os.environ.setdefault("DAGSTER_HOME", str(settings.dagster_home)))
    home.mkdir(parents=True, exist_ok=True)
    job = defs().resolve_job_def(NIGHTLY_JOB_NAME)
    with dg.DagsterInstance.get() as instance:
        return job.execute_in_process(
            run_config=nightly_run_config(as_of_date or default_as_of()),
            instance=instance,
            raise_on_error=False,
        )


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
        result = run_nightly(args.as_of)
        if not result.success:
            failed = [e.step_key for e in result.all_events if e.is_step_failure]
            print(f"The nightly run {result.run_id} failed at {', '.join(failed) or 'a check'}; "
                  "the previous publication is still serving.", file=sys.stderr)
            print(summary_text(settings.serving_path))
            return 1
        print(summary_text(settings.serving_path))
        return 0
    if args.command == "summary":
        print(summary_text(settings.serving_path))
        return 0
    return 2


if __name__ == "__main__":
    sys.exit(main())
