"""A matrix of unusual businesses through the nightly CLV fit on a real DuckDB: each gets
finite predictions or a stated reason why not, never null predictions under `fitted`."""

from datetime import date

import duckdb
import numpy as np
import pytest

from dagster_project.prediction.fit import PREDICTED_COLUMNS, ClvSettings, fit_clv, store_clv
from dagster_project.settings import Settings

from . import businesses

# what each shape must give: "fitted", "skipped" (with the reason), or either of "fitted"
# and "failed" where a model can honestly fail its holdout check (a seasonal business)
EXPECTED = {
    "fifty_customers": {"fitted"},
    "exactly_100_repeat_customers": {"fitted"},
    "clockwork": {"fitted"},
    "everyone_buys_once": {"skipped"},
    "one_customer_holds_half_the_revenue": {"fitted"},
    "every_purchase_on_one_day": {"skipped"},
    "identical_spend": {"fitted"},
    "sixty_day_history": {"fitted"},
    "strongly_seasonal": {"fitted", "failed"},
    "homogeneous_dropout_400": {"fitted"},
}


def fit_shape(tmp_path, shape: str, purchase_model: str):
    rfm, holdout, purchase_days = businesses.clv_inputs(businesses.SHAPES[shape]())
    con = duckdb.connect(str(tmp_path / f"{shape}.duckdb"))
    con.execute("create schema intermediate")
    for name, frame in (("int_customers_rfm_summarised", rfm), ("int_customers_holdout_split", holdout),
                        ("int_purchase_days_aggregated", purchase_days)):
        con.register("_frame", frame)
        con.execute(f"create table intermediate.{name} as select * from _frame")
        con.unregister("_frame")
    settings = ClvSettings.from_settings(Settings(clv_purchase_model=purchase_model))
    outcome, purchases, order_values = fit_clv(con, settings, as_of=businesses.AS_OF)
    store_clv(con, outcome, purchases, order_values, settings, run_id="test", fitted_at=None)
    return con, outcome, purchases, order_values, rfm


@pytest.mark.parametrize("purchase_model", ["bgnbd", "auto"])
@pytest.mark.parametrize("shape", sorted(EXPECTED))
def test_every_business_gets_predictions_or_a_reason(tmp_path, shape, purchase_model):
    con, outcome, purchases, order_values, rfm = fit_shape(tmp_path, shape, purchase_model)
    assert outcome.status in EXPECTED[shape], [str(p) for p in outcome.problems]
    record = con.execute("select status, problems, purchase_model from clv.model_fits").fetchall()
    assert len(record) == 1 and record[0][0] == outcome.status
    if outcome.status == "skipped":
        assert "repeat purchase" in record[0][1] and "no model fitted" in record[0][1]
        assert purchases[list(PREDICTED_COLUMNS)].isna().all().all()
        return
    # every customer's row of inputs has finite predictions: nothing null, no NaN anywhere
    assert purchases["customers"].sum() == len(rfm)
    for column in PREDICTED_COLUMNS:
        values = purchases[column].to_numpy(dtype=float)
        assert np.all(np.isfinite(values)), column
    assert purchases["p_alive"].between(0, 1).all()
    assert (purchases["purchases_365d_low"] <= purchases["purchases_365d_high"]).all()
    # Markov's bounds that every count distribution obeys (what the gate checks)
    mean = purchases["expected_purchases_365d"]
    assert (0.9 * purchases["purchases_365d_low"] <= mean * (1 + 1e-9)).all()
    assert (purchases["purchases_365d_high"] <= 10 * mean * (1 + 1e-9)).all()
    assert np.all(np.isfinite(order_values["expected_order_value"].to_numpy(dtype=float)))
    assert record[0][2] in {"bgnbd", "pareto_nbd"} and record[0][2] == outcome.purchase_model
    if purchase_model == "bgnbd":
        assert outcome.purchase_model == "bgnbd" and outcome.pareto_nbd is None
    if outcome.status == "failed":  # a clear reason, never a silent one
        assert any("holdout" in str(p) for p in outcome.problems), outcome.problems
    # the stored record carries no NaN or infinity
    values = con.execute("select * from clv.model_fits").fetchnumpy()
    for name, column in values.items():
        if column.dtype.kind == "f":
            assert not np.any(np.isinf(column)), name


def test_the_ridge_business_publishes_at_its_limit(tmp_path):
    """The 400-customer business of the bug report: the maximum is the homogeneous drop-out
    limit; its holdout is evaluated correctly (the defect said 100 % error)."""
    con, outcome, purchases, _, _ = fit_shape(tmp_path, "homogeneous_dropout_400", "bgnbd")
    assert outcome.status == "fitted", outcome.problems
    assert outcome.bgnbd.limit == "homogeneous_dropout"
    assert outcome.holdout.error < 0.15
    assert con.execute("select bgnbd_limit, bgnbd_a_se from clv.model_fits").fetchall() == [("homogeneous_dropout", None)]
    assert any("homogeneous_dropout" in str(p) for p in outcome.problems)  # reported, as a warning
    assert all(p.severity.value != "error" for p in outcome.problems)


def test_clockwork_buyers_never_drop_out(tmp_path):
    _, outcome, purchases, _, _ = fit_shape(tmp_path, "clockwork", "bgnbd")
    assert "no_dropout" in (outcome.bgnbd.limit or "")
    assert purchases["p_alive"].min() > 0.99
    # one purchase every 14 days
    per_customer = np.repeat(purchases["expected_purchases_365d"], purchases["customers"])
    assert np.median(per_customer) == pytest.approx(365 / 14, rel=0.1)


def test_identical_spend_is_the_constant_order_value_limit(tmp_path):
    _, outcome, _, order_values, _ = fit_shape(tmp_path, "identical_spend", "bgnbd")
    assert outcome.gamma_gamma.limit == "constant_order_value"
    np.testing.assert_allclose(order_values["expected_order_value"], 12.5)


def test_without_a_holdout_the_fit_still_publishes_and_says_so(tmp_path):
    con, outcome, _, _, _ = fit_shape(tmp_path, "sixty_day_history", "auto")
    assert outcome.status == "fitted" and outcome.holdout is None
    assert outcome.purchase_model == "bgnbd"
    (problems,) = con.execute("select problems from clv.model_fits").fetchone()
    assert "holdout check skipped" in problems and "no holdout to choose by" in problems
    assert con.execute("select count(*) from clv.holdout_lift").fetchone()[0] == 0


def test_auto_chooses_the_lower_holdout_error(tmp_path):
    con, outcome, _, _, _ = fit_shape(tmp_path, "exactly_100_repeat_customers", "auto")
    models = outcome.holdout.models
    maes = {name: model.mae for name, model in models.items()}
    assert set(maes) == {"bgnbd", "pareto_nbd"}
    assert outcome.purchase_model == min(maes, key=maes.get)
    bg, pnbd = con.execute("select holdout_bgnbd_mae, holdout_pareto_nbd_mae from clv.model_fits").fetchone()
    assert (bg, pnbd) == pytest.approx((maes["bgnbd"], maes["pareto_nbd"]))


def test_holdout_diagnostics_agree_with_the_purchase_log(tmp_path):
    """The lift table and the tracking curve, recomputed from the purchase log directly."""
    log = businesses.SHAPES["exactly_100_repeat_customers"]()
    con, outcome, _, _, _ = fit_shape(tmp_path, "exactly_100_repeat_customers", "bgnbd")
    assert outcome.holdout is not None and outcome.holdout.fit is not None
    h = businesses.AS_OF.toordinal() - businesses.HOLDOUT_DAYS
    cohort = {k: sorted({d for d, _ in days}) for k, days in log.items() if min(d for d, _ in days).toordinal() <= h}
    actual = sum(sum(1 for d in days if d.toordinal() > h) for days in cohort.values())
    lift = con.execute("select sum(customers), sum(customers * mean_actual_purchases), "
                       "sum(customers * mean_predicted_purchases) from clv.holdout_lift").fetchone()
    assert lift[0] == len(cohort) and lift[1] == pytest.approx(actual)
    assert lift[2] == pytest.approx(outcome.holdout.predicted)
    deciles = con.execute("select mean_predicted_purchases from clv.holdout_lift order by decile").fetchall()
    assert [d for (d,) in deciles] == sorted((d for (d,) in deciles), reverse=True)
    tracking = con.execute("select week_end, actual_repeat_purchases, is_holdout from clv.holdout_tracking "
                           "order by week").fetchall()
    assert tracking[-1][0] == businesses.AS_OF and tracking[-1][2] is True
    for week_end, cumulative, is_holdout in tracking:
        expected = sum(sum(1 for d in days[1:] if d <= week_end) for days in cohort.values())
        assert cumulative == expected, week_end
        assert is_holdout == (week_end.toordinal() > h)
    assert date.fromordinal(h) >= tracking[0][0]
