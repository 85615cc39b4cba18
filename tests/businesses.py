"""Unusual businesses as purchase logs, and the CLV inputs dbt would build from them.

Each shape is a dict {customer_key: [(purchase date, net revenue of that day), ...]} as of
AS_OF, generated with its own seed. `clv_inputs` turns one into the three relations the CLV
fit reads (int_customers_rfm_summarised, int_customers_holdout_split,
int_purchase_days_aggregated) by the definitions of docs/metrics.md, independently of dbt;
`commerce_tables` into a commerce source system for a full pipeline run.
"""

from __future__ import annotations

from datetime import date, timedelta

import numpy as np
import pandas as pd

AS_OF = date(2026, 6, 30)
HOLDOUT_DAYS = 180

Log = dict[str, list[tuple[date, float]]]


def _days_before(days: int) -> date:
    return AS_OF - timedelta(days=int(days))


def _bgnbd_log(n: int, seed: int, *, r: float, alpha: float, p_drop, history_days: int = 730,
               spend=lambda rng, k: np.round(rng.gamma(4.0, 10.0, k), 2)) -> Log:
    """BG/NBD customers on a grid of days: first purchase uniform over the history, gaps
    exponential with a gamma-distributed rate, drop-out with probability p after a purchase
    (a number, or a callable drawing one per customer)."""
    rng = np.random.default_rng(seed)
    log: Log = {}
    for i in range(n):
        first = int(rng.integers(0, history_days))  # days before AS_OF
        rate = rng.gamma(r, 1.0 / alpha)
        p = p_drop(rng) if callable(p_drop) else p_drop
        days, t = [first], 0.0
        while rng.random() >= p:
            t += rng.exponential(1.0 / rate)
            if t > first:
                break
            days.append(first - int(t))
        unique = sorted(set(days), reverse=True)
        log[f"K{i:05d}"] = list(zip(map(_days_before, unique), spend(rng, len(unique))))
    return log


def fifty_customers() -> Log:
    return _bgnbd_log(50, 50, r=0.6, alpha=30.0, p_drop=lambda rng: rng.beta(0.7, 3.0))


def exactly_100_repeat_customers() -> Log:
    """Customers in the order they were drawn, up to the 100th with a repeat purchase (a
    stopping time: the sample stays one of independent BG/NBD customers)."""
    log = _bgnbd_log(800, 100, r=0.6, alpha=30.0, p_drop=lambda rng: rng.beta(0.7, 3.0))
    kept, repeaters = {}, 0
    for key in sorted(log):
        kept[key] = log[key]
        repeaters += len(log[key]) > 1  # a repeat purchase means T > 0
        if repeaters == 100:
            return kept
    raise AssertionError("fewer than 100 repeat customers drawn")


def clockwork() -> Log:
    """Nobody ever drops out: every customer buys every 14 days from her first purchase on."""
    rng = np.random.default_rng(14)
    log = {}
    for i in range(300):
        first = int(rng.integers(30, 700))
        log[f"K{i:05d}"] = [(_days_before(d), 25.0 + i % 7) for d in range(first, -1, -14)]
    return log


def everyone_buys_once() -> Log:
    rng = np.random.default_rng(1)
    return {f"K{i:05d}": [(_days_before(int(rng.integers(0, 700))), 30.0)] for i in range(300)}


def one_customer_holds_half_the_revenue() -> Log:
    log = _bgnbd_log(300, 2, r=0.8, alpha=25.0, p_drop=lambda rng: rng.beta(1.0, 4.0))
    total = sum(v for days in log.values() for _, v in days)
    whale = max(log, key=lambda k: len(log[k]))
    others = total - sum(v for _, v in log[whale])
    log[whale] = [(d, round(others / len(log[whale]), 2)) for d, _ in log[whale]]
    return log


def every_purchase_on_one_day() -> Log:
    """A pop-up shop: everybody bought on one single day (some twice that day)."""
    day = _days_before(40)
    return {f"K{i:05d}": [(day, 20.0 + i % 5)] for i in range(200)}


def identical_spend() -> Log:
    return _bgnbd_log(400, 3, r=0.7, alpha=20.0, p_drop=lambda rng: rng.beta(0.8, 3.0),
                      spend=lambda rng, k: np.full(k, 12.5))


def sixty_day_history() -> Log:
    """A business open for 60 days: the 180-day holdout cannot run."""
    return _bgnbd_log(500, 60, r=1.5, alpha=15.0, p_drop=lambda rng: rng.beta(1.0, 6.0), history_days=60)


def strongly_seasonal() -> Log:
    """Customers buy in December (and a little in June), year after year."""
    rng = np.random.default_rng(12)
    log = {}
    for i in range(600):
        start_year = int(rng.integers(2023, 2026))
        days = set()
        for year in range(start_year, 2026 + 1):
            if rng.random() < 0.15 and year > start_year:
                break  # gone
            for _ in range(int(rng.poisson(2.0))):
                days.add(date(year, 12, int(rng.integers(1, 25))))
            if rng.random() < 0.3:
                days.add(date(year, 6, int(rng.integers(1, 29))))
        days = sorted(d for d in days if d <= AS_OF)
        if days:
            log[f"K{i:05d}"] = [(d, float(np.round(rng.gamma(3.0, 20.0), 2))) for d in days]
    return log


def homogeneous_dropout_400() -> Log:
    """The bug report's business: 400 regular buyers, each leaving with probability 5 % after
    any purchase (the same for everyone: BG/NBD's a, b → ∞)."""
    return _bgnbd_log(400, 400, r=4.0, alpha=120.0, p_drop=0.05)


SHAPES = {
    "fifty_customers": fifty_customers,
    "exactly_100_repeat_customers": exactly_100_repeat_customers,
    "clockwork": clockwork,
    "everyone_buys_once": everyone_buys_once,
    "one_customer_holds_half_the_revenue": one_customer_holds_half_the_revenue,
    "every_purchase_on_one_day": every_purchase_on_one_day,
    "identical_spend": identical_spend,
    "sixty_day_history": sixty_day_history,
    "strongly_seasonal": strongly_seasonal,
    "homogeneous_dropout_400": homogeneous_dropout_400,
}


def clv_inputs(log: Log, as_of: date = AS_OF, holdout_days: int = HOLDOUT_DAYS):
    """(rfm, holdout, purchase_days) frames as dbt's CLV input models would hold them."""
    h = as_of - timedelta(days=holdout_days)
    rfm, holdout, purchase_days = [], [], []
    for key, days in sorted(log.items()):
        by_day: dict[date, float] = {}
        for d, value in days:
            if d <= as_of:
                by_day[d] = by_day.get(d, 0.0) + value
        dates = sorted(by_day)
        if not dates:
            continue
        purchase_days += [{"customer_key": key, "purchase_date": d} for d in dates]
        repeat = [by_day[d] for d in dates[1:]]
        rfm.append({"as_of_date": as_of, "customer_key": key, "frequency": len(dates) - 1,
                    "t_x_days": (dates[-1] - dates[0]).days, "t_days": (as_of - dates[0]).days,
                    "monetary_value": round(sum(repeat) / len(repeat), 2) if repeat else None})
        calibration = [d for d in dates if d <= h]
        if calibration:
            holdout.append({"as_of_date": as_of, "holdout_start_date": h, "holdout_days": holdout_days,
                            "customer_key": key, "frequency": len(calibration) - 1,
                            "t_x_days": (calibration[-1] - calibration[0]).days,
                            "t_days": (h - calibration[0]).days,
                            "holdout_purchases": len(dates) - len(calibration)})
    holdout_columns = ["as_of_date", "holdout_start_date", "holdout_days", "customer_key", "frequency",
                       "t_x_days", "t_days", "holdout_purchases"]
    return (pd.DataFrame(rfm), pd.DataFrame(holdout, columns=holdout_columns),
            pd.DataFrame(purchase_days, columns=["customer_key", "purchase_date"]))


def commerce_tables(log: Log) -> dict[str, list[tuple]]:
    """A commerce source system (tests/handmade.write_commerce) holding the log: one account
    per customer created on the day before her first purchase, one order with one line a day."""
    customers, orders, lines = [], [], []
    for key, days in sorted(log.items()):
        first = min(d for d, _ in days)
        created = f"{first - timedelta(days=1)}T09:00:00"
        customers.append((key, f"{key.lower()}@example.com", None, f"N{key}", "Test", "consumer", "north",
                          created, created))
        for j, (d, value) in enumerate(sorted(days)):
            at = f"{d}T12:00:00"
            order = f"O{key}-{j}"
            orders.append((order, key, at, "completed", "store", "USD", at))
            lines.append((f"L{key}-{j}", order, "P1", "1", f"{value:.2f}", "0", at))
    return {
        "customers": customers,
        "products": [("P1", "Thing", "goods", "1.00", "2020-01-01T00:00:00")],
        "fx_rates": [("USD", "2020-01-01", "1")],
        "orders": orders,
        "order_lines": lines,
        "refunds": [],
    }
