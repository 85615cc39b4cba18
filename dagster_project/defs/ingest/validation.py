"""SQL that checks text rows against the contract and casts the valid ones.

Every incoming batch arrives as text (whatever the source system's types), so one
set of rules decides, per row, whether it honours the contract; the reasons are kept
word for word in the quarantine.
"""

from __future__ import annotations

from .contract import Column, Entity

_INTEGER_PATTERN = r"^\s*[+-]?[0-9]+\s*$"


def quote(name: str) -> str:
    return '"' + name.replace('"', '""') + '"'


def literal(value: str) -> str:
    return "'" + value.replace("'", "''") + "'"


def typed(column: Column, ref: str) -> str:
    """Expression casting the text column `ref` to the column's storage type (null if it can't)."""
    text = f"nullif(trim({ref}), '')"
    if column.kind == "text":
        return text
    if column.kind == "timestamp":
        # Offsets are honoured and stored as UTC; a timestamp without offset is UTC.
        return f"cast(timezone('UTC', try_cast({text} as timestamptz)) as timestamp)"
    if column.kind == "integer":
        return (
            f"case when regexp_matches({text}, '{_INTEGER_PATTERN}') "
            f"then try_cast({text} as {column.storage_type}) end"
        )
    return f"try_cast({text} as {column.storage_type})"


def _problems(column: Column, ref: str, base_currency: str) -> list[str]:
    """`case` expressions, each yielding a reason string or null."""
    name = column.name
    text = f"nullif(trim({ref}), '')"
    value = typed(column, ref)
    shown = f"left({ref}, 60)"
    problems = []
    if column.required:
        problems.append(f"case when {text} is null then 'missing {name}' end")
    if column.kind != "text":
        problems.append(
            f"case when {text} is not null and {value} is null "
            f"then 'unparseable {column.kind} in {name}: ' || {shown} end"
        )
    if column.domain:
        allowed = ", ".join(literal(v) for v in column.domain)
        problems.append(
            f"case when {value} is not null and {value} not in ({allowed}) "
            f"then '{name} not one of {'|'.join(column.domain)}: ' || {shown} end"
        )
    if column.minimum is not None:
        op, word = ("<=", "must be >") if column.minimum_exclusive else ("<", "must be >=")
        problems.append(
            f"case when {value} {op} {column.minimum} then '{name} {word} {column.minimum:g}: ' || {shown} end"
        )
    if column.maximum is not None:
        problems.append(
            f"case when {value} > {column.maximum} then '{name} must be <= {column.maximum:g}: ' || {shown} end"
        )
    if column.references:
        table, key = column.references
        exempt = ""
        if table == "commerce_fx_rates":
            exempt = f" and {value} <> {literal(base_currency)}"
            what = "unknown currency"
        else:
            what = f"{name} references nothing in {table}"
        problems.append(
            f"case when {value} is not null{exempt} and not exists "
            f"(select 1 from raw.{quote(table)} r where r.{quote(key)} = {value}) "
            f"then '{what}: ' || {shown} end"
        )
    return problems


def checked_select(entity: Entity, batch: str, base_currency: str) -> str:
    """Select over the text batch: typed contract columns, lineage, and `_reason` (null = valid)."""
    columns = []
    problems = []
    for column in entity.columns:
        ref = f"b.{quote(column.name)}"
        columns.append(f"{typed(column, ref)} as {quote(column.name)}")
        problems.extend(_problems(column, ref, base_currency))
    reason = "nullif(concat_ws('; ', " + ", ".join(problems) + "), '')"
    as_delivered = ", ".join(f"{quote(c.name)} := b.{quote(c.name)}" for c in entity.columns)
    record = f"coalesce(b._record, cast(to_json(struct_pack({as_delivered})) as varchar))"
    return (
        "select " + ", ".join(columns) + ", b._source_file, b._source_row, "
        f"{record} as _record, {reason} as _reason from {batch} b"
    )
