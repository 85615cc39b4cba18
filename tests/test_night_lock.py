"""One night at a time: a second run refuses at once naming the holder; a lock a killed
process left is taken over; its run, still recorded as started, is recorded as failed."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from datetime import date, timedelta
from pathlib import Path

import dagster as dg
import pytest

from dagster_project.cli import main
from dagster_project.core.files import LockHeld, held_lock
from dagster_project.defs.night_lock import NIGHT_LOCK_TAG, fail_abandoned_runs, lock_path
from dagster_project.defs.resources import WarehouseResource
from dagster_project.settings import settings_from_env

HOLD = """
import sys, time
from pathlib import Path
from dagster_project.core.files import held_lock
with held_lock(Path(sys.argv[1]), "pid %d, the night of 2026-06-30" % __import__("os").getpid()):
    print("held", flush=True)
    time.sleep(600)
"""


def hold(lock: Path) -> subprocess.Popen:
    process = subprocess.Popen([sys.executable, "-c", HOLD, str(lock)], stdout=subprocess.PIPE, text=True)
    assert process.stdout.readline().strip() == "held"
    return process


def test_a_held_lock_is_refused_at_once_and_a_dead_holders_lock_taken_over(tmp_path):
    lock = tmp_path / ".warehouse.duckdb.night.lock"
    holder = hold(lock)
    try:
        started = time.monotonic()
        with pytest.raises(LockHeld) as refused:
            with held_lock(lock, "me"):
                pass
        assert f"pid {holder.pid}" in refused.value.holder and time.monotonic() - started < 5
    finally:
        os.kill(holder.pid, signal.SIGKILL)
        holder.wait()
    with held_lock(lock, "me") as left:  # the kernel freed it; the dead holder's note remains
        assert left is not None and f"pid {holder.pid}" in left
        assert lock.read_text().strip() == "me"
    assert lock.read_text() == ""


def test_a_second_cvw_run_refuses_naming_the_running_one(tmp_path, monkeypatch, capsys):
    monkeypatch.setenv("CVW_DATA_DIR", str(tmp_path))
    warehouse = settings_from_env().warehouse_path
    holder = hold(warehouse.with_name(f".{warehouse.name}.night.lock"))
    try:
        assert main(["run", "--as-of", str(date.today() - timedelta(days=1))]) == 2
    finally:
        os.kill(holder.pid, signal.SIGKILL)
        holder.wait()
    err = capsys.readouterr().err
    assert "another night is running" in err and f"pid {holder.pid}" in err
    assert not warehouse.exists()  # it did not start


def test_a_killed_nights_run_record_is_marked_failed_by_the_next_night(tmp_path):
    lock = lock_path(tmp_path / "warehouse.duckdb")
    with dg.DagsterInstance.ephemeral() as instance:
        for run_id, tags in (("killed-run", {NIGHT_LOCK_TAG: str(lock)}),
                             ("other-warehouse", {NIGHT_LOCK_TAG: str(tmp_path / "other" / "lock")}),
                             ("this-run", {NIGHT_LOCK_TAG: str(lock)})):
            instance.add_run(dg.DagsterRun(job_name="nightly", run_id=run_id, status=dg.DagsterRunStatus.STARTED,
                                           tags=tags))
        assert fail_abandoned_runs(instance, lock, "this-run", "pid 123, the night of 2026-06-30") == ["killed-run"]
        assert instance.get_run_by_id("killed-run").status == dg.DagsterRunStatus.FAILURE
        # a night on another warehouse, and the run doing the judging, are left alone
        assert instance.get_run_by_id("other-warehouse").status == dg.DagsterRunStatus.STARTED
        assert instance.get_run_by_id("this-run").status == dg.DagsterRunStatus.STARTED


PROBE = """
import sys
from pathlib import Path
from dagster_project.core.files import LockHeld, held_lock
try:
    with held_lock(Path(sys.argv[1]), "probe"):
        print("free")
except LockHeld as held:
    print("held by", held.holder)
"""


def _probe(lock: Path) -> str:
    return subprocess.run([sys.executable, "-c", PROBE, str(lock)], capture_output=True, text=True,
                          check=True).stdout.strip()


def _two_step_job(warehouse: Path, seen: list[str]):
    @dg.asset
    def first(warehouse: WarehouseResource):
        seen.append(_probe(lock_path(warehouse.path)))

    @dg.asset(deps=[first])
    def second(warehouse: WarehouseResource):
        seen.append(_probe(lock_path(warehouse.path)))

    return [first, second], {"warehouse": WarehouseResource(path=str(warehouse), memory_limit="1GB")}


def test_any_run_holds_the_lock_while_it_executes_and_frees_it_after(tmp_path):
    """However the run is launched (the UI and the daemon run the job like this), not only
    through `cvw run`: held through every step, free once the run ends."""
    seen: list[str] = []
    assets, resources = _two_step_job(tmp_path / "warehouse.duckdb", seen)
    with dg.DagsterInstance.ephemeral() as instance:
        result = dg.materialize(assets, resources=resources, instance=instance)
        assert result.success
        assert len(seen) == 2 and all(s.startswith(f"held by run {result.run_id[:8]}") for s in seen), seen
        assert instance.get_run_by_id(result.run_id).tags[NIGHT_LOCK_TAG] == str(lock_path(tmp_path / "warehouse.duckdb"))
    assert _probe(lock_path(tmp_path / "warehouse.duckdb")) == "free"


def test_a_run_launched_while_a_night_holds_the_warehouse_fails_at_once_naming_it(tmp_path):
    seen: list[str] = []
    assets, resources = _two_step_job(tmp_path / "warehouse.duckdb", seen)
    holder = hold(lock_path(tmp_path / "warehouse.duckdb"))
    try:
        started = time.monotonic()
        result = dg.materialize(assets, resources=resources, instance=dg.DagsterInstance.ephemeral(),
                                raise_on_error=False)
        assert time.monotonic() - started < 30
    finally:
        os.kill(holder.pid, signal.SIGKILL)
        holder.wait()
    assert not result.success and seen == []  # no step ran
    messages = " ".join(str(e.message) + str(getattr(e.event_specific_data, "error", "")) for e in result.all_events)
    assert "another night is running" in messages and f"pid {holder.pid}" in messages
