"""Benchmark: how the status history grows, and what recording a night costs.

    PYTHONPATH=. .venv/bin/python bench/status_history_benchmark.py [--customers N] [--nights K]
                                                                   [--change-rate P] [--seed S]

Simulates K nightly customer_value states for N customers (seeded): each night a share P of
the customers moves to another (tier, segment, rhythm) state, the rest keep theirs (the demo
business moves about 1-3 % a night), records each night with history.record_statuses on an
in-memory DuckDB, and prints the intervals per customer after the last night (target: at most
1.5 after 30 nights, against 30 for one row per customer and day) and the seconds per night.
"""

from __future__ import annotations

import argparse
import os
import time
from datetime import date, timedelta

import duckdb
import numpy as np
import pandas as pd

from dagster_project.history.status_history import record_statuses

TIERS = np.array(["platinum", "gold", "silver", "bronze"])
SEGMENTS = np.array(["most_valuable", "most_growable", "maintain", "below_zero"])
RHYTHMS = np.array(["on_rhythm", "overdue", "lapsed", "not_established"])


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--customers", type=int, default=1_000_000)
    ap.add_argument("--nights", type=int, default=30)
    ap.add_argument("--change-rate", type=float, default=0.02)
    ap.add_argument("--seed", type=int, default=12)
    args = ap.parse_args()
    rng = np.random.default_rng(args.seed)
    n = args.customers
    keys = np.char.add("C", np.arange(n).astype(str))
    state = rng.integers(0, 4, (n, 3))
    con = duckdb.connect()
    con.execute("create schema marts").fetchall()
    seconds = []
    print(f"load average {os.getloadavg()[0]:.2f}; {n:,} customers, {args.nights} nights, "
          f"{args.change_rate:.1%} change a night")
    for night in range(args.nights):
        if night:
            moved = rng.random(n) < args.change_rate
            column = rng.integers(0, 3, n)
            state[moved, column[moved]] = (state[moved, column[moved]] + rng.integers(1, 4, moved.sum())) % 4
        as_of = date(2026, 1, 1) + timedelta(days=night)
        frame = pd.DataFrame({"as_of_date": as_of, "customer_key": keys, "value_tier": TIERS[state[:, 0]],
                              "value_segment": SEGMENTS[state[:, 1]], "rhythm_status": RHYTHMS[state[:, 2]]})
        con.register("frame", frame)
        con.execute("create or replace table marts.customer_value as select * from frame").fetchall()
        con.unregister("frame")
        started = time.perf_counter()
        recorded = record_statuses(con, as_of)
        seconds.append(time.perf_counter() - started)
    print(f"intervals after {args.nights} nights: {recorded.intervals:,} = {recorded.intervals / n:.3f} per customer "
          f"(one row per customer and night: {args.nights}.000)")
    print(f"recording a night: median {np.median(seconds):.2f} s, last {seconds[-1]:.2f} s, first {seconds[0]:.2f} s")


if __name__ == "__main__":
    main()
