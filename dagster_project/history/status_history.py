"""The status history: for every customer, the (value_tier, value_segment, rhythm_status) it
had on each as-of date, stored as intervals so that it grows with changes, not with days.

Two tables in the working database's `history` schema, which no dbt run (full refresh
included) touches:

- `history.status_dates`: every as-of date recorded;
- `history.customer_statuses`: (customer_key, value_tier, value_segment, rhythm_status,
  valid_from, valid_to), valid_from and valid_to recorded as-of dates, inclusive. Consecutive
  recorded dates with the same state are one interval; a state that changes, or a recorded
  date on which the customer has no row, starts a new one.

Recording a date D is one transaction that replaces D's states and re-coalesces the
intervals, so it is idempotent (re-running D gives the same history), a crash leaves the
previous history, and a backfill of an earlier D splits the interval that spanned it and
inserts D's states into the past without touching later dates.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime

import duckdb

SCHEMA = "history"
DATES = f"{SCHEMA}.status_dates"
STATUSES = f"{SCHEMA}.customer_statuses"
STATE_COLUMNS = ("value_tier", "value_segment", "rhythm_status")

_DDL = f"""
create schema if not exists {SCHEMA};
create table if not exists {DATES} (
    as_of_date date primary key,
    recorded_at timestamp,
    run_id varchar
);
create table if not exists {STATUSES} (
    customer_key varchar not null,
    value_tier varchar,
    value_segment varchar,
    rhythm_status varchar,
    valid_from date not null,
    valid_to date not null
);
"""


@dataclass(frozen=True)
class Recorded:
    """What recording one as-of date did."""

    as_of_date: date
    customers: int  # customers with a state on the date
    intervals: int  # rows of the history after it
    dates: int  # as-of dates recorded
    changed: int  # customers whose state differs from the previous recorded date (or who are new)
    backfill: bool  # a later date was recorded already


def ensure_history_schema(con: duckdb.DuckDBPyConnection) -> None:
    con.execute(_DDL)


def _coalesced_sql(as_of_literal: str, source: str) -> str:
    """The whole history with D's states replaced: intervals that do not cover D kept, the
    ones that do split around it, D's states added as one-day intervals, then consecutive
    intervals of a customer with equal states merged (gaps and islands)."""
    same_state = " and ".join(f"prev_{c} is not distinct from {c}" for c in STATE_COLUMNS)
    lags = ", ".join(f"lag({c}) over w as prev_{c}" for c in STATE_COLUMNS)
    states = ", ".join(STATE_COLUMNS)
    return f"""
    with dates as (
        select
            as_of_date,
            lag(as_of_date) over (order by as_of_date) as prev_date,
            lead(as_of_date) over (order by as_of_date) as next_date
        from {DATES}
    ),
    d as (
        select prev_date, next_date from dates where as_of_date = {as_of_literal}
    ),
    pieces as (
        select customer_key, {states}, valid_from, valid_to
        from {STATUSES}
        where not (valid_from <= {as_of_literal} and valid_to >= {as_of_literal})
        union all
        select customer_key, {states}, valid_from, d.prev_date
        from {STATUSES} cross join d
        where valid_from < {as_of_literal} and valid_to >= {as_of_literal}
        union all
        select customer_key, {states}, d.next_date, valid_to
        from {STATUSES} cross join d
        where valid_from <= {as_of_literal} and valid_to > {as_of_literal}
        union all
        select customer_key, {states}, {as_of_literal}, {as_of_literal}
        from {source}
    ),
    followed as (
        select pieces.*, dates.next_date as next_recorded
        from pieces
        inner join dates on dates.as_of_date = pieces.valid_to
    ),
    flagged as (
        select
            *,
            lag(next_recorded) over w as prev_next_recorded,
            {lags}
        from followed
        window w as (partition by customer_key order by valid_from)
    ),
    islands as (
        select
            *,
            sum(
                case when prev_next_recorded = valid_from and {same_state} then 0 else 1 end
            ) over (partition by customer_key order by valid_from rows unbounded preceding) as island
        from flagged
    )
    select
        customer_key,
        {", ".join(f"any_value({c}) as {c}" for c in STATE_COLUMNS)},
        min(valid_from) as valid_from,
        max(valid_to) as valid_to
    from islands
    group by customer_key, island
    order by customer_key, valid_from
    """


def record_statuses(
    con: duckdb.DuckDBPyConnection,
    as_of: date,
    *,
    source: str = "marts.customer_value",
    run_id: str | None = None,
    recorded_at: datetime | None = None,
) -> Recorded:
    """Record the states `source` holds for D = as_of (one row per customer_key, with
    as_of_date and the STATE_COLUMNS) into the history, in one transaction."""
    ensure_history_schema(con)
    found = {d for (d,) in con.execute(f"select distinct as_of_date from {source}").fetchall()}
    if found - {as_of}:
        raise ValueError(f"{source} holds as-of date(s) {sorted(map(str, found))}, not {as_of}: rebuild it first")
    duplicates = con.execute(
        f"select count(*) - count(distinct customer_key) from {source}").fetchall()[0][0]
    if duplicates:
        raise ValueError(f"{source} holds {duplicates} duplicate customer_key row(s): one state per customer")
    literal = f"date '{as_of.isoformat()}'"
    con.execute("begin transaction")
    try:
        con.execute(f"delete from {DATES} where as_of_date = ?", [as_of])
        con.execute(f"insert into {DATES} values (?, ?, ?)", [as_of, recorded_at, run_id])
        prev_date, later = con.execute(
            f"select max(as_of_date) filter (as_of_date < ?), count(*) filter (as_of_date > ?) from {DATES}",
            [as_of, as_of],
        ).fetchall()[0]
        changed = _changed(con, source, prev_date, as_of)
        con.execute(f"create temporary table _coalesced as {_coalesced_sql(literal, source)}")
        con.execute(f"delete from {STATUSES}")
        con.execute(f"insert into {STATUSES} select * from _coalesced")
        con.execute("drop table _coalesced")
        con.execute("commit")
    except BaseException:
        con.execute("rollback")
        raise
    customers = con.execute(f"select count(*) from {source}").fetchall()[0][0]
    intervals, dates = con.execute(f"select (select count(*) from {STATUSES}), (select count(*) from {DATES})").fetchall()[0]
    return Recorded(as_of, customers, intervals, dates, changed, later > 0)


def _changed(con: duckdb.DuckDBPyConnection, source: str, prev_date: date | None, as_of: date) -> int:
    """Customers whose state at D differs from their state at the previous recorded date
    (none recorded there: new). Read before D is replaced, from intervals that end before D
    or span it."""
    if prev_date is None:
        return con.execute(f"select count(*) from {source}").fetchall()[0][0]
    same = " and ".join(f"h.{c} is not distinct from s.{c}" for c in STATE_COLUMNS)
    return con.execute(
        f"""
        select count(*) from {source} s
        left join {STATUSES} h
            on h.customer_key = s.customer_key and h.valid_from <= ? and h.valid_to >= ?
        where h.customer_key is null or not ({same})
        """,
        [prev_date, prev_date],
    ).fetchall()[0][0]


def states_on(con: duckdb.DuckDBPyConnection, as_of: date) -> dict[str, tuple]:
    """{customer_key: (value_tier, value_segment, rhythm_status)} recorded for as_of (empty if
    the date is not recorded)."""
    recorded = con.execute(f"select count(*) from {DATES} where as_of_date = ?", [as_of]).fetchall()[0][0]
    if not recorded:
        return {}
    rows = con.execute(
        f"select customer_key, {', '.join(STATE_COLUMNS)} from {STATUSES} where valid_from <= ? and valid_to >= ?",
        [as_of, as_of],
    ).fetchall()
    return {key: tuple(state) for key, *state in rows}
