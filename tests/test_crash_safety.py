"""Crash safety: SIGKILL the pipeline at every stage, run it again, compare with an uninterrupted run.

One data directory gets a first complete publication, then one nightly run after another,
each killed (the whole process group: the Dagster process and the dbt it started) at a
chosen point of a later stage: inside a database table's transaction, inside a file's
transaction, inside the CLV fit's write, while dbt builds an incremental model (a table
that already exists from the run before), in the middle of the Great Expectations gate,
and in the publication step between its snapshot and the rename of the serving file. Each killed run is the re-run of the one before;
a last, plain `cvw run` completes. After every kill the serving file opens read-only and
is exactly the previous publication; at the end it is the new one, and the marts, the raw
tables and the published Parquet bytes equal those of the uninterrupted reference run.

The publication itself is then killed before each of its file-system calls in turn (and
at a few moments in between), each time on a copy of the same serving directory, and
published again: readers can only ever find the previous or the new publication, the
version that serves always has its snapshot, and nothing a crash leaves behind survives
the next publication.

Kill points are chosen by stopping the child process at the n-th call of a pipeline
function (tests/crash_harness.py wraps it in the child only) or on a line dbt prints.
"""

from __future__ import annotations

import json
import shutil
import time
from pathlib import Path

import pytest

from dagster_project.core.contract import COMMERCE_ENTITIES, CRM_ACCOUNTS
from dagster_project.publish.versions import SnapshotError, list_versions, read_version, verify_version

from . import crash_harness as harness
from .conftest import query
from .crash_harness import AS_OF, CVW, Child, PublishServer, ServingState, StopAt, as_published, published_state

pytestmark = pytest.mark.usefixtures("manifest")


@pytest.fixture(scope="module")
def reference(tmp_path_factory) -> harness.Reference:
    return harness.reference_run(tmp_path_factory)


# --------------------------------------------------------------------------- checks

def serving_problems(serving: Path) -> list[str]:
    """What must hold of a serving directory whatever happened: the serving version has its
    snapshot, and every version listed for rollback is whole."""
    problems = []
    version = published_state(serving).last[7]
    try:
        verify_version(read_version(serving, version))
    except SnapshotError as error:
        problems.append(f"the serving version has no usable snapshot: {error}")
    for listed in list_versions(serving):
        try:
            verify_version(listed)
        except SnapshotError as error:
            problems.append(f"a version offered for rollback is broken: {error}")
    return problems


def debris(serving: Path) -> list[str]:
    """Anything a crash left that the next publication should have swept away."""
    left = [p.name for p in serving.parent.glob(f".{serving.name}.*") if not p.name.endswith(".lock")]
    versions = serving.parent / "versions"
    for path in versions.iterdir() if versions.is_dir() else []:
        if path.name == "publication_log.parquet":  # the log's copy, not a version
            continue
        if path.name.startswith(".") or not (path / "manifest.json").is_file():
            left.append(f"versions/{path.name}")
    left += [f"plots/{p.name}" for p in (serving.parent / "plots").glob(".*")]
    return left


def is_new_publication(state: ServingState, previous: ServingState, tables: dict, publication_id: str | None = None) -> bool:
    """The new complete publication: the new tables, and the previous log with one row more."""
    row = state.last
    return (
        state.tables == tables
        and state.log[:-1] == previous.log
        and row[6] == "publish"
        and (publication_id is None or row[0] == publication_id)
        and json.loads(row[3]) == {name: rows for name, (rows, _) in tables.items()}
    )


def serves(serving: Path, tables: dict, publication_id: str) -> bool:
    """The serving file holds `tables`, published last by `publication_id`, its log row matching them."""
    state = published_state(serving)
    return is_new_publication(state, ServingState(tables, state.log[:-1]), tables, publication_id)


def classify(serving: Path, previous: ServingState, previous_sha: str, tables: dict) -> str:
    state = published_state(serving)  # opens read-only, or the test errors here
    if state == previous:
        return "previous" if harness.sha256(serving) == previous_sha else "previous (other bytes)"
    if is_new_publication(state, previous, tables):
        return "new"
    return f"neither: tables {sorted(state.tables)} log {[r[0] for r in state.log]}"


def raw_counts(warehouse: Path) -> dict[str, int]:
    return {name: rows for name, (rows, _) in harness.raw_state(warehouse).items()}


# --------------------------------------------------------------------------- the nightly trials

# (name, child command, stop point or dbt line to kill on)
TRIALS = [
    ("extraction: inside the commerce orders table's transaction",
     ["nightly"], StopAt("dagster_project.ingest.raw_store:merge_batch", nth=4, when="after")),
    ("extraction: inside the second CRM file's transaction",
     ["nightly", "--select", "raw"],
     StopAt("dagster_project.ingest.raw_store:merge_batch", nth=2, when="after", source="crm")),
    ("CLV fit: between the predictions and the fit record of its one transaction",
     ["nightly"], StopAt("dagster_project.prediction.fit:_replace", nth=2, when="after")),
    ("dbt: as it starts (re)building an incremental model",
     ["nightly"], r"START sql incremental model "),
    ("quality gate: before the third Great Expectations suite",
     ["nightly"], StopAt("dagster_project.defs.quality:validate", nth=3, when="before")),
    # a whole night: the killed gate before it may have left marts unbuilt that are built only
    # after the status history (win_back_customers, customer_traits)
    ("publication: snapshot written, serving file not yet replaced",
     ["nightly"], StopAt("dagster_project.publish.serving:replace_durably")),
]


@pytest.fixture(scope="module")
def trials(reference, tmp_path_factory):
    """Every trial of TRIALS in one data directory, in order, then a plain `cvw run`."""
    root = tmp_path_factory.mktemp("crash-trials")
    data_dir = root / "data"
    serving = data_dir / "serving" / "customer_value.duckdb"
    warehouse = data_dir / "warehouse.duckdb"
    env = harness.pipeline_env(data_dir, reference.sources)
    old = harness.previous_warehouse(reference, root / "previous.duckdb")
    from dagster_project.publish.serving import publish

    publish(old, serving, as_published(reference.tables), run_id="previous", model_plots=reference.plots)
    previous, previous_sha = published_state(serving), harness.sha256(serving)
    assert previous.tables != reference.published  # so that "previous or new" can tell them apart

    results = []
    for name, command, point in TRIALS:
        started = time.monotonic()
        if isinstance(point, StopAt):
            child = Child(harness.harness_args("--stop", point.encode(), *command), env,
                          data_dir / "trials" / f"{len(results)}.out", kill_on=harness.HALT)
        else:
            child = Child(harness.harness_args(*command), env, data_dir / "trials" / f"{len(results)}.out",
                          kill_on=point)
        killed_at = child.killed()
        results.append({
            "name": name, "killed_at": killed_at, "child": child, "seconds": time.monotonic() - started,
            "serving": classify(serving, previous, previous_sha, reference.published),
            "problems": serving_problems(serving), "raw": raw_counts(warehouse),
            "building": sorted(p.name for p in serving.parent.glob(f".{serving.name}.*.building*")),
            "clv": harness.table_hashes(warehouse, ("clv",)),
            "crm_loaded": query(warehouse, "select file_name from raw._loaded_files where entity = ? and status = 'loaded'",
                                [CRM_ACCOUNTS.name]),
            "crm_sources": query(warehouse, f'select distinct _source_file from raw."{CRM_ACCOUNTS.raw_table}"'),
        })

    started = time.monotonic()
    final = Child([CVW, "run", "--as-of", AS_OF], env, data_dir / "trials" / "final.out")
    assert final.finished() == 0, final.tail()
    return {
        "trials": results, "final_seconds": time.monotonic() - started, "serving": serving,
        "warehouse": warehouse, "previous": previous, "previous_sha": previous_sha,
        "final": published_state(serving),
    }


def test_after_every_kill_the_previous_publication_is_still_served_whole(trials):
    for trial in trials["trials"]:
        assert trial["serving"] == "previous", (trial["name"], trial["serving"])
        assert trial["problems"] == [], trial["name"]


def test_each_kill_happened_where_it_was_meant_to(trials, reference):
    database, files, fit, dbt, gate, publication = trials["trials"]
    reference_rows = {name: rows for name, (rows, _) in reference.raw.items()}

    # inside a table's transaction: the tables committed before are whole, that one and those after empty
    committed = [e.raw_table for e in COMMERCE_ENTITIES[:3]]
    interrupted = [e.raw_table for e in COMMERCE_ENTITIES[3:]]
    assert {t: database["raw"][t] for t in committed} == {t: reference_rows[t] for t in committed}
    assert {t: database["raw"][t] for t in interrupted} == {t: 0 for t in interrupted}

    # inside a file's transaction: every row loaded comes from a file recorded as loaded, and only one is
    assert len(files["crm_loaded"]) == 1 and set(files["crm_sources"]) == set(files["crm_loaded"])
    assert {e.raw_table: files["raw"][e.raw_table] for e in COMMERCE_ENTITIES} == {
        e.raw_table: reference_rows[e.raw_table] for e in COMMERCE_ENTITIES}  # the database load completed

    # inside the fit's transaction: nothing of it was kept
    assert {name: rows for name, (rows, _) in fit["clv"].items()} == {
        "clv.holdout_by_frequency": 0, "clv.holdout_lift": 0, "clv.holdout_tracking": 0, "clv.model_fits": 0,
        "clv.order_value_predictions": 0, "clv.purchase_predictions": 0}

    # dbt was running; the gate had evaluated two suites of six; the publication was midway
    assert dbt["child"].saw(r"Running dbt command") and not dbt["child"].saw(r"dbt_models - STEP_SUCCESS")
    assert sum(gate["child"].saw(rf"{n}_expectations - STEP_SUCCESS") for n in reference.tables) == 2
    assert len(publication["building"]) == 1  # the new serving file, complete but never renamed


def test_the_rerun_completes_with_the_marts_of_an_uninterrupted_run(trials, reference):
    assert is_new_publication(trials["final"], trials["previous"], reference.published)
    assert harness.table_hashes(trials["warehouse"], ("marts",)) == reference.marts
    # the status history, state no rebuild may lose, as the uninterrupted run recorded it
    statuses = "history.customer_statuses"
    assert harness.table_hashes(trials["warehouse"], ("history",))[statuses] == \
        harness.table_hashes(reference.warehouse, ("history",))[statuses]
    assert serving_problems(trials["serving"]) == []
    assert debris(trials["serving"]) == []


def test_killed_extractions_load_nothing_twice(trials, reference):
    assert harness.raw_state(trials["warehouse"]) == reference.raw


def test_independent_runs_of_the_same_sources_publish_byte_identical_parquet(trials, reference):
    """Idempotency across data directories: the trials' final run (after six crashes, on a
    warehouse loaded incrementally) and the reference publish the same bytes."""
    version = read_version(trials["serving"], trials["final"].last[7])
    assert {name: t["sha256"] for name, t in version.manifest["tables"].items()} == reference.checksums


# --------------------------------------------------------------------------- the publication, call by call

def boundaries(calls: list[str]) -> list[int]:
    """The calls to stop before: the first and the last of each run of the same call in the same
    directory (the fsync of one Parquet file after another, retention's unlinks), every other one."""
    def group(call: str) -> tuple[str, str]:
        _, name, path = call.split(" ", 2)
        return name, str(Path(path.split(" -> ")[0]).parent)

    chosen = []
    for n, call in enumerate(calls, 1):
        first = n == 1 or group(calls[n - 2]) != group(call)
        last = n == len(calls) or group(calls[n]) != group(call)
        if first or last:
            chosen.append(n)
    return chosen


@pytest.fixture(scope="module")
def publication_matrix(reference, tmp_path_factory):
    root = tmp_path_factory.mktemp("crash-publication")
    template = root / "template" / "serving" / "customer_value.duckdb"
    new_warehouse = root / "new.duckdb"
    shutil.copy(reference.warehouse, new_warehouse)
    old = harness.previous_warehouse(reference, root / "old.duckdb")
    server = PublishServer()
    common = {"tables": reference.tables, "plots": reference.plots, "keep": 2}

    def publish(serving: Path, warehouse: Path, run_id: str, **options) -> dict:
        outcome, lines = server.publish(warehouse=warehouse, serving=serving, run_id=run_id, **common, **options)
        outcome["lines"] = lines
        return outcome

    try:
        for run_id in ("old-1", "old-2"):  # two versions kept: the new publication's retention deletes one
            assert publish(template, old, run_id)["outcome"] == "exit 0"
        previous, previous_sha = published_state(template), harness.sha256(template)

        trial = root / "trial" / "serving" / "customer_value.duckdb"
        harness.copy_serving_dir(template.parent, trial.parent)
        traced = publish(trial, new_warehouse, "new", trace=True)
        assert traced["outcome"] == "exit 0", traced
        calls = [line.split(" ", 1)[1] for line in traced["lines"] if line.startswith("SYSCALL ")]
        new_tables = published_state(trial).tables
        assert new_tables == reference.published
        swap = next(i for i, c in enumerate(calls, 1) if c.split()[1] == "replace" and c.endswith(f"-> {trial}"))

        results = []
        points = [("stop", n) for n in boundaries(calls)]
        points += [("kill_after", round(traced["seconds"] * f, 3)) for f in (0.15, 0.35, 0.55, 0.75)]
        for kind, at in points:
            harness.copy_serving_dir(template.parent, trial.parent)
            outcome = publish(trial, new_warehouse, "new", **{kind: at})
            state = classify(trial, previous, previous_sha, new_tables)
            problems = serving_problems(trial)
            recovery = publish(trial, new_warehouse, "recovery")
            results.append({
                "point": f"before {calls[at - 1]}" if kind == "stop" else f"after {at} s",
                "expected": ("previous" if at <= swap else "new") if kind == "stop" else ("previous", "new"),
                "outcome": outcome["outcome"], "serving": state, "problems": problems,
                "recovered": recovery["outcome"] == "exit 0" and serves(trial, new_tables, "recovery"),
                "after_recovery": serving_problems(trial) + [f"left behind: {d}" for d in debris(trial)],
                "versions": sorted(v.publication_id for v in list_versions(trial)),
            })
    finally:
        server.close()
    return {"calls": calls, "swap": swap, "results": results}


def test_a_publication_killed_before_any_of_its_file_operations_serves_the_previous_or_the_new_one(publication_matrix):
    results = publication_matrix["results"]
    assert len(publication_matrix["calls"]) >= 20  # snapshot files, fsyncs, renames, retention's deletions
    wrong = [r for r in results if not (
        r["serving"] == r["expected"] if isinstance(r["expected"], str) else r["serving"] in r["expected"])]
    assert wrong == []
    assert all(r["outcome"] == "killed" for r in results if r["point"].startswith("before"))
    assert {r["serving"] for r in results} == {"previous", "new"}


def test_whatever_a_killed_publication_leaves_every_version_offered_for_rollback_is_whole(publication_matrix):
    broken = [(r["point"], r["problems"]) for r in publication_matrix["results"] if r["problems"]]
    assert broken == []


def test_the_next_publication_recovers_and_sweeps_away_what_a_killed_one_left(publication_matrix):
    results = publication_matrix["results"]
    assert [r["point"] for r in results if not r["recovered"]] == []
    assert [(r["point"], r["after_recovery"]) for r in results if r["after_recovery"]] == []
    # retention kept two versions, the serving one among them, whatever the crash had done
    assert [(r["point"], r["versions"]) for r in results if len(r["versions"]) != 2 or "recovery" not in r["versions"]] == []
