"""Values the expectation suites compare with (`meta.parameters`), computed from the working
database independently of the models the suites check."""

from __future__ import annotations

from collections.abc import Callable

import duckdb

# Customers resolved straight from raw, independently of the dbt models: accounts created
# by D, one customer per normalised email, accounts without email on their own.
RESOLVED_CUSTOMERS_SQL = """
select count(distinct coalesce(nullif(lower(trim(email)), ''), '#' || customer_id))
from raw.commerce_customers
where cast(created_at as date) <= ?
"""

PARAMETERS: dict[str, Callable[[duckdb.DuckDBPyConnection, object], int]] = {
    "resolved_customers": lambda con, as_of: con.execute(RESOLVED_CUSTOMERS_SQL, [as_of]).fetchall()[0][0],
    "at_risk_customers": lambda con, as_of: con.execute(
        "select count(*) from marts.customer_value where is_at_risk"
    ).fetchall()[0][0],
    "lapsed_customers": lambda con, as_of: con.execute(
        "select count(*) from marts.customer_value where is_lapsed"
    ).fetchall()[0][0],
    # accounts straight from raw, as identity resolution counts them: created by D
    "accounts": lambda con, as_of: con.execute(
        "select count(distinct customer_id) from raw.commerce_customers where cast(created_at as date) <= ?", [as_of]
    ).fetchall()[0][0],
}


def as_of_of_marts(con: duckdb.DuckDBPyConnection):
    return con.execute("select max(as_of_date) from marts.customer_value").fetchall()[0][0]


def suite_parameters(
    con: duckdb.DuckDBPyConnection, suite: dict, as_of, settings: dict[str, float] | None = None
) -> dict[str, float]:
    """The values a suite's `meta.parameters` name: counted from the database (PARAMETERS) or
    configured (``settings``, e.g. the lapse threshold the at-risk list is cut at)."""
    settings = settings or {}
    known = set(PARAMETERS) | set(settings)
    unknown = sorted(set(suite["meta"].get("parameters", {})) - known)
    if unknown:
        raise ValueError(f"suite {suite.get('name')!r} asks for unknown parameter(s) {unknown}; known: {sorted(known)}")
    return {
        name: settings[name] if name in settings else PARAMETERS[name](con, as_of)
        for name in suite["meta"].get("parameters", {})
    }
