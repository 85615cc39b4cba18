"""The as-of date D of every published number, as a Dagster daily partition.

A run for partition D publishes what the nightly run after day D would have published.
Extraction is not partitioned: it loads whatever the sources hold when it runs.
"""

import dagster as dg

from ..settings import Settings


def as_of_dates(settings: Settings) -> dg.DailyPartitionsDefinition:
    # Partitions end with the last complete day (in the schedule's timezone): D = yesterday.
    return dg.DailyPartitionsDefinition(start_date=settings.first_as_of_date, timezone=settings.schedule_timezone)


# Each night rebuilds its own D: a backfill of a range is one run per date.
ONE_DATE_PER_RUN = dg.BackfillPolicy.multi_run(1)
