"""What the quarantine holds, counted for people: per run, per entity, per reason."""

from __future__ import annotations

import duckdb

from ..core.contract import Entity
from ..core.raw_layout import QUARANTINE, QUARANTINE_REASON_SQL


def markdown_table(rows: list[tuple], header: tuple[str, ...], empty: str = "nothing") -> str:
    if not rows:
        return empty
    lines = ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
    return "\n".join(lines + ["| " + " | ".join(str(v) for v in row) + " |" for row in rows])


def entity_reasons_this_run(con: duckdb.DuckDBPyConnection, entity: Entity, run_id: str) -> list[tuple]:
    """(reason, rows) of the entity's rows this run quarantined, most frequent first."""
    return con.execute(
        f"""select {QUARANTINE_REASON_SQL} as why, count(*) from {QUARANTINE}
            where source = ? and entity = ? and run_id = ? group by why order by count(*) desc, why""",
        [entity.source, entity.name, run_id],
    ).fetchall()


def open_rows(con: duckdb.DuckDBPyConnection, entity: Entity) -> int:
    return con.execute(
        f"select count(*) from {QUARANTINE} where source = ? and entity = ? and resolved_at is null",
        [entity.source, entity.name],
    ).fetchall()[0][0]


def run_by_reason(con: duckdb.DuckDBPyConnection, run_id: str) -> list[tuple]:
    """(source, entity, reason, rows) this run quarantined."""
    return con.execute(
        f"""select source, entity, {QUARANTINE_REASON_SQL} as reason, count(*) from {QUARANTINE}
            where run_id = ? group by all order by all""",
        [run_id],
    ).fetchall()


def resolved_by_run(con: duckdb.DuckDBPyConnection, run_id: str) -> int:
    return con.execute(f"select count(*) from {QUARANTINE} where resolved_run_id = ?", [run_id]).fetchall()[0][0]


def open_by_entity(con: duckdb.DuckDBPyConnection) -> list[tuple]:
    """(source, entity, rows) not yet resolved by a corrected delivery."""
    return con.execute(
        f"""select source, entity, count(*) from {QUARANTINE}
            where resolved_at is null group by all order by all"""
    ).fetchall()
