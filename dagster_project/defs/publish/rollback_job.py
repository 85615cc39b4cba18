"""The `rollback` job: `cvw rollback --to ID`, launched from Dagster (UI, API, schedule)."""

from pathlib import Path

import dagster as dg
from pydantic import Field

from ..resources import ServingResource
from .rollback import rollback
from .versions import SnapshotError

ROLLBACK_JOB_NAME = "rollback"
SERVING_ASSET = dg.AssetKey(["published", "serving_database"])


class RollbackConfig(dg.Config):
    publication_id: str = Field(description="The version to serve again: a directory name under versions/ "
                                "(`cvw rollback --list` shows them).")


@dg.op(description="Rebuild the serving file from a verified version snapshot and rename it over the current one.")
def rollback_serving_database(context: dg.OpExecutionContext, config: RollbackConfig, serving: ServingResource) -> None:
    try:
        restored = rollback(Path(serving.path), config.publication_id, run_id=context.run_id)
    except SnapshotError as error:
        # the refusal itself is the message an operator needs, not a traceback
        raise dg.Failure(description=f"rollback refused, the serving file is unchanged: {error}") from error
    context.log.info(f"serving version {config.publication_id} as of {restored.as_of_date} again: {restored.row_counts}")
    context.log_event(
        dg.AssetMaterialization(
            asset_key=SERVING_ASSET,
            partition=restored.as_of_date.isoformat(),  # the as-of date the serving file holds again
            description=f"rollback to version {config.publication_id}",
            metadata={
                "path": dg.MetadataValue.path(str(restored.path)),
                "served": True,
                "kind": "rollback",
                "version": dg.MetadataValue.path(str(restored.version_path)),
                "as_of_date": str(restored.as_of_date),
                "row_counts": dg.MetadataValue.json(restored.row_counts),
            },
        )
    )


@dg.job(
    name=ROLLBACK_JOB_NAME,
    description="Serve an earlier publication again from its version snapshot (config: publication_id).",
    executor_def=dg.in_process_executor,
)
def rollback_job():
    rollback_serving_database()
