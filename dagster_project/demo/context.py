"""What every step of a run shares: the random streams, the period, the open database,
the manifest and the counters, as one small object handed from entity to entity."""

from __future__ import annotations

import sqlite3
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from ..core import contract
from .faults import planned_counts
from .simulate import DAY

# One numpy Generator per concern, so that drawing more for one entity never shifts another's
# draws. The order of the names fixes which SeedSequence child each gets: never reorder it.
STREAMS = ("accounts", "process", "orders", "lines", "refunds", "products", "fx", "crm", "referrals", "reviews",
           "feedback", "faults", "offsets", "updates")


def streams(*entropy: int) -> dict[str, np.random.Generator]:
    seq = np.random.SeedSequence([int(value) for value in entropy])
    return {name: np.random.default_rng(child) for name, child in zip(STREAMS, seq.spawn(len(STREAMS)))}


def tables_summary() -> dict[str, int]:
    """Rows added per commerce table, every table listed (in the contract's order)."""
    return {entity.name: 0 for entity in contract.COMMERCE_ENTITIES}


@dataclass(kw_only=True)
class Run:
    """A run generating the days first_day..last_day (day ordinals, both included)."""

    out: Path
    con: sqlite3.Connection | None
    manifest: dict
    streams: dict[str, np.random.Generator]
    first_day: int
    last_day: int
    appending: bool  # an appended day draws its number of bad rows; the initial history plans them
    next_ids: dict[str, int]  # next id number per entity (products are numbered once, so absent)
    next_person: int  # next person number (emails of new persons stay unique)
    added: dict[str, int]  # rows inserted per commerce table
    files: dict[str, int]  # rows per landing file written

    @property
    def t_lo(self) -> int:
        """The period's first second (epoch seconds)."""
        return self.first_day * DAY

    @property
    def t_hi(self) -> int:
        """The second after the period's last."""
        return (self.last_day + 1) * DAY

    @property
    def offsets(self) -> np.random.Generator:
        """The stream deciding which timestamps carry an explicit UTC offset."""
        return self.streams["offsets"]

    @property
    def faults(self) -> np.random.Generator:
        """The stream breaking the deliberately bad rows."""
        return self.streams["faults"]

    def bad_counts(self, entity: contract.Entity, n_valid: int) -> dict[str, int]:
        return planned_counts(entity.raw_table, n_valid, self.faults if self.appending else None)
