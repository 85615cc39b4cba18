"""Small helpers over records kept as dicts of row-aligned numpy arrays (accounts, CRM rows, referrals...)."""

from __future__ import annotations

import numpy as np


def empty(fields: dict[str, type]) -> dict[str, np.ndarray]:
    """No records, each field with its dtype."""
    return {name: np.zeros(0, dtype=dtype) for name, dtype in fields.items()}


def take(records: dict[str, np.ndarray], index) -> dict[str, np.ndarray]:
    """The records at `index`, every field."""
    return {name: values[index] for name, values in records.items()}


def latest(record: np.ndarray, updated: np.ndarray) -> np.ndarray:
    """Positions of the latest version (highest `updated`, the last one on ties) of each record,
    in record order."""
    if record.size == 0:
        return np.zeros(0, dtype=np.int64)
    order = np.lexsort((updated, record))
    in_order = record[order]
    return order[np.r_[in_order[1:] != in_order[:-1], True]]


def sample(rng: np.random.Generator, pool: np.ndarray, n) -> np.ndarray:
    """Up to `n` distinct elements of `pool`, sorted (none drawn when n or the pool is 0)."""
    n = min(int(n), pool.size)
    return np.sort(rng.choice(pool, n, replace=False)) if n else np.zeros(0, dtype=np.int64)
