"""SQL that checks text rows against the contract and casts the valid ones.

Every incoming batch arrives as text (whatever the source system's types), so one
set of rules decides, per row, whether it honours the contract; the reasons are kept
word for word in the quarantine. Values are typed first (`typed` CTE), then judged: per
column (required, parseable, domain, range, not in the future, reference), and by the
entity's cross-row rules (a refund larger than what is left of its line).
"""

from ..core.contract import Column, Entity
from ..core.sql import quote_identifier, quote_literal

_INTEGER_PATTERN = r"^\s*[+-]?[0-9]+\s*$"
# ISO-8601 starts with the date. DuckDB also casts 'epoch', 'infinity' and '-infinity': those
# are no dates of the contract (an FX rate dated '-infinity' would cover every order).
_ISO_DATE_PATTERN = r"^\s*[0-9]{4}-[0-9]{1,2}-[0-9]{1,2}"
# Clocks and time zones differ between systems: a day of slack before "in the future".
FUTURE_SLACK = "interval 1 day"




def typed(column: Column, ref: str) -> str:
    """Expression casting the text column `ref` to the column's storage type (null if it can't)."""
    text = f"nullif(trim({ref}), '')"
    if column.kind == "text":
        return text
    if column.kind == "timestamp":
        # Offsets are honoured and stored as UTC; a timestamp without offset is UTC.
        return (
            f"case when regexp_matches({text}, '{_ISO_DATE_PATTERN}') "
            f"then cast(timezone('UTC', try_cast({text} as timestamptz)) as timestamp) end"
        )
    if column.kind == "date":
        return f"case when regexp_matches({text}, '{_ISO_DATE_PATTERN}') then try_cast({text} as date) end"
    if column.kind == "integer":
        return (
            f"case when regexp_matches({text}, '{_INTEGER_PATTERN}') "
            f"then try_cast({text} as {column.storage_type}) end"
        )
    return f"try_cast({text} as {column.storage_type})"


def _problems(column: Column, base_currency: str) -> list[str]:
    """`case` expressions over the typed row `t` (the text as delivered in `b`), each a reason or null."""
    name = column.name
    text = f"nullif(trim(b.{quote_identifier(name)}), '')"
    value = f"t.{quote_identifier(name)}"
    shown = f"left(b.{quote_identifier(name)}, 60)"
    problems = []
    if column.required:
        problems.append(f"case when {text} is null then 'missing {name}' end")
    if column.kind != "text":
        problems.append(
            f"case when {text} is not null and {value} is null "
            f"then 'unparseable {column.kind} in {name}: ' || {shown} end"
        )
    if column.kind in ("timestamp", "date"):
        problems.append(
            f"case when {value} > cast(now() as timestamp) + {FUTURE_SLACK} "
            f"then '{name} is in the future: ' || {shown} end"
        )
    if column.domain:
        allowed = ", ".join(quote_literal(v) for v in column.domain)
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
            exempt = f" and {value} <> {quote_literal(base_currency)}"
            what = "unknown currency"
        else:
            what = f"{name} references nothing in {table}"
        problems.append(
            f"case when {value} is not null{exempt} and not exists "
            f"(select 1 from raw.{quote_identifier(table)} r where r.{quote_identifier(key)} = {value}) "
            f"then '{what}: ' || {shown} end"
        )
    return problems


def checked_select(entity: Entity, batch: str, base_currency: str) -> str:
    """Select over the text batch: typed contract columns, lineage, and `_reason` (null = valid).

    Cross-row rules see the batch's rows that passed every column rule as `valid`, so a
    broken copy of a row never counts against its sound original.
    """
    typed_columns = ", ".join(f"{typed(c, f'b.{quote_identifier(c.name)}')} as {quote_identifier(c.name)}" for c in entity.columns)
    problems = [p for column in entity.columns for p in _problems(column, base_currency)]
    column_reason = "nullif(concat_ws('; ', " + ", ".join(problems) + "), '')"
    # A cross-column rule judges sound values only (over a quantity of -2, "discount exceeds
    # quantity × unit_price" would be a second, false reason), and only rows new or changed: a
    # row re-read exactly as it is stored was judged when it loaded, and a newcomer that breaks
    # a rule with it (a refund too many on its line) must not take it down too.
    keys = " and ".join(f"s.{quote_identifier(k)} = t.{quote_identifier(k)}" for k in entity.key)
    unchanged = (
        f"exists (select 1 from raw.{quote_identifier(entity.raw_table)} s where {keys} "
        f"and hash({', '.join(f's.{quote_identifier(c)}' for c in entity.column_names)}) "
        f"= hash({', '.join(f't.{quote_identifier(c)}' for c in entity.column_names)}))"
    )
    rules = [
        f"case when t._column_reason is null and not {unchanged} and ({condition}) then {reason} end"
        for condition, reason in entity.rules
    ]
    reason = (
        "nullif(concat_ws('; ', t._column_reason, " + ", ".join(rules) + "), '')" if rules else "t._column_reason"
    )
    as_delivered = ", ".join(f"{quote_identifier(c.name)} := b.{quote_identifier(c.name)}" for c in entity.columns)
    record = f"coalesce(b._record, cast(to_json(struct_pack({as_delivered})) as varchar))"
    return f"""
        with batch as (
            select *, row_number() over () as _batch_row from {batch}
        ),
        typed as (
            select {typed_columns}, b._batch_row from batch b
        ),
        judged as (
            select t.*, {column_reason} as _column_reason
            from batch b
            join typed t using (_batch_row)
        ),
        valid as (
            select * from judged where _column_reason is null
        )
        select t.* exclude (_batch_row, _column_reason), b._source_file, b._source_row, {record} as _record,
               {reason} as _reason
        from batch b
        join judged t using (_batch_row)
    """
