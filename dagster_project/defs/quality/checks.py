"""The blocking quality gate on the published marts (with the dbt tests, also checks)."""

import dagster as dg

from ..resources import WarehouseResource
from .gx_suites import load_suite, validate

CUSTOMER_VALUE = dg.AssetKey(["marts", "customer_value"])

# Customers resolved straight from raw, independently of the dbt models: accounts created
# by D, one customer per normalised email, accounts without email on their own.
RESOLVED_CUSTOMERS_SQL = """
select count(distinct coalesce(nullif(lower(trim(email)), ''), '#' || customer_id))
from raw.commerce_customers
where cast(created_at as date) <= ?
"""


@dg.asset_check(
    asset=CUSTOMER_VALUE,
    name="customer_value_expectations",
    blocking=True,
    description="Great Expectations suite expectations/customer_value.json: keys, domains, ranges, "
    "share_of_wallet in [0, 1], one row per resolved customer. Blocks publication on failure.",
)
def customer_value_expectations(warehouse: WarehouseResource) -> dg.AssetCheckResult:
    with warehouse.connect(read_only=True) as con:
        frame = con.execute("select * from marts.customer_value").fetchdf()
        as_of = con.execute("select max(as_of_date) from marts.customer_value").fetchall()[0][0]
        resolved = con.execute(RESOLVED_CUSTOMERS_SQL, [as_of]).fetchall()[0][0] if as_of else 0
    outcome = validate(frame, load_suite("customer_value"), {"resolved_customers": resolved})
    return dg.AssetCheckResult(
        passed=outcome.success,
        severity=dg.AssetCheckSeverity.ERROR,
        description=outcome.summary(),
        metadata={
            "expectations_evaluated": outcome.evaluated,
            "expectations_failed": len(outcome.failures),
            "failures": dg.MetadataValue.json(outcome.failures),
            "rows": len(frame),
            "resolved_customers": resolved,
        },
    )
