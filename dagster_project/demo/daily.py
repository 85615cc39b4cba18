"""One appended day: one function per entity, in the order they are generated.

Day d draws from streams seeded by (seed, d) only, so appending 2 days equals appending 1 day
twice. The streams shared by every table (`offsets`, `faults`) are drawn in the order of the
calls in `append_day`, so that order is part of the output and must not change.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from ..core import contract
from . import catalog
from . import commerce
from . import files
from . import landing
from . import simulate
from . import tables
from .arrays import sample, take
from .columns import cat_col
from .context import Run, streams
from .simulate import DAY
from .state import record_table
from .writers import insert_table, update_rows


@dataclass(kw_only=True)
class Day(Run):
    """An appended day's run, over the generator's state (which it updates)."""

    scalars: dict  # the state file's values
    groups: dict[str, dict[str, np.ndarray]]  # the state file's arrays
    updated_rows: dict[str, int]  # rows updated per commerce table
    new_accounts: np.ndarray | None = None  # indices of today's accounts
    invite_of: np.ndarray | None = None  # per new account, the referral it took up (-1: none)

    @property
    def day(self) -> int:
        return self.first_day

    @property
    def accounts(self) -> dict[str, np.ndarray]:
        return self.groups["acct"]

    @property
    def rates(self) -> dict[str, float]:
        return self.scalars["rates"]

    def uniform_times(self, rng: np.random.Generator, n: int) -> np.ndarray:
        """n times spread over the day."""
        return rng.integers(self.t_lo, self.t_hi, n, dtype=np.int64) if n else np.zeros(0, dtype=np.int64)

    def record_updates(self, table: str, n: int) -> None:
        self.updated_rows[table] = self.updated_rows.get(table, 0) + n
        self.manifest["tables"][table]["rows_updated"] += n


def append_day(run: Run, scalars: dict, groups: dict, updated_rows: dict, day: int) -> None:
    """Generate `day` into the open database and landing folder of `run`, updating the state."""
    today = Day(out=run.out, con=run.con, manifest=run.manifest, streams=streams(scalars["seed"], day),
                first_day=day, last_day=day, appending=True, next_ids=scalars["next_ids"],
                next_person=scalars["next_person"], added=run.added, files=run.files, scalars=scalars,
                groups=groups, updated_rows=updated_rows)
    open_accounts(today)
    insert_customers(today)
    update_profiles(today)
    orders, lines, refunds = simulate_purchases(today)
    order_ids, done = commerce.insert_orders(today, today.accounts, orders)
    line_ids = commerce.insert_order_lines(today, lines, order_ids, groups["prod"]["id_num"], orders.ordered_at)
    complete_pending_orders(today, orders, order_ids, done)
    insert_refunds(today, refunds, line_ids)
    insert_fx_rates(today)
    for kind, update in (("crm", update_crm), ("referrals", update_referrals), ("reviews", update_reviews),
                         ("feedback", update_feedback)):
        write_drop(today, kind, update(today))
    scalars["next_person"] = today.next_person


# --------------------------------------------------------------------------- commerce.sqlite


def open_accounts(today: Day) -> None:
    """New persons (some taking up an open referral invite) and second accounts of earlier persons."""
    rng, rates, accounts, referrals = today.streams["accounts"], today.rates, today.accounts, today.groups["ref"]
    n_buyers, n_prospects, n_duplicates = (int(rng.poisson(rates[name]))
                                           for name in ("buyers", "prospects", "duplicates"))
    n_persons = n_buyers + n_prospects
    persons = simulate.new_persons(rng, n_buyers, n_prospects, today.t_lo, today.t_hi, today.next_person)
    today.next_person += n_persons
    open_invites = np.flatnonzero((referrals["status"] == 0) & ~referrals["self_ref"] & (referrals["referee"] < 0)
                                  & (referrals["referred"] < today.t_lo))
    takers = np.flatnonzero(persons["buyer"] & (rng.random(n_persons) < rates["conversion"]))
    n_taken = min(takers.size, open_invites.size)
    takers = takers[:n_taken]
    invites = rng.choice(open_invites, n_taken, replace=False) if n_taken else np.zeros(0, dtype=np.int64)
    # the invitee signs up with the address the invite went to
    persons["first"][takers] = referrals["e_first"][invites]
    persons["last"][takers] = referrals["e_last"][invites]
    persons["domain"][takers] = referrals["e_domain"][invites]
    persons["person"][takers] = referrals["e_num"][invites]
    persons["variant"][takers] = simulate.EMAIL_LOWER
    invite_of = np.full(n_persons, -1, dtype=np.int64)
    invite_of[takers] = invites
    duplicates = simulate.new_duplicates(rng, accounts, n_duplicates, today.t_lo, today.t_hi)
    batch = simulate.concat_accounts(persons, duplicates)
    invite_of = np.concatenate([invite_of, np.full(duplicates["created"].size, -1, dtype=np.int64)])
    order = np.lexsort((batch["is_dup"], batch["person"], batch["created"]))
    batch, today.invite_of = take(batch, order), invite_of[order]
    first_new = accounts["created"].size
    today.groups["acct"] = simulate.concat_accounts(accounts, batch)
    today.new_accounts = np.arange(first_new, today.accounts["created"].size)


def insert_customers(today: Day) -> None:
    accounts, new = today.accounts, today.new_accounts
    valid = tables.customers_table(today.offsets, take(accounts, new), accounts["created"][new])
    # one more than the rows (as the generator has always drawn it: changing it changes every appended day)
    counts = today.bad_counts(contract.CUSTOMERS, len(valid) + 1)
    accounts["id_num"][new] = commerce.insert_customers(today, valid, accounts["created"][new], counts)


def update_profiles(today: Day) -> None:
    """Some older customers get a new phone number."""
    rng, accounts = today.streams["updates"], today.accounts
    older = np.flatnonzero(accounts["created"] < today.t_lo)
    who = sample(rng, older, rng.poisson(today.rates["profile_updates"]))
    phone = simulate.phone_numbers(rng, who.size)
    when = tables.ts(today.offsets, today.uniform_times(rng, who.size)).render(0, who.size)
    rows = list(zip(tables.phone_texts(phone, accounts["region"][who]), when,
                    tables.ids("customers", accounts["id_num"][who]).render(0, who.size)))
    today.record_updates("customers", update_rows(today.con, contract.CUSTOMERS, ["phone", "updated_at"], rows))


def simulate_purchases(today: Day) -> tuple[simulate.Orders, simulate.Lines, simulate.Refunds]:
    """The day's purchases, and the orders, lines and (planned) refunds they make."""
    accounts, product_state = today.accounts, today.groups["prod"]
    who, when = simulate.run_process(today.streams["process"], accounts, today.t_hi)
    orders = simulate.make_orders(today.streams["orders"], accounts, who, when)
    # lines need only the prices and categories of the products
    products = simulate.Products(product_state["category"], np.zeros(0, dtype=object), product_state["base_price"],
                                 np.zeros(0), np.zeros(0), product_state["by_price"])
    lines = simulate.make_lines(today.streams["lines"], accounts, orders, products, today.scalars["t0"],
                                commerce.START_RATES)
    return orders, lines, simulate.plan_refunds(today.streams["refunds"], orders, lines)


def complete_pending_orders(today: Day, orders: simulate.Orders, order_ids: np.ndarray, done: np.ndarray) -> None:
    """Earlier orders reaching their final status today are updated; today's later ones wait."""
    pending = today.groups["pend_order"]
    due = np.flatnonzero(pending["transition"] < today.t_hi)
    due = due[np.lexsort((pending["id_num"][due], pending["transition"][due]))]
    status = cat_col(pending["final"][due], catalog.ORDER_STATUSES).render(0, due.size)
    when = tables.ts(today.offsets, pending["transition"][due]).render(0, due.size)
    key = tables.ids("orders", pending["id_num"][due]).render(0, due.size)
    today.record_updates("orders", update_rows(today.con, contract.ORDERS, ["status", "updated_at"],
                                               list(zip(status, when, key))))
    completed = due[pending["final"][due] == simulate.STATUS_COMPLETED]
    commerce.mark_completed(today.accounts, pending["acct"][completed], pending["transition"][completed],
                            pending["ordered"][completed])
    keep = np.setdiff1d(np.arange(pending["id_num"].size), due)
    later = commerce.still_pending(orders, order_ids, done)
    today.groups["pend_order"] = {name: np.concatenate([pending[name][keep], later[name]]) for name in later}
    today.groups["pend_order"]["final"] = today.groups["pend_order"]["final"].astype(np.int8)


def insert_refunds(today: Day, refunds: simulate.Refunds, line_ids: np.ndarray) -> None:
    """Refunds due today, planned earlier or today; later ones wait."""
    pending = today.groups["pend_refund"]
    planned = {
        "line_id": np.concatenate([pending["line_id"], line_ids[refunds.line]]),
        "time": np.concatenate([pending["time"], refunds.time]),
        "quantity": np.concatenate([pending["quantity"], refunds.quantity]),
        "amount": np.concatenate([pending["amount"], refunds.amount]),
    }
    due = planned["time"] < today.t_hi
    today.groups["pend_refund"] = {name: values[~due] for name, values in planned.items()}
    due = np.flatnonzero(due)
    due = due[np.lexsort((planned["line_id"][due], planned["time"][due]))]
    commerce.insert_refunds(today, planned["line_id"][due], planned["time"][due], planned["quantity"][due],
                            planned["amount"][due])


def insert_fx_rates(today: Day) -> None:
    """One more step of every rate's random walk; weekday-only currencies skip weekends."""
    steps = today.streams["fx"].normal(0.0, catalog.FX_DAILY_VOLATILITY, len(catalog.CURRENCIES))
    steps[0] = 0.0  # the base currency stays at 1
    levels = np.array(today.scalars["fx_levels"]) + steps
    today.scalars["fx_levels"] = levels.tolist()
    publish = np.flatnonzero(commerce.PUBLISHES_DAILY | (not commerce.weekend(today.day)))
    rates = commerce.fx_table(publish, np.full(publish.size, today.day), np.exp(levels[publish]))
    today.added["fx_rates"] += insert_table(today.con, contract.FX_RATES, rates)
    record_table(today.manifest, "fx_rates", contract.FX_RATES.raw_table, len(rates), [])


# --------------------------------------------------------------------------- landing files


def update_crm(today: Day) -> dict:
    """Some of today's accounts enrol; some records are re-surveyed or soft-deleted. Returns the versions."""
    rng, accounts, records = today.streams["crm"], today.accounts, today.groups["crm"]
    enrolled = today.new_accounts[rng.random(today.new_accounts.size) < landing.CRM_SHARE]
    created = accounts["created"][enrolled]
    enrolled_at = created + (rng.random(enrolled.size) * (today.t_hi - created)).astype(np.int64)
    fresh = landing.crm_records(rng, accounts, enrolled, today.t_lo, today.t_hi, enrol_at=enrolled_at)
    first_new = records["acct"].size
    records = landing.concat("crm", records, fresh)
    earlier = np.flatnonzero(~records["deleted"][:first_new] & (records["updated"][:first_new] < today.t_lo))
    changed = sample(rng, earlier, rng.poisson(today.rates["crm_updates"]))
    versions = landing.concat_versions("crm", [
        landing.versions_of(records, np.arange(first_new, records["acct"].size)),
        landing.crm_changes(rng, accounts, records, changed, today.uniform_times(rng, changed.size), 0.15),
    ])
    today.groups["crm"] = landing.apply_versions(records, versions)
    return versions


def update_referrals(today: Day) -> dict:
    """Sign-ups of today's invited accounts, rewards after a first completed order, new invites.
    Returns the versions."""
    rng, accounts, referrals, next_ids = today.streams["referrals"], today.accounts, today.groups["ref"], today.next_ids
    signed = np.flatnonzero(today.invite_of >= 0)
    rows = today.invite_of[signed]
    referrals["referee"][rows] = today.new_accounts[signed]
    parts = [landing.versions_of(referrals, rows, {"status": np.ones(rows.size, dtype=np.int8),
                                                   "updated": accounts["created"][today.new_accounts[signed]]})]
    first_completed = accounts["first_completed"][np.maximum(referrals["referee"], 0)]
    due = np.flatnonzero((referrals["status"] == 1) & (referrals["referee"] >= 0) & (first_completed >= 0)
                         & (first_completed < today.t_lo))
    parts.append(landing.versions_of(referrals, due, {
        "status": np.full(due.size, 2, dtype=np.int8),
        "reward": landing.reward_amounts(rng, accounts["ctype"][referrals["referrer"][due]]),
        "updated": today.uniform_times(rng, due.size),
    }))
    senders = np.flatnonzero(~accounts["is_dup"] & (accounts["first_completed"] >= 0)
                             & (accounts["first_completed"] < today.t_lo))
    n_invites = min(int(rng.poisson(today.rates["invites"])), senders.size)
    sender = rng.choice(senders, n_invites) if n_invites else np.zeros(0, dtype=np.int64)
    referred = np.sort(today.uniform_times(rng, n_invites))
    first_row = referrals["id_num"].size
    # an invite goes to a new person's address
    invites = {
        "id_num": np.arange(next_ids["referrals"], next_ids["referrals"] + n_invites), "referrer": sender,
        "referee": np.full(n_invites, -1), "e_first": rng.integers(0, len(catalog.FIRST_NAMES), n_invites),
        "e_last": rng.integers(0, len(catalog.LAST_NAMES), n_invites),
        "e_num": np.arange(today.next_person, today.next_person + n_invites),
        "e_domain": rng.integers(0, len(catalog.EMAIL_DOMAINS), n_invites),
        "e_variant": np.full(n_invites, simulate.EMAIL_LOWER), "status": np.zeros(n_invites),
        "reward": np.full(n_invites, np.nan), "referred": referred, "updated": referred,
        "self_ref": np.zeros(n_invites, dtype=bool),
    }
    next_ids["referrals"] += n_invites
    today.next_person += n_invites
    referrals = landing.concat("referrals", referrals, invites)
    parts.append(landing.versions_of(referrals, np.arange(first_row, referrals["id_num"].size)))
    versions = landing.concat_versions("referrals", parts)
    today.groups["ref"] = landing.apply_versions(referrals, versions)
    return versions


def update_reviews(today: Day) -> dict:
    """Customers who bought in the last two weeks post; a few old reviews are edited. Returns the versions."""
    rng, reviews = today.streams["reviews"], today.groups["rev"]
    authors = _recent_buyers(today, rng, 14, today.rates["reviews"])
    first_row = reviews["acct"].size
    fresh = landing.new_reviews(rng, authors, np.sort(today.uniform_times(rng, authors.size)))
    fresh["id_num"] = _new_ids(today, "reviews", authors.size)
    edited = sample(rng, np.flatnonzero(reviews["updated"] < today.t_lo), rng.poisson(today.rates["review_edits"]))
    reviews = landing.concat("reviews", reviews, fresh)
    versions = landing.concat_versions("reviews", [
        landing.versions_of(reviews, np.arange(first_row, reviews["acct"].size)),
        landing.review_edits(rng, reviews, edited, today.uniform_times(rng, edited.size)),
    ])
    today.groups["rev"] = landing.apply_versions(reviews, versions)
    return versions


def update_feedback(today: Day) -> dict:
    """Customers who bought in the last 30 days answer; some earlier feedback gets a follow-up.
    Returns the versions."""
    rng, feedback = today.streams["feedback"], today.groups["fb"]
    authors = _recent_buyers(today, rng, 30, today.rates["feedback"])
    first_row = feedback["acct"].size
    fresh = landing.new_feedback(rng, authors, np.sort(today.uniform_times(rng, authors.size)))
    fresh["id_num"] = _new_ids(today, "feedback", authors.size)
    followed = sample(rng, np.flatnonzero(feedback["updated"] < today.t_lo),
                      rng.poisson(today.rates["feedback_follow_ups"]))
    feedback = landing.concat("feedback", feedback, fresh)
    versions = landing.concat_versions("feedback", [
        landing.versions_of(feedback, np.arange(first_row, feedback["acct"].size)),
        landing.feedback_follow_ups(rng, feedback, followed, today.uniform_times(rng, followed.size)),
    ])
    today.groups["fb"] = landing.apply_versions(feedback, versions)
    return versions


def _recent_buyers(today: Day, rng: np.random.Generator, days: int, rate: float) -> np.ndarray:
    """About `rate` accounts whose latest completed order falls in the `days` before today."""
    last = today.accounts["last_completed_order"]
    recent = np.flatnonzero((last >= today.t_lo - days * DAY) & (last < today.t_lo))
    return sample(rng, recent, rng.poisson(rate))


def _new_ids(today: Day, kind: str, n: int) -> np.ndarray:
    first = today.next_ids[kind]
    today.next_ids[kind] = first + n
    return np.arange(first, first + n)


def write_drop(today: Day, kind: str, versions: dict) -> None:
    """Today's file of `kind`: its new versions, in time order, with bad rows mixed in."""
    if versions["row"].size == 0:
        # nothing changed: the export re-sends one record as it is (an empty file is not an export)
        records = today.groups[files.STATE_GROUPS[kind]]
        if records["updated"].size == 0:
            return
        row = np.array([int(today.streams[kind].integers(0, records["updated"].size))])
        versions = landing.versions_of(records, row)
    versions = take(versions, np.lexsort((versions["row"], versions["updated"])))
    valid = tables.FILE_TABLES[kind](today.offsets, versions, today.accounts["id_num"])
    counts = today.bad_counts(files.FILE_ENTITIES[kind], len(valid))
    bad, faults, _ = files.bad_rows(today, kind, valid, counts)
    files.write(today, kind, today.day, files.mix_in(today.faults, valid, bad), faults)
