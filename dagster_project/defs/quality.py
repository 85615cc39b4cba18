"""The quality gate as asset checks: source-level checks on every raw table before any
transformation (one blocking multi-check per source system), and one Great Expectations
suite per published mart (`expectations/<table>.json`, a blocking check
`<table>_expectations`). The dbt tests are checks too (the translator's); publication waits
for all of them."""

from collections.abc import Iterator
from datetime import date
from pathlib import Path

import dagster as dg

from ..core.contract import Entity
from ..core.severity import Severity
from ..quality.gx_runner import load_suite, report_lines, validate
from ..quality.report import reports_dir, write_report
from ..quality import source_rules
from ..quality.source_rules import CHECKS, entities_by_source, evaluate
from ..quality.suite_parameters import as_of_of_marts, suite_parameters
from ..settings import Settings
from . import keys
from .dbt_project import dbt_project
from .resources import QualityResource, WarehouseResource


def _reference_date(context) -> date:
    partition = context.run.tags.get("dagster/partition")
    return date.fromisoformat(partition) if partition else date.today()


def _severity(severity: Severity) -> dg.AssetCheckSeverity:
    return dg.AssetCheckSeverity(severity.value)


def source_gate(source: str, entities: tuple[Entity, ...]) -> dg.AssetChecksDefinition:
    @dg.multi_asset_check(
        name=f"{source}_source_gate",
        specs=[
            dg.AssetCheckSpec(name=check, asset=keys.raw_table(entity), blocking=True,
                              description=f"Source-level {check} check of {entity.source}.{entity.name}.")
            for entity in entities
            for check in CHECKS
        ],
        description=f"Source-level checks of the {source} source system, before any transformation.",
    )
    def _gate(
        context: dg.AssetCheckExecutionContext, warehouse: WarehouseResource, quality: QualityResource
    ) -> Iterator[dg.AssetCheckResult]:
        settings = quality.gate_settings()
        reference = _reference_date(context)
        with warehouse.connect(read_only=True) as con:
            findings = [(e, f) for e in entities for f in evaluate(con, e, context.run.run_id, reference, settings)]
        report = write_report(
            reports_dir(warehouse.data_dir, reference), f"source_{source}",
            f"{source} source system, loaded for {reference}: source-level checks",
            source_rules.report_lines(findings), run_id=context.run.run_id,
        )
        for entity, finding in findings:
            if finding.severity is not None:
                context.log.warning(f"[{finding.severity.value}] {finding.message}")
            description = finding.message
            if finding.severity == Severity.ERROR:
                description += f"\nreport: {report}"
            yield dg.AssetCheckResult(
                asset_key=keys.raw_table(entity),
                check_name=finding.check,
                passed=finding.severity is None,
                severity=_severity(finding.severity or Severity.ERROR),
                description=description,
                metadata={"report": dg.MetadataValue.path(str(report)),
                          **{k: dg.MetadataValue.json(v) if isinstance(v, (dict, list)) else v
                             for k, v in finding.metadata.items()}},
            )

    return _gate


def suite_check(table: str, asset_key: dg.AssetKey, relation: str) -> dg.AssetChecksDefinition:
    @dg.asset_check(
        asset=asset_key,
        name=f"{table}_expectations",
        blocking=True,
        description=f"Great Expectations suite expectations/{table}.json on {relation}. Blocks publication on failure.",
    )
    def _check(
        context: dg.AssetCheckExecutionContext, warehouse: WarehouseResource, quality: QualityResource
    ) -> dg.AssetCheckResult:
        suite = load_suite(table, Path(quality.expectations_dir))
        with warehouse.connect(read_only=True) as con:
            frame = con.execute(f"select * from {relation}").fetchdf()
            as_of = as_of_of_marts(con)
            parameters = suite_parameters(con, suite, as_of, quality.suite_settings())
        outcome = validate(frame, suite, parameters)
        report = write_report(
            reports_dir(warehouse.data_dir, as_of), f"{table}_expectations",
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


def definitions(settings: Settings) -> dg.Definitions:
    published = keys.published_models(dbt_project().manifest_path)
    return dg.Definitions(asset_checks=[
        *(source_gate(source, entities) for source, entities in entities_by_source().items()),
        *(suite_check(table, key, model.relation) for table, (key, model) in published.items()
          if (settings.expectations_dir / f"{table}.json").exists()),
    ])
