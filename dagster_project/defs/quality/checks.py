"""The blocking quality gate on the published marts: one Great Expectations suite per table.

Every published mart with a suite `expectations/<table>.json` gets a blocking asset check
`<table>_expectations` (with the dbt tests, also checks); publication waits for all of them.
A suite names the parameters it needs in `meta.parameters`; their values are computed here,
from the working database, independently of the models they check.
"""

from collections.abc import Callable
from pathlib import Path

import dagster as dg
import duckdb

from ...settings import settings_from_env
from ..publish.assets import published_models
from ..resources import WarehouseResource
from .gx_suites import SuiteOutcome, load_suite, validate
from .report import ReportLine, reports_dir, write_report

# Customers resolved straight from raw, independently of the dbt models: accounts created
# by D, one customer per normalised email, accounts without email on their own.
RESOLVED_CUSTOMERS_SQL = """
select count(distinct coalesce(nullif(lower(trim(email)), ''), '#' || customer_id))
from raw.commerce_customers
where cast(created_at as date) <= ?
"""

PARAMETERS: dict[str, Callable[[duckdb.DuckDBPyConnection, object], int]] = {
    "resolved_customers": lambda con, as_of: con.execute(RESOLVED_CUSTOMERS_SQL, [as_of]).fetchall()[0][0],
    "at_risk_customers": lambda con, as_of: con.execute(
        "select count(*) from marts.customer_value where is_at_risk"
    ).fetchall()[0][0],
}


def suite_check(table: str, asset_key: dg.AssetKey, relation: str) -> dg.AssetChecksDefinition:
    @dg.asset_check(
        asset=asset_key,
        name=f"{table}_expectations",
        blocking=True,
        description=f"Great Expectations suite expectations/{table}.json on {relation}. Blocks publication on failure.",
    )
    def _check(context: dg.AssetCheckExecutionContext, warehouse: WarehouseResource) -> dg.AssetCheckResult:
        suite = load_suite(table)
        with warehouse.connect(read_only=True) as con:
            frame = con.execute(f"select * from {relation}").fetchdf()
            as_of = con.execute("select max(as_of_date) from marts.customer_value").fetchall()[0][0]
            parameters = {name: PARAMETERS[name](con, as_of) for name in suite["meta"].get("parameters", {})}
        outcome = validate(frame, suite, parameters)
        report = write_report(
            reports_dir(Path(warehouse.path).parent, as_of), f"{table}_expectations",
            f"{table} ({relation}) as of {as_of}: Great Expectations suite expectations/{table}.json",
            report_lines(outcome), run_id=context.run.run_id,
        )
        summary = outcome.summary()
        if not outcome.success:
            summary = f"{relation}: {summary}\nreport: {report}"
        return dg.AssetCheckResult(
            passed=outcome.success,
            severity=dg.AssetCheckSeverity.ERROR,
            description=summary,
            metadata={
                "report": dg.MetadataValue.path(str(report)),
                "expectations_evaluated": outcome.evaluated,
                "expectations_failed": len(outcome.failures),
                "failures": dg.MetadataValue.json(outcome.failures),
                "rows": len(frame),
                **{f"parameter_{name}": value for name, value in parameters.items()},
            },
        )

    return _check


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


@dg.definitions
def quality_gate() -> dg.Definitions:
    suites = settings_from_env().expectations_dir
    return dg.Definitions(
        asset_checks=[
            suite_check(table, key, relation)
            for table, (key, relation) in published_models().items()
            if (suites / f"{table}.json").exists()
        ]
    )
