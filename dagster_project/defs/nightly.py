"""The nightly job and its schedule."""

from datetime import datetime, timedelta

import dagster as dg

from ..settings import Settings

NIGHTLY_JOB_NAME = "nightly"

nightly_job = dg.define_asset_job(
    name=NIGHTLY_JOB_NAME,
    selection=dg.AssetSelection.all(),
    description="Extract every source, build and test the marts as of the partition's date, fit the CLV "
    "model, run the quality gate, publish.",
    # One DuckDB file, one writer: the steps run one after the other in one process.
    executor_def=dg.in_process_executor,
)


def as_of_for_tick(scheduled: datetime) -> str:
    """A run at 02:00 publishes the previous, complete day."""
    return (scheduled - timedelta(days=1)).strftime("%Y-%m-%d")


def definitions(settings: Settings) -> dg.Definitions:
    @dg.schedule(
        job=nightly_job,
        cron_schedule=settings.schedule_cron,
        execution_timezone=settings.schedule_timezone,
        default_status=dg.DefaultScheduleStatus.STOPPED,
        description="Nightly customer-value publication, as of the previous day.",
    )
    def nightly_schedule(context: dg.ScheduleEvaluationContext):
        as_of = as_of_for_tick(context.scheduled_execution_time)
        return dg.RunRequest(run_key=as_of, partition_key=as_of)

    return dg.Definitions(jobs=[nightly_job], schedules=[nightly_schedule])
