"""Deliberately bad rows, each breaking the contract in exactly one known way.

A bad row is a copy of a plausible row (so that everything else about it is valid)
with one cell overridden: the key missing, a number or timestamp that can't be parsed,
a value outside its domain, an unknown currency, or a reference to nothing. Bad rows
are leaves: nothing valid ever references them. Their counts per entity, reason and
column go into the manifest, so tests of the extraction can assert quarantine counts.
"""

from __future__ import annotations

import numpy as np

from .catalog import CURRENCY_CODES
from .columns import Table, format_timestamps, iso_date
from .tables import ID_FORMATS

BAD_SHARE = 0.002  # of the rows of every entity

MISSING_KEY = "missing_key"
UNPARSEABLE_NUMBER = "unparseable_number"
UNPARSEABLE_TIMESTAMP = "unparseable_timestamp"
UNPARSEABLE_DATE = "unparseable_date"
OUT_OF_DOMAIN = "out_of_domain"
UNKNOWN_CURRENCY = "unknown_currency"
REFERENCE_TO_NOTHING = "reference_to_nothing"
REASONS = (MISSING_KEY, UNPARSEABLE_NUMBER, UNPARSEABLE_TIMESTAMP, UNPARSEABLE_DATE, OUT_OF_DOMAIN,
           UNKNOWN_CURRENCY, REFERENCE_TO_NOTHING)

# entity (raw table name) -> reason -> the column(s) it breaks (alternating when several)
FAULTS: dict[str, dict[str, tuple[str, ...]]] = {
    "commerce_customers": {
        MISSING_KEY: ("customer_id",),
        UNPARSEABLE_TIMESTAMP: ("created_at",),
        OUT_OF_DOMAIN: ("customer_type",),
    },
    "commerce_products": {
        MISSING_KEY: ("product_id",),
        UNPARSEABLE_NUMBER: ("unit_cost",),
        OUT_OF_DOMAIN: ("unit_cost",),
    },
    "commerce_fx_rates": {
        MISSING_KEY: ("currency",),
        UNPARSEABLE_NUMBER: ("rate_to_base",),
        UNPARSEABLE_DATE: ("rate_date",),
        OUT_OF_DOMAIN: ("rate_to_base",),
    },
    "commerce_orders": {
        MISSING_KEY: ("order_id",),
        UNPARSEABLE_TIMESTAMP: ("ordered_at",),
        OUT_OF_DOMAIN: ("status", "channel"),
        UNKNOWN_CURRENCY: ("currency",),
        REFERENCE_TO_NOTHING: ("customer_id",),
    },
    "commerce_order_lines": {
        MISSING_KEY: ("order_line_id",),
        UNPARSEABLE_NUMBER: ("unit_price", "quantity"),
        OUT_OF_DOMAIN: ("quantity", "discount_amount"),
        REFERENCE_TO_NOTHING: ("order_id", "product_id"),
    },
    "commerce_refunds": {
        MISSING_KEY: ("refund_id",),
        UNPARSEABLE_NUMBER: ("amount",),
        UNPARSEABLE_TIMESTAMP: ("refunded_at",),
        OUT_OF_DOMAIN: ("amount", "quantity"),
        REFERENCE_TO_NOTHING: ("order_line_id",),
    },
    "crm_accounts": {
        MISSING_KEY: ("customer_id",),
        UNPARSEABLE_NUMBER: ("declared_category_spend",),
        UNPARSEABLE_TIMESTAMP: ("updated_at",),
        OUT_OF_DOMAIN: ("third_party_wallet_estimate",),
        REFERENCE_TO_NOTHING: ("customer_id",),
    },
    "referrals_referrals": {
        MISSING_KEY: ("referral_id",),
        UNPARSEABLE_NUMBER: ("reward_amount",),
        UNPARSEABLE_TIMESTAMP: ("referred_at",),
        OUT_OF_DOMAIN: ("status",),
        REFERENCE_TO_NOTHING: ("referrer_customer_id",),
    },
    "voice_reviews": {
        MISSING_KEY: ("review_id",),
        UNPARSEABLE_NUMBER: ("rating",),
        UNPARSEABLE_TIMESTAMP: ("posted_at",),
        OUT_OF_DOMAIN: ("rating",),
        REFERENCE_TO_NOTHING: ("customer_id",),
    },
    "voice_feedback": {
        MISSING_KEY: ("feedback_id",),
        UNPARSEABLE_NUMBER: ("csat", "nps"),
        UNPARSEABLE_TIMESTAMP: ("submitted_at",),
        OUT_OF_DOMAIN: ("kind", "nps", "csat"),
        REFERENCE_TO_NOTHING: ("customer_id",),
    },
}

# values outside each column's domain
OUT_OF_DOMAIN_TEXT = {
    "customer_type": ("vip", "Consumer", "reseller"),
    "status": ("shipped", "on_hold", "refunded"),
    "channel": ("mail", "marketplace"),
    "kind": ("praise", "question"),
}
OUT_OF_DOMAIN_INT = {
    "quantity": (0, -1, -2),
    "commerce_refunds.quantity": (-1, -2),  # a refund may return 0 units (money only)
    "rating": (7, 0, 6),
    "nps": (11, -1),
    "csat": (0, 6),
}
NEGATIVE_NUMBERS = ("unit_cost", "rate_to_base", "discount_amount", "amount", "third_party_wallet_estimate")
UNKNOWN_CURRENCIES = ("JPY", "CHF", "XBT", "EURO")
# the entity a reference column points to (a ghost id is one of its ids with one more digit)
REFERENCED = {"customer_id": "customers", "referrer_customer_id": "customers", "order_id": "orders",
              "product_id": "products", "order_line_id": "order_lines"}
INTEGER_COLUMNS = ("quantity", "rating", "csat", "nps")


def planned_counts(entity: str, n_valid: int, rng: np.random.Generator | None = None) -> dict[str, int]:
    """Bad rows per reason: BAD_SHARE of the rows, at least one per reason (initial generation),
    or a Poisson draw around BAD_SHARE (appended days, when `rng` is given)."""
    reasons = FAULTS[entity]
    per_reason = BAD_SHARE * n_valid / len(reasons)
    if rng is None:
        return {r: max(1, round(per_reason)) for r in reasons}
    return {r: int(rng.poisson(per_reason)) for r in reasons}


def _number_text(rng, value: float) -> str:
    variants = (
        lambda v: f"{v:.2f}".replace(".", ","),
        lambda v: f"{v:.2f}x",
        lambda v: "N/A",
        lambda v: f"€{v:.2f}",
        lambda v: f"{v:.1f}.0.1",
    )
    return variants[int(rng.integers(0, len(variants)))](value)


def _integer_text(rng, value: int) -> str:
    variants = (lambda v: f"{v}.5", lambda v: ("zero", "one", "two", "three", "four", "five", "six")[v % 7],
                lambda v: "N/A", lambda v: f"{v}x")
    return variants[int(rng.integers(0, len(variants)))](int(value))


def _timestamp_text(rng, iso: str) -> str:
    y, mo, d, hh, mi, ss = iso[0:4], iso[5:7], iso[8:10], iso[11:13], iso[14:16], iso[17:19]
    variants = (
        f"{y}-02-30T{hh}:{mi}:{ss}",
        f"{d}/{mo}/{y} {hh}:{mi}",
        f"{y}-13-{d}T{hh}:{mi}:{ss}",
        f"{y}-{mo}-{d}T{int(hh) + 24}:{mi}:{ss}",
        f"{mo}/{d}/{y} {hh}:{mi} PM",
    )
    return variants[int(rng.integers(0, len(variants)))]


def _ghost(rng, column: str) -> str:
    prefix, width = ID_FORMATS[REFERENCED[column]]
    return f"{prefix}9{int(rng.integers(0, 10**width)):0{width}d}"


def corrupt(rng: np.random.Generator, entity: str, host: Table, counts: dict[str, int], *,
            file_nulls: bool = False) -> tuple[Table, list[tuple[str, str]], np.ndarray]:
    """Bad copies of random `host` rows, one cell broken per row as `counts` asks.

    Returns the bad rows (key column as in host: the caller assigns keys), the (reason,
    column) of each bad row and its host row. `file_nulls`: a missing key is null or ""
    alternately.
    """
    plan = FAULTS[entity]
    total = sum(counts.values())
    if total == 0 or len(host) == 0:
        return host.take(np.zeros(0, dtype=np.int64)), [], np.zeros(0, dtype=np.int64)
    # distinct hosts while possible, so that no two bad rows are identical
    replace = total > len(host)
    picks = rng.choice(len(host), total, replace=replace)
    bad = host.take(picks)
    bad.overrides = {}
    faults: list[tuple[str, str]] = []
    row = 0
    for reason, count in counts.items():
        columns = plan[reason]
        for i in range(count):
            column = columns[i % len(columns)]
            faults.append((reason, column))
            bad.overrides.setdefault(column, {})[row] = _bad_value(rng, entity, reason, column, bad, row, i,
                                                                   file_nulls)
            row += 1
    return bad, faults, picks


def _bad_value(rng, entity, reason, column, bad: Table, row: int, i: int, file_nulls: bool):
    col = bad.columns[column]
    if reason == MISSING_KEY:
        return "" if (file_nulls and i % 2 == 1) else None
    if reason == REFERENCE_TO_NOTHING:
        return _ghost(rng, column)
    if reason == UNKNOWN_CURRENCY:
        return UNKNOWN_CURRENCIES[i % len(UNKNOWN_CURRENCIES)]
    if reason == UNPARSEABLE_TIMESTAMP:
        iso = format_timestamps(col.data[0][row:row + 1])[0]
        return _timestamp_text(rng, iso)
    if reason == UNPARSEABLE_NUMBER:
        value = col.data[0][row]
        if column in INTEGER_COLUMNS:
            return _integer_text(rng, int(value) if value >= 0 else 3)
        value = float(value)
        if np.isnan(value):
            value = float(rng.uniform(5, 500))
        return _number_text(rng, value)
    if reason == OUT_OF_DOMAIN:
        if column in OUT_OF_DOMAIN_TEXT:
            choices = OUT_OF_DOMAIN_TEXT[column]
            return choices[i % len(choices)]
        if column in OUT_OF_DOMAIN_INT:
            choices = OUT_OF_DOMAIN_INT.get(f"{entity}.{column}", OUT_OF_DOMAIN_INT[column])
            return choices[i % len(choices)]
        if column in NEGATIVE_NUMBERS:
            value = float(col.data[0][row])
            if np.isnan(value) or value <= 0:
                value = float(rng.uniform(0.5, 20))
            return 0.0 if (column in ("amount", "rate_to_base") and i % 2 == 1) else -round(value, 2)
    raise ValueError(f"no bad value for {reason} in {column}")


def fx_bad_rows(rng: np.random.Generator, counts: dict[str, int], gap_days: dict[int, np.ndarray],
                rate_of) -> tuple[list[tuple], list[tuple[str, str]]]:
    """Bad fx rows as ready tuples (currency, rate_date, rate_to_base), each with a unique key:
    values for weekend dates on which weekday-only currencies publish nothing.

    gap_days: currency index -> days (ordinals) without a rate; rate_of(currency, day) -> a
    plausible rate.
    """
    slots = [(c, int(d)) for c, days in sorted(gap_days.items()) for d in days]
    need = sum(counts.values())
    if need == 0 or not slots:
        return [], []
    picks = rng.choice(len(slots), min(need, len(slots)), replace=False)
    chosen = [slots[i] for i in np.sort(picks)]
    rows: list[tuple] = []
    faults: list[tuple[str, str]] = []
    k = 0
    for reason, count in counts.items():
        column = FAULTS["commerce_fx_rates"][reason][0]
        for i in range(count):
            if k >= len(chosen):
                break
            c, day = chosen[k]
            k += 1
            code = CURRENCY_CODES[c]
            iso = iso_date(day)
            rate = round(float(rate_of(c, day)), 6)
            if reason == MISSING_KEY:
                row = (None, iso, rate)
            elif reason == UNPARSEABLE_NUMBER:
                row = (code, iso, f"{rate:.4f}".replace(".", ","))
            elif reason == UNPARSEABLE_DATE:
                y, mo, d = iso[0:4], iso[5:7], iso[8:10]
                row = (code, (f"{d}/{mo}/{y}", f"{d}.{mo}.{y}", f"{y}{mo}{d}x")[i % 3], rate)
            else:
                row = (code, iso, (0.0, -rate)[i % 2])
            rows.append(row)
            faults.append((reason, column))
    return rows, faults
