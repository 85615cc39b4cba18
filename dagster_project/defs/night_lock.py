"""One night at a time on a warehouse, however the run was launched (`cvw run`, the schedule
through the daemon, the UI): DuckDB lets one process write the file, so a second night would
otherwise take turns with the first until one dies at an unpredictable step.

The run's own process holds the lock for as long as the run executes (the nightly job runs
in one process), taken when its warehouse resource starts. A second run fails at once,
naming the holder. The kernel frees the lock of a killed process, so the next run takes it
over and records the killed run, still shown as started, as failed.
"""

from __future__ import annotations

import os
import socket
from contextlib import ExitStack, contextmanager
from pathlib import Path
from typing import Iterator

import dagster as dg

from ..core.clock import utc_now
from ..core.files import LockHeld, held_lock

# The lock file a run holds, as a run tag: the runs of this warehouse are the ones carrying it.
NIGHT_LOCK_TAG = "cvw/night_lock"


def lock_path(warehouse_path: str | Path) -> Path:
    warehouse = Path(warehouse_path)
    return warehouse.with_name(f".{warehouse.name}.night.lock")


def refusal(held: LockHeld) -> str:
    return (f"another night is running on this warehouse ({held.holder}); this one did not start. "
            f"Wait for it, or stop that process (the lock is {held.lock_path}).")


def probe(warehouse_path: str | Path) -> None:
    """Raise LockHeld at once if a night holds the warehouse (a command-line check before
    starting work; the run itself takes the lock)."""
    with held_lock(lock_path(warehouse_path), f"pid {os.getpid()} checking"):
        pass


def fail_abandoned_runs(instance: dg.DagsterInstance, lock: Path, own_run_id: str, left: str | None) -> list[str]:
    """Runs of this warehouse still recorded as started while we hold its lock have lost their
    process (killed, or the machine went down): record them as failed, so the run history says
    so instead of showing them running for ever."""
    stale = instance.get_runs(filters=dg.RunsFilter(
        statuses=[dg.DagsterRunStatus.STARTED, dg.DagsterRunStatus.STARTING],
        tags={NIGHT_LOCK_TAG: str(lock)}))
    failed = []
    for run in stale:
        if run.run_id == own_run_id:
            continue
        instance.report_run_failed(run, message="the process running this night is gone (killed or the machine "
                                   f"stopped): recorded as failed by the next night{f'; it was {left}' if left else ''}")
        failed.append(run.run_id)
    return failed


@contextmanager
def night(context: dg.InitResourceContext, warehouse_path: str) -> Iterator[None]:
    """Hold the warehouse's night lock for the run, or fail it at once naming the holder."""
    run = context.dagster_run
    if run is None:  # a resource built outside a run (a direct call in a test): nothing to guard
        yield
        return
    lock = lock_path(warehouse_path)
    as_of = run.tags.get("dagster/partition", "no as-of date")
    holder = (f"run {run.run_id[:8]}, pid {os.getpid()} on {socket.gethostname()}, the night of {as_of}, "
              f"started {utc_now(whole_seconds=True):%Y-%m-%d %H:%M:%S} UTC")
    stack = ExitStack()
    try:
        left = stack.enter_context(held_lock(lock, holder))
    except LockHeld as taken:
        raise dg.Failure(description=refusal(taken), allow_retries=False) from None
    with stack:
        if context.instance is not None:
            context.instance.add_run_tags(run.run_id, {NIGHT_LOCK_TAG: str(lock)})
            for run_id in fail_abandoned_runs(context.instance, lock, run.run_id, left):
                context.log.warning(f"run {run_id} was left started by a process that is gone: recorded as failed")
        yield
