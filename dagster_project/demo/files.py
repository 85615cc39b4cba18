"""Landing files (CRM CSV, referral / review / feedback JSON Lines) as both the initial history
and an appended day deliver them: versions of records, with bad rows mixed in."""

from __future__ import annotations

import numpy as np

from ..core import contract
from . import tables
from .columns import Table, yyyymmdd
from .context import Run
from .faults import corrupt
from .state import record_file
from .writers import write_drop

FILE_ENTITIES = {"crm": contract.CRM_ACCOUNTS, "referrals": contract.REFERRALS, "reviews": contract.REVIEWS,
                 "feedback": contract.FEEDBACK}
# the state file's name of each kind's records (kept: existing state files use them)
STATE_GROUPS = {"crm": "crm", "referrals": "ref", "reviews": "rev", "feedback": "fb"}
# kinds whose records have their own ids (CRM rows are keyed by the customer)
OWN_IDS = ("referrals", "reviews", "feedback")


def bad_rows(run: Run, kind: str, host: Table, counts: dict) -> tuple[Table, list, np.ndarray]:
    """Bad copies of `host` rows; where the kind has its own ids, each gets a fresh one (a copied
    id would make it a version of a valid record)."""
    entity = FILE_ENTITIES[kind]
    bad, faults, picks = corrupt(run.faults, entity.raw_table, host, counts, file_nulls=True)
    if kind in OWN_IDS and len(bad):
        first = run.next_ids[kind]
        bad.columns[entity.key[0]] = tables.ids(kind, np.arange(first, first + len(bad)))
        run.next_ids[kind] = first + len(bad)
    return bad, faults, picks


def mix_in(rng: np.random.Generator, valid: Table, bad: Table) -> Table:
    """Bad rows at random places among the valid ones (order of valid rows kept)."""
    if len(bad) == 0:
        return valid
    table, _ = tables.interleave(valid, np.arange(len(valid)), bad, rng.uniform(0, len(valid), len(bad)))
    return table


def write(run: Run, kind: str, day: int, table: Table, faults: list) -> None:
    """The kind's file of `day`, recorded in the manifest and the run's counts."""
    entity = FILE_ENTITIES[kind]
    name = f"{entity.file_prefix}_{yyyymmdd(day)}.{entity.file_format}"
    write_drop(run.out / "landing" / name, entity, table)
    record_file(run.manifest, name, entity.raw_table, len(table), faults)
    run.files[name] = len(table)
