"""The as-of date D of every published number, as a Dagster daily partition.

A run for partition D publishes what the nightly run after day D would have published.
Extraction is not partitioned: it loads whatever the sources hold when it runs.
"""

import os

import dagster as dg

from ..settings import local_timezone

# Partitions end with the last complete day (in the schedule's timezone): D = yesterday.
AS_OF_DATES = dg.DailyPartitionsDefinition(
    start_date=os.environ.get("CVW_FIRST_AS_OF_DATE") or "2020-01-01",
    timezone=os.environ.get("CVW_SCHEDULE_TIMEZONE") or local_timezone(),
)
# Each night rebuilds its own D: a backfill of a range is one run per date.
ONE_DATE_PER_RUN = dg.BackfillPolicy.multi_run(1)
