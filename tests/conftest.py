"""Shared fixtures: a temporary data directory per session, the dbt manifest, small demo sources."""

from __future__ import annotations

import os
from pathlib import Path

import dagster as dg
import duckdb
import pytest

from dagster_project.settings import settings_from_env

DEMO_END_DATE = "2026-06-30"
DEMO_AS_OF = "2026-06-30"


def pytest_sessionstart(session) -> None:
    """The Dagster definitions load the dbt manifest when imported, and test modules import
    them: on a fresh clone the manifest must exist before collection."""
    from dagster_project.cli import prepare

    prepare()


# Test modules that share a session fixture, and so one pytest-xdist worker: both crash
# modules read the reference run of crash_harness.reference_run (~4 min to build).
SHARED_WORKER = {
    "tests/test_concurrent_readers.py": "crash reference run",
    "tests/test_crash_safety.py": "crash reference run",
}


def pytest_xdist_make_scheduler(config, log):
    """`make test` runs `--dist loadfile`: a module's tests stay on one worker, so its
    module-scoped warehouses are built once, and the modules of SHARED_WORKER share one.
    (pytest 9 ignores xdist's own `xdist_group` marks: loadgroup cannot rename test ids.)"""
    if config.getoption("dist") != "loadfile":
        return None
    from xdist.scheduler import LoadScopeScheduling

    class ModulesWithSharedFixtures(LoadScopeScheduling):
        def _split_scope(self, nodeid: str) -> str:
            module = nodeid.split("::", 1)[0]
            return SHARED_WORKER.get(module, module)

    return ModulesWithSharedFixtures(config, log)


@pytest.fixture(scope="session", autouse=True)
def data_dir(tmp_path_factory) -> Path:
    """Every path of the pipeline under one temporary directory for the whole session."""
    root = tmp_path_factory.mktemp("cvw")
    with pytest.MonkeyPatch.context() as patch:
        for name in list(os.environ):
            if name.startswith("CVW_"):
                patch.delenv(name)
        patch.setenv("CVW_DATA_DIR", str(root))
        patch.setenv("DAGSTER_HOME", str(root / "dagster_home"))
        (root / "dagster_home").mkdir()
        yield root


@pytest.fixture(scope="session")
def manifest(data_dir) -> Path:
    from dagster_project.cli import prepare

    return prepare()


@pytest.fixture(scope="session")
def demo_sources(data_dir) -> Path:
    from dagster_project.demo import generate

    out = settings_from_env().sources_dir
    generate(out, customers=400, years=2, seed=7, end_date=DEMO_END_DATE)
    return out


def run_nightly(as_of: str, instance: dg.DagsterInstance | None = None, run_config: dict | None = None
                ) -> dg.ExecuteInProcessResult:
    """The nightly job, in process, exactly as the schedule would launch it."""
    from dagster_project.definitions import defs
    from dagster_project.defs.nightly import NIGHTLY_JOB_NAME

    job = defs().resolve_job_def(NIGHTLY_JOB_NAME)
    return job.execute_in_process(
        partition_key=as_of,
        instance=instance or dg.DagsterInstance.ephemeral(),
        raise_on_error=False,
        run_config=run_config or {},
    )


def query(path: Path, sql: str, params=None) -> list[tuple]:
    with duckdb.connect(str(path), read_only=True) as con:
        return con.execute(sql, params or []).fetchall()


@pytest.fixture(scope="session")
def published(demo_sources, manifest) -> dg.ExecuteInProcessResult:
    """One full nightly run on the demo sources (shared by the end-to-end tests)."""
    result = run_nightly(DEMO_AS_OF)
    assert result.success, [e.message for e in result.all_events if e.is_failure]
    return result


@pytest.fixture(scope="session")
def postgres():
    """A real PostgreSQL server for the session (tests/postgres_server.py)."""
    from .postgres_server import PostgresServer

    server = PostgresServer().start()
    yield server
    server.stop()
