"""Dagster as a production install runs it: the instance of `deploy/dagster.yaml` (run, event
log and schedule storage on a real PostgreSQL server, runs queued for the daemon) and the
nightly schedule evaluated and launched by `dagster-daemon`.

One data directory with demo sources that end yesterday; the schedule is switched on with
Dagster's CLI exactly as the README tells an operator, with a cron that is due every minute,
and the daemon (loading `deploy/workspace.yaml`) ticks, queues the night, dequeues it and
launches it in a process of its own. The test waits (bounded) for that run to finish, then
reads what it left: the publication, and Dagster's records in PostgreSQL.
"""

from __future__ import annotations

import os
import shutil
import signal
import subprocess
import sys
import time
from datetime import date, datetime, timedelta, timezone
from pathlib import Path

import dagster as dg
import pytest
import sqlalchemy as sa
from dagster._core.scheduler.instigation import TickStatus  # not in Dagster's public API

from dagster_project.settings import PROJECT_ROOT

from .conftest import query

DEPLOY = PROJECT_ROOT / "deploy"
BIN = Path(sys.executable).parent
SCHEDULE = "nightly_schedule"
WAIT_SECONDS = 480  # a tick within a minute, then one small night (~1-2 min) on a busy machine


def processes_of(home: Path) -> list[int]:
    """Processes started for this instance (the daemon's code servers and launched runs start
    sessions of their own, so killing the daemon's group can miss them)."""
    marker = f"DAGSTER_HOME={home}".encode()
    found = []
    for proc in Path("/proc").iterdir():
        if proc.name.isdigit() and int(proc.name) != os.getpid():
            try:
                if marker in (proc / "environ").read_bytes().split(b"\0"):
                    found.append(int(proc.name))
            except OSError:
                continue
    return found


def deploy_env(postgres_url: str, home: Path, data_dir: Path) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("CVW_", "DAGSTER_"))}
    return {
        **env, "PATH": f"{BIN}{os.pathsep}{env.get('PATH', '')}", "DAGSTER_HOME": str(home),
        "DAGSTER_PG_URL": postgres_url, "CVW_DATA_DIR": str(data_dir),
        "CVW_SCHEDULE_CRON": "* * * * *", "CVW_SCHEDULE_TIMEZONE": "UTC",
    }


@pytest.fixture(scope="module")
def scheduled_night(postgres, manifest, tmp_path_factory):
    from dagster_project.demo import generate

    root = tmp_path_factory.mktemp("production-dagster")
    home, data_dir = root / "dagster_home", root / "data"
    home.mkdir()
    shutil.copy(DEPLOY / "dagster.yaml", home / "dagster.yaml")
    yesterday = date.today() - timedelta(days=1)
    generate(data_dir / "sources", customers=150, years=1, seed=19, end_date=yesterday.isoformat())
    url = postgres.create_database("dagster")
    env = deploy_env(url, home, data_dir)
    workspace = ["-w", str(DEPLOY / "workspace.yaml")]

    started = subprocess.run([str(BIN / "dagster"), "schedule", "start", SCHEDULE, *workspace], env=env,
                             cwd=PROJECT_ROOT, capture_output=True, text=True, timeout=180)
    assert started.returncode == 0, started.stdout + started.stderr
    log = open(root / "daemon.log", "w")
    daemon = subprocess.Popen([str(BIN / "dagster-daemon"), "run", *workspace], env=env, cwd=PROJECT_ROOT,
                              stdout=log, stderr=subprocess.STDOUT, start_new_session=True)
    os.environ["DAGSTER_PG_URL"] = url  # for the instance the test reads below
    try:
        with dg.DagsterInstance.from_config(str(home)) as instance:
            state = None
            deadline, runs = time.monotonic() + WAIT_SECONDS, []
            while time.monotonic() < deadline:
                runs = instance.get_runs(filters=dg.RunsFilter(tags={"dagster/schedule_name": SCHEDULE}))
                state = state or next((s for s in instance.all_instigator_state() if s.instigator_name == SCHEDULE), None)
                ticks = instance.get_ticks(state.instigator_origin_id, state.selector_id) if state else []
                # the night is over, and a tick after it was launched has been judged
                if runs and runs[-1].is_finished and any(t.status == TickStatus.SKIPPED for t in ticks):
                    break
                assert daemon.poll() is None, (root / "daemon.log").read_text()[-3000:]
                time.sleep(2)
            assert runs and runs[-1].is_finished, (
                f"no finished scheduled run after {WAIT_SECONDS} s: {runs and runs[-1].status}\n"
                + (root / "daemon.log").read_text()[-3000:])
            run = runs[-1]
            events = instance.get_records_for_run(run.run_id, limit=100_000).records
            yield {"run": run, "runs": runs, "events": events, "ticks": ticks, "url": url, "home": home,
                   "data_dir": data_dir, "daemon_log": root / "daemon.log"}
    finally:
        os.killpg(daemon.pid, signal.SIGTERM)
        try:
            daemon.wait(timeout=30)
        except subprocess.TimeoutExpired:
            os.killpg(daemon.pid, signal.SIGKILL)
        for pid in processes_of(home):
            try:
                os.kill(pid, signal.SIGKILL)
            except ProcessLookupError:
                pass
        log.close()
        os.environ.pop("DAGSTER_PG_URL", None)


def test_the_daemon_launches_the_scheduled_night_and_it_succeeds(scheduled_night):
    run = scheduled_night["run"]
    assert run.status == dg.DagsterRunStatus.SUCCESS, scheduled_night["daemon_log"].read_text()[-3000:]
    assert len(scheduled_night["runs"]) == 1  # every later tick for the same D skipped
    skipped = [t for t in scheduled_night["ticks"] if t.status == TickStatus.SKIPPED]
    assert skipped and all(f"the night of {run.tags['dagster/partition']} is already" in t.skip_reason for t in skipped)
    tick = next(t for t in scheduled_night["ticks"] if run.run_id in t.run_ids)
    assert tick.status == TickStatus.SUCCESS
    # the tick at hh:mm publishes the day before it, in the schedule's timezone (UTC here)
    ticked = datetime.fromtimestamp(tick.timestamp, timezone.utc).date()
    assert run.tags["dagster/partition"] == (ticked - timedelta(days=1)).isoformat()


def test_the_scheduled_night_publishes_its_as_of_date(scheduled_night):
    serving = scheduled_night["data_dir"] / "serving" / "customer_value.duckdb"
    as_of = scheduled_night["run"].tags["dagster/partition"]
    assert query(serving, "select distinct cast(as_of_date as varchar) from customer_value") == [(as_of,)]
    assert query(serving, "select count(*) from customer_value")[0][0] > 100


def test_runs_events_and_ticks_are_stored_in_postgres_not_sqlite(scheduled_night):
    engine = sa.create_engine(scheduled_night["url"])
    try:
        with engine.connect() as conn:
            runs = conn.execute(sa.text("select count(*) from runs where run_id = :id"),
                                {"id": scheduled_night["run"].run_id}).scalar_one()
            events = conn.execute(sa.text("select count(*) from event_logs where run_id = :id"),
                                  {"id": scheduled_night["run"].run_id}).scalar_one()
            ticks = conn.execute(sa.text("select count(*) from job_ticks")).scalar_one()
    finally:
        engine.dispose()
    assert runs == 1 and ticks >= 1
    assert events == len(scheduled_night["events"]) > 100
    assert not list(scheduled_night["home"].rglob("*.db")), "a SQLite storage under DAGSTER_HOME"
