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


# A night for D that is queued, running or done makes a later tick for the same D skip.
_LIVE_OR_DONE = [
    dg.DagsterRunStatus.QUEUED, dg.DagsterRunStatus.NOT_STARTED, dg.DagsterRunStatus.STARTING,
    dg.DagsterRunStatus.STARTED, dg.DagsterRunStatus.SUCCESS,
]


def night_already_launched(instance: dg.DagsterInstance, as_of: str) -> dg.DagsterRun | None:
    """The newest nightly run for `as_of` that is queued, running or succeeded (launched by the
    schedule, `cvw run` or the UI alike), or None."""
    runs = instance.get_runs(
        filters=dg.RunsFilter(job_name=NIGHTLY_JOB_NAME, tags={"dagster/partition": as_of}, statuses=_LIVE_OR_DONE),
        limit=1,
    )
    return runs[0] if runs else None


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
        # A cron that fires more than once a day (e.g. every 4 hours, to retry a failed night
        # without a person) publishes each D once; a failed night is launched again.
        launched = night_already_launched(context.instance, as_of)
        if launched is not None:
            state = "published" if launched.status == dg.DagsterRunStatus.SUCCESS else "queued or running"
            return dg.SkipReason(f"the night of {as_of} is already {state} (run {launched.run_id[:8]})")
        return dg.RunRequest(run_key=as_of, partition_key=as_of)

    return dg.Definitions(jobs=[nightly_job], schedules=[nightly_schedule])
