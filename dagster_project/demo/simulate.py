"""The commerce business: accounts, their BG/NBD-like purchase process, orders, lines, refunds.

All randomness comes from the numpy Generator handed in; everything is vectorised over
accounts and orders (the purchase process advances every still-active account by one
purchase per round).

The latent model (what a BG/NBD + Gamma-Gamma fit should recover, roughly):
- purchase rate per day λ ~ Gamma(shape R_SHAPE, rate ALPHA) (mean gap 1/E[λ] = MEAN_GAP_DAYS),
  clipped at LAMBDA_MAX;
- after every repeat purchase the account drops out with p ~ Beta(DROP_A, DROP_B);
- order value (USD) ~ Gamma(GG_P, rate ν), ν ~ Gamma(GG_Q, rate GG_GAMMA) per account,
  business accounts spending BUSINESS_SPEND_FACTOR times more.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from . import catalog
from .arrays import empty, take

DAY = 86_400
HOUR = 3_600

R_SHAPE = 0.35
MEAN_GAP_DAYS = 30.0
ALPHA = R_SHAPE * MEAN_GAP_DAYS
LAMBDA_MAX = 0.3
DROP_A, DROP_B = 0.8, 2.5
GG_P, GG_Q, GG_GAMMA = 4.0, 3.5, 43.75  # mean order value p·γ/(q−1) = 70 USD
BUSINESS_SPEND_FACTOR = 4.0

PROSPECT_SHARE = 0.10  # persons who open an account and never buy
DUPLICATE_SHARE = 0.025  # accounts that are a person's second account (same email)
PROFILE_UPDATE_SHARE = 0.15  # accounts whose row was updated after creation

# email variants (how the address is written on the account)
EMAIL_NULL, EMAIL_EMPTY, EMAIL_LOWER, EMAIL_TITLE, EMAIL_UPPER, EMAIL_PADDED, EMAIL_PADDED_TITLE = range(7)
PRIMARY_EMAIL_VARIANTS = np.array([EMAIL_NULL, EMAIL_EMPTY, EMAIL_LOWER, EMAIL_TITLE])
PRIMARY_EMAIL_WEIGHTS = np.array([0.016, 0.004, 0.96, 0.02])
DUPLICATE_EMAIL_VARIANTS = np.array([EMAIL_TITLE, EMAIL_UPPER, EMAIL_PADDED, EMAIL_PADDED_TITLE])

# order lifecycle
CANCEL_SHARE = 0.07
STUCK_PENDING_SHARE = 0.004
DELAYED_COMPLETION_SHARE = 0.7  # of web/phone orders: pending first, completed later
LINES_WEIGHTS = {0: np.array([0.40, 0.30, 0.18, 0.12]), 1: np.array([0.20, 0.30, 0.30, 0.20])}
MAX_QUANTITY = {0: 6, 1: 40}
DISCOUNT_SHARE = {0: 0.12, 1: 0.30}
DISCOUNT_RATES = np.array([0.05, 0.10, 0.15, 0.20, 0.25])
FOREIGN_WEB_USD_SHARE = 0.05
PRICE_INFLATION = 0.03  # list prices rise 3% a year

# refunds
REFUND_LINE_SHARE = 0.04
REFUND_KIND_WEIGHTS = np.array([0.5, 0.25, 0.25])  # full, partial, money-only
SECOND_REFUND_SHARE = 0.12

STATUS_COMPLETED, STATUS_CANCELLED, STATUS_PENDING = 0, 1, 2
NEVER = np.iinfo(np.int64).max // 2

ACCOUNT_FIELDS = {
    "id_num": np.int64, "created": np.int64, "person": np.int64, "is_dup": bool, "ctype": np.int8,
    "region": np.int8, "chan": np.int8, "first": np.int16, "last": np.int16, "domain": np.int8,
    "variant": np.int8, "phone": np.int64, "lam": np.float64, "p": np.float64, "nu": np.float64,
    "buyer": bool, "alive": bool, "next_time": np.int64, "n_purch": np.int32,
    "first_completed": np.int64, "last_completed_order": np.int64, "has_dup": bool,
}


def empty_accounts() -> dict[str, np.ndarray]:
    return empty(ACCOUNT_FIELDS)


def concat_accounts(a: dict, b: dict) -> dict:
    return {k: np.concatenate([a[k], b[k].astype(a[k].dtype)]) for k in ACCOUNT_FIELDS}


def phone_numbers(rng: np.random.Generator, n: int) -> np.ndarray:
    return rng.integers(2_000_000_000, 9_999_999_999, n, dtype=np.int64)


def _acquisition_lag(rng: np.random.Generator, n: int) -> np.ndarray:
    """Seconds from account creation to the first order: minutes for most, days for some."""
    quick = rng.random(n) < 0.45
    minutes = rng.uniform(60, 1800, n)
    days = np.minimum(rng.exponential(3 * DAY, n), 30 * DAY)
    return np.where(quick, minutes, days).astype(np.int64)


def new_persons(rng: np.random.Generator, n_buyers: int, n_prospects: int, t_lo: int, t_hi: int,
                first_person: int) -> dict[str, np.ndarray]:
    """Primary accounts of new persons, created uniformly in [t_lo, t_hi)."""
    n = n_buyers + n_prospects
    buyer = np.zeros(n, dtype=bool)
    buyer[:n_buyers] = True
    ctype = (rng.random(n) < catalog.BUSINESS_SHARE).astype(np.int8)
    region = rng.choice(len(catalog.REGIONS), n, p=catalog.REGION_WEIGHTS).astype(np.int8)
    chan = rng.choice(len(catalog.CHANNELS), n, p=catalog.CHANNEL_WEIGHTS).astype(np.int8)
    lam = np.minimum(rng.gamma(R_SHAPE, 1.0 / ALPHA, n), LAMBDA_MAX)
    lam = np.maximum(lam, 1e-5)
    p = rng.beta(DROP_A, DROP_B, n)
    nu = rng.gamma(GG_Q, 1.0 / GG_GAMMA, n)
    nu = np.where(ctype == 1, nu / BUSINESS_SPEND_FACTOR, nu)
    created = rng.integers(t_lo, t_hi, n, dtype=np.int64) if t_hi > t_lo else np.full(n, t_lo, dtype=np.int64)
    lag = _acquisition_lag(rng, n)
    has_phone = rng.random(n) < 0.85
    phone = np.where(has_phone, phone_numbers(rng, n), -1)
    return {
        "id_num": np.full(n, -1, dtype=np.int64),
        "created": created,
        "person": np.arange(first_person, first_person + n, dtype=np.int64),
        "is_dup": np.zeros(n, dtype=bool),
        "ctype": ctype,
        "region": region,
        "chan": chan,
        "first": rng.integers(0, len(catalog.FIRST_NAMES), n).astype(np.int16),
        "last": rng.integers(0, len(catalog.LAST_NAMES), n).astype(np.int16),
        "domain": rng.integers(0, len(catalog.EMAIL_DOMAINS), n).astype(np.int8),
        "variant": rng.choice(PRIMARY_EMAIL_VARIANTS, n, p=PRIMARY_EMAIL_WEIGHTS).astype(np.int8),
        "phone": phone,
        "lam": lam,
        "p": p,
        "nu": nu,
        "buyer": buyer,
        "alive": buyer.copy(),
        "next_time": np.where(buyer, created + lag, NEVER),
        "n_purch": np.zeros(n, dtype=np.int32),
        "first_completed": np.full(n, -1, dtype=np.int64),
        "last_completed_order": np.full(n, -1, dtype=np.int64),
        "has_dup": np.zeros(n, dtype=bool),
    }


def new_duplicates(rng: np.random.Generator, accounts: dict, n: int, t_lo: int, t_hi: int) -> dict[str, np.ndarray]:
    """Second accounts of existing persons: same email written differently, created later, buying too.

    Marks the chosen primaries `has_dup` in `accounts`.
    """
    eligible = np.flatnonzero(
        ~accounts["is_dup"] & ~accounts["has_dup"] & accounts["buyer"]
        & (accounts["variant"] >= EMAIL_LOWER) & (accounts["created"] < t_hi - 8 * DAY)
    )
    n = min(n, eligible.size)
    if n == 0:
        return empty_accounts()
    chosen = np.sort(rng.choice(eligible, n, replace=False))
    accounts["has_dup"][chosen] = True
    dup = take(accounts, chosen)
    lo = np.maximum(t_lo, dup["created"] + 7 * DAY)
    created = lo + (rng.random(n) * (t_hi - lo)).astype(np.int64)
    has_phone = rng.random(n) < 0.85
    dup.update(
        id_num=np.full(n, -1, dtype=np.int64),
        created=created,
        is_dup=np.ones(n, dtype=bool),
        has_dup=np.zeros(n, dtype=bool),
        chan=rng.choice(len(catalog.CHANNELS), n, p=catalog.CHANNEL_WEIGHTS).astype(np.int8),
        variant=rng.choice(DUPLICATE_EMAIL_VARIANTS, n).astype(np.int8),
        phone=np.where(has_phone, phone_numbers(rng, n), -1),
        buyer=np.ones(n, dtype=bool),
        alive=np.ones(n, dtype=bool),
        next_time=created + _acquisition_lag(rng, n),
        n_purch=np.zeros(n, dtype=np.int32),
        first_completed=np.full(n, -1, dtype=np.int64),
        last_completed_order=np.full(n, -1, dtype=np.int64),
    )
    return dup


def run_process(rng: np.random.Generator, accounts: dict, t_to: int) -> tuple[np.ndarray, np.ndarray]:
    """Advance every alive account's purchase process up to t_to (exclusive).

    Returns (account index, purchase time) of every purchase made; updates alive,
    next_time and n_purch in place. A purchase's successor is drawn right away, so an
    alive account always knows its next purchase time (possibly beyond t_to).
    """
    alive, next_time, n_purch = accounts["alive"], accounts["next_time"], accounts["n_purch"]
    lam, p = accounts["lam"], accounts["p"]
    active = np.flatnonzero(alive & (next_time < t_to))
    who, when = [], []
    while active.size:
        t = next_time[active]
        who.append(active)
        when.append(t)
        n_purch[active] += 1
        # BG/NBD: the account may drop out after each repeat purchase (never after the first)
        drop = (n_purch[active] >= 2) & (rng.random(active.size) < p[active])
        alive[active[drop]] = False
        keep = active[~drop]
        gap = rng.exponential(1.0, keep.size) * (DAY / lam[keep])
        next_time[keep] = t[~drop] + np.maximum(gap, 600).astype(np.int64)
        active = keep[next_time[keep] < t_to]
    if not who:
        return np.zeros(0, dtype=np.int64), np.zeros(0, dtype=np.int64)
    return np.concatenate(who), np.concatenate(when)


# --------------------------------------------------------------------------- products


@dataclass
class Products:
    category: np.ndarray  # code into catalog.CATEGORIES
    name: np.ndarray  # object array
    base_price: np.ndarray  # USD list price
    unit_cost: np.ndarray  # USD, 2 decimals
    created: np.ndarray  # updated_at of the row
    by_price: np.ndarray  # product indices sorted by base price


def make_products(rng: np.random.Generator, t0: int, t_end: int) -> Products:
    n = catalog.N_PRODUCTS
    category = np.arange(n) % len(catalog.CATEGORIES)
    rng.shuffle(category)
    median = np.array([c[1] for c in catalog.CATEGORIES])[category]
    base_price = np.round(median * rng.lognormal(0.0, 0.55, n), 2)
    base_price = np.maximum(base_price, 1.5)
    margin = rng.uniform(0.20, 0.60, n)
    unit_cost = np.maximum(np.round(base_price * (1 - margin), 2), 0.5)
    adjective = rng.integers(0, len(catalog.PRODUCT_ADJECTIVES), n)
    noun = rng.integers(0, 5, n)
    names = [
        f"{catalog.PRODUCT_ADJECTIVES[a]} {catalog.CATEGORIES[c][2][k]} {100 + i}"
        for i, (a, c, k) in enumerate(zip(adjective.tolist(), category.tolist(), noun.tolist()))
    ]
    created = t0 - rng.integers(30 * DAY, 400 * DAY, n)
    renamed = rng.random(n) < 0.08
    created = np.where(renamed, rng.integers(t0, max(t_end, t0 + 1), n), created)
    return Products(category, np.array(names, dtype=object), base_price, unit_cost, created,
                    np.argsort(base_price, kind="stable"))


def unit_prices(products: Products, product: np.ndarray, currency: np.ndarray, t: np.ndarray, t0: int,
                start_rates: np.ndarray) -> np.ndarray:
    """Local list price of `product` in `currency` at time t: the USD list price converted at the
    start of the history, raised yearly, ending in .99 above 3 units."""
    years = np.maximum((t - t0) // (365 * DAY), 0)
    x = products.base_price[product] / start_rates[currency] * (1 + PRICE_INFLATION) ** years
    return np.where(x >= 3, np.ceil(x) - 0.01, np.round(x, 2))


# --------------------------------------------------------------------------- orders


@dataclass
class Orders:
    acct: np.ndarray
    ordered_at: np.ndarray
    channel: np.ndarray
    currency: np.ndarray
    final_status: np.ndarray
    transition: np.ndarray  # when the final status is reached (NEVER for stuck pending)


@dataclass
class Lines:
    order: np.ndarray  # index into the Orders of the same call
    product: np.ndarray
    quantity: np.ndarray
    unit_price: np.ndarray
    discount: np.ndarray

    @property
    def revenue(self) -> np.ndarray:
        return self.quantity * self.unit_price - self.discount


@dataclass
class Refunds:
    line: np.ndarray  # index into the Lines of the same call
    time: np.ndarray
    quantity: np.ndarray
    amount: np.ndarray


def make_orders(rng: np.random.Generator, accounts: dict, who: np.ndarray, when: np.ndarray) -> Orders:
    order = np.lexsort((who, when))
    who, when = who[order], when[order]
    n = who.size
    preferred = accounts["chan"][who]
    channel = np.where(rng.random(n) < 0.75, preferred,
                       rng.choice(len(catalog.CHANNELS), n, p=catalog.CHANNEL_WEIGHTS)).astype(np.int8)
    currency = catalog.REGION_CURRENCY[accounts["region"][who]].astype(np.int8)
    web_usd = (channel == 1) & (currency != 0) & (rng.random(n) < FOREIGN_WEB_USD_SHARE)
    currency = np.where(web_usd, 0, currency).astype(np.int8)
    u = rng.random(n)
    final = np.where(u < CANCEL_SHARE, STATUS_CANCELLED,
                     np.where(u < CANCEL_SHARE + STUCK_PENDING_SHARE, STATUS_PENDING, STATUS_COMPLETED)).astype(np.int8)
    delayed = (channel != 0) & (rng.random(n) < DELAYED_COMPLETION_SHARE)
    completion = when + np.where(delayed, rng.uniform(0.2 * DAY, 4 * DAY, n), 0).astype(np.int64)
    cancellation = when + rng.uniform(0.05 * DAY, 2 * DAY, n).astype(np.int64)
    transition = np.where(final == STATUS_COMPLETED, completion,
                          np.where(final == STATUS_CANCELLED, cancellation, NEVER))
    return Orders(who, when, channel, currency, final, transition)


def make_lines(rng: np.random.Generator, accounts: dict, orders: Orders, products: Products, t0: int,
               start_rates: np.ndarray) -> Lines:
    n = orders.acct.size
    ctype = accounts["ctype"][orders.acct]
    k = np.where(ctype == 1,
                 rng.choice(4, n, p=LINES_WEIGHTS[1]),
                 rng.choice(4, n, p=LINES_WEIGHTS[0])) + 1
    value = rng.gamma(GG_P, 1.0, n) / accounts["nu"][orders.acct]  # order value, USD
    line_order = np.repeat(np.arange(n), k)
    m = line_order.size
    weight = rng.gamma(2.0, 1.0, m)
    total = np.bincount(line_order, weights=weight, minlength=n)
    target = value[line_order] * weight / total[line_order]  # USD per line
    sorted_prices = products.base_price[products.by_price]
    j = np.searchsorted(sorted_prices, target * rng.uniform(0.3, 1.0, m)) - 1
    j = np.clip(j + rng.integers(-8, 9, m), 0, sorted_prices.size - 1)
    product = products.by_price[j]
    line_ctype = ctype[line_order]
    qmax = np.where(line_ctype == 1, MAX_QUANTITY[1], MAX_QUANTITY[0])
    quantity = np.clip(np.rint(target / products.base_price[product]), 1, qmax).astype(np.int64)
    currency = orders.currency[line_order]
    unit_price = unit_prices(products, product, currency, orders.ordered_at[line_order], t0, start_rates)
    share = np.where(line_ctype == 1, DISCOUNT_SHARE[1], DISCOUNT_SHARE[0])
    discounted = rng.random(m) < share
    rate = DISCOUNT_RATES[rng.integers(0, DISCOUNT_RATES.size, m)]
    discount = np.where(discounted, np.round(quantity * unit_price * rate, 2), 0.0)
    return Lines(line_order, product, quantity, unit_price, discount)


def plan_refunds(rng: np.random.Generator, orders: Orders, lines: Lines) -> Refunds:
    """Refunds of lines of completed orders: full, partial (fewer units) or money-only."""
    completed = orders.final_status[lines.order] == STATUS_COMPLETED
    chosen = np.flatnonzero(completed & (rng.random(lines.order.size) < REFUND_LINE_SHARE))
    n = chosen.size
    qty = lines.quantity[chosen]
    revenue = np.round(lines.revenue[chosen], 2)
    kind = rng.choice(3, n, p=REFUND_KIND_WEIGHTS)
    kind = np.where((kind == 1) & (qty < 2), 0, kind)
    partial_units = np.minimum(1 + (rng.random(n) * np.maximum(qty - 1, 1)).astype(np.int64), np.maximum(qty - 1, 1))
    rq = np.where(kind == 0, qty, np.where(kind == 1, partial_units, 0))
    amount = np.where(kind == 0, revenue,
                      np.where(kind == 1, np.round(revenue * rq / qty, 2),
                               np.round(revenue * rng.uniform(0.1, 0.5, n), 2)))
    amount = np.clip(amount, 0.01, revenue)
    ordered = orders.ordered_at[lines.order[chosen]]
    done = orders.transition[lines.order[chosen]]
    time = np.maximum(ordered + rng.uniform(1 * DAY, 40 * DAY, n).astype(np.int64), done + HOUR)
    # a second, money-only refund on some partial or money-only refunds
    second = np.flatnonzero((kind != 0) & (rng.random(n) < SECOND_REFUND_SHARE))
    rest = revenue[second] - amount[second]
    amount2 = np.round(rest * rng.uniform(0.1, 0.6, second.size), 2)
    ok = amount2 >= 0.01
    second, amount2 = second[ok], amount2[ok]
    # within 40 days of the order, and after the first refund
    time2 = np.minimum(time[second] + rng.uniform(1 * DAY, 20 * DAY, second.size).astype(np.int64),
                       ordered[second] + 40 * DAY)
    ok = time2 > time[second]
    second, amount2, time2 = second[ok], amount2[ok], time2[ok]
    return Refunds(
        line=np.concatenate([chosen, chosen[second]]),
        time=np.concatenate([time, time2]),
        quantity=np.concatenate([rq, np.zeros(second.size, dtype=np.int64)]),
        amount=np.concatenate([amount, amount2]),
    )
