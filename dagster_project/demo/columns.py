"""Tables as typed numpy columns, rendered to Python values chunk by chunk.

A generated table is kept as numbers (ids as integers, timestamps as epoch seconds,
categories as codes) until it is written, so a million customers' order lines never
exist as Python strings all at once. `Table.render(lo, hi)` turns a slice into lists of
Python values (ISO-8601 text, `C0000123` ids, 2-decimal floats); the deliberately bad
rows are stored as per-cell overrides and applied while rendering.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from .catalog import TS_OFFSETS

_ZERO = ord("0")


def _put_digits(matrix: np.ndarray, start: int, values: np.ndarray, width: int) -> None:
    """Write `values` as zero-padded decimal digits into matrix[:, start:start+width]."""
    x = values.astype(np.int64, copy=True)
    for i in range(width - 1, -1, -1):
        matrix[:, start + i] = x % 10 + _ZERO
        x //= 10


def _as_str_list(matrix: np.ndarray) -> list[str]:
    """A (n, w) matrix of code points as a list of n Python strings (no per-row Python)."""
    n, w = matrix.shape
    if n == 0:
        return []
    return np.ascontiguousarray(matrix, dtype=np.uint32).view(f"U{w}").ravel().tolist()


def format_ids(prefix: str, nums: np.ndarray, width: int) -> list[str]:
    nums = np.asarray(nums, dtype=np.int64)
    if nums.size and (nums.min() < 0 or nums.max() >= 10**width):
        raise ValueError(f"id {prefix} number out of range for width {width}")
    matrix = np.empty((nums.size, len(prefix) + width), dtype=np.uint32)
    matrix[:, : len(prefix)] = np.array([ord(c) for c in prefix], dtype=np.uint32)
    _put_digits(matrix, len(prefix), nums, width)
    return _as_str_list(matrix)


def civil_from_days(days: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Year, month, day of days since 1970-01-01 (proleptic Gregorian), vectorised."""
    z = np.asarray(days, dtype=np.int64) + 719468
    era = np.floor_divide(z, 146097)
    doe = z - era * 146097
    yoe = (doe - doe // 1460 + doe // 36524 - doe // 146096) // 365
    doy = doe - (365 * yoe + yoe // 4 - yoe // 100)
    mp = (5 * doy + 2) // 153
    day = doy - (153 * mp + 2) // 5 + 1
    month = np.where(mp < 10, mp + 3, mp - 9)
    year = yoe + era * 400 + (month <= 2)
    return year, month, day


def _date_matrix(days: np.ndarray, width: int) -> np.ndarray:
    year, month, day = civil_from_days(days)
    matrix = np.empty((len(days), width), dtype=np.uint32)
    _put_digits(matrix, 0, year, 4)
    matrix[:, 4] = ord("-")
    _put_digits(matrix, 5, month, 2)
    matrix[:, 7] = ord("-")
    _put_digits(matrix, 8, day, 2)
    return matrix


def format_dates(days: np.ndarray) -> list[str]:
    return _as_str_list(_date_matrix(np.asarray(days, dtype=np.int64), 10))


def _timestamp_matrix(secs: np.ndarray) -> np.ndarray:
    secs = np.asarray(secs, dtype=np.int64)
    days = np.floor_divide(secs, 86400)
    sod = secs - days * 86400
    matrix = _date_matrix(days, 19)
    matrix[:, 10] = ord("T")
    _put_digits(matrix, 11, sod // 3600, 2)
    matrix[:, 13] = ord(":")
    _put_digits(matrix, 14, (sod // 60) % 60, 2)
    matrix[:, 16] = ord(":")
    _put_digits(matrix, 17, sod % 60, 2)
    return matrix


def format_timestamps(secs: np.ndarray, offsets: np.ndarray | None = None) -> list[str]:
    """`YYYY-MM-DDTHH:MM:SS` (UTC); where offsets[i] = k > 0, the same instant in local time
    of TS_OFFSETS[k-1], with its explicit offset (e.g. `2025-03-01T13:00:00+01:00`)."""
    secs = np.asarray(secs, dtype=np.int64)
    out = _as_str_list(_timestamp_matrix(secs))
    if offsets is not None:
        where = np.flatnonzero(offsets)
        if where.size:
            codes = offsets[where].astype(np.int64) - 1
            shift = np.array([s for _, s in TS_OFFSETS], dtype=np.int64)[codes]
            local = _as_str_list(_timestamp_matrix(secs[where] + shift))
            for i, text, code in zip(where.tolist(), local, codes.tolist()):
                out[i] = text + TS_OFFSETS[code][0]
    return out


def yyyymmdd(day: int) -> str:
    return format_dates(np.array([day]))[0].replace("-", "")


def iso_date(day: int) -> str:
    return format_dates(np.array([day]))[0]


def ordinal_of(text: str) -> int:
    """Days since 1970-01-01 of an ISO date."""
    return int(np.datetime64(text, "D").astype(np.int64))


# --------------------------------------------------------------------------- columns


@dataclass
class Col:
    """One column: `kind` says how `data` (numpy arrays, row-aligned) renders.

    kinds: id (prefix, width; data = [nums], -1 = null), ts (data = [secs, offset codes]),
    date (data = [days]), money (decimals; data = [floats], nan = null),
    int (data = [ints], with `null` sentinel), cat (labels; data = [codes], -1 = null),
    bool (data = [bools]), obj (data = [object array]).
    """

    kind: str
    data: tuple[np.ndarray, ...]
    prefix: str = ""
    width: int = 0
    decimals: int = 2
    labels: tuple = ()
    null: int | None = None

    def take(self, index: np.ndarray) -> Col:
        return Col(self.kind, tuple(a[index] for a in self.data), self.prefix, self.width, self.decimals, self.labels,
                   self.null)

    def concat(self, other: Col) -> Col:
        if (self.kind, self.prefix, self.width, self.labels) != (other.kind, other.prefix, other.width, other.labels):
            raise ValueError("cannot concatenate different column kinds")
        return Col(self.kind, tuple(np.concatenate([a, b]) for a, b in zip(self.data, other.data)), self.prefix,
                   self.width, self.decimals, self.labels, self.null)

    def render(self, lo: int, hi: int) -> list:
        part = [a[lo:hi] for a in self.data]
        kind = self.kind
        if kind == "id":
            nums = part[0]
            nulls = np.flatnonzero(nums < 0)
            out = format_ids(self.prefix, np.where(nums < 0, 0, nums), self.width)
            for i in nulls.tolist():
                out[i] = None
            return out
        if kind == "ts":
            return format_timestamps(part[0], part[1])
        if kind == "date":
            return format_dates(part[0])
        if kind == "money":
            values = part[0]
            out = np.round(values, self.decimals).tolist()
            for i in np.flatnonzero(np.isnan(values)).tolist():
                out[i] = None
            return out
        if kind == "int":
            out = part[0].tolist()
            if self.null is not None:
                for i in np.flatnonzero(part[0] == self.null).tolist():
                    out[i] = None
            return out
        if kind == "cat":
            labels = np.array(list(self.labels) + [None], dtype=object)
            codes = np.where(part[0] < 0, len(self.labels), part[0])
            return labels[codes].tolist()
        if kind == "bool":
            return part[0].astype(bool).tolist()
        if kind == "obj":
            return part[0].tolist()
        raise ValueError(kind)


def id_col(prefix: str, width: int, nums) -> Col:
    return Col("id", (np.asarray(nums, dtype=np.int64),), prefix=prefix, width=width)


def ts_col(secs, offsets) -> Col:
    return Col("ts", (np.asarray(secs, dtype=np.int64), np.asarray(offsets, dtype=np.int8)))


def date_col(days) -> Col:
    return Col("date", (np.asarray(days, dtype=np.int64),))


def money_col(values, decimals: int = 2) -> Col:
    return Col("money", (np.asarray(values, dtype=np.float64),), decimals=decimals)


def int_col(values, null: int | None = None) -> Col:
    return Col("int", (np.asarray(values, dtype=np.int64),), null=null)


def cat_col(codes, labels) -> Col:
    return Col("cat", (np.asarray(codes, dtype=np.int16),), labels=tuple(labels))


def bool_col(values) -> Col:
    return Col("bool", (np.asarray(values, dtype=bool),))


def obj_col(values) -> Col:
    array = np.empty(len(values), dtype=object)
    array[:] = list(values)
    return Col("obj", (array,))


@dataclass
class Table:
    """Row-aligned columns in the contract's order, plus bad-cell overrides by row position."""

    name: str
    columns: dict[str, Col]
    overrides: dict[str, dict[int, object]] = field(default_factory=dict)

    def __len__(self) -> int:
        first = next(iter(self.columns.values()))
        return len(first.data[0])

    def take(self, index: np.ndarray) -> Table:
        index = np.asarray(index, dtype=np.int64)
        position = np.full(len(self), -1, dtype=np.int64)
        position[index] = np.arange(index.size)
        overrides = {}
        for column, cells in self.overrides.items():
            moved = {int(position[i]): v for i, v in cells.items() if position[i] >= 0}
            if moved:
                overrides[column] = moved
        return Table(self.name, {k: c.take(index) for k, c in self.columns.items()}, overrides)

    def concat(self, other: Table) -> Table:
        offset = len(self)
        overrides = {k: dict(v) for k, v in self.overrides.items()}
        for column, cells in other.overrides.items():
            overrides.setdefault(column, {}).update({i + offset: v for i, v in cells.items()})
        return Table(self.name, {k: c.concat(other.columns[k]) for k, c in self.columns.items()}, overrides)

    def render(self, lo: int, hi: int) -> list[list]:
        """Columns of rows [lo, hi) as lists of Python values, overrides applied."""
        out = []
        for name, col in self.columns.items():
            values = col.render(lo, hi)
            for i, v in self.overrides.get(name, {}).items():
                if lo <= i < hi:
                    values[i - lo] = v
            out.append(values)
        return out
