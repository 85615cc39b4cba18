"""The as-of date D of every published number, as a Dagster daily partition.

A run for partition D publishes what the nightly run after day D would have published.
Extraction is not partitioned: it loads whatever the sources hold when it runs.
"""

import dagster as dg

from ..ingest import data_span
from ..settings import Settings


def as_of_dates(settings: Settings) -> dg.DailyPartitionsDefinition:
    # Partitions start with the first day the data supports (or CVW_FIRST_AS_OF_DATE) and end
    # with the last complete day in the schedule's timezone: D = yesterday.
    start, _ = data_span.first_as_of_date(settings.first_as_of_date, settings.warehouse_path)
    return dg.DailyPartitionsDefinition(start_date=start, timezone=settings.schedule_timezone)


# Each night rebuilds its own D: a backfill of a range is one run per date.
ONE_DATE_PER_RUN = dg.BackfillPolicy.multi_run(1)
