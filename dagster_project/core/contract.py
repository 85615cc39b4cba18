"""The source contract (`docs/source-contract.md`) as data.

Extraction validates every incoming row against these declarations, loads the valid
rows into typed tables of the `raw` schema, and quarantines the rest with a reason.
The dbt sources (`dbt/models/staging/*/_*__sources.yml`) read exactly these tables.
"""

from __future__ import annotations

from dataclasses import dataclass

MONEY = "decimal(18,4)"
RATE = "decimal(18,8)"


@dataclass(frozen=True)
class Column:
    name: str
    kind: str  # text | timestamp | date | decimal | integer | boolean
    required: bool = False
    domain: tuple[str, ...] | None = None
    minimum: float | None = None
    minimum_exclusive: bool = False
    maximum: float | None = None
    references: tuple[str, str] | None = None  # (entity raw_table, column)
    sql_type: str | None = None  # overrides the default storage type of `kind`

    @property
    def storage_type(self) -> str:
        if self.sql_type:
            return self.sql_type
        return {
            "text": "varchar",
            "timestamp": "timestamp",
            "date": "date",
            "decimal": MONEY,
            "integer": "integer",
            "boolean": "boolean",
        }[self.kind]


@dataclass(frozen=True)
class Entity:
    source: str  # commerce | crm | referrals | voice
    name: str  # entity name as the source system calls it
    key: tuple[str, ...]
    columns: tuple[Column, ...]
    cursor: str | None = "updated_at"
    file_prefix: str | None = None  # for file drops: `<prefix>_<YYYYMMDD>.<ext>`
    file_format: str | None = None  # csv | jsonl
    required_source: bool = False
    # Cross-column and cross-row rules: (SQL condition over the typed row `t`, SQL reason).
    # The batch's rows that pass every column rule are `valid`; rows already loaded are in `raw`.
    rules: tuple[tuple[str, str], ...] = ()
    expect_fresh: bool = True  # False: the source may rightly stay unchanged for long (products)

    @property
    def is_file_drop(self) -> bool:
        """Delivered as files in the landing folder (else: a table of the commerce database)."""
        return self.file_prefix is not None

    @property
    def raw_table(self) -> str:
        return f"{self.source}_{self.name}"

    @property
    def column_names(self) -> list[str]:
        return [c.name for c in self.columns]


def _ts(name: str, required: bool = True) -> Column:
    return Column(name, "timestamp", required=required)


CUSTOMERS = Entity(
    source="commerce",
    name="customers",
    key=("customer_id",),
    required_source=True,
    columns=(
        Column("customer_id", "text", required=True),
        Column("email", "text"),
        Column("phone", "text"),
        Column("first_name", "text"),
        Column("last_name", "text"),
        Column("customer_type", "text", required=True, domain=("consumer", "business")),
        Column("region", "text", required=True),
        _ts("created_at"),
        _ts("updated_at"),
    ),
)

PRODUCTS = Entity(
    source="commerce",
    name="products",
    key=("product_id",),
    required_source=True,
    expect_fresh=False,
    columns=(
        Column("product_id", "text", required=True),
        Column("name", "text"),
        Column("category", "text"),
        Column("unit_cost", "decimal", required=True, minimum=0),
        _ts("updated_at"),
    ),
)

FX_RATES = Entity(
    source="commerce",
    name="fx_rates",
    key=("currency", "rate_date"),
    cursor=None,  # the contract gives fx_rates no updated_at: read whole each time, merged on its key
    required_source=True,
    columns=(
        Column("currency", "text", required=True),
        Column("rate_date", "date", required=True),
        Column("rate_to_base", "decimal", required=True, minimum=0, minimum_exclusive=True, sql_type=RATE),
    ),
)

ORDERS = Entity(
    source="commerce",
    name="orders",
    key=("order_id",),
    required_source=True,
    columns=(
        Column("order_id", "text", required=True),
        Column("customer_id", "text", required=True, references=("commerce_customers", "customer_id")),
        _ts("ordered_at"),
        Column("status", "text", required=True, domain=("completed", "cancelled", "pending")),
        Column("channel", "text", required=True, domain=("store", "web", "phone")),
        # A currency nobody publishes rates for can't be converted: an unknown currency.
        Column("currency", "text", required=True, references=("commerce_fx_rates", "currency")),
        _ts("updated_at"),
    ),
)

ORDER_LINES = Entity(
    source="commerce",
    name="order_lines",
    key=("order_line_id",),
    required_source=True,
    columns=(
        Column("order_line_id", "text", required=True),
        Column("order_id", "text", required=True, references=("commerce_orders", "order_id")),
        Column("product_id", "text", required=True, references=("commerce_products", "product_id")),
        Column("quantity", "integer", required=True, minimum=0, minimum_exclusive=True),
        Column("unit_price", "decimal", required=True, minimum=0),
        Column("discount_amount", "decimal", required=True, minimum=0),
        _ts("updated_at"),
    ),
    rules=(
        (
            "t.discount_amount > t.quantity * t.unit_price",
            "'discount_amount ' || t.discount_amount || ' exceeds quantity × unit_price ' || (t.quantity * t.unit_price)",
        ),
    ),
)

REFUNDS = Entity(
    source="commerce",
    name="refunds",
    key=("refund_id",),
    required_source=True,
    columns=(
        Column("refund_id", "text", required=True),
        Column("order_line_id", "text", required=True, references=("commerce_order_lines", "order_line_id")),
        _ts("refunded_at"),
        Column("quantity", "integer", required=True, minimum=0),
        Column("amount", "decimal", required=True, minimum=0, minimum_exclusive=True),
        _ts("updated_at"),
    ),
    rules=(
        # Money back can't exceed what the line was sold for, counting the line's other
        # refunds (their versions in this batch replace the ones already loaded).
        (
            """t.amount + coalesce((
                select sum(o.amount) from valid o
                where o.order_line_id = t.order_line_id and o.refund_id <> t.refund_id
            ), 0) + coalesce((
                select sum(r.amount) from raw.commerce_refunds r
                where r.order_line_id = t.order_line_id and r.refund_id <> t.refund_id
                  and r.refund_id not in (select o.refund_id from valid o)
            ), 0) > (
                select l.quantity * l.unit_price - l.discount_amount
                from raw.commerce_order_lines l where l.order_line_id = t.order_line_id
            ) + 0.005""",
            "'refunds on line ' || t.order_line_id || ' would exceed its revenue: amount ' || t.amount",
        ),
    ),
)

CRM_ACCOUNTS = Entity(
    source="crm",
    name="accounts",
    key=("customer_id",),
    file_prefix="crm_accounts",
    file_format="csv",
    columns=(
        Column("customer_id", "text", required=True, references=("commerce_customers", "customer_id")),
        Column("lifestage", "text"),
        Column("declared_category_spend", "decimal", minimum=0),
        Column("third_party_wallet_estimate", "decimal", minimum=0),
        _ts("updated_at"),
        Column("is_deleted", "boolean", required=True),
    ),
)

REFERRALS = Entity(
    source="referrals",
    name="referrals",
    key=("referral_id",),
    file_prefix="referrals",
    file_format="jsonl",
    columns=(
        Column("referral_id", "text", required=True),
        Column("referrer_customer_id", "text", required=True, references=("commerce_customers", "customer_id")),
        Column("referee_email", "text"),
        Column("referee_customer_id", "text", references=("commerce_customers", "customer_id")),
        _ts("referred_at"),
        Column("status", "text", required=True, domain=("invited", "signed_up", "rewarded")),
        Column("reward_amount", "decimal", minimum=0),
        _ts("updated_at"),
    ),
)

REVIEWS = Entity(
    source="voice",
    name="reviews",
    key=("review_id",),
    file_prefix="reviews",
    file_format="jsonl",
    columns=(
        Column("review_id", "text", required=True),
        Column("customer_id", "text", required=True, references=("commerce_customers", "customer_id")),
        Column("rating", "integer", required=True, minimum=1, maximum=5),
        _ts("posted_at"),
        Column("platform", "text"),
        _ts("updated_at"),
    ),
)

FEEDBACK = Entity(
    source="voice",
    name="feedback",
    key=("feedback_id",),
    file_prefix="feedback",
    file_format="jsonl",
    columns=(
        Column("feedback_id", "text", required=True),
        Column("customer_id", "text", required=True, references=("commerce_customers", "customer_id")),
        _ts("submitted_at"),
        Column("kind", "text", required=True, domain=("complaint", "compliment", "suggestion")),
        Column("csat", "integer", minimum=1, maximum=5),
        Column("nps", "integer", minimum=0, maximum=10),
        _ts("updated_at"),
    ),
)

# Load order matters: references are checked against what is already in `raw`.
COMMERCE_ENTITIES: tuple[Entity, ...] = (FX_RATES, CUSTOMERS, PRODUCTS, ORDERS, ORDER_LINES, REFUNDS)
FILE_ENTITIES: tuple[Entity, ...] = (CRM_ACCOUNTS, REFERRALS, REVIEWS, FEEDBACK)
ALL_ENTITIES: tuple[Entity, ...] = COMMERCE_ENTITIES + FILE_ENTITIES

# Every raw table carries these lineage columns after the contract's own.
LINEAGE_COLUMNS = (
    ("_source_file", "varchar"),  # file name for drops, source table name for the database
    ("_source_row", "bigint"),  # 1-based line/row number within that file or extract
    ("_loaded_at", "timestamp"),
)
