"""Recency/frequency/monetary inputs of the CLV models: validation, compression, summaries.

Conventions (the BG/NBD paper's, Fader, Hardie & Lee 2005):

* ``x``   - number of *repeat* purchases: distinct purchase days after the first one;
* ``t_x`` - time of the last purchase, measured from the first purchase (0 when x = 0);
* ``T``   - length of the observation window, from the first purchase to the end of the period.

Times may be in any unit (the warehouse uses days); a fit is only meaningful together with
the unit it was fitted in.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

__all__ = [
    "RfmSummary",
    "as_rfm",
    "compress",
    "factorize",
    "group_index",
    "rfm_from_transactions",
    "sort_groups",
    "sorted_rows",
]


def _as_1d_float(name: str, values) -> np.ndarray:
    arr = np.asarray(values, dtype=float)
    if arr.ndim == 0:
        arr = arr.reshape(1)
    if arr.ndim != 1:
        raise ValueError(f"{name} must be one-dimensional, got shape {arr.shape}")
    if not np.all(np.isfinite(arr)):
        raise ValueError(f"{name} contains NaN or infinite values")
    return arr


def as_rfm(x, t_x, T) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Validate and return (x, t_x, T) as float arrays of one common length.

    x must be a non-negative integer count, 0 <= t_x <= T, and t_x = 0 where x = 0.
    """
    x = _as_1d_float("x", x)
    t_x = _as_1d_float("t_x", t_x)
    T = _as_1d_float("T", T)
    if not (x.shape == t_x.shape == T.shape):
        raise ValueError(f"x, t_x and T must have the same length, got {x.shape}, {t_x.shape}, {T.shape}")
    if np.any(x < 0) or np.any(x != np.round(x)):
        raise ValueError("x (repeat purchases) must be non-negative integers")
    if np.any(t_x < 0):
        raise ValueError("t_x must be >= 0")
    # a little slack for rounding of derived time units (e.g. days / 7)
    if np.any(t_x > T * (1 + 1e-12) + 1e-12):
        raise ValueError("t_x must be <= T")
    if np.any((x == 0) & (t_x != 0)):
        raise ValueError("t_x must be 0 for customers without repeat purchases (x = 0)")
    return x, t_x, T


def as_weights(weights, n: int) -> np.ndarray:
    """Validate per-row weights (counts of identical customers); None means all ones."""
    if weights is None:
        return np.ones(n)
    w = _as_1d_float("weights", weights)
    if w.shape != (n,):
        raise ValueError(f"weights must have length {n}, got {w.shape}")
    if np.any(w < 0):
        raise ValueError("weights must be >= 0")
    return w


def group_index(*columns: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Group rows of equal values over several 1-d columns.

    Returns ``(first, inverse)``: ``first[g]`` is the index of one row of group g (groups in
    lexicographic order of the columns), ``inverse[i]`` the group of row i.
    """
    n = len(columns[0])
    if n == 0:
        return np.zeros(0, dtype=np.intp), np.zeros(0, dtype=np.intp)
    codes, sizes = zip(*((c, len(v)) for v, c in map(factorize, columns)))
    order, starts = sort_groups(codes, sizes)
    group = np.zeros(n, dtype=np.intp)  # group of each row in sorted order
    group[starts[1:]] = 1
    np.cumsum(group, out=group)
    inverse = np.empty(n, dtype=np.intp)
    inverse[order] = group
    return order[starts], inverse


def factorize(values: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """``(distinct, codes)``: the sorted distinct values of a 1-d array and each element's index
    into them, as ``np.unique(values, return_inverse=True)``, but without a sort (a bincount of
    offsets instead) for integer values of moderate range: counts and day numbers."""
    values = np.asarray(values)
    if len(values) == 0:
        return values[:0], np.zeros(0, dtype=np.intp)
    if values.dtype.kind in "iuf":
        lo, hi = values.min(), values.max()
        if float(hi) - float(lo) < 4 * len(values) + 1024 and np.array_equal(values, np.floor(values)):
            offset = (values - lo).astype(np.intp)
            present = np.bincount(offset) > 0
            distinct = (np.flatnonzero(present) + lo).astype(values.dtype, copy=False)
            if present.all():  # no gaps: the offsets are the codes
                return distinct, offset
            return distinct, (np.cumsum(present, dtype=np.intp) - 1)[offset]
    distinct, codes = np.unique(values, return_inverse=True)
    return distinct, codes.reshape(-1)


def sort_groups(codes, sizes) -> tuple[np.ndarray, np.ndarray]:
    """Sort rows by integer code columns (``codes[j]`` in ``range(sizes[j])``, the first column
    most significant). Returns ``(order, starts)``: the sorting permutation and the positions,
    in sorted order, where a run of identical rows begins."""
    n = len(codes[0])
    if n == 0:
        return np.zeros(0, dtype=np.intp), np.zeros(0, dtype=np.intp)
    key = _combined_key(codes, sizes)
    if key is not None:
        order = np.argsort(key)
        return order, _run_starts([key[order]])
    order = np.lexsort(codes[::-1])
    return order, _run_starts([np.asarray(col)[order] for col in codes])


def sorted_rows(codes, sizes, weights: np.ndarray, *, merge: bool = True) -> tuple[list[np.ndarray], np.ndarray]:
    """Rows of integer code columns (as in ``sort_groups``) in sorted order, with their weights;
    identical rows merged and their weights summed if ``merge``.

    Returns ``(codes, weights)``. With unit weights this needs only a sort of one int64 key
    per row (no argsort, no gathers at random positions), the common case of a large fit.
    """
    key = _combined_key(codes, sizes) if len(codes[0]) else None
    if key is None or not np.all(weights == 1.0):
        order, starts = sort_groups(codes, sizes)
        if not merge:
            return [np.asarray(col)[order] for col in codes], weights[order]
        rows = order[starts]
        return [np.asarray(col)[rows] for col in codes], np.add.reduceat(weights[order], starts)
    key.sort()
    if merge:
        starts = _run_starts([key])
        weights = np.diff(starts, append=len(key)).astype(float)  # run lengths
        key = key[starts]
    else:
        weights = np.ones(len(key))
    out = []
    for size in sizes[:0:-1]:  # decode, last column first
        key, col = np.divmod(key, size)
        out.append(col)
    return [key] + out[::-1], weights


def _combined_key(codes, sizes) -> np.ndarray | None:
    """One int64 per row ordering like the code columns (the first most significant), or None
    if the product of the sizes does not fit."""
    if math.prod(sizes) >= 2**62:
        return None
    key = np.array(codes[0], dtype=np.int64)
    for col, size in zip(codes[1:], sizes[1:]):
        key *= size
        key += col
    return key


def _run_starts(sorted_cols: list[np.ndarray]) -> np.ndarray:
    """Positions where a run of identical rows begins, in columns already sorted as rows."""
    new = np.zeros(len(sorted_cols[0]), dtype=bool)
    new[:1] = True
    for col in sorted_cols:
        new[1:] |= col[1:] != col[:-1]
    return np.flatnonzero(new)


def compress(x, t_x, T, weights=None, *, return_inverse: bool = False):
    """Collapse identical (x, t_x, T) rows.

    Returns ``(rows, weights)`` where ``rows`` is a (k, 3) float array of the distinct
    (x, t_x, T) rows and ``weights`` the number of customers (or the summed input weights)
    behind each row. With ``return_inverse=True`` also returns ``inverse`` such that
    ``rows[inverse]`` rebuilds the input rows.
    """
    x, t_x, T = as_rfm(x, t_x, T)
    w = as_weights(weights, len(x))
    first, inverse = group_index(x, t_x, T)
    rows = np.column_stack([x[first], t_x[first], T[first]])
    counts = np.bincount(inverse, weights=w, minlength=len(first))
    if return_inverse:
        return rows, counts, inverse
    return rows, counts


@dataclass(frozen=True)
class RfmSummary:
    """Per-customer model inputs computed from a transaction log (see rfm_from_transactions)."""

    customer: np.ndarray
    x: np.ndarray
    t_x: np.ndarray
    T: np.ndarray
    monetary_value: np.ndarray  # mean spend per repeat purchase day; 0 where x = 0


def rfm_from_transactions(customer, day, amount=None, end=None, *, time_unit: float = 1.0) -> RfmSummary:
    """Summarise a transaction log into (x, t_x, T, monetary_value) per customer.

    ``day`` is a day number (integer) or ``datetime64``; ``end`` the last day of the
    observation period (inclusive; transactions after it are ignored; default: the last day
    in the log). Purchases on the same day count as one purchase (their amounts are summed).
    x = purchase days - 1, t_x = (last - first day) / time_unit, T = (end - first day) /
    time_unit, monetary_value = mean amount per purchase day over the days after the first
    (0 for x = 0). Customers whose first purchase is after ``end`` are dropped.
    """
    customer = np.asarray(customer)
    day = np.asarray(day)
    if np.issubdtype(day.dtype, np.datetime64):
        day = day.astype("datetime64[D]").astype(np.int64)
        if end is not None:
            end = np.datetime64(end, "D").astype(np.int64)
    day = np.asarray(day, dtype=np.int64)
    amount = np.zeros(len(day)) if amount is None else np.asarray(amount, dtype=float)
    if not (customer.shape == day.shape == amount.shape) or customer.ndim != 1:
        raise ValueError("customer, day and amount must be one-dimensional and of equal length")
    end = int(day.max()) if end is None else int(end)
    keep = day <= end
    customer, day, amount = customer[keep], day[keep], amount[keep]

    # one row per (customer, day), amounts summed
    cust_codes, cust_inv = np.unique(customer, return_inverse=True)
    first, inv = group_index(cust_inv, day)
    c = cust_inv[first]
    d = day[first]
    spend = np.bincount(inv, weights=amount, minlength=len(first))
    # rows are sorted by (customer, day): per customer the first row is the first purchase
    n_cust = len(cust_codes)
    days_per_cust = np.bincount(c, minlength=n_cust)
    start = np.concatenate([[0], np.cumsum(days_per_cust)[:-1]])
    first_day = d[start]
    last_day = d[start + days_per_cust - 1]
    total = np.bincount(c, weights=spend, minlength=n_cust)
    repeat_spend = total - spend[start]
    x = (days_per_cust - 1).astype(float)
    with np.errstate(invalid="ignore", divide="ignore"):
        monetary = np.where(x > 0, repeat_spend / np.maximum(x, 1), 0.0)
    return RfmSummary(
        customer=cust_codes,
        x=x,
        t_x=(last_day - first_day) / time_unit,
        T=(end - first_day) / time_unit,
        monetary_value=monetary,
    )
