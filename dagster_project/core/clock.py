"""The one clock: naive timestamps in UTC, as every table of the warehouse stores them."""

from __future__ import annotations

from datetime import datetime, timezone


def utc_now(*, whole_seconds: bool = False) -> datetime:
    """Now in UTC without a zone. `whole_seconds` for times stored in tables that readers
    compare by eye (load times, fit times); publications keep microseconds to order them."""
    now = datetime.now(timezone.utc).replace(tzinfo=None)
    return now.replace(microsecond=0) if whole_seconds else now
