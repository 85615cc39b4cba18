"""Simulation arrays -> contract-shaped `Table`s (columns exactly as contract.py declares them).

Key columns start as placeholders (-1); `number()` interleaves valid and bad rows in
creation order and assigns the text ids (`C0000123`, `O00001234`, ...).
"""

from __future__ import annotations

import numpy as np

from . import catalog
from .columns import Table, bool_col, cat_col, id_col, int_col, money_col, obj_col, ts_col
from .simulate import (
    EMAIL_EMPTY, EMAIL_LOWER, EMAIL_NULL, EMAIL_PADDED, EMAIL_PADDED_TITLE, EMAIL_TITLE, EMAIL_UPPER, Lines, Orders,
    Products,
)

# entity -> (id prefix, digits)
ID_FORMATS = {
    "customers": ("C", 7), "products": ("P", 4), "orders": ("O", 8), "order_lines": ("L", 9),
    "refunds": ("R", 8), "referrals": ("REF", 7), "reviews": ("REV", 7), "feedback": ("FB", 7),
}


def ids(entity: str, nums) -> object:
    prefix, width = ID_FORMATS[entity]
    return id_col(prefix, width, nums)


def placeholder(entity: str, n: int):
    return ids(entity, np.full(n, -1, dtype=np.int64))


def offsets(rng: np.random.Generator, n: int) -> np.ndarray:
    """Which timestamp values carry an explicit offset (code k > 0 = catalog.TS_OFFSETS[k-1])."""
    flagged = rng.random(n) < catalog.TS_OFFSET_SHARE
    return np.where(flagged, rng.integers(1, len(catalog.TS_OFFSETS) + 1, n), 0).astype(np.int8)


def ts(rng, secs):
    secs = np.asarray(secs, dtype=np.int64)
    return ts_col(secs, offsets(rng, secs.size))


def email_texts(first, last, num, domain, variant) -> list:
    out = []
    for f, l_, n, d, v in zip(first.tolist(), last.tolist(), num.tolist(), domain.tolist(), variant.tolist()):
        if v == EMAIL_NULL:
            out.append(None)
            continue
        if v == EMAIL_EMPTY:
            out.append("")
            continue
        title = f"{catalog.FIRST_NAMES[f]}.{catalog.LAST_NAMES[l_]}{n}@{catalog.EMAIL_DOMAINS[d].capitalize()}"
        if v == EMAIL_LOWER:
            out.append(title.lower())
        elif v == EMAIL_TITLE:
            out.append(title)
        elif v == EMAIL_UPPER:
            out.append(title.upper())
        elif v == EMAIL_PADDED:
            out.append("  " + title.lower() + " ")
        elif v == EMAIL_PADDED_TITLE:
            out.append(" " + title + "  ")
        else:
            raise ValueError(v)
    return out


def phone_texts(phone, region) -> list:
    out = []
    for p, r in zip(phone.tolist(), region.tolist()):
        if p < 0:
            out.append(None)
        else:
            d = str(p)
            out.append(f"+{catalog.REGION_PHONE_CODE[r]} {d[:3]} {d[3:6]} {d[6:]}")
    return out


def customers_table(rng, accounts: dict, updated: np.ndarray) -> Table:
    n = accounts["created"].size
    return Table("customers", {
        "customer_id": placeholder("customers", n),
        "email": obj_col(email_texts(accounts["first"], accounts["last"], accounts["person"], accounts["domain"],
                                     accounts["variant"])),
        "phone": obj_col(phone_texts(accounts["phone"], accounts["region"])),
        "first_name": cat_col(accounts["first"], catalog.FIRST_NAMES),
        "last_name": cat_col(accounts["last"], catalog.LAST_NAMES),
        "customer_type": cat_col(accounts["ctype"], catalog.CUSTOMER_TYPES),
        "region": cat_col(accounts["region"], catalog.REGION_NAMES),
        "created_at": ts(rng, accounts["created"]),
        "updated_at": ts(rng, updated),
    })


def products_table(rng, products: Products) -> Table:
    n = products.base_price.size
    return Table("products", {
        "product_id": placeholder("products", n),
        "name": obj_col(products.name.tolist()),
        "category": cat_col(products.category, [c[0] for c in catalog.CATEGORIES]),
        "unit_cost": money_col(products.unit_cost),
        "updated_at": ts(rng, products.created),
    })


def orders_table(rng, orders: Orders, customer_ids: np.ndarray, status: np.ndarray, updated: np.ndarray) -> Table:
    return Table("orders", {
        "order_id": placeholder("orders", orders.acct.size),
        "customer_id": ids("customers", customer_ids[orders.acct]),
        "ordered_at": ts(rng, orders.ordered_at),
        "status": cat_col(status, catalog.ORDER_STATUSES),
        "channel": cat_col(orders.channel, catalog.CHANNELS),
        "currency": cat_col(orders.currency, catalog.CURRENCY_CODES),
        "updated_at": ts(rng, updated),
    })


def lines_table(rng, lines: Lines, order_ids: np.ndarray, product_ids: np.ndarray,
                ordered_at: np.ndarray) -> Table:
    return Table("order_lines", {
        "order_line_id": placeholder("order_lines", lines.order.size),
        "order_id": ids("orders", order_ids[lines.order]),
        "product_id": ids("products", product_ids[lines.product]),
        "quantity": int_col(lines.quantity),
        "unit_price": money_col(lines.unit_price),
        "discount_amount": money_col(lines.discount),
        "updated_at": ts(rng, ordered_at[lines.order]),
    })


def refunds_table(rng, line_ids: np.ndarray, time: np.ndarray, quantity: np.ndarray, amount: np.ndarray) -> Table:
    return Table("refunds", {
        "refund_id": placeholder("refunds", time.size),
        "order_line_id": ids("order_lines", line_ids),
        "refunded_at": ts(rng, time),
        "quantity": int_col(quantity),
        "amount": money_col(amount),
        "updated_at": ts(rng, time),
    })


# --------------------------------------------------------------------------- file drops


def crm_table(rng, versions: dict, customer_ids: np.ndarray) -> Table:
    return Table("accounts", {
        "customer_id": ids("customers", customer_ids[versions["acct"]]),
        "lifestage": cat_col(versions["life"], catalog.LIFESTAGES),
        "declared_category_spend": money_col(versions["declared"]),
        "third_party_wallet_estimate": money_col(versions["third"]),
        "updated_at": ts(rng, versions["updated"]),
        "is_deleted": bool_col(versions["deleted"]),
    })


def referrals_table(rng, versions: dict, customer_ids: np.ndarray) -> Table:
    referee = versions["referee"]
    return Table("referrals", {
        "referral_id": ids("referrals", versions["id_num"]),
        "referrer_customer_id": ids("customers", customer_ids[versions["referrer"]]),
        "referee_email": obj_col(email_texts(versions["e_first"], versions["e_last"], versions["e_num"],
                                             versions["e_domain"], versions["e_variant"])),
        "referee_customer_id": ids("customers", np.where(referee >= 0, customer_ids[np.maximum(referee, 0)], -1)),
        "referred_at": ts(rng, versions["referred"]),
        "status": cat_col(versions["status"], catalog.REFERRAL_STATUSES),
        "reward_amount": money_col(versions["reward"]),
        "updated_at": ts(rng, versions["updated"]),
    })


def reviews_table(rng, versions: dict, customer_ids: np.ndarray) -> Table:
    return Table("reviews", {
        "review_id": ids("reviews", versions["id_num"]),
        "customer_id": ids("customers", customer_ids[versions["acct"]]),
        "rating": int_col(versions["rating"]),
        "posted_at": ts(rng, versions["posted"]),
        "platform": cat_col(versions["platform"], catalog.REVIEW_PLATFORMS),
        "updated_at": ts(rng, versions["updated"]),
    })


def feedback_table(rng, versions: dict, customer_ids: np.ndarray) -> Table:
    return Table("feedback", {
        "feedback_id": ids("feedback", versions["id_num"]),
        "customer_id": ids("customers", customer_ids[versions["acct"]]),
        "submitted_at": ts(rng, versions["submitted"]),
        "kind": cat_col(versions["kind"], catalog.FEEDBACK_KINDS),
        "csat": int_col(versions["csat"], null=-1),
        "nps": int_col(versions["nps"], null=-1),
        "updated_at": ts(rng, versions["updated"]),
    })


FILE_TABLES = {"crm": crm_table, "referrals": referrals_table, "reviews": reviews_table, "feedback": feedback_table}


def interleave(valid: Table, valid_sort, bad: Table, bad_sort) -> tuple[Table, np.ndarray]:
    """Valid and bad rows in one table ordered by their sort keys (ties keep valid rows first);
    returns the table and, per row, its position in valid + bad."""
    table = valid.concat(bad) if len(bad) else valid
    sort = np.concatenate([np.asarray(valid_sort, dtype=np.float64), np.asarray(bad_sort, dtype=np.float64)])
    order = np.argsort(sort, kind="stable")
    return table.take(order), order


def number(valid: Table, valid_sort: np.ndarray, bad: Table, bad_sort: np.ndarray, entity: str,
           first_id: int) -> tuple[Table, np.ndarray, int]:
    """Interleave valid and bad rows by `sort` (creation order) and give every row the next id.

    Returns (table in id order, the id numbers of the valid rows in their input order, next id).
    """
    n_valid = len(valid)
    table, order = interleave(valid, valid_sort, bad, bad_sort)
    n = len(table)
    key = next(iter(table.columns))
    table.columns[key] = ids(entity, np.arange(first_id, first_id + n, dtype=np.int64))
    rank = np.empty(n, dtype=np.int64)
    rank[order] = np.arange(n)
    return table, first_id + rank[:n_valid], first_id + n
