"""What a nightly run costs, by stage, at several sizes, against floors and targets.

    .venv/bin/python bench/nightly_benchmark.py --sizes 10000 100000 1000000

For each size, in a fresh directory under --work-dir (default /tmp/cvw-bench):

1. generate the demo sources (the generator as a subprocess, fixed seed and end date), then run
   `cvw run --as-of <end date> --report-json` in a fresh data directory, and time its stages from
   the report: extract (extract_*), gate (*_source_gate, *_expectations), dbt (dbt_models*), fit
   (clv_model), publish (published__serving_database), and the fixed overhead (wall time minus
   the steps: process start, definitions load, dbt parse when a dbt file changed, Dagster between
   steps, the summary after the run), with peak memory (see process_tree.py);
2. the floors: bench/customer_value_floor.sql on a copy of the working DuckDB, verified against
   marts.customer_value (the transformation floor), and the same SQL on the sources loaded with no
   validation at all, published to a new file (the end-to-end floor);
3. one more day of data appended to the sources and `cvw run --as-of <end date + 1>`: the increment.

Prints a table per size and one across sizes (seconds per 1,000 customers, to see linearity),
the targets at 1,000,000 customers with pass/miss, and writes every figure to a JSON file
(--results; default <work dir>/nightly-<time>.json, outside the repository).

Timings are wall clock on whatever else the machine is doing: each measured command records
the 1-minute load average before and after it.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import shutil
import sqlite3
import subprocess
import sys
import time
from contextlib import closing
from dataclasses import dataclass
from datetime import date, datetime, timedelta, timezone
from importlib import metadata
from pathlib import Path

from process_tree import Measured, run_measured

BENCH_DIR = Path(__file__).resolve().parent
PROJECT_ROOT = BENCH_DIR.parent
DBT_PROJECT_DIR = PROJECT_ROOT / "dbt"
BIN = Path(sys.executable).parent  # the virtualenv's bin: cvw, dbt

DEFAULT_SIZES = (10_000, 100_000, 1_000_000)
DEFAULT_END_DATE = "2026-11-29"  # so that end + 1 (the increment) is still in the past
DEFAULT_SEED = 42  # the generator's own default
MEMORY_LIMIT = "2GB"  # the pipeline's default DuckDB limit, given to the pipeline and the floors alike
STAGES = ("extract", "gate", "dbt", "fit", "publish", "other")
TARGET_SIZE = 1_000_000
SLOWEST_NODES = 8  # dbt nodes kept per invocation, slowest first
# Issue 3's "predicted-value stage": the SQL the CLV fit reads and what turns its output into
# the predicted and segment columns, with the fit itself (the `clv_model` step) between them.
# The purchase days they start from are shared with the historical metrics, shown apart.
PREDICTED_VALUE_MODELS = ("int_customers_rfm_summarised", "int_customers_holdout_split",
                          "int_customers_value_predicted", "int_customers_segmented")


# --------------------------------------------------------------------------- targets


@dataclass(frozen=True)
class Target:
    name: str
    text: str
    limit: float
    unit: str  # how to show the measured value: x (ratio), s, % or MB

    def passed(self, value: float | None) -> bool | None:
        return None if value is None else value <= self.limit


TARGETS = (
    Target("transformation", "dbt stage <= 2x the SQL floor", 2.0, "x"),
    Target("end_to_end", "full run under 5 minutes", 300.0, "s"),
    Target("increment", "nightly increment <= 10 % of the full run", 0.10, "%"),
    Target("memory", "peak memory under 4 GB (process tree)", 4096.0, "MB"),
)


def target_values(size: dict) -> dict[str, float | None]:
    full, ratios = size.get("full_run") or {}, size.get("ratios") or {}
    increment = (size.get("increment") or {}).get("run") or {}
    peaks = [r["measured"]["tree_peak_mb"] for r in (full, increment) if r.get("measured")]
    return {
        "transformation": ratios.get("transformation"),
        "end_to_end": full.get("measured", {}).get("seconds"),
        "increment": ratios.get("increment"),
        "memory": max(peaks) if peaks else None,
    }


# --------------------------------------------------------------------------- the pipeline's own figures


def stage_of(step_key: str) -> str:
    # raw/quarantine summarises what extraction quarantined (an ingest asset, not a check)
    if step_key.startswith("extract_") or step_key == "raw__quarantine":
        return "extract"
    if step_key.startswith("dbt_models"):
        return "dbt"
    if step_key == "clv_model":
        return "fit"
    if step_key.endswith(("_source_gate", "_expectations")):
        return "gate"
    if step_key == "published__serving_database":
        return "publish"
    return "other"  # a step added later still counts, visibly


def stage_seconds(steps: dict[str, list]) -> dict[str, float]:
    totals = dict.fromkeys(STAGES, 0.0)
    for key, (_, seconds) in steps.items():
        totals[stage_of(key)] += seconds
    return totals


def dagster_run_window(dagster_home: Path, run_id: str) -> tuple[float, float] | None:
    """(start, end) epoch seconds of the run as Dagster recorded them (its default SQLite storage)."""
    runs_db = dagster_home / "history" / "runs.db"
    if not runs_db.exists():
        return None
    with closing(sqlite3.connect(f"file:{runs_db}?mode=ro", uri=True)) as con:
        row = con.execute("select start_time, end_time from runs where run_id = ?", [run_id]).fetchone()
    return tuple(row) if row and None not in row else None


def dbt_invocations(steps: dict[str, list], run_id: str) -> dict[str, dict]:
    """Per dbt step: dbt's own elapsed time, the summed node times of models and tests, the slowest nodes.

    dagster-dbt gives every invocation its own target folder, `<step>-<run id[:7]>-<uuid>`, whose
    run_results.json says what dbt itself spent; the rest of the step is starting dbt, loading its
    manifest and Dagster handling the events. Node times overlap (dbt runs 2 threads).
    """
    found = {}
    for step in (k for k in steps if stage_of(k) == "dbt"):
        candidates = sorted(DBT_PROJECT_DIR.glob(f"target/{step}-{run_id[:7]}-*/run_results.json"),
                            key=lambda p: p.stat().st_mtime)
        if not candidates:
            continue
        results = json.loads(candidates[-1].read_text())
        nodes = {"model": [0, 0.0], "test": [0, 0.0]}
        timed = []
        for result in results["results"]:
            kind, name = result["unique_id"].split(".")[0], result["unique_id"].split(".")[2]
            if kind in nodes:
                nodes[kind][0] += 1
                nodes[kind][1] += result["execution_time"]
                timed.append((result["execution_time"], f"{kind} {name}"))
        found[step] = {"elapsed": results["elapsed_time"], "models": nodes["model"][0],
                       "model_seconds": nodes["model"][1], "tests": nodes["test"][0], "test_seconds": nodes["test"][1],
                       "slowest": [[name, seconds] for seconds, name in sorted(timed, reverse=True)[:SLOWEST_NODES]],
                       "model_times": {name.split(" ", 1)[1]: seconds for seconds, name in timed
                                       if name.startswith("model ")}}
    return found


def step_running_at(dagster_home: Path, run_id: str, moment: float | None) -> str | None:
    """The step the run was executing at epoch `moment`, from Dagster's event log (its SQLite storage)."""
    events_db = dagster_home / "history" / "runs" / f"{run_id}.db"
    if moment is None or not events_db.exists():
        return None
    with closing(sqlite3.connect(f"file:{events_db}?mode=ro", uri=True)) as con:
        rows = con.execute(
            "select step_key, dagster_event_type, timestamp from event_logs where step_key is not null and "
            "dagster_event_type in ('STEP_START', 'STEP_SUCCESS', 'STEP_FAILURE') order by id").fetchall()
    started: dict[str, float] = {}
    for step, kind, stamp in rows:
        at = datetime.fromisoformat(stamp).replace(tzinfo=timezone.utc).timestamp()  # stored as naive UTC
        if kind == "STEP_START":
            started[step] = at
        elif started.get(step, float("inf")) <= moment <= at:
            return step
    return "between or outside steps"


def run_figures(measured: Measured, report_path: Path, dagster_home: Path) -> dict:
    """Stages, overhead and dbt's share of one `cvw run`, from its report and Dagster's run record."""
    figures: dict = {"measured": measured.as_dict(), "success": False}
    if not report_path.exists():
        figures["failures"] = [f"no report written; see {measured.log}"]
        return figures
    report = json.loads(report_path.read_text())
    steps = report["steps"]
    stages = stage_seconds(steps)
    step_total = sum(seconds for _, seconds in steps.values())
    overhead = {"total": measured.seconds - step_total}
    window = dagster_run_window(dagster_home, report["run_id"])
    if window:
        start, end = window
        overhead["before_run"] = start - measured.started_at  # process start, imports, dbt parse, definitions
        overhead["between_steps"] = (end - start) - step_total  # Dagster itself
        overhead["after_run"] = measured.ended_at - end  # report, summary, exit
    dbt = dbt_invocations(steps, report["run_id"])
    figures["measured"]["peak_step"] = step_running_at(dagster_home, report["run_id"], measured.peak_at)
    result = {
        **figures,
        "success": report["success"],
        "run_id": report["run_id"],
        "steps": steps,
        "stages": stages,
        "overhead": overhead,
        "dbt": dbt,
        "checks": {"passed": report["checks_passed"], "warned": len(report["checks_warned"]),
                   "failed": report["checks_failed"]},
        "failures": report["failures"] + report["checks_failed"],
    }
    result["predicted_value_stage"] = predicted_value_stage(result)
    return result


# --------------------------------------------------------------------------- one size


@dataclass
class SizeDirs:
    root: Path

    @property
    def data(self) -> Path:
        return self.root / "data"

    @property
    def sources(self) -> Path:
        return self.data / "sources"

    @property
    def dagster_home(self) -> Path:
        return self.data / "dagster_home"

    @property
    def warehouse(self) -> Path:
        return self.data / "warehouse.duckdb"

    @property
    def floor(self) -> Path:
        return self.root / "floor"

    def log(self, name: str) -> Path:
        return self.root / "logs" / f"{name}.log"


def pipeline_env(dirs: SizeDirs) -> dict[str, str]:
    """The caller's environment minus any CVW_* / DAGSTER_HOME of its own, pointed at this size's folders."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("CVW_") and k != "DAGSTER_HOME"}
    env.update({
        "PATH": f"{BIN}{os.pathsep}{env.get('PATH', '')}",
        "CVW_DATA_DIR": str(dirs.data),
        "DAGSTER_HOME": str(dirs.dagster_home),
        "CVW_SOURCE_URL": f"sqlite:///{dirs.sources / 'commerce.sqlite'}",
        "CVW_LANDING_DIR": str(dirs.sources / "landing"),
        "CVW_DUCKDB_MEMORY_LIMIT": MEMORY_LIMIT,
    })
    return env


def generate(dirs: SizeDirs, customers: int, end_date: str, seed: int) -> dict:
    command = [sys.executable, "-m", "dagster_project.demo", "--out", dirs.sources, "--customers", str(customers),
               "--years", "3", "--end-date", end_date, "--seed", str(seed)]
    measured = run_measured(command, log=dirs.log("generate"), cwd=PROJECT_ROOT, env=pipeline_env(dirs))
    manifest = dirs.sources / "_generator_manifest.json"
    tables = {}
    if manifest.exists():
        tables = {name: t["rows"] for name, t in json.loads(manifest.read_text())["tables"].items()}
    return {"measured": measured.as_dict(), "rows": tables}


def manifest_mtime() -> float | None:
    manifest = DBT_PROJECT_DIR / "target" / "manifest.json"
    return manifest.stat().st_mtime if manifest.exists() else None


def nightly_run(dirs: SizeDirs, as_of: str, name: str, env: dict[str, str] | None = None) -> dict:
    report = dirs.root / f"{name}-report.json"
    command = [BIN / "cvw", "run", "--as-of", as_of, "--report-json", report]
    manifest_before = manifest_mtime()
    measured = run_measured(command, log=dirs.log(name), cwd=PROJECT_ROOT, env=env or pipeline_env(dirs))
    figures = run_figures(measured, report, dirs.dagster_home)
    # `cvw run` parses the dbt project only when a dbt file changed since the last parse (people
    # edit dbt/ while this runs): when it did, "before the run" holds a dbt parse too
    figures["dbt_manifest_rebuilt"] = manifest_mtime() != manifest_before
    return figures


def copy_warehouse(dirs: SizeDirs) -> Path:
    """A copy of the working DuckDB (the pipeline has exited: the file is checkpointed)."""
    dirs.floor.mkdir(parents=True, exist_ok=True)
    copy = dirs.floor / "warehouse.duckdb"
    for suffix in ("", ".wal"):
        source = Path(f"{dirs.warehouse}{suffix}")
        if source.exists():
            shutil.copyfile(source, f"{copy}{suffix}")
    return copy


def floor_command(dirs: SizeDirs, name: str, arguments: list) -> dict:
    command = [sys.executable, BENCH_DIR / "nightly_floor.py", *arguments, "--memory-limit", MEMORY_LIMIT]
    measured = run_measured(command, log=dirs.log(name), cwd=PROJECT_ROOT)
    result: dict = {"measured": measured.as_dict()}
    lines = Path(measured.log).read_text().strip().splitlines()
    if measured.returncode == 0 and lines:
        result.update(json.loads(lines[-1]))
    else:
        result["error"] = f"exit {measured.returncode}; see {measured.log}"
    return result


def run_floors(dirs: SizeDirs, as_of: str) -> tuple[dict, dict]:
    copy = copy_warehouse(dirs)
    sql = floor_command(dirs, "floor-sql", ["sql", "--db", copy, "--as-of", as_of])
    # the SQL floor wrote floor.customer_value into the copy; the e2e floor only reads clv.* from it
    e2e = floor_command(dirs, "floor-e2e", ["e2e", "--sources", dirs.sources, "--predictions-from", copy,
                                            "--out", dirs.floor / "e2e", "--as-of", as_of])
    shutil.rmtree(dirs.floor, ignore_errors=True)  # several GB at 1M, of no further use
    return sql, e2e


def increment(dirs: SizeDirs, as_of: str, lookback_hours: int | None) -> dict:
    """One more day of data, then the night's run.

    The incremental dbt models re-read what was loaded up to `incremental_lookback_hours`
    (default 1) before their latest row, in wall-clock load time. Here the full run loaded
    everything minutes ago, so with the default the "increment" would re-convert every order
    line; a real night, 24 hours after the last, re-reads only that night's loads.
    `lookback_hours` (set as CVW_INCREMENTAL_LOOKBACK_HOURS for this run only) makes the
    increment re-read what this night loaded, as in steady state; None leaves the default.
    """
    command = [sys.executable, "-m", "dagster_project.demo", "--out", dirs.sources, "--days", "1"]
    appended = run_measured(command, log=dirs.log("append-day"), cwd=PROJECT_ROOT, env=pipeline_env(dirs))
    env = pipeline_env(dirs)
    if lookback_hours is not None:
        env["CVW_INCREMENTAL_LOOKBACK_HOURS"] = str(lookback_hours)
    run = nightly_run(dirs, as_of, "increment", env)
    return {"generate": appended.as_dict(), "run": run, "incremental_lookback_hours": lookback_hours}


def ratios(result: dict) -> dict:
    full = result["full_run"]
    sql, e2e = result.get("sql_floor") or {}, result.get("e2e_floor") or {}
    out: dict = {}
    if full.get("success") and sql.get("seconds"):
        out["transformation"] = full["stages"]["dbt"] / sql["seconds"]
        if full.get("dbt"):
            # the same without starting dbt and Dagster's event handling: dbt's own elapsed time
            elapsed = sum(d["elapsed"] for d in full["dbt"].values())
            out["transformation_dbt_elapsed"] = elapsed / sql["seconds"]
    if full.get("success") and e2e.get("seconds"):
        parts = e2e["seconds"]
        # the floor reuses the pipeline's predictions instead of fitting: it is charged the fit's time
        floor_total = parts["load_commerce"] + parts["load_files"] + parts["sql"] + parts["publish"]
        floor_total += full["stages"]["fit"]
        out["e2e_floor_seconds"] = floor_total
        out["end_to_end"] = full["measured"]["seconds"] / floor_total
    run = (result.get("increment") or {}).get("run") or {}
    if full.get("success") and run.get("success"):
        out["increment"] = run["measured"]["seconds"] / full["measured"]["seconds"]
    return out


def bench_size(customers: int, work_dir: Path, end_date: str, seed: int, lookback_hours: int | None) -> dict:
    dirs = SizeDirs(work_dir / f"customers-{customers}")
    shutil.rmtree(dirs.root, ignore_errors=True)
    dirs.root.mkdir(parents=True)
    next_day = (date.fromisoformat(end_date) + timedelta(days=1)).isoformat()
    result: dict = {"customers": customers, "dir": str(dirs.root), "end_date": end_date, "seed": seed}
    print(f"[{customers:,}] generating sources ...", flush=True)
    result["generate"] = generate(dirs, customers, end_date, seed)
    print(f"[{customers:,}] full run as of {end_date} ...", flush=True)
    result["full_run"] = nightly_run(dirs, end_date, "full")
    if result["full_run"]["success"]:
        print(f"[{customers:,}] floors ...", flush=True)
        result["sql_floor"], result["e2e_floor"] = run_floors(dirs, end_date)
        print(f"[{customers:,}] increment: one more day, run as of {next_day} ...", flush=True)
        result["increment"] = increment(dirs, next_day, lookback_hours)
    result["ratios"] = ratios(result)
    result["targets"] = {t.name: {"value": v, "limit": t.limit, "passed": t.passed(v)}
                         for t, v in zip(TARGETS, target_values(result).values())}
    return result


# --------------------------------------------------------------------------- printing


def fmt_s(seconds: float | None) -> str:
    return "-" if seconds is None else f"{seconds:,.1f} s"


def per_1k(seconds: float | None, customers: int) -> str:
    return "-" if seconds is None else f"{seconds / customers * 1000:.3f}"


def show_target(target: Target, value: float | None) -> str:
    if value is None:
        return f"  {target.text:<46} {'not measured':>12}"
    shown = {"x": f"{value:.2f}x", "s": f"{value:,.1f} s", "%": f"{value:.1%}", "MB": f"{value:,.0f} MB"}[target.unit]
    return f"  {target.text:<46} {shown:>12}  {'pass' if target.passed(value) else 'MISS'}"


def print_size(result: dict) -> None:
    customers, full = result["customers"], result["full_run"]
    rows = result["generate"]["rows"]
    lines = rows.get("order_lines", 0)
    keys = ((result.get("sql_floor") or {}).get("comparison") or {}).get("rows", {}).get("pipeline")
    print(f"\n== {customers:,} customers: {rows.get('customers', 0):,} accounts, {keys or 0:,} customer keys, "
          f"{rows.get('orders', 0):,} orders, {lines:,} order lines ({lines / customers:.1f} per customer) ==")
    print(f"  generate (not nightly)  {fmt_s(result['generate']['measured']['seconds']):>10}")
    if not full.get("success"):
        print("  FULL RUN FAILED:", *(f"\n    {f}" for f in full.get("failures", [])), f"\n    log: {full['measured']['log']}")
        return
    run = (result.get("increment") or {}).get("run") or {}
    print(f"  {'stage':<22} {'full run':>10} {'s/1k cust':>10} {'increment':>10}")
    for stage in STAGES:
        if stage == "other" and not full["stages"][stage] and not (run.get("stages") or {}).get(stage):
            continue
        print(f"  {stage:<22} {fmt_s(full['stages'][stage]):>10} {per_1k(full['stages'][stage], customers):>10} "
              f"{fmt_s((run.get('stages') or {}).get(stage)):>10}")
    print_overhead(full, run, customers)
    print(f"  {'wall':<22} {fmt_s(full['measured']['seconds']):>10} {per_1k(full['measured']['seconds'], customers):>10} "
          f"{fmt_s((run.get('measured') or {}).get('seconds')):>10}")
    print(f"  {'peak RSS, tree':<22} {full['measured']['tree_peak_mb']:>7,.0f} MB {'':>10} "
          f"{(run.get('measured') or {}).get('tree_peak_mb', 0):>7,.0f} MB")
    print(f"  {'peak RSS, largest proc':<22} {full['measured']['largest_process_mb']:>7,.0f} MB {'':>10} "
          f"{(run.get('measured') or {}).get('largest_process_mb', 0):>7,.0f} MB")
    for label, r in (("full run", full), ("increment", run)):
        processes = dig(r, "measured", "peak_processes", default=[])
        if processes:
            print(f"    at the sampled peak of the {label} (during {dig(r, 'measured', 'peak_step')}): "
                  + " + ".join(f"{name} {mb:,.0f} MB" for name, mb in processes if mb >= 20))
    print_dbt(full, "full run")
    print_dbt(run, "increment")
    print_floors(result)
    print_targets(result)


def print_overhead(full: dict, run: dict, customers: int) -> None:
    overhead, other = full["overhead"], run.get("overhead") or {}
    print(f"  {'fixed overhead':<22} {fmt_s(overhead['total']):>10} {per_1k(overhead['total'], customers):>10} "
          f"{fmt_s(other.get('total')):>10}")
    for key, text in (("before_run", "before the run"), ("between_steps", "between steps"), ("after_run", "after the run")):
        if key in overhead:
            print(f"    {text:<20} {fmt_s(overhead[key]):>10} {'':>10} {fmt_s(other.get(key)):>10}")
    parsed = [name for name, r in (("full run", full), ("increment", run)) if r.get("dbt_manifest_rebuilt")]
    if parsed:
        print(f"    (dbt project re-parsed during: {', '.join(parsed)}: a dbt file had changed)")


def print_dbt(run: dict, label: str) -> None:
    dbt = run.get("dbt") or {}
    if not dbt:
        return
    elapsed = sum(d["elapsed"] for d in dbt.values())
    models = sum(d["model_seconds"] for d in dbt.values())
    tests = sum(d["test_seconds"] for d in dbt.values())
    print(f"  dbt stage, {label}: {len(dbt)} invocations, dbt's own elapsed {fmt_s(elapsed)} (node times, 2 threads: "
          f"{sum(d['models'] for d in dbt.values())} models {fmt_s(models)}, {sum(d['tests'] for d in dbt.values())} "
          f"tests {fmt_s(tests)}); starting dbt + Dagster's handling {fmt_s(run['stages']['dbt'] - elapsed)}")
    slowest = sorted((node for d in dbt.values() for node in d.get("slowest", [])), key=lambda n: -n[1])[:5]
    print("    slowest: " + ", ".join(f"{name.split(' ', 1)[1]} {seconds:.1f} s" for name, seconds in slowest))
    predicted = predicted_value_stage(run)
    if predicted:
        print(f"  predicted-value stage, {label}: {fmt_s(predicted['total'])} = "
              + " + ".join(f"{name} {seconds:.1f}" for name, seconds in predicted["parts"].items())
              + f" (from int_purchase_days_aggregated, {fmt_s(predicted['purchase_days'])}, shared with the history)")


def predicted_value_stage(run: dict) -> dict | None:
    """Seconds of the RFM and holdout SQL, the fit, and the predicted and segment columns."""
    times = {name: seconds for d in (run.get("dbt") or {}).values() for name, seconds in d.get("model_times", {}).items()}
    if not all(name in times for name in PREDICTED_VALUE_MODELS) or "clv_model" not in run.get("steps", {}):
        return None
    parts = {name: times[name] for name in PREDICTED_VALUE_MODELS[:2]}
    parts["clv_model (fit step)"] = run["steps"]["clv_model"][1]
    parts.update({name: times[name] for name in PREDICTED_VALUE_MODELS[2:]})
    return {"total": sum(parts.values()), "parts": parts, "purchase_days": times.get("int_purchase_days_aggregated")}


def print_floors(result: dict) -> None:
    sql, e2e, ratio = result.get("sql_floor") or {}, result.get("e2e_floor") or {}, result["ratios"]
    if "error" in sql or "comparison" not in sql:
        print(f"  SQL floor failed: {sql.get('error')}")
    else:
        comparison = sql["comparison"]
        within = ratio.get("transformation_dbt_elapsed")
        print(f"  SQL floor (customer_value_floor.sql): {fmt_s(sql['seconds'])}, peak RSS "
              f"{sql['measured']['tree_peak_mb']:,.0f} MB; dbt stage / floor = {ratio['transformation']:.1f}x"
              + (f" (dbt's own elapsed / floor = {within:.1f}x)" if within else ""))
        verdict = "yes" if comparison["matches"] else "no"
        print(f"  floor matches pipeline: {verdict} ({comparison['rows']['floor']:,} vs {comparison['rows']['pipeline']:,} "
              f"rows, {comparison['columns_compared']} columns compared value for value)")
        for name, difference in comparison["differing_columns"].items():
            print(f"    differs: {name}: {difference['rows_differing']} row(s); floor {difference['floor']}, "
                  f"pipeline {difference['pipeline']}")
        agg = comparison["aggregates"]["pipeline"]
        print(f"    sums: net_revenue {agg['net_revenue']['sum']:,.2f}, gross_margin {agg['gross_margin']['sum']:,.2f}, "
              f"predicted_clv_12m {agg['predicted_clv_12m']['sum']:,.2f}, orders {agg['orders_count']['sum']:,.0f}, "
              f"at risk {agg['is_at_risk']['true']:,}")
    if "error" in e2e or "seconds" not in e2e:
        print(f"  end-to-end floor failed: {e2e.get('error')}")
        return
    parts = e2e["seconds"]
    fit = result["full_run"]["stages"]["fit"]
    print(f"  end-to-end floor: {fmt_s(ratio['e2e_floor_seconds'])} = load SQLite {fmt_s(parts['load_commerce'])} + "
          f"files {fmt_s(parts['load_files'])} + SQL {fmt_s(parts['sql'])} + publish {fmt_s(parts['publish'])} "
          f"+ the pipeline's fit {fmt_s(fit)}; full run / floor = {ratio['end_to_end']:.1f}x; peak RSS "
          f"{e2e['measured']['tree_peak_mb']:,.0f} MB")
    summary = e2e["comparison"]
    print(f"    (unvalidated: {summary['rows']['floor']:,} rows vs {summary['rows']['pipeline']:,}; net revenue "
          f"{summary['net_revenue']['floor']:,.2f} vs {summary['net_revenue']['pipeline']:,.2f})")
    if "increment" in ratio:
        lookback = result["increment"]["incremental_lookback_hours"]
        print(f"  increment: {fmt_s(result['increment']['run']['measured']['seconds'])} = "
              f"{ratio['increment']:.1%} of the full run (appending the day: "
              f"{fmt_s(result['increment']['generate']['seconds'])}, not counted; dbt incremental lookback: "
              f"{'project default' if lookback is None else f'{lookback} hours'})")
    elif result.get("increment"):
        print(f"  INCREMENT FAILED: {result['increment']['run'].get('failures')}")


def print_targets(result: dict) -> None:
    label = "targets" if result["customers"] == TARGET_SIZE else f"targets (set for {TARGET_SIZE:,}; shown for reference)"
    print(f"  {label}:")
    for target in TARGETS:
        print(show_target(target, result["targets"][target.name]["value"]))


def dig(data: dict, *path, default=None):
    """data[path[0]][path[1]]..., or `default` where a step of the path is missing."""
    for key in path:
        if not isinstance(data, dict) or data.get(key) is None:
            return default
        data = data[key]
    return data


# columns of the tables across sizes: (header, path into one size's result)
ACROSS = (
    ("extract", ("full_run", "stages", "extract")),
    ("gate", ("full_run", "stages", "gate")),
    ("dbt", ("full_run", "stages", "dbt")),
    ("fit", ("full_run", "stages", "fit")),
    ("publish", ("full_run", "stages", "publish")),
    ("overhead", ("full_run", "overhead", "total")),
    ("wall", ("full_run", "measured", "seconds")),
    ("SQL floor", ("sql_floor", "seconds")),
    ("e2e floor", ("ratios", "e2e_floor_seconds")),
    ("increment", ("increment", "run", "measured", "seconds")),
)


def print_across(results: list[dict]) -> None:
    ok = [r for r in results if r["full_run"].get("success")]
    for failed in (r for r in results if r not in ok):
        print(f"\n{failed['customers']:,} customers: the full run failed, left out below")
    if not ok:
        return
    names = [name for name, _ in ACROSS]
    for title, scale in (("seconds", None), ("seconds per 1,000 customers", 1000)):
        print(f"\n== across sizes: {title} ==")
        print(f"  {'customers':>10} " + " ".join(f"{n:>9}" for n in names))
        for r in ok:
            values = [dig(r, *path) for _, path in ACROSS]
            shown = ["-" if v is None else (f"{v:.1f}" if scale is None else f"{v / r['customers'] * scale:.3f}")
                     for v in values]
            print(f"  {r['customers']:>10,} " + " ".join(f"{v:>9}" for v in shown))
    print("\n== across sizes: ratios and memory ==")
    print(f"  {'customers':>10} {'dbt/floor':>10} {'wall/e2e floor':>15} {'incr/full':>10} {'peak MB tree':>13} "
          f"{'peak MB proc':>13} {'lines/cust':>11}")
    for r in ok:
        ratio, measured = r["ratios"], r["full_run"]["measured"]
        lines = dig(r, "generate", "rows", "order_lines", default=0) / r["customers"]
        print(f"  {r['customers']:>10,} {_times(ratio.get('transformation')):>10} {_times(ratio.get('end_to_end')):>15} "
              f"{_percent(ratio.get('increment')):>10} {measured['tree_peak_mb']:>13,.0f} "
              f"{measured['largest_process_mb']:>13,.0f} {lines:>11.1f}")
    print_marginal(ok)


def _times(value: float | None) -> str:
    return "-" if value is None else f"{value:.1f}x"


def _percent(value: float | None) -> str:
    return "-" if value is None else f"{value:.1%}"


def print_marginal(ok: list[dict]) -> None:
    """Seconds per 1k customers *added* between consecutive sizes: the fixed costs cancel out."""
    for small, large in zip(ok, ok[1:]):
        added = (large["customers"] - small["customers"]) / 1000
        parts = []
        for name, path in ACROSS:
            a, b = dig(small, *path), dig(large, *path)
            if a is not None and b is not None:
                parts.append(f"{name} {(b - a) / added:.3f}")
        print(f"  marginal s per 1k customers added, {small['customers']:,} -> {large['customers']:,}: "
              + ", ".join(parts))


# --------------------------------------------------------------------------- main


def machine() -> dict:
    def version(package: str) -> str | None:
        try:
            return metadata.version(package)
        except metadata.PackageNotFoundError:
            return None

    meminfo = Path("/proc/meminfo").read_text().split("\n", 1)[0].split()
    cpu = next((line.split(":", 1)[1].strip() for line in Path("/proc/cpuinfo").read_text().splitlines()
                if line.startswith("model name")), platform.processor())
    return {
        "commit": _git("rev-parse", "HEAD"),
        # files changed and not committed (the benchmark's own included): what the commit doesn't say
        "uncommitted": _git("status", "--porcelain", "--untracked-files=no"),
        "nproc": os.cpu_count(), "cpu": cpu, "ram_gb": round(int(meminfo[1]) / 1024 / 1024, 1),
        "kernel": platform.release(), "python": platform.python_version(),
        "versions": {p: version(p) for p in ("duckdb", "dbt-core", "dbt-duckdb", "dagster", "dagster-dbt",
                                             "great_expectations", "adbc-driver-sqlite", "pyarrow")},
    }


def _git(*args: str) -> str | None:
    """Read-only git queries about the code measured."""
    try:
        done = subprocess.run(["git", *args], cwd=PROJECT_ROOT, capture_output=True, text=True, timeout=30)
    except (OSError, subprocess.TimeoutExpired):
        return None
    return done.stdout.strip() if done.returncode == 0 else None


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--sizes", type=int, nargs="+", default=list(DEFAULT_SIZES), help="customers per size")
    parser.add_argument("--work-dir", type=Path, default=Path("/tmp/cvw-bench"),
                        help="each size gets a fresh customers-<N>/ below it (default /tmp/cvw-bench)")
    parser.add_argument("--results", type=Path, default=None,
                        help="JSON file for every figure (default <work dir>/nightly-<time>.json)")
    parser.add_argument("--end-date", default=DEFAULT_END_DATE, help=f"last generated day (default {DEFAULT_END_DATE})")
    parser.add_argument("--seed", type=int, default=DEFAULT_SEED, help=f"generator seed (default {DEFAULT_SEED})")
    parser.add_argument("--increment-lookback-hours", type=int, default=0,
                        help="CVW_INCREMENTAL_LOOKBACK_HOURS of the increment's run (default 0: re-read what that "
                             "night loaded, as a night 24 h after the last does; -1: the project's default, "
                             "which here re-reads everything the full run loaded minutes before)")
    return parser.parse_args(argv)


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    if args.increment_lookback_hours < 0:
        args.increment_lookback_hours = None
    args.work_dir.mkdir(parents=True, exist_ok=True)
    results_path = args.results or args.work_dir / f"nightly-{datetime.now():%Y%m%d-%H%M%S}.json"
    started = time.time()
    report = {"command": " ".join([sys.executable, *sys.argv]), "started": datetime.now().isoformat(timespec="seconds"),
              "machine": machine(), "memory_limit": MEMORY_LIMIT, "sizes": []}
    for customers in args.sizes:
        result = bench_size(customers, args.work_dir, args.end_date, args.seed, args.increment_lookback_hours)
        report["sizes"].append(result)
        print_size(result)
        results_path.write_text(json.dumps(report, indent=2, default=str))  # kept current: a long run may stop
    print_across(report["sizes"])
    report["seconds"] = time.time() - started
    results_path.write_text(json.dumps(report, indent=2, default=str))
    print(f"\nall figures: {results_path}  (benchmark took {report['seconds'] / 60:.1f} min)")
    failed = [r["customers"] for r in report["sizes"] if not r["full_run"].get("success")]
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
