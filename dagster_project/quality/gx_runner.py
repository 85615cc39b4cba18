"""Great Expectations suites, reviewed JSON in `expectations/`, run over DuckDB tables.

GX's SQL datasource returns empty metrics on DuckDB, so tables are validated as pandas
batches in an ephemeral context: nothing is written to disk by GX itself.
"""

from __future__ import annotations

import json
import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pandas as pd

from .report import ReportLine



@dataclass
class SuiteOutcome:
    suite: str
    success: bool
    evaluated: int
    failures: list[dict[str, Any]] = field(default_factory=list)
    results: list[dict[str, Any]] = field(default_factory=list)  # every expectation, passed or not

    def summary(self) -> str:
        if self.success:
            return f"{self.suite}: all {self.evaluated} expectations passed"
        lines = [f"{self.suite}: {len(self.failures)} of {self.evaluated} expectations failed"]
        lines += [f"- {f['expectation']} {f['kwargs']}: {f['observed']}" for f in self.failures]
        return "\n".join(lines)


def load_suite(name: str, directory: Path) -> dict:
    path = directory / f"{name}.json"
    with open(path, encoding="utf-8") as handle:
        return json.load(handle)


def _observed(result: dict) -> Any:
    if "observed_value" in result:
        return result["observed_value"]
    return {
        "unexpected_count": result.get("unexpected_count"),
        "unexpected_percent": result.get("unexpected_percent"),
        "examples": result.get("partial_unexpected_list", [])[:10],
    }


def _columns_of(expectation: dict) -> tuple[str, ...]:
    kwargs = expectation["kwargs"]
    named = [kwargs[k] for k in ("column", "column_A", "column_B") if k in kwargs]
    return tuple(dict.fromkeys(named + list(kwargs.get("column_list", []))))


def _vectorisable(column: pd.Series) -> pd.Series:
    """The same values in a dtype GX compares vectorised: its pandas range check takes the
    fast path only for int64 and float64, and calls Python once per row for the int32 and
    nullable Int32 that DuckDB returns (customer_value, 1M rows: suite 13.9 s -> 7.5 s).
    Every value is kept exactly: int32 fits int64 and float64."""
    dtype = column.dtype
    if isinstance(dtype, pd.api.extensions.ExtensionDtype) and pd.api.types.is_integer_dtype(dtype):
        return column.astype("float64")  # <NA> -> NaN, which GX counts as null as before
    if pd.api.types.is_integer_dtype(dtype) and dtype.itemsize < 8:
        return column.astype("int64")
    if pd.api.types.is_float_dtype(dtype) and dtype != "float64":
        return column.astype("float64")
    return column


SCHEMA, ROWS = "schema", "rows"  # parts of expectations that read no column's values


def _part_of(expectation: dict) -> tuple[str, ...] | str:
    """Which part of the table an expectation reads: its own columns, the schema, or the rows."""
    columns = _columns_of(expectation)
    if columns:
        return columns
    return SCHEMA if "columns" in expectation["type"] else ROWS


def _narrow(frame: pd.DataFrame, part: tuple[str, ...] | str) -> pd.DataFrame:
    """That part alone: GX copies its whole batch for each metric, so a wide table costs
    width × expectations; an expectation's own columns keep that small."""
    if part == SCHEMA:
        return frame.iloc[:0]  # names only
    if part == ROWS:
        return frame.iloc[:, :1]  # row counts
    return pd.DataFrame({name: _vectorisable(frame[name]) for name in part})


def validate(frame: pd.DataFrame, suite: dict, parameters: dict[str, Any] | None = None) -> SuiteOutcome:
    os.environ.setdefault("GX_ANALYTICS_ENABLED", "false")
    import great_expectations as gx  # deferred: importing GX costs seconds
    from great_expectations.core.expectation_suite import ExpectationSuite
    from great_expectations.data_context.types.base import ProgressBarsConfig

    context = gx.get_context(mode="ephemeral")
    context.variables.progress_bars = ProgressBarsConfig(globally=False)
    source = context.data_sources.add_pandas("warehouse")
    groups: dict[tuple[str, ...] | str, tuple[pd.DataFrame, list[tuple[int, dict]]]] = {}
    for position, expectation in enumerate(suite["expectations"]):
        key = _part_of(expectation)
        if key not in groups:
            groups[key] = (_narrow(frame, key), [])
        config = {k: v for k, v in expectation.items() if k in ("type", "kwargs")}
        # the position rides along in meta: results come back matched to their expectation
        config["meta"] = {**expectation.get("meta", {}), "suite_position": position}
        groups[key][1].append((position, config))
    ordered: list[tuple[int, Any]] = []
    success = True
    for number, (part, expectations) in enumerate(groups.values()):
        name = f"{suite['name']}_{number}"
        batch = source.add_dataframe_asset(name=name).add_batch_definition_whole_dataframe("whole_table")
        gx_suite = context.suites.add(ExpectationSuite(name=name, expectations=[e for _, e in expectations]))
        definition = context.validation_definitions.add(gx.ValidationDefinition(name=name, data=batch, suite=gx_suite))
        result = definition.run(
            batch_parameters={"dataframe": part},
            expectation_parameters=parameters or {},
            result_format={"result_format": "SUMMARY", "partial_unexpected_count": 10},
        )
        success = success and bool(result.success)
        ordered += [(item.expectation_config.meta["suite_position"], item) for item in result.results]
    results = []
    for _, item in sorted(ordered, key=lambda pair: pair[0]):
        config = item.expectation_config
        raised = item.exception_info.get("raised_exception")
        results.append(
            {
                "expectation": config.type,
                "kwargs": {k: v for k, v in config.kwargs.items() if k != "batch_id"},
                "success": bool(item.success),
                "observed": item.exception_info.get("exception_message") if raised else _observed(item.result or {}),
                "notes": (config.meta or {}).get("notes", ""),
            }
        )
    failures = [{k: r[k] for k in ("expectation", "kwargs", "observed")} for r in results if not r["success"]]
    return SuiteOutcome(suite=suite["name"], success=success, evaluated=len(results),
                        failures=failures, results=results)


def report_lines(outcome: SuiteOutcome) -> list[ReportLine]:
    lines = []
    for result in outcome.results:
        observed = result["observed"]
        examples = observed.get("examples", []) if isinstance(observed, dict) else []
        shown = {k: v for k, v in observed.items() if k != "examples"} if isinstance(observed, dict) else observed
        lines.append(ReportLine(
            check=f"{result['expectation']} {result['kwargs']}",
            status="passed" if result["success"] else "failed",
            details=f"{result['notes']} observed: {shown}",
            examples=examples,
        ))
    return lines
