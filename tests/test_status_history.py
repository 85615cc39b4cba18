"""The status history on a real DuckDB: intervals grow with changes, re-runs are idempotent,
backfills insert into the past, a failure mid-way keeps the previous history."""

from __future__ import annotations

from datetime import date, timedelta

import duckdb
import pytest

from dagster_project.history.status_history import STATUSES, record_statuses, states_on

D0 = date(2026, 1, 1)


def day(n: int) -> date:
    return D0 + timedelta(days=n)


def night(con, n: int, states: dict[str, tuple]) -> None:
    """customer_value as of day n holding `states` ({key: (tier, segment, rhythm)}), recorded."""
    con.execute("create schema if not exists marts")
    con.execute("create or replace table marts.customer_value (as_of_date date, customer_key varchar, "
                "value_tier varchar, value_segment varchar, rhythm_status varchar)")
    con.executemany("insert into marts.customer_value values (?, ?, ?, ?, ?)",
                    [(day(n), key, *state) for key, state in states.items()])
    record_statuses(con, day(n))


def history(con) -> list[tuple]:
    return con.execute(f"select * from {STATUSES} order by customer_key, valid_from").fetchall()


@pytest.fixture
def con():
    with duckdb.connect() as connection:
        yield connection


GOLD = ("gold", "maintain", "on_rhythm")
GOLD_OVERDUE = ("gold", "maintain", "overdue")
SILVER = ("silver", "maintain", "on_rhythm")


def test_intervals_grow_with_changes_not_with_days(con):
    for n in range(30):
        night(con, n, {"A": GOLD, "B": GOLD_OVERDUE if 10 <= n < 20 else GOLD, "C": (None, "prospect", None)})
    assert history(con) == [
        ("A", *GOLD, day(0), day(29)),
        ("B", *GOLD, day(0), day(9)),
        ("B", *GOLD_OVERDUE, day(10), day(19)),
        ("B", *GOLD, day(20), day(29)),
        ("C", None, "prospect", None, day(0), day(29)),  # nulls are a state like any other
    ]
    assert states_on(con, day(15))["B"] == GOLD_OVERDUE and states_on(con, day(30)) == {}


def test_rerunning_a_night_gives_the_same_history(con):
    for n in range(5):
        night(con, n, {"A": GOLD if n < 3 else SILVER, "B": GOLD})
    before = history(con)
    night(con, 4, {"A": SILVER, "B": GOLD})
    assert history(con) == before
    # a re-run with other states replaces the date; re-running the original restores it
    night(con, 4, {"A": GOLD, "B": GOLD_OVERDUE})
    assert history(con) != before and states_on(con, day(4)) == {"A": GOLD, "B": GOLD_OVERDUE}
    night(con, 4, {"A": SILVER, "B": GOLD})
    assert history(con) == before


def test_a_backfill_inserts_into_the_past_without_touching_later_intervals(con):
    for n in (0, 2, 3, 4):
        night(con, n, {"A": GOLD, "B": GOLD if n < 3 else SILVER})
    assert history(con) == [("A", *GOLD, day(0), day(4)), ("B", *GOLD, day(0), day(2)), ("B", *SILVER, day(3), day(4))]
    night(con, 1, {"A": GOLD_OVERDUE, "B": GOLD})  # day 1, recorded late
    assert history(con) == [
        ("A", *GOLD, day(0), day(0)), ("A", *GOLD_OVERDUE, day(1), day(1)), ("A", *GOLD, day(2), day(4)),
        ("B", *GOLD, day(0), day(2)), ("B", *SILVER, day(3), day(4)),
    ]
    night(con, 1, {"A": GOLD, "B": GOLD})  # corrected: the split heals
    assert history(con) == [("A", *GOLD, day(0), day(4)), ("B", *GOLD, day(0), day(2)), ("B", *SILVER, day(3), day(4))]
    # the same history as recording the dates in order
    with duckdb.connect() as fresh:
        for n in range(5):
            night(fresh, n, {"A": GOLD, "B": GOLD if n < 3 else SILVER})
        assert history(fresh) == history(con)


def test_a_customer_missing_on_a_recorded_date_breaks_the_interval(con):
    night(con, 0, {"A": GOLD, "B": GOLD})
    night(con, 1, {"A": GOLD})  # B not a customer on day 1 (e.g. re-keyed by identity resolution)
    night(con, 2, {"A": GOLD, "B": GOLD})
    assert history(con) == [("A", *GOLD, day(0), day(2)), ("B", *GOLD, day(0), day(0)), ("B", *GOLD, day(2), day(2))]


def test_a_failure_while_recording_keeps_the_previous_history(con):
    night(con, 0, {"A": GOLD, "B": GOLD})
    before = history(con)
    dates = con.execute("select as_of_date from history.status_dates").fetchall()
    # a source that fails only once its states are read, inside the transaction
    con.execute("create or replace view marts.broken as select date '2026-01-02' as as_of_date, 'A' as customer_key, "
                "error('disk gone') as value_tier, 'maintain' as value_segment, 'on_rhythm' as rhythm_status")
    with pytest.raises(duckdb.Error, match="disk gone"):
        record_statuses(con, day(1), source="marts.broken")
    assert history(con) == before
    assert con.execute("select as_of_date from history.status_dates").fetchall() == dates


def test_inputs_that_cannot_be_one_state_per_customer_are_refused(con):
    night(con, 0, {"A": GOLD})
    con.execute("insert into marts.customer_value values (?, 'A', 'gold', 'maintain', 'overdue')", [day(0)])
    with pytest.raises(ValueError, match="duplicate customer_key"):
        record_statuses(con, day(0))
    with pytest.raises(ValueError, match="not 2026-01-05"):
        record_statuses(con, day(4))
