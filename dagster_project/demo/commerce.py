"""The commerce database's tables as both the initial history and an appended day deliver them:
valid rows and their deliberately bad copies, numbered in creation order, inserted, recorded."""

from __future__ import annotations

import numpy as np

from ..core import contract
from . import catalog
from . import simulate
from . import tables
from .columns import Table, cat_col, date_col, money_col
from .context import Run
from .faults import corrupt
from .state import record_table
from .writers import insert_table

START_RATES = np.array([currency[1] for currency in catalog.CURRENCIES])
PUBLISHES_DAILY = np.array([currency[2] for currency in catalog.CURRENCIES])


def weekend(day) -> np.ndarray:
    return (np.asarray(day) + 3) % 7 >= 5  # day 0, 1970-01-01, was a Thursday


def insert(run: Run, entity: contract.Entity, valid: Table, valid_sort, bad: Table, bad_sort,
           faults: list) -> tuple[np.ndarray, int]:
    """Number valid and bad rows by `sort` (creation order), insert and record them.
    Returns the id numbers of the valid rows and the next id."""
    table, ids, next_id = tables.number(valid, valid_sort, bad, bad_sort, entity.name,
                                        run.next_ids.get(entity.name, 1))
    run.added[entity.name] += insert_table(run.con, entity, table)
    record_table(run.manifest, entity.name, entity.raw_table, len(table), faults)
    return ids, next_id


def insert_customers(run: Run, valid: Table, created: np.ndarray, counts: dict[str, int]) -> np.ndarray:
    """Customer rows; returns their id numbers. The bad rows copy strangers (new persons who
    never open an account), so that no valid customer's email appears twice."""
    strangers = simulate.new_persons(run.faults, sum(counts.values()), 0, run.t_lo, run.t_hi, run.next_person)
    run.next_person += strangers["created"].size
    host = tables.customers_table(run.offsets, strangers, strangers["created"])
    bad, faults, picks = corrupt(run.faults, contract.CUSTOMERS.raw_table, host, counts)
    ids, run.next_ids["customers"] = insert(run, contract.CUSTOMERS, valid, created, bad,
                                            strangers["created"][picks], faults)
    return ids


def insert_orders(run: Run, accounts: dict, orders: simulate.Orders) -> tuple[np.ndarray, np.ndarray]:
    """Orders with their status as of the period's end (a later transition leaves them pending);
    marks the completed ones on their accounts. Returns the orders' id numbers and which of them
    have reached their final status."""
    done = orders.transition < run.t_hi
    status = np.where(done, orders.final_status, simulate.STATUS_PENDING)
    updated = np.where(done, orders.transition, orders.ordered_at)
    valid = tables.orders_table(run.offsets, orders, accounts["id_num"], status, updated)
    bad, faults, picks = corrupt(run.faults, contract.ORDERS.raw_table, valid,
                                 run.bad_counts(contract.ORDERS, len(valid)))
    order_ids, run.next_ids["orders"] = insert(run, contract.ORDERS, valid, orders.ordered_at, bad,
                                               orders.ordered_at[picks], faults)
    completed = np.flatnonzero(done & (orders.final_status == simulate.STATUS_COMPLETED))
    mark_completed(accounts, orders.acct[completed], orders.transition[completed], orders.ordered_at[completed])
    return order_ids, done


def still_pending(orders: simulate.Orders, order_ids: np.ndarray, done: np.ndarray) -> dict[str, np.ndarray]:
    """The orders that will reach their final status after the period (stuck ones never do)."""
    later = np.flatnonzero(~done & (orders.final_status != simulate.STATUS_PENDING))
    return {"id_num": order_ids[later], "acct": orders.acct[later], "final": orders.final_status[later],
            "transition": orders.transition[later], "ordered": orders.ordered_at[later]}


def mark_completed(accounts: dict, account: np.ndarray, completed_at: np.ndarray, ordered_at: np.ndarray) -> None:
    """Record completed orders on their accounts (first completion, latest completed order):
    referral rewards and reviews follow them."""
    if account.size == 0:
        return
    first = accounts["first_completed"]
    current = np.where(first >= 0, first, simulate.NEVER)
    np.minimum.at(current, account, completed_at)
    accounts["first_completed"] = np.where(current < simulate.NEVER, current, -1)
    np.maximum.at(accounts["last_completed_order"], account, ordered_at)


def insert_order_lines(run: Run, lines: simulate.Lines, order_ids: np.ndarray, product_ids: np.ndarray,
                       ordered_at: np.ndarray) -> np.ndarray:
    """Order lines; returns their id numbers. A bad line sits among the lines it copies."""
    valid = tables.lines_table(run.offsets, lines, order_ids, product_ids, ordered_at)
    bad, faults, picks = corrupt(run.faults, contract.ORDER_LINES.raw_table, valid,
                                 run.bad_counts(contract.ORDER_LINES, len(valid)))
    line_ids, run.next_ids["order_lines"] = insert(run, contract.ORDER_LINES, valid, np.arange(len(valid)), bad,
                                                   picks, faults)
    return line_ids


def insert_refunds(run: Run, line_ids: np.ndarray, time: np.ndarray, quantity: np.ndarray,
                   amount: np.ndarray) -> None:
    valid = tables.refunds_table(run.offsets, line_ids, time, quantity, amount)
    bad, faults, picks = corrupt(run.faults, contract.REFUNDS.raw_table, valid,
                                 run.bad_counts(contract.REFUNDS, len(valid)))
    _, run.next_ids["refunds"] = insert(run, contract.REFUNDS, valid, time, bad, time[picks], faults)


def fx_table(currency, day, rate) -> Table:
    return Table("fx_rates", {
        "currency": cat_col(currency, catalog.CURRENCY_CODES),
        "rate_date": date_col(day),
        "rate_to_base": money_col(rate, decimals=6),
    })
