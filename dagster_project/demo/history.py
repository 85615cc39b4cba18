"""The initial history: one function per entity, in the order they are generated.

Each entity draws from its own random stream (see context.STREAMS); the streams shared by
every table (`offsets`, `faults`) are drawn in the order of the calls in `generator.generate`,
so that order is part of the output and must not change.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from ..core import contract
from . import catalog
from . import commerce
from . import files
from . import landing
from . import simulate
from . import tables
from .arrays import latest, take
from .columns import iso_date
from .context import Run
from .faults import corrupt, fx_bad_rows, planned_counts
from .simulate import DAY
from .state import record_table, save_state
from .writers import insert_rows, insert_table

REDELIVER_SHARE = 0.02  # rows re-sent unchanged in the last initial export


@dataclass(kw_only=True)
class History(Run):
    """The initial history's run, and what earlier entities produced for later ones."""

    parameters: dict  # customers, years, seed, end_date as asked
    n_buyers: int = 0
    n_prospects: int = 0
    n_duplicates: int = 0
    accounts: dict = field(default_factory=dict)
    first_purchase: np.ndarray | None = None
    products: simulate.Products | None = None
    orders: simulate.Orders | None = None
    lines: simulate.Lines | None = None
    refunds: simulate.Refunds | None = None
    n_profile_updates: int = 0
    product_ids: np.ndarray | None = None
    order_ids: np.ndarray | None = None
    line_ids: np.ndarray | None = None
    completed: tuple[np.ndarray, np.ndarray] | None = None  # (account, completion time) sorted by account
    pending_orders: dict = field(default_factory=dict)
    pending_refunds: dict = field(default_factory=dict)
    fx_levels: list = field(default_factory=list)  # the last day's log rates, where appending continues
    records: dict[str, dict] = field(default_factory=dict)  # current records per file kind
    versions: dict[str, dict] = field(default_factory=dict)  # every version per file kind

    @property
    def n_days(self) -> int:
        return self.last_day - self.first_day + 1

    @property
    def export_days(self) -> list[int]:
        """Days of the initial exports of every file kind: after a third, two thirds and all of it."""
        return sorted({self.first_day + self.n_days // 3, self.first_day + (2 * self.n_days) // 3, self.last_day})


# --------------------------------------------------------------------------- the business, simulated


def simulate_accounts(history: History) -> None:
    """Persons (buyers and prospects) and the second accounts some of them open, in creation order."""
    rng = history.streams["accounts"]
    customers = history.parameters["customers"]
    history.n_duplicates = max(1, round(customers * simulate.DUPLICATE_SHARE))
    n_persons = customers - history.n_duplicates
    history.n_prospects = max(1, round(n_persons * simulate.PROSPECT_SHARE))
    history.n_buyers = n_persons - history.n_prospects
    accounts = simulate.new_persons(rng, history.n_buyers, history.n_prospects, history.t_lo, history.t_hi,
                                    first_person=1)
    history.next_person = 1 + n_persons
    accounts = simulate.concat_accounts(accounts, simulate.new_duplicates(rng, accounts, history.n_duplicates,
                                                                          history.t_lo, history.t_hi))
    history.accounts = take(accounts, np.lexsort((accounts["is_dup"], accounts["person"], accounts["created"])))


def simulate_purchases(history: History) -> None:
    """Every purchase of the history, and the products, orders, lines and refunds it makes."""
    accounts = history.accounts
    who, when = simulate.run_process(history.streams["process"], accounts, history.t_hi)
    history.first_purchase = np.full(accounts["created"].size, simulate.NEVER, dtype=np.int64)
    np.minimum.at(history.first_purchase, who, when)
    history.products = simulate.make_products(history.streams["products"], history.t_lo, history.t_hi)
    history.orders = simulate.make_orders(history.streams["orders"], accounts, who, when)
    history.lines = simulate.make_lines(history.streams["lines"], accounts, history.orders, history.products,
                                        history.t_lo, commerce.START_RATES)
    history.refunds = simulate.plan_refunds(history.streams["refunds"], history.orders, history.lines)


# --------------------------------------------------------------------------- commerce.sqlite


def load_customers(history: History) -> None:
    """Customers; some rows were updated after creation (a new phone number, say)."""
    rng, accounts = history.streams["updates"], history.accounts
    created = accounts["created"]
    n_accounts = created.size
    profile_updated = rng.random(n_accounts) < simulate.PROFILE_UPDATE_SHARE
    history.n_profile_updates = int(profile_updated.sum())
    updated = np.where(profile_updated,
                       created + (rng.random(n_accounts) * (history.t_hi - created)).astype(np.int64), created)
    valid = tables.customers_table(history.offsets, accounts, updated)
    counts = history.bad_counts(contract.CUSTOMERS, n_accounts)
    accounts["id_num"] = commerce.insert_customers(history, valid, created, counts)


def load_products(history: History) -> None:
    valid = tables.products_table(history.offsets, history.products)
    n_products = len(valid)
    bad, faults, picks = corrupt(history.faults, contract.PRODUCTS.raw_table, valid,
                                 history.bad_counts(contract.PRODUCTS, n_products))
    # a bad product comes right after the product it copies
    history.product_ids, _ = commerce.insert(history, contract.PRODUCTS, valid, np.arange(n_products), bad,
                                             picks + 0.5, faults)


def load_orders(history: History) -> None:
    orders = history.orders
    history.order_ids, done = commerce.insert_orders(history, history.accounts, orders)
    history.pending_orders = commerce.still_pending(orders, history.order_ids, done)
    # reviews and feedback follow completed orders
    completed = np.flatnonzero(done & (orders.final_status == simulate.STATUS_COMPLETED))
    by_account = np.lexsort((orders.transition[completed], orders.acct[completed]))
    history.completed = orders.acct[completed][by_account], orders.transition[completed][by_account]


def load_order_lines(history: History) -> None:
    history.line_ids = commerce.insert_order_lines(history, history.lines, history.order_ids, history.product_ids,
                                                   history.orders.ordered_at)


def load_refunds(history: History) -> None:
    """Refunds up to the last day; later ones wait in the state for appended days."""
    refunds, line_ids = history.refunds, history.line_ids
    now = np.flatnonzero(refunds.time < history.t_hi)
    now = now[np.argsort(refunds.time[now], kind="stable")]
    commerce.insert_refunds(history, line_ids[refunds.line[now]], refunds.time[now], refunds.quantity[now],
                            refunds.amount[now])
    future = np.flatnonzero(refunds.time >= history.t_hi)
    history.pending_refunds = {"line_id": line_ids[refunds.line[future]], "time": refunds.time[future],
                               "quantity": refunds.quantity[future], "amount": refunds.amount[future]}


def load_fx_rates(history: History) -> None:
    """Rates from before the first order; the bad rows fill weekend gaps (so their keys are unique)."""
    first_day = history.first_day - catalog.FX_HISTORY_LEAD_DAYS
    (currency, day, rate), levels, days = _fx_history(history.streams["fx"], first_day, history.last_day)
    valid = commerce.fx_table(currency, day, rate)
    history.added["fx_rates"] += insert_table(history.con, contract.FX_RATES, valid)
    gaps = {code: days[commerce.weekend(days)] for code in range(len(catalog.CURRENCIES))
            if not commerce.PUBLISHES_DAILY[code]}
    bad, faults = fx_bad_rows(history.faults, history.bad_counts(contract.FX_RATES, len(valid)), gaps,
                              lambda code, day: np.exp(levels[code, day - first_day]))
    history.added["fx_rates"] += insert_rows(history.con, contract.FX_RATES, bad)
    record_table(history.manifest, "fx_rates", contract.FX_RATES.raw_table, history.added["fx_rates"], faults)
    history.fx_levels = levels[:, -1].tolist()


def _fx_history(rng, first_day: int, last_day: int):
    """Daily random walks of log rates; weekday-only currencies skip weekends. Returns rows
    (currency, day, rate), the log level per (currency, day) and the days."""
    days = np.arange(first_day, last_day + 1)
    n_days = days.size
    levels = np.zeros((len(catalog.CURRENCIES), n_days))
    for code in range(1, len(catalog.CURRENCIES)):  # the base currency stays at 1
        steps = rng.normal(0.0, catalog.FX_DAILY_VOLATILITY, n_days)
        steps[0] = 0.0
        levels[code] = np.log(commerce.START_RATES[code]) + np.cumsum(steps)
    currency, index = np.meshgrid(np.arange(len(catalog.CURRENCIES)), np.arange(n_days), indexing="ij")
    published = commerce.PUBLISHES_DAILY[currency] | ~commerce.weekend(days[index])
    currency, index = currency[published], index[published]
    order = np.lexsort((currency, days[index]))
    rows = (currency[order], days[index][order], np.exp(levels[currency, index])[order])
    return rows, levels, days


# --------------------------------------------------------------------------- landing files


def export_crm(history: History) -> None:
    history.records["crm"], history.versions["crm"] = landing.crm_initial(history.streams["crm"], history.accounts,
                                                                          history.t_lo, history.t_hi)
    _write_exports(history, "crm")


def export_referrals(history: History) -> None:
    records, versions, history.next_person = landing.referrals_initial(
        history.streams["referrals"], history.accounts, history.first_purchase, history.t_hi, history.next_person)
    _number(history, "referrals", records, versions)
    _write_exports(history, "referrals")


def export_reviews(history: History) -> None:
    records, versions = landing.reviews_initial(history.streams["reviews"], *history.completed, history.t_hi)
    _number(history, "reviews", records, versions)
    _write_exports(history, "reviews")


def export_feedback(history: History) -> None:
    records, versions = landing.feedback_initial(history.streams["feedback"], *history.completed, history.t_hi)
    _number(history, "feedback", records, versions)
    _write_exports(history, "feedback")


def _number(history: History, kind: str, records: dict, versions: dict) -> None:
    """Ids 1.. in record order, and the same id on every version of a record."""
    records["id_num"] = np.arange(1, records["id_num"].size + 1)
    versions["id_num"] = records["id_num"][versions["row"]]
    history.next_ids[kind] = records["id_num"].size + 1
    history.records[kind], history.versions[kind] = records, versions


def _write_exports(history: History, kind: str) -> None:
    """The kind's initial exports, each with the versions of its period; a bad row goes to the
    export whose period holds the version it was copied from."""
    versions, export_days = history.versions[kind], history.export_days
    slices = _export_slices(history.streams[kind], versions, export_days)
    make = tables.FILE_TABLES[kind]
    customer_ids = history.accounts["id_num"]
    host = make(history.offsets, versions, customer_ids)
    counts = planned_counts(files.FILE_ENTITIES[kind].raw_table, history.records[kind]["updated"].size)
    bad, faults, picks = files.bad_rows(history, kind, host, counts)
    ends = (np.array(export_days, dtype=np.int64) + 1) * DAY
    home = np.minimum(np.searchsorted(ends, versions["updated"][picks], side="right"), len(slices) - 1)
    for export, (day, pick) in enumerate(zip(export_days, slices)):
        mine = np.flatnonzero(home == export)
        table = files.mix_in(history.faults, make(history.offsets, take(versions, pick), customer_ids),
                             bad.take(mine))
        if len(table) == 0:
            continue
        files.write(history, kind, day, table, [faults[i] for i in mine])


def _export_slices(rng, versions: dict, export_days: list[int]) -> list[np.ndarray]:
    """Version indices of each initial export: the latest version (as of the export day) of
    every record changed since the previous export; the last export also re-sends a few
    unchanged records (a row delivered twice must be stored once)."""
    updated, record = versions["updated"], versions["row"]
    slices = []
    since = np.iinfo(np.int64).min
    for export, day in enumerate(export_days):
        until = (day + 1) * DAY
        changed = np.flatnonzero((updated >= since) & (updated < until))
        pick = changed[latest(record[changed], updated[changed])]
        if export == len(export_days) - 1 and export > 0:
            before = np.flatnonzero(updated < since)
            before = before[latest(record[before], updated[before])]
            unchanged = before[~np.isin(record[before], record[pick])]
            again = unchanged[rng.random(unchanged.size) < REDELIVER_SHARE]
            pick = np.concatenate([pick, again])
        slices.append(pick[np.lexsort((record[pick], updated[pick]))])
        since = until
    return slices


# --------------------------------------------------------------------------- state for append_days


def save(history: History) -> None:
    """What `append_days` continues from, with the daily rates it draws new activity at."""
    n_days, records, versions = history.n_days, history.records, history.versions
    referrals = records["referrals"]
    rates = {
        "buyers": history.n_buyers / n_days, "prospects": history.n_prospects / n_days,
        "duplicates": history.n_duplicates / n_days,
        "profile_updates": float(history.n_profile_updates) / n_days,
        "conversion": float((referrals["referee"] >= 0).sum()) / max(history.accounts["created"].size, 1),
        "invites": float(((referrals["referee"] < 0) & ~referrals["self_ref"]).sum()) / n_days,
        "crm_updates": float(versions["crm"]["row"].size - records["crm"]["acct"].size) / n_days,
        "reviews": records["reviews"]["acct"].size / n_days,
        "review_edits": float(versions["reviews"]["row"].size - records["reviews"]["acct"].size) / n_days,
        "feedback": records["feedback"]["acct"].size / n_days,
        "feedback_follow_ups": float(versions["feedback"]["row"].size - records["feedback"]["acct"].size) / n_days,
    }
    parameters = history.parameters
    scalars = {
        "seed": parameters["seed"], "customers": parameters["customers"], "years": parameters["years"],
        "start_date": iso_date(history.first_day), "end_date": iso_date(history.last_day),
        "last_date": iso_date(history.last_day), "t0": int(history.t_lo), "next_ids": history.next_ids,
        "next_person": int(history.next_person), "fx_levels": history.fx_levels, "rates": rates,
    }
    products = history.products
    product_state = {"id_num": history.product_ids, "base_price": products.base_price,
                     "by_price": products.by_price, "category": products.category}
    groups = {"acct": history.accounts, "prod": product_state, "pend_order": history.pending_orders,
              "pend_refund": history.pending_refunds}
    groups.update({files.STATE_GROUPS[kind]: records[kind] for kind in files.FILE_ENTITIES})
    save_state(history.out, scalars, groups)
