"""customer_value on a tiny hand-made dataset equals values worked out by hand."""

from __future__ import annotations

from datetime import date
from decimal import Decimal

import pytest

from dagster_project.settings import settings_from_env

from . import handmade
from .conftest import query, run_nightly

AS_OF = "2024-06-30"


@pytest.fixture(scope="module")
def handmade_run(tmp_path_factory, manifest):
    with pytest.MonkeyPatch.context() as monkeypatch:
        yield _run_handmade(tmp_path_factory.mktemp("handmade"), monkeypatch)


def _run_handmade(tmp_path, monkeypatch):
    db = handmade.write_commerce(tmp_path / "commerce.sqlite")
    landing = tmp_path / "landing"
    landing.mkdir()
    (landing / "crm_accounts_20240601.csv").write_text(
        "customer_id,lifestage,declared_category_spend,third_party_wallet_estimate,updated_at,is_deleted\n"
        "C3,growth,1000,,2024-06-01T00:00:00,false\n"
        "C2,single,,500,2024-06-01T00:00:00,false\n"
    )
    handmade.write_jsonl(landing / "referrals_20240601.jsonl", [
        {"referral_id": "F1", "referrer_customer_id": "C1", "referee_email": "bob@example.com", "referee_customer_id": "C3",
         "referred_at": "2024-01-20T10:00:00", "status": "rewarded", "reward_amount": 10, "updated_at": "2024-02-01T00:00:00"},
        # Ann inviting herself through her second account never counts.
        {"referral_id": "F2", "referrer_customer_id": "C2", "referee_email": "Ann@Example.com", "referee_customer_id": None,
         "referred_at": "2024-02-20T10:00:00", "status": "invited", "reward_amount": None, "updated_at": "2024-02-20T10:00:00"},
        # After the as-of date: not yet.
        {"referral_id": "F3", "referrer_customer_id": "C1", "referee_email": "zed@example.com", "referee_customer_id": None,
         "referred_at": "2024-07-05T10:00:00", "status": "invited", "reward_amount": None, "updated_at": "2024-07-05T10:00:00"},
    ])
    handmade.write_jsonl(landing / "reviews_20240601.jsonl", [
        {"review_id": "V1", "customer_id": "C1", "rating": 5, "posted_at": "2024-03-01T00:00:00", "platform": "web", "updated_at": "2024-03-01T00:00:00"},
        {"review_id": "V2", "customer_id": "C2", "rating": 4, "posted_at": "2024-04-01T00:00:00", "platform": "app", "updated_at": "2024-04-01T00:00:00"},
    ])
    handmade.write_jsonl(landing / "feedback_20240601.jsonl", [
        {"feedback_id": "B1", "customer_id": "C3", "submitted_at": "2024-02-15T00:00:00", "kind": "complaint", "csat": 2, "nps": 3, "updated_at": "2024-02-15T00:00:00"},
        {"feedback_id": "B2", "customer_id": "C3", "submitted_at": "2024-05-01T00:00:00", "kind": "compliment", "csat": 4, "nps": 9, "updated_at": "2024-05-01T00:00:00"},
        {"feedback_id": "B3", "customer_id": "C3", "submitted_at": "2024-06-01T00:00:00", "kind": "suggestion", "csat": None, "nps": None, "updated_at": "2024-06-01T00:00:00"},
        {"feedback_id": "B4", "customer_id": "C3", "submitted_at": "2024-07-02T00:00:00", "kind": "complaint", "csat": 1, "nps": 0, "updated_at": "2024-07-02T00:00:00"},
    ])
    monkeypatch.setenv("CVW_SOURCE_URL", f"sqlite:///{db}")
    monkeypatch.setenv("CVW_LANDING_DIR", str(landing))
    monkeypatch.setenv("CVW_WAREHOUSE_PATH", str(tmp_path / "warehouse.duckdb"))
    monkeypatch.setenv("CVW_SERVING_PATH", str(tmp_path / "serving.duckdb"))
    result = run_nightly(AS_OF)
    assert result.success, [e.message for e in result.all_events if e.is_failure]
    rows = query(tmp_path / "serving.duckdb", "select * exclude (as_of_date) from customer_value order by customer_key")
    columns = [c for (c,) in query(
        tmp_path / "serving.duckdb",
        "select column_name from duckdb_columns() where table_name = 'customer_value' and column_name <> 'as_of_date' order by column_index",
    )]
    customers = {row[0]: dict(zip(columns, row)) for row in rows}
    cards = query(tmp_path / "serving.duckdb", "select customer_key, first_name, lifetime_net_revenue, "
                  "value_tier, usual_gap_days, latest_feedback_kind, latest_feedback_date from customer_cards")
    for key, *card in cards:
        customers[key]["card"] = tuple(card)
    customers["_clv_model"] = query(tmp_path / "serving.duckdb", "select status, problems from clv_model")
    customers["_at_risk"] = query(tmp_path / "serving.duckdb", "select count(*) from at_risk_customers")[0][0]
    return customers


def money(value: str) -> Decimal:
    return Decimal(value)


def test_metrics_equal_values_computed_by_hand(handmade_run):
    customers = {k: v for k, v in handmade_run.items() if not k.startswith("_")}
    # C1 and C2 share Ann's email: one customer, keyed by the earlier account. C4 has no email.
    assert sorted(customers) == ["C1", "C3", "C4"]

    ann = customers["C1"]
    # O1: 2 x 10.00 USD; O2: 1 x 100.00 - 10.00 EUR at the 2024-03-01 rate 1.20 = 108.00 USD
    assert ann["accounts_count"] == 2
    assert ann["gross_revenue"] == money("128.00") and ann["refunded_amount"] == 0 and ann["net_revenue"] == money("128.00")
    assert ann["cost_of_goods"] == money("68.00") and ann["gross_margin"] == money("60.00")
    assert (ann["orders_count"], ann["purchase_days"]) == (2, 2)
    assert (ann["first_order_date"], ann["last_order_date"]) == (date(2024, 1, 10), date(2024, 3, 5))
    assert (ann["tenure_days"], ann["recency_days"]) == (172, 117)
    assert ann["average_order_value"] == money("64.00")
    assert float(ann["median_gap_days"]) == 55
    assert ann["net_revenue_365d"] == money("128.00") and ann["gross_margin_365d"] == money("60.00")
    # CRM row of her second account: third-party wallet of 500
    assert (ann["lifestage"], ann["wallet_method"], ann["wallet_estimate"]) == ("single", "third_party", money("500.00"))
    assert float(ann["share_of_wallet"]) == pytest.approx(128 / 500)
    assert ann["wallet_headroom"] == money("372.00")
    # referred Bob (who bought, net 24.00); her self-referral and the July referral don't count
    assert (ann["referrals_sent"], ann["referrals_converted"], ann["referred_net_revenue"]) == (1, 1, money("24.00"))
    assert (ann["reviews_count"], float(ann["avg_rating"])) == (2, 4.5)
    assert ann["feedback_count"] == 0 and ann["latest_nps"] is None and ann["nps_category"] is None

    bob = customers["C3"]
    # 5 x 8.00 = 40.00, 2 units refunded for 16.00: cost of the 3 kept units 3 x 4.00
    assert (bob["gross_revenue"], bob["refunded_amount"], bob["net_revenue"]) == (money("40.00"), money("16.00"), money("24.00"))
    assert (bob["cost_of_goods"], bob["gross_margin"]) == (money("12.00"), money("12.00"))
    assert (bob["orders_count"], bob["purchase_days"], bob["median_gap_days"]) == (1, 1, None)  # the cancelled order is no purchase
    assert (bob["tenure_days"], bob["recency_days"]) == (150, 150)
    assert (bob["customer_type"], bob["region"], bob["lifestage"]) == ("business", "south", "growth")
    assert (bob["wallet_method"], bob["wallet_estimate"], bob["wallet_headroom"]) == ("declared", money("1000.00"), money("976.00"))
    assert float(bob["share_of_wallet"]) == pytest.approx(0.024)
    # feedback up to D: 3 (one after D ignored); CSAT of the two answered; latest NPS given is 9
    assert (bob["feedback_count"], bob["complaints_count"], float(bob["avg_csat"])) == (3, 1, 3.0)
    assert (bob["latest_nps"], bob["nps_category"]) == (9, "promoter")

    cy = customers["C4"]
    assert (cy["orders_count"], cy["net_revenue"], cy["gross_margin"]) == (0, 0, 0)
    assert (cy["first_order_date"], cy["tenure_days"], cy["recency_days"], cy["average_order_value"]) == (None, None, None, None)
    assert (cy["wallet_method"], cy["wallet_estimate"], cy["share_of_wallet"]) == ("unknown", None, None)


def test_predictions_and_segments_by_hand(handmade_run):
    """One repeat customer is too few to fit the CLV model: predictions stay null, and the
    segments follow from margins and wallets alone."""
    ann, bob, cy = handmade_run["C1"], handmade_run["C3"], handmade_run["C4"]
    ((status, problems),) = handmade_run["_clv_model"]
    assert status == "skipped" and "no model fitted" in problems
    assert all(c["p_alive"] is None and c["predicted_clv_12m"] is None for c in (ann, bob, cy))
    # margin rate: 60 / 128 for Ann, 12 / 24 for Bob; Cy has no purchases: the population rate 72 / 152
    assert float(ann["margin_rate"]) == pytest.approx(60 / 128) and float(bob["margin_rate"]) == pytest.approx(0.5)
    # tiers by gross margin (no prediction): Ann (60) percent rank 0 -> platinum, Bob (12) rank 1 -> bronze
    assert (ann["value_tier"], bob["value_tier"], cy["value_tier"]) == ("platinum", "bronze", None)
    # nobody is most valuable without predictions; growth: Bob 976 x 0.5 = 488 beats Ann 372 x 60/128
    assert (ann["value_segment"], bob["value_segment"], cy["value_segment"]) == ("maintain", "most_growable", "prospect")
    # Ann: 2 orders, so not at risk; her next order was due 2024-03-05 + 55 days
    assert not any(c["is_at_risk"] for c in (ann, bob, cy)) and handmade_run["_at_risk"] == 0
    assert ann["expected_next_order_date"] == date(2024, 4, 29) and bob["expected_next_order_date"] is None
    # the cards greet by first name, and show the latest feedback (B3 on 2024-06-01; B4 is after D)
    assert ann["card"][:4] == ("Ann", money("128.00"), "platinum", 55.0)
    assert bob["card"][4:] == ("suggestion", date(2024, 6, 1))
