"""Crash-test harness: run the pipeline in a child process, stop it at a chosen point, SIGKILL it.

Two halves, one module:

- the parent side (used by the tests): `Child` starts `cvw run` or one of the child commands
  below in a new session (its own process group, so the dbt processes it starts die with
  it), watches its output line by line and SIGKILLs the whole group the moment a line
  matches; `published_state`, `table_hashes`, `raw_state` read what a run left behind.
- the child side (`python -m tests.crash_harness ...`): runs the nightly job (or a part of
  it, or one publication) in-process exactly as `cvw run` does, after wrapping one function
  of the pipeline so that its n-th call writes a HALT line and stops the process
  (SIGSTOP). Nothing in the production code knows about it: the wrapping happens in the
  child only, so every kill point is deterministic without a pause hook in the pipeline.
  `publish-server` publishes in forked children, each stopped before its N-th
  durability-relevant system call made from Python under the serving directory (fsync,
  replace, rename, unlink, rmdir, mkdir): that enumerates every boundary between the
  file operations of one publication.

The readers (`reader` command) open the serving file read-only in a loop and record every
error and every inconsistent read.
"""

from __future__ import annotations

import argparse
import atexit
import dataclasses
import functools
import hashlib
import importlib
import json
import os
import re
import shutil
import signal
import subprocess
import sys
import tempfile
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path

import duckdb

PROJECT_ROOT = Path(__file__).resolve().parent.parent
PYTHON = sys.executable
CVW = str(Path(sys.executable).with_name("cvw"))
AS_OF = "2026-06-30"
DEMO = {"customers": 300, "years": 1, "end_date": AS_OF, "seed": 5}
HALT = "CRASH-HARNESS HALT"
PUBLICATION_LOG = "publication_log"


# --------------------------------------------------------------------------- environment

def generate_sources(out: Path) -> Path:
    from dagster_project.demo import generate

    generate(out, **DEMO)
    return out


def dagster_home(data_dir: Path) -> Path:
    """Dagster's run history for the pipeline in `data_dir`: on tmpfs when there is one.

    Each run records a few thousand events, one SQLite commit (and fsync) each: on a busy disk
    that alone costs half a minute per run. What the crash trials examine is the data
    directory (warehouse, serving file, snapshots), which stays where the test put it.
    """
    shm = Path("/dev/shm")
    if shm.is_dir() and os.access(shm, os.W_OK):
        home = Path(tempfile.mkdtemp(prefix=f"cvw-{data_dir.name}-", dir=shm))
        atexit.register(shutil.rmtree, home, ignore_errors=True)
    else:
        home = data_dir / "dagster_home"
    home.mkdir(parents=True, exist_ok=True)
    (home / "dagster.yaml").write_text("telemetry:\n  enabled: false\n")
    return home


def pipeline_env(data_dir: Path, sources: Path) -> dict[str, str]:
    """The environment of a pipeline process living in `data_dir`, reading `sources`."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("CVW_")}
    env.update(
        CVW_DATA_DIR=str(data_dir),
        DAGSTER_HOME=str(dagster_home(data_dir)),
        CVW_SOURCE_URL=f"sqlite:///{sources / 'commerce.sqlite'}",
        CVW_LANDING_DIR=str(sources / "landing"),
        PATH=f"{Path(PYTHON).parent}{os.pathsep}{os.environ.get('PATH', '')}",
        PYTHONUNBUFFERED="1",  # lines reach the parent as they are printed: kill points are exact
    )
    return env


# --------------------------------------------------------------------------- parent side

def _group_alive(pgid: int) -> list[int]:
    """Processes of group `pgid` that still run (zombies hold no file or lock any more)."""
    alive = []
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            text = stat.read_text()
        except OSError:
            continue
        fields = text[text.rindex(")") + 2:].split()
        if int(fields[2]) == pgid and fields[0] != "Z":
            alive.append(int(stat.parent.name))
    return alive


class Child:
    """A child process in its own process group, its output captured line by line.

    With `kill_on`, the reader thread SIGKILLs the whole group as soon as a line matches
    (a HALT line of a stopped child, or a line the pipeline prints, e.g. dbt's).
    """

    def __init__(self, args: list[str], env: dict[str, str], log: Path, *, kill_on: str | None = None):
        self.args = args
        self.log = log
        self.lines: list[str] = []
        self.killed_at: str | None = None
        self._kill_on = re.compile(kill_on) if kill_on else None
        self._matched = threading.Event()
        log.parent.mkdir(parents=True, exist_ok=True)
        self.proc = subprocess.Popen(
            args, env=env, cwd=PROJECT_ROOT, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
            stdin=subprocess.DEVNULL, start_new_session=True,
        )
        self._reader = threading.Thread(target=self._read, daemon=True)
        self._reader.start()

    def _read(self) -> None:
        with open(self.log, "w", encoding="utf-8") as out:
            for raw in self.proc.stdout:
                line = raw.decode("utf-8", "replace").rstrip("\n")
                self.lines.append(line)
                out.write(line + "\n")
                if self._kill_on is not None and self.killed_at is None and self._kill_on.search(line):
                    self.kill()
                    self.killed_at = line
                    self._matched.set()

    def kill(self) -> None:
        try:
            os.killpg(self.proc.pid, signal.SIGKILL)
        except ProcessLookupError:
            pass

    def _reap(self, timeout: float) -> None:
        self.proc.wait(timeout)
        deadline = time.monotonic() + timeout
        while _group_alive(self.proc.pid):
            if time.monotonic() > deadline:
                raise AssertionError(f"processes of {self.args} outlived SIGKILL: {_group_alive(self.proc.pid)}")
            time.sleep(0.05)
        self._reader.join(timeout)

    def killed(self, timeout: float = 300) -> str:
        """Wait until the kill line came and everything of the group is gone; the line."""
        if not self._matched.wait(timeout) and self.proc.poll() is None:
            self.kill()
        self._reap(60)
        if self.killed_at is None:
            raise AssertionError(
                f"{' '.join(self.args)} ended (rc {self.proc.returncode}) before its kill point "
                f"{self._kill_on.pattern!r}; output in {self.log}:\n" + "\n".join(self.lines[-30:])
            )
        return self.killed_at

    def finished(self, timeout: float = 600) -> int:
        try:
            self.proc.wait(timeout)
        except subprocess.TimeoutExpired:
            self.kill()
            self._reap(60)
            raise AssertionError(f"{' '.join(self.args)} did not finish in {timeout} s; output in {self.log}")
        self._reap(60)
        return self.proc.returncode

    def saw(self, pattern: str) -> bool:
        return any(re.search(pattern, line) for line in self.lines)

    def tail(self, n: int = 40) -> str:
        return "\n".join(self.lines[-n:])


def harness_args(command: str, *args: str) -> list[str]:
    return [PYTHON, "-m", "tests.crash_harness", command, *args]


@dataclass(frozen=True)
class StopAt:
    """Stop the child at the `nth` call of `target` ("module:function"), before or after it runs.

    With `source`, only calls with an argument whose `.source` is that (an ingest Entity) count.
    """

    target: str
    nth: int = 1
    when: str = "before"
    source: str | None = None

    def encode(self) -> str:
        return json.dumps(self.__dict__)


# --------------------------------------------------------------------------- what a run left

def content_hash(con: duckdb.DuckDBPyConnection, relation: str, exclude: tuple[str, ...] = ()) -> tuple[int, str]:
    """(rows, md5 of the rows sorted by their text): equal for equal contents, whatever the order."""
    select = f"* exclude ({', '.join(exclude)})" if exclude else "*"
    rows, digest = con.execute(
        f"select count(*), md5(coalesce(string_agg(cast(t as varchar), chr(10) order by cast(t as varchar)), '')) "
        f"from (select {select} from {relation}) t"
    ).fetchall()[0]
    return rows, digest


def table_hashes(path: Path, schemas: tuple[str, ...]) -> dict[str, tuple[int, str]]:
    """{schema.table: content hash} of every table and view of `schemas` in the database."""
    with duckdb.connect(str(path), read_only=True) as con:
        names = con.execute(
            "select schema_name, table_name from duckdb_tables() where database_name = current_database() "
            "union all select schema_name, view_name from duckdb_views() where not internal "
            "and database_name = current_database() order by 1, 2"
        ).fetchall()
        return {f"{s}.{t}": content_hash(con, f'"{s}"."{t}"') for s, t in names if s in schemas}


# Columns that say when or by which run a row was loaded: they differ between two runs by nature.
RUN_SPECIFIC = {
    "_quarantine": ("loaded_at", "run_id", "resolved_at", "resolved_run_id"),
    "_loaded_files": ("loaded_at", "run_id"),
}


def raw_state(path: Path) -> dict[str, tuple[int, str | None]]:
    """Every raw table's row count, and a content hash of what a re-run must not change.

    The typed tables are hashed without their load time; the load history and the observed
    columns grow or move with every run, the load state keeps the latest cursor: counted only.
    """
    out = {}
    with duckdb.connect(str(path), read_only=True) as con:
        tables = [t for (t,) in con.execute(
            "select table_name from duckdb_tables() where schema_name = 'raw' order by 1").fetchall()]
        for table in tables:
            if table in ("_load_history", "_source_columns", "_load_state"):
                rows = con.execute(f'select count(*) from raw."{table}"').fetchall()[0][0]
                out[table] = (rows if table == "_load_state" else None, None)
                continue
            exclude = RUN_SPECIFIC.get(table, ("_loaded_at",))
            out[table] = content_hash(con, f'raw."{table}"', exclude)
    return out


@dataclass(frozen=True)
class ServingState:
    tables: dict[str, tuple[int, str]]  # published table: content hash (publication_log apart)
    log: list[tuple]  # publication_log rows, in order

    @property
    def last(self) -> tuple:
        return self.log[-1]


def published_state(serving: Path) -> ServingState:
    """What the serving file publishes; opening it read-only is itself part of the check."""
    with duckdb.connect(str(serving), read_only=True) as con:
        names = [t for (t,) in con.execute(
            "select table_name from duckdb_tables() where schema_name = 'main' order by 1").fetchall()]
        tables = {t: content_hash(con, f'main."{t}"') for t in names if t != PUBLICATION_LOG}
        log = con.execute(
            "select publication_id, as_of_date, run_id, tables, customers, net_revenue_total, kind, version "
            f"from {PUBLICATION_LOG} order by rowid"
        ).fetchall()
    return ServingState(tables, log)


def sha256(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def copy_serving_dir(source: Path, target: Path) -> None:
    """A serving directory (file, versions, plots, lock) copied whole, to run a trial on."""
    shutil.rmtree(target, ignore_errors=True)
    shutil.copytree(source, target)


# --------------------------------------------------------------------------- the reference run

def _manifest_tables():
    from dagster_project.core.dbt_manifest import load_manifest, published_tables as manifest_tables
    from dagster_project.settings import DBT_PROJECT_DIR

    return manifest_tables(load_manifest(DBT_PROJECT_DIR / "target" / "manifest.json"))


def published_tables() -> dict[str, str]:
    """{published table: warehouse relation}, as the publication step reads them from dbt's manifest."""
    return {name: table.relation for name, table in _manifest_tables().items()}


def as_published(tables: dict[str, str]) -> dict:
    """The tables as the publication step hands them over: with what each contributes to
    publication_log and the plots (dbt meta), where the manifest publishes a table of that name."""
    known = _manifest_tables()
    return {name: dataclasses.replace(known[name], relation=relation) if name in known else relation
            for name, relation in tables.items()}


def synthetic_warehouse(path: Path, tables: dict[str, str], as_of: str, customers: int = 40) -> Path:
    """Marts named like the real ones, a few rows each: a publication unlike any nightly one."""
    with duckdb.connect(str(path)) as con:
        for relation in tables.values():
            schema = relation.split(".")[0]
            con.execute(f"create schema if not exists {schema}")
            con.execute(
                f"""create or replace table {relation} as
                select date '{as_of}' as as_of_date, i as customer_key, cast(i * 10.25 as decimal(18, 2)) as net_revenue,
                       cast(i * 3.5 as decimal(18, 2)) as gross_margin, cast(i % 4 as integer) as orders_count,
                       -- what the equity trend plots
                       'all' as value_segment, cast(i * 1.5 as decimal(18, 2)) as equity_end
                from range({customers}) r(i) order by customer_key"""
            )
    return path


def previous_warehouse(reference: "Reference", path: Path) -> Path:
    """The reference's marts less a fifth of the customers: an earlier night's publication, as it were."""
    shutil.copy(reference.warehouse, path)
    with duckdb.connect(str(path)) as con:
        for table in ("customer_value", "customer_cards", "at_risk_customers"):
            con.execute(f"delete from marts.{table} where hash(customer_key) % 5 = 0")
    return path


class Readers:
    """Reader processes querying the serving file in a loop until stopped."""

    def __init__(self, serving: Path, directory: Path, modes: tuple[float, ...] = (0.0, 0.0, 1.0)):
        directory.mkdir(parents=True, exist_ok=True)
        self.until = directory / "stop"
        self.outputs = [directory / f"reader-{i}.json" for i in range(len(modes))]
        self.children = [
            Child(harness_args("reader", "--serving", str(serving), "--until", str(self.until), "--out", str(out),
                               "--sticky", str(sticky)),
                  {**os.environ, "PYTHONUNBUFFERED": "1"}, directory / f"reader-{i}.log")
            for i, (out, sticky) in enumerate(zip(self.outputs, modes))
        ]

    def stop(self) -> list[dict]:
        self.until.touch()
        for child in self.children:
            assert child.finished(120) == 0, child.tail()
        return [json.loads(out.read_text()) for out in self.outputs]


@dataclass
class Reference:
    """An uninterrupted `cvw run --as-of AS_OF` in its own data directory, and what it left.

    Readers query its serving file throughout: from before the run (a first, synthetic
    publication is serving) through the run's publication, then two more publications, two
    rollbacks and one publication killed midway. `readers` is what they saw; the rest is the
    reference every crash trial is compared with (taken right after the nightly run).
    """

    sources: Path
    data_dir: Path
    warehouse: Path
    serving: Path
    plots: Path
    tables: dict[str, str]
    run_id: str
    published: dict[str, tuple[int, str]]
    marts: dict[str, tuple[int, str]]
    raw: dict[str, tuple[int, str | None]]
    checksums: dict[str, str]
    seconds: float
    readers: list[dict] = field(default_factory=list)
    publications: list[str] = field(default_factory=list)  # every publication served while they read


_REFERENCE: list[Reference | BaseException] = []


def reference_run(tmp_path_factory) -> Reference:
    """The session's reference run (made once, by whichever test module asks first)."""
    if not _REFERENCE:
        try:
            _REFERENCE.append(_reference_run(tmp_path_factory.mktemp("crash-reference")))
        except BaseException as error:  # a failed reference fails every test that needs it, once
            _REFERENCE.append(error)
            raise
    if isinstance(_REFERENCE[0], BaseException):
        raise AssertionError(f"the reference run failed: {_REFERENCE[0]}")
    return _REFERENCE[0]


def _reference_run(root: Path) -> Reference:
    from dagster_project.publish.rollback import rollback
    from dagster_project.publish.serving import publish

    sources = generate_sources(root / "sources")
    data_dir = root / "reference"
    serving = data_dir / "serving" / "customer_value.duckdb"
    warehouse, plots = data_dir / "warehouse.duckdb", data_dir / "plots"
    tables = published_tables()
    data_dir.mkdir(parents=True)
    synthetic = publish(synthetic_warehouse(root / "synthetic.duckdb", tables, "2026-06-29"), serving, as_published(tables),
                        run_id="synthetic-2026-06-29")
    publications = [synthetic.publication_id]
    readers = Readers(serving, root / "readers")
    try:
        started = time.monotonic()
        run = Child([CVW, "run", "--as-of", AS_OF], pipeline_env(data_dir, sources), data_dir / "cvw-run.out")
        assert run.finished() == 0, f"the reference run failed:\n{run.tail()}"
        seconds = time.monotonic() - started
        state = published_state(serving)
        run_id = state.last[0]
        manifest = json.loads((serving.parent / "versions" / run_id / "manifest.json").read_text())
        reference = Reference(
            sources, data_dir, warehouse, serving, plots, tables, run_id, state.tables,
            table_hashes(warehouse, ("marts",)), raw_state(warehouse),
            {name: table["sha256"] for name, table in manifest["tables"].items()}, seconds,
        )
        publications.append(run_id)
        # more publications while they read: the same marts again, rollbacks, one killed midway
        for step in ("publish", "rollback-synthetic", "rollback-nightly", "killed", "publish"):
            time.sleep(0.5)
            if step == "publish":
                publications.append(publish(warehouse, serving, as_published(tables), run_id=f"again-{len(publications)}",
                                            model_plots=plots).publication_id)
            elif step == "killed":
                server = PublishServer()
                try:
                    outcome, _ = server.publish(warehouse=warehouse, serving=serving, tables=tables,
                                                run_id="killed", plots=plots, kill_after=0.1)
                finally:
                    server.close()
                assert outcome["outcome"] in ("killed", "exit 0"), outcome
                if outcome["outcome"] == "exit 0":
                    publications.append("killed")
            else:
                version = synthetic.publication_id if step == "rollback-synthetic" else run_id
                publications.append(rollback(serving, version).publication_id)
        time.sleep(0.5)
    finally:
        reference_readers = readers.stop()
    reference.readers, reference.publications = reference_readers, publications
    return reference


# --------------------------------------------------------------------------- child side

def _halt(mark_fd: int, label: str) -> None:
    os.write(mark_fd, f"{HALT} {label}\n".encode())
    os.kill(os.getpid(), signal.SIGSTOP)
    # SIGKILL comes while stopped; reaching this line means the parent let it go on


def install_stop(stop: StopAt, mark_fd: int) -> None:
    module_name, name = stop.target.split(":")
    module = importlib.import_module(module_name)
    original = getattr(module, name)
    calls = 0

    @functools.wraps(original)
    def wrapper(*args, **kwargs):
        nonlocal calls
        counted = stop.source is None or any(getattr(a, "source", None) == stop.source for a in args)
        calls += counted
        hit = counted and calls == stop.nth
        if hit and stop.when == "before":
            _halt(mark_fd, f"before {stop.target} call {calls}")
        result = original(*args, **kwargs)
        if hit and stop.when == "after":
            _halt(mark_fd, f"after {stop.target} call {calls}")
        return result

    setattr(module, name, wrapper)


SYSCALLS = ("fsync", "replace", "rename", "unlink", "rmdir", "mkdir")


def _resolve(target, dir_fd) -> str:
    def fd_path(fd: int) -> str:
        try:
            return os.readlink(f"/proc/self/fd/{fd}")
        except OSError:
            return f"fd {fd}"

    if isinstance(target, int):  # fsync(fd)
        return fd_path(target)
    target = os.fsdecode(os.fspath(target))
    if dir_fd is not None and not os.path.isabs(target):  # shutil.rmtree works relative to open dirs
        return os.path.join(fd_path(dir_fd), target)
    return os.path.abspath(target)


def install_syscall_stop(nth: int | None, mark_fd: int, root: Path) -> None:
    """Count the file-system calls Python makes under `root`: write each (nth None), or stop before the nth."""
    calls = 0
    root_text = str(root)

    def wrap(name):
        original = getattr(os, name)

        @functools.wraps(original)
        def wrapper(*args, **kwargs):
            nonlocal calls
            paths = [_resolve(args[0], kwargs.get("dir_fd", kwargs.get("src_dir_fd")))]
            if name in ("replace", "rename"):
                paths.append(_resolve(args[1], kwargs.get("dst_dir_fd")))
            if any(p == root_text or p.startswith(root_text + os.sep) for p in paths):
                calls += 1
                label = f"{calls} {name} {' -> '.join(paths)}"
                if nth is None:
                    os.write(mark_fd, f"SYSCALL {label}\n".encode())
                elif calls == nth:
                    _halt(mark_fd, label)
            return original(*args, **kwargs)

        setattr(os, name, wrapper)

    for name in SYSCALLS:
        wrap(name)


def _nightly(args) -> int:
    import dagster as dg

    from dagster_project.cli import run_nightly

    if args.select is None:  # `cvw run --verbose`, after `cvw prepare` (the manifest is the session's)
        result, report = run_nightly(args.as_of, verbose=True)
        print(report, flush=True)
        return 0 if result.success else 1
    from dagster_project.definitions import defs
    from dagster_project.core.contract import ALL_ENTITIES
    from dagster_project.defs.keys import raw_table as raw_asset_key

    # Part of the nightly job, as the UI's "materialize selected" would launch it.
    job = defs().resolve_job_def("nightly")
    if args.select == "raw":
        selection, partition = [raw_asset_key(e) for e in ALL_ENTITIES], None
    else:
        selection, partition = [dg.AssetKey(["published", "serving_database"])], args.as_of
    home = Path(os.environ["DAGSTER_HOME"])
    home.mkdir(parents=True, exist_ok=True)
    (home / "dagster.yaml").touch()
    with dg.DagsterInstance.get() as instance:
        result = job.execute_in_process(
            instance=instance, asset_selection=selection, partition_key=partition, raise_on_error=False
        )
    return 0 if result.success else 1


def _publish_server(args) -> int:
    """Publish on request, each publication in a forked child that may be stopped and killed.

    One request per stdin line (JSON: warehouse, serving, tables, run_id, plots, keep, and
    `stop` = stop before that file-system call under the serving directory, `trace` = list
    them, or `kill_after` = SIGKILL after that many seconds); one `RESULT {json}` line back.
    The modules are imported once, before any DuckDB database is opened, so a fork is cheap
    and safe; the child's DuckDB work happens in the child only.
    """
    import numpy as np

    from dagster_project.core import plots
    from dagster_project.publish import serving

    plots.value_concentration_png(np.array([1.0, 2.0]))  # matplotlib warmed up once, not in every child

    out = sys.stdout.fileno()
    for line in sys.stdin:
        request = json.loads(line)
        root = Path(request["serving"]).parent
        pid = os.fork()
        if pid == 0:  # the publishing child
            code = 0
            try:
                if request.get("stop") is not None or request.get("trace"):
                    install_syscall_stop(request.get("stop"), out, root)
                serving.publish(
                    Path(request["warehouse"]), Path(request["serving"]), as_published(request["tables"]),
                    run_id=request["run_id"], model_plots=Path(request["plots"]) if request.get("plots") else None,
                    versions_kept=request.get("keep", 14),
                )
            except BaseException as error:  # noqa: BLE001 - reported, then the child ends
                os.write(out, f"ERROR {type(error).__name__}: {error}\n".encode())
                code = 1
            os._exit(code)
        started = time.monotonic()
        if request.get("kill_after") is not None:
            time.sleep(request["kill_after"])
            os.kill(pid, signal.SIGKILL)
        _, status = os.waitpid(pid, os.WUNTRACED)
        if os.WIFSTOPPED(status):  # halted at its stop point: kill it there
            os.kill(pid, signal.SIGKILL)
            _, status = os.waitpid(pid, 0)
        outcome = ("killed" if os.WIFSIGNALED(status) and os.WTERMSIG(status) == signal.SIGKILL
                   else f"exit {os.WEXITSTATUS(status)}" if os.WIFEXITED(status) else f"status {status}")
        os.write(out, ("RESULT " + json.dumps({"outcome": outcome, "seconds": time.monotonic() - started}) + "\n").encode())
    return 0


class PublishServer:
    """Parent side of `publish-server`: one request at a time, the child's lines and its fate back."""

    def __init__(self, env: dict[str, str] | None = None):
        self.proc = subprocess.Popen(
            harness_args("publish-server"), cwd=PROJECT_ROOT, env=env or {**os.environ, "PYTHONUNBUFFERED": "1"},
            stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True, bufsize=1,
        )

    def publish(self, **request) -> tuple[dict, list[str]]:
        self.proc.stdin.write(json.dumps(request, default=str) + "\n")
        self.proc.stdin.flush()
        lines = []
        while True:
            line = self.proc.stdout.readline()
            if not line:
                raise AssertionError(f"publish-server ended: {lines}")
            if line.startswith("RESULT "):
                return json.loads(line[len("RESULT "):]), lines
            lines.append(line.rstrip("\n"))

    def close(self) -> None:
        self.proc.stdin.close()
        self.proc.wait(30)


def _reader(args) -> int:
    """Query the serving file in a loop until `--until` exists; write what was seen to `--out`."""
    serving, until = Path(args.serving), Path(args.until)
    seen: dict[str, int] = {}
    errors: list[str] = []
    partial: list[str] = []
    reads = 0
    while not until.exists():
        try:
            con = duckdb.connect(str(serving), read_only=True)
        except Exception as error:  # noqa: BLE001 - every failure to open is what this test counts
            errors.append(f"connect: {type(error).__name__}: {error}")
            time.sleep(args.pause)
            continue
        try:
            # sticky: one connection kept across publications must keep reading its own one
            deadline = time.monotonic() + (args.sticky or 0)
            while True:
                publication, problems = check_publication(con)
                reads += 1
                seen[publication] = seen.get(publication, 0) + 1
                partial += [f"{publication}: {p}" for p in problems]
                if time.monotonic() >= deadline or until.exists():
                    break
                time.sleep(args.pause)
        except Exception as error:  # noqa: BLE001
            errors.append(f"query: {type(error).__name__}: {error}")
        finally:
            con.close()
        time.sleep(args.pause)
    Path(args.out).write_text(json.dumps({"reads": reads, "seen": seen, "errors": errors[:50],
                                          "error_count": len(errors), "partial": partial[:50],
                                          "partial_count": len(partial)}))
    return 0


def check_publication(con: duckdb.DuckDBPyConnection) -> tuple[str, list[str]]:
    """The publication an open serving file holds, and everything about it that is inconsistent.

    The last publication_log row says what is served: every table it names has the rows it
    recorded, customer_value sums to its total, every table's latest as_of_date is its date.
    """
    problems = []
    publication, as_of, tables, customers, revenue = con.execute(
        f"select publication_id, as_of_date, tables, customers, net_revenue_total from {PUBLICATION_LOG} "
        "order by rowid desc limit 1"
    ).fetchall()[0]
    counts = json.loads(tables)
    present = {t for (t,) in con.execute("select table_name from duckdb_tables() where schema_name = 'main'").fetchall()}
    if present != set(counts) | {PUBLICATION_LOG}:
        problems.append(f"tables {sorted(present)} but the log names {sorted(counts)}")
    for table, expected in counts.items():
        if table not in present:
            continue
        rows, latest = con.execute(f'select count(*), max(as_of_date) from main."{table}"').fetchall()[0]
        if rows != expected:
            problems.append(f"{table} has {rows} rows, the log says {expected}")
        if latest is not None and latest != as_of:
            problems.append(f"{table} is as of {latest}, the log says {as_of}")
    if "customer_value" in present:
        rows, total = con.execute("select count(*), coalesce(sum(net_revenue), 0) from customer_value").fetchall()[0]
        if rows != customers or total != revenue:
            problems.append(f"customer_value has {rows} customers and {total} net revenue, the log says "
                            f"{customers} and {revenue}")
    return publication, problems


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m tests.crash_harness")
    parser.add_argument("--stop", help="a StopAt as JSON")
    commands = parser.add_subparsers(dest="command", required=True)
    nightly = commands.add_parser("nightly")
    nightly.add_argument("--as-of", default=AS_OF)
    nightly.add_argument("--select", choices=["raw", "publish"])
    commands.add_parser("publish-server")
    reader = commands.add_parser("reader")
    for name in ("--serving", "--until", "--out"):
        reader.add_argument(name, required=True)
    reader.add_argument("--pause", type=float, default=0.1)
    reader.add_argument("--sticky", type=float, default=0.0, help="keep each connection this many seconds")
    args = parser.parse_args(argv)

    mark_fd = os.dup(1)  # the HALT line bypasses whatever captures stdout in the pipeline
    if args.stop:
        install_stop(StopAt(**json.loads(args.stop)), mark_fd)
    return {"nightly": _nightly, "publish-server": _publish_server, "reader": _reader}[args.command](args)


if __name__ == "__main__":
    sys.exit(main())
