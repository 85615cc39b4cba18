"""`cvw run`'s progress lines, read from a real Dagster run's event log."""

from __future__ import annotations

import io
import uuid

import dagster as dg

from dagster_project.cli import Progress


@dg.asset
def orders() -> dg.MaterializeResult:
    return dg.MaterializeResult(metadata={"dagster/row_count": 1234})


@dg.asset(deps=[orders])
def broken() -> None:
    raise RuntimeError("disk gone")


def test_each_step_is_told_as_it_starts_and_ends_with_its_rows():
    job = dg.define_asset_job("night", selection=[orders, broken])
    definitions = dg.Definitions(assets=[orders, broken], jobs=[job])
    out, run_id = io.StringIO(), str(uuid.uuid4())
    with dg.DagsterInstance.ephemeral() as instance:
        with Progress(instance, run_id, out, poll=0.05):
            definitions.resolve_job_def("night").execute_in_process(
                instance=instance, run_id=run_id, raise_on_error=False)
    lines = out.getvalue().splitlines()
    assert "  start  orders" in lines and "  start  broken" in lines
    assert any(line.startswith("  ok     orders (") and "1,234 rows" in line for line in lines)
    assert any(line.startswith("  FAILED broken (") for line in lines)
    assert lines.index("  start  orders") < lines.index("  start  broken")
    assert len(lines) == len(set(lines))  # each event told once
