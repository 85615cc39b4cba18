"""Run a command and measure it: wall time, peak memory of its whole process tree, and of its largest process.

Two memory figures, because they answer different questions:

- `tree_peak_mb`: the largest sum of resident set sizes over the command and all its descendants,
  sampled from /proc every `POLL_SECONDS`. The nightly job is one Python process that starts
  dbt as a second Python process while it still holds its own memory, so the machine must hold
  both at once: this is the figure to compare with a memory budget. Sampling can miss a peak
  shorter than the interval, and shared pages (libraries) are counted once per process, so it
  is an estimate, on the high side for long-lived peaks.
- `largest_process_mb`: `ru_maxrss` from `wait4()` on the command, which the kernel keeps as the
  maximum over the command and every descendant it waited for: the peak of the single largest
  process, exact, never summed. This is the number `/usr/bin/time -f %M` prints.

Linux only (/proc, wait4).
"""

from __future__ import annotations

import os
import subprocess
import threading
import time
from collections import defaultdict
from dataclasses import asdict, dataclass
from pathlib import Path

POLL_SECONDS = 0.2
PAGE_BYTES = os.sysconf("SC_PAGE_SIZE")
MB = 1024 * 1024


@dataclass
class Measured:
    command: list[str]
    returncode: int
    seconds: float
    tree_peak_mb: float
    largest_process_mb: float
    peak_processes: list  # [(name, MB)] of the largest processes at the sampled tree peak
    peak_at: float | None  # when that was (epoch seconds)
    load_before: float  # 1-minute load average when it started: how busy the shared machine was
    load_after: float
    started_at: float  # epoch seconds, to line the command up with timestamps it records itself
    ended_at: float
    log: str

    def as_dict(self) -> dict:
        return asdict(self)


def _parents() -> dict[int, list[int]]:
    """pid -> child pids, for every process visible now."""
    children: dict[int, list[int]] = defaultdict(list)
    for entry in os.scandir("/proc"):
        if not entry.name.isdigit():
            continue
        try:
            with open(f"/proc/{entry.name}/stat", "rb") as handle:
                stat = handle.read()
        except OSError:
            continue  # exited meanwhile
        # the command name may hold spaces and parentheses: the fields after the last ')' are safe
        ppid = int(stat.rsplit(b")", 1)[1].split()[1])
        children[ppid].append(int(entry.name))
    return children


def _rss_bytes(pid: int) -> int:
    try:
        with open(f"/proc/{pid}/statm", "rb") as handle:
            return int(handle.read().split()[1]) * PAGE_BYTES
    except (OSError, IndexError, ValueError):
        return 0


def _name(pid: int) -> str:
    """The first words of the command line, e.g. `python3 dbt build` or `python cvw run`."""
    try:
        with open(f"/proc/{pid}/cmdline", "rb") as handle:
            words = [w.decode(errors="replace") for w in handle.read().split(b"\0") if w]
    except OSError:
        return "?"
    return " ".join(Path(w).name if "/" in w else w for w in words[:3])[:48] or "?"


def tree_rss(root: int) -> dict[int, int]:
    """{pid: resident bytes} of `root` and all its descendants, now."""
    children = _parents()
    sizes, stack = {}, [root]
    while stack:
        pid = stack.pop()
        sizes[pid] = _rss_bytes(pid)
        stack.extend(children.get(pid, ()))
    return sizes


class _TreeSampler(threading.Thread):
    """Samples the tree's total RSS; keeps the largest total and which processes made it up."""

    def __init__(self, root: int):
        super().__init__(daemon=True)
        self.root, self.peak, self.at_peak, self.peak_at, self._done = root, 0, [], None, threading.Event()

    def run(self) -> None:
        while not self._done.is_set():
            sizes = tree_rss(self.root)
            total = sum(sizes.values())
            if total > self.peak:
                # named now: by the end the processes are gone
                largest = sorted(sizes.items(), key=lambda item: -item[1])[:4]
                self.peak, self.at_peak = total, [(_name(pid), size / MB) for pid, size in largest if size]
                self.peak_at = time.time()
            self._done.wait(POLL_SECONDS)

    def stop(self) -> tuple[int, list[tuple[str, float]], float | None]:
        self._done.set()
        self.join()
        return self.peak, self.at_peak, self.peak_at


def run_measured(command: list[str], *, log: Path, env: dict[str, str] | None = None, cwd: Path | None = None
                 ) -> Measured:
    """Run `command` to completion, its output to `log`; never raises on a failing command."""
    log.parent.mkdir(parents=True, exist_ok=True)
    load_before = os.getloadavg()[0]
    with open(log, "wb") as out:
        started_at, started = time.time(), time.perf_counter()
        process = subprocess.Popen(command, stdout=out, stderr=subprocess.STDOUT, env=env, cwd=cwd)
        sampler = _TreeSampler(process.pid)
        sampler.start()
        # wait4, not Popen.wait: it also returns the child's resource usage (ru_maxrss, in KiB on Linux)
        _, status, usage = os.wait4(process.pid, 0)
        seconds = time.perf_counter() - started
        process.returncode = os.waitstatus_to_exitcode(status)
        tree_peak, peak_processes, peak_at = sampler.stop()
    return Measured(
        command=[str(c) for c in command],
        returncode=process.returncode,
        seconds=seconds,
        # a sample can miss the moment the largest process peaked; the tree held at least that much
        tree_peak_mb=max(tree_peak, usage.ru_maxrss * 1024) / MB,
        largest_process_mb=usage.ru_maxrss / 1024,
        peak_processes=peak_processes,
        peak_at=peak_at,
        load_before=load_before,
        load_after=os.getloadavg()[0],
        started_at=started_at,
        ended_at=started_at + seconds,
        log=str(log),
    )
