"""Benchmark: what storing a night's Dagster events costs, on SQLite and on PostgreSQL.

    PYTHONPATH=. .venv/bin/python bench/event_storage_benchmark.py --from-home DAGSTER_HOME [--repeat 3]

Takes the newest run recorded under DAGSTER_HOME (e.g. `data/dagster_home` after `make run`),
and replays its events, one `store_event` call each as a run does, into a fresh default
(SQLite) instance and into an instance on a throw-away PostgreSQL server configured by
`deploy/dagster.yaml` (started with tests/postgres_server.py: fsync off, so the figure is
Dagster's and the driver's cost, not the disk's), `--repeat` times each, alternating. Prints
events per night and milliseconds per event on both, and their ratio.
"""

from __future__ import annotations

import argparse
import os
import shutil
import statistics
import tempfile
import time
import uuid
from pathlib import Path

import dagster as dg

from dagster_project.settings import PROJECT_ROOT
from tests.postgres_server import PostgresServer


def newest_run_events(home: Path) -> list:
    with dg.DagsterInstance.from_config(str(home)) as instance:
        run = instance.get_runs(limit=1)[0]
        return [r.event_log_entry for r in instance.get_records_for_run(run.run_id, limit=1_000_000).records]


def replay(instance: dg.DagsterInstance, events: list) -> float:
    run_id = str(uuid.uuid4())
    started = time.perf_counter()
    for entry in events:
        instance.event_log_storage.store_event(entry._replace(run_id=run_id))
    return time.perf_counter() - started


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--from-home", type=Path, required=True)
    ap.add_argument("--repeat", type=int, default=3)
    args = ap.parse_args()
    events = newest_run_events(args.from_home)
    print(f"load average {os.getloadavg()[0]:.2f}; {len(events)} events in the newest run under {args.from_home}")
    work = Path(tempfile.mkdtemp(prefix="cvw-event-bench-"))
    server = PostgresServer().start()
    try:
        sqlite_home, pg_home = work / "sqlite", work / "postgres"
        sqlite_home.mkdir()
        pg_home.mkdir()
        (sqlite_home / "dagster.yaml").write_text("telemetry:\n  enabled: false\n")
        shutil.copy(PROJECT_ROOT / "deploy" / "dagster.yaml", pg_home / "dagster.yaml")
        os.environ["DAGSTER_PG_URL"] = server.create_database("dagster")
        seconds: dict[str, list[float]] = {"sqlite": [], "postgres": []}
        with dg.DagsterInstance.from_config(str(sqlite_home)) as sqlite, \
                dg.DagsterInstance.from_config(str(pg_home)) as postgres:
            for _ in range(args.repeat):
                seconds["sqlite"].append(replay(sqlite, events))
                seconds["postgres"].append(replay(postgres, events))
        for name, values in seconds.items():
            median = statistics.median(values)
            print(f"{name:9s} {median:6.2f} s a night (median of {len(values)}: "
                  f"{', '.join(f'{v:.2f}' for v in values)}), {1000 * median / len(events):.2f} ms per event")
        print(f"postgres / sqlite: {statistics.median(seconds['postgres']) / statistics.median(seconds['sqlite']):.2f}")
    finally:
        server.stop()
        shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
