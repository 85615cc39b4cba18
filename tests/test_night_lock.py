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

from dagster_project.cli import LAUNCHED_BY, _fail_abandoned_runs, main
from dagster_project.core.files import LockHeld, held_lock
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


def test_a_killed_nights_run_record_is_marked_failed_by_the_next_night():
    with dg.DagsterInstance.ephemeral() as instance:
        abandoned = dg.DagsterRun(job_name="nightly", run_id="killed-run", status=dg.DagsterRunStatus.STARTED,
                                  tags={LAUNCHED_BY: "cvw"})
        other = dg.DagsterRun(job_name="nightly", run_id="ui-run", status=dg.DagsterRunStatus.STARTED)
        instance.add_run(abandoned)
        instance.add_run(other)
        _fail_abandoned_runs(instance, "nightly", "pid 123, the night of 2026-06-30")
        assert instance.get_run_by_id("killed-run").status == dg.DagsterRunStatus.FAILURE
        # a run the Dagster UI or daemon launched is not ours to judge
        assert instance.get_run_by_id("ui-run").status == dg.DagsterRunStatus.STARTED
