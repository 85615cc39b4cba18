"""The nightly CLV fit: BG/NBD (or Pareto/NBD) + Gamma-Gamma on the RFM summary dbt builds, and its holdout check.

Reads only what the models need, compressed in DuckDB (one row per distinct (x, t_x, T)
with its number of customers; one per distinct (x, monetary value)), and writes the
predictions back in the same compressed form to the `clv` schema, where dbt joins them
to every customer. Every fit is recorded in `clv.model_fits`, one row per as-of date.
"""

import time
import warnings
from dataclasses import dataclass, field
from datetime import date, timedelta

import duckdb
import numpy as np
import pandas as pd

from .. import clv
from ..core.severity import Severity
from ..core.sql import transaction
from ..settings import Settings

SCHEMA = "clv"
RFM_MODEL = "intermediate.int_customers_rfm_summarised"
HOLDOUT_MODEL = "intermediate.int_customers_holdout_split"
NOISE_SAMPLE_ROWS = 20_000  # distinct (x, t_x, T, holdout purchases) rows the holdout noise is estimated on
PURCHASE_DAYS_MODEL = "intermediate.int_purchase_days_aggregated"
PREDICTION_DAYS = 365
# Calibration repeat purchases 0..6 each get a group; 7 and more share the last one.
TOP_FREQUENCY_GROUP = 7
LIFT_GROUPS = 10
INTERVAL = (0.1, 0.9)  # purchases_365d_low / _high: the 10th and 90th percentiles
PREDICTED_COLUMNS = ("p_alive", "expected_purchases_365d", "discounted_purchases_12m",
                     "purchases_365d_low", "purchases_365d_high")

_DDL = f"""
create schema if not exists {SCHEMA};
create table if not exists {SCHEMA}.purchase_predictions (
    as_of_date date not null,
    frequency integer not null,
    t_x_days integer not null,
    t_days integer not null,
    customers bigint not null,
    p_alive double,
    expected_purchases_365d double,
    discounted_purchases_12m double,
    purchases_365d_low integer,
    purchases_365d_high integer
);
create table if not exists {SCHEMA}.order_value_predictions (
    as_of_date date not null,
    frequency integer not null,
    monetary_value double not null,
    customers bigint not null,
    expected_order_value double
);
create table if not exists {SCHEMA}.holdout_by_frequency (
    as_of_date date not null,
    calibration_frequency integer not null,
    frequency_group varchar not null,
    customers bigint not null,
    predicted_purchases double,
    actual_purchases bigint not null
);
create table if not exists {SCHEMA}.holdout_lift (
    as_of_date date not null,
    decile integer not null,
    customers bigint not null,
    mean_predicted_purchases double not null,
    mean_actual_purchases double not null
);
create table if not exists {SCHEMA}.holdout_tracking (
    as_of_date date not null,
    week integer not null,
    week_end date not null,
    is_holdout boolean not null,
    actual_repeat_purchases bigint not null,
    predicted_repeat_purchases double not null
);
create table if not exists {SCHEMA}.model_fits (
    as_of_date date primary key,
    status varchar not null,
    passed boolean not null,
    problems varchar,
    time_unit varchar not null,
    purchase_model varchar,
    bgnbd_r double, bgnbd_alpha double, bgnbd_a double, bgnbd_b double,
    bgnbd_log_likelihood double,
    bgnbd_customers bigint,
    bgnbd_converged boolean,
    bgnbd_limit varchar,
    bgnbd_r_se double, bgnbd_alpha_se double, bgnbd_a_se double, bgnbd_b_se double,
    pareto_nbd_r double, pareto_nbd_alpha double, pareto_nbd_s double, pareto_nbd_beta double,
    pareto_nbd_log_likelihood double,
    pareto_nbd_customers bigint,
    pareto_nbd_converged boolean,
    pareto_nbd_limit varchar,
    pareto_nbd_r_se double, pareto_nbd_alpha_se double, pareto_nbd_s_se double, pareto_nbd_beta_se double,
    gamma_gamma_p double, gamma_gamma_q double, gamma_gamma_v double,
    gamma_gamma_log_likelihood double,
    gamma_gamma_customers bigint,
    gamma_gamma_converged boolean,
    gamma_gamma_limit varchar,
    gamma_gamma_p_se double, gamma_gamma_q_se double, gamma_gamma_v_se double,
    population_order_value double,
    annual_discount_rate double,
    holdout_start_date date,
    holdout_days integer,
    holdout_customers bigint,
    holdout_bgnbd_r double, holdout_bgnbd_alpha double, holdout_bgnbd_a double, holdout_bgnbd_b double,
    holdout_converged boolean,
    holdout_predicted_purchases double,
    holdout_noise_sd double,
    holdout_actual_purchases bigint,
    holdout_error double,
    holdout_max_error double,
    holdout_mae double,
    holdout_bgnbd_predicted_purchases double,
    holdout_bgnbd_mae double,
    holdout_pareto_nbd_predicted_purchases double,
    holdout_pareto_nbd_mae double,
    fit_seconds double,
    fitted_at timestamp,
    run_id varchar
);
"""


@dataclass(frozen=True)
class ClvSettings:
    annual_discount_rate: float
    # Largest |predicted − actual| / actual holdout purchases; for small populations the
    # bound widens to `holdout_noise_sigmas` standard deviations of the noise a correct model
    # shows (the predictive spread of the cohort's purchases plus the refit's parameter
    # uncertainty), so that chance alone does not block a publication.
    max_holdout_error: float
    min_repeat_customers: int  # fewer customers with a repeat purchase: no fit
    holdout_noise_sigmas: float
    purchase_model: str = "bgnbd"  # bgnbd | pareto_nbd | auto

    @classmethod
    def from_settings(cls, settings: Settings) -> "ClvSettings":
        return cls(settings.clv_annual_discount_rate, settings.clv_max_holdout_error,
                   settings.clv_min_repeat_customers, settings.clv_holdout_noise_sigmas,
                   settings.clv_purchase_model)

    @property
    def candidates(self) -> tuple[str, ...]:
        """The purchase models fitted: BG/NBD alone, Pareto/NBD alone, or both for `auto`."""
        return ("bgnbd", "pareto_nbd") if self.purchase_model == "auto" else (self.purchase_model,)


MODEL_NAMES = {"bgnbd": "BG/NBD", "pareto_nbd": "Pareto/NBD"}
LIMIT_NAMES = {
    "homogeneous_dropout": "no heterogeneity in drop-out",
    "no_dropout": "nobody drops out",
    "homogeneous_purchase_rate": "no heterogeneity in purchase rate",
    "homogeneous_spend": "no heterogeneity in spend",
    "constant_customer_spend": "each customer's orders of one value",
    "constant_order_value": "every mean order value equal",
}


@dataclass(frozen=True)
class Problem:
    """Something the fit found: an ERROR fails it (no predictions published), a WARN is recorded."""

    message: str
    severity: Severity = Severity.ERROR

    def __str__(self) -> str:
        return self.message + (" (warning)" if self.severity == Severity.WARN else "")


@dataclass
class HoldoutModel:
    """One purchase model refitted as of H and its predictions for (H, D]."""

    fit: object | None  # clv.BgNbdFit | clv.ParetoNbdFit; None when it could not be fitted
    predicted: float = float("nan")
    mae: float = float("nan")
    predicted_rows: np.ndarray | None = None  # per compressed row, per customer
    reason: str = ""
    # standard deviation of actual − predicted that a correct model expects: the predictive
    # spread of the cohort's purchases plus the refit's parameter uncertainty (delta method;
    # left out when the information matrix is singular)
    noise_sd: float = float("nan")


@dataclass
class Holdout:
    start_date: date
    days: int
    x: np.ndarray
    t_x: np.ndarray
    T: np.ndarray
    weights: np.ndarray
    actual_rows: np.ndarray  # holdout purchases per customer of each compressed row
    models: dict[str, HoldoutModel] = field(default_factory=dict)
    chosen: str = "bgnbd"
    by_frequency: pd.DataFrame | None = None
    lift: pd.DataFrame | None = None
    tracking: pd.DataFrame | None = None

    @property
    def fit(self):
        model = self.models.get(self.chosen)
        return model.fit if model else None

    @property
    def predicted(self) -> float:
        return self.models[self.chosen].predicted if self.fit is not None else float("nan")

    @property
    def mae(self) -> float | None:
        return self.models[self.chosen].mae if self.fit is not None else None

    @property
    def noise_sd(self) -> float | None:
        sd = self.models[self.chosen].noise_sd if self.fit is not None else float("nan")
        return float(sd) if np.isfinite(sd) else None

    @property
    def actual(self) -> int:
        return int(round(float(np.dot(self.weights, self.actual_rows))))

    @property
    def customers(self) -> int:
        return int(self.weights.sum())

    @property
    def error(self) -> float | None:
        return abs(self.predicted - self.actual) / self.actual if self.actual and self.fit is not None else None

    def allowed_error(self, settings: "ClvSettings") -> float:
        """The relative error tolerated: the configured bound, or when larger
        `holdout_noise_sigmas` standard deviations of the noise a correct model shows
        (noise_sd; Poisson noise on the actual count if it could not be computed)."""
        if not self.actual:
            return float("inf")
        sd = self.noise_sd if self.noise_sd is not None else np.sqrt(self.actual)
        noise = settings.holdout_noise_sigmas * sd / self.actual
        return max(settings.max_holdout_error, float(noise))


@dataclass
class ClvOutcome:
    as_of_date: date
    status: str  # fitted | failed | skipped
    problems: list[Problem] = field(default_factory=list)
    bgnbd: clv.BgNbdFit | None = None
    pareto_nbd: clv.ParetoNbdFit | None = None
    gamma_gamma: clv.GammaGammaFit | None = None
    purchase_model: str | None = None  # the model whose predictions are published
    holdout: Holdout | None = None
    customers: int = 0
    prediction_rows: int = 0
    seconds: float = 0.0
    p_alive: np.ndarray | None = None  # per prediction row, with `p_alive_weights` customers each
    p_alive_weights: np.ndarray | None = None

    @property
    def passed(self) -> bool:
        return self.status != "failed"

    @property
    def purchase_fit(self):
        return {"bgnbd": self.bgnbd, "pareto_nbd": self.pareto_nbd}.get(self.purchase_model or "")

    def fit_of(self, name: str):
        return {"bgnbd": self.bgnbd, "pareto_nbd": self.pareto_nbd}[name]


def ensure_clv_schema(con: duckdb.DuckDBPyConnection) -> None:
    """Create the clv tables; tables stored by an older release gain the new columns (null)."""
    con.execute(_DDL)
    wanted = _declared_columns()
    present = {
        (table, column)
        for table, column in con.execute(
            "select table_name, column_name from information_schema.columns where table_schema = ?", [SCHEMA]
        ).fetchall()
    }
    for (table, column), data_type in wanted.items():
        if (table, column) not in present:
            con.execute(f"alter table {SCHEMA}.{table} add column {column} {data_type}")


def _declared_columns() -> dict[tuple[str, str], str]:
    """(table, column) -> type as the DDL declares them, read back from an in-memory DuckDB."""
    with duckdb.connect() as scratch:
        scratch.execute(_DDL)
        rows = scratch.execute(
            "select table_name, column_name, data_type from information_schema.columns "
            "where table_schema = ? order by table_name, ordinal_position", [SCHEMA]
        ).fetchall()
    return {(table, column): data_type for table, column, data_type in rows}


def _check_as_of(con: duckdb.DuckDBPyConnection, as_of: date) -> None:
    """The RFM summary must be the one dbt built for this as-of date, not a stale one."""
    dates = {d for (d,) in con.execute(f"select distinct as_of_date from {RFM_MODEL}").fetchall()}
    if dates - {as_of}:
        raise ValueError(f"{RFM_MODEL} was built as of {sorted(map(str, dates))}, not {as_of}: rebuild it first")


def _fit_quietly(fit, *args, **kwargs):
    """Fits warn on non-convergence; the outcome records it instead."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", clv.ConvergenceWarning)
        return fit(*args, **kwargs)


def _fit_purchase_model(name: str, x, t_x, T, w, start=None):
    fitter = clv.fit_bgnbd if name == "bgnbd" else clv.fit_pareto_nbd
    return _fit_quietly(fitter, x, t_x, T, w, start=start)


def _frequency_group(frequency: np.ndarray) -> np.ndarray:
    return np.minimum(frequency, TOP_FREQUENCY_GROUP)


def _table_exists(con: duckdb.DuckDBPyConnection, relation: str) -> bool:
    schema, name = relation.split(".")
    return bool(con.execute(
        "select count(*) from information_schema.tables where table_schema = ? and table_name = ?", [schema, name]
    ).fetchone()[0])


def _limit_text(fit) -> str:
    if fit is None or not fit.limit:
        return ""
    return " at the limit " + " + ".join(f"{part} ({LIMIT_NAMES.get(part, part)})" for part in fit.limit.split("+"))


def run_holdout(con: duckdb.DuckDBPyConnection, settings: ClvSettings, *, starts: dict | None = None) -> Holdout | None:
    """Refit each candidate purchase model as of H = D − holdout days, predict the purchase
    days in (H, D], compare. Rows are compressed by (x, t_x, T, actual holdout purchases), so
    the per-customer mean absolute error is exact."""
    rows = con.execute(
        f"""
        select frequency, t_x_days, t_days, holdout_purchases, count(*) as customers,
               any_value(holdout_start_date) as start_date, any_value(holdout_days) as days
        from {HOLDOUT_MODEL}
        group by frequency, t_x_days, t_days, holdout_purchases
        order by frequency, t_x_days, t_days, holdout_purchases
        """
    ).fetchnumpy()
    if len(rows["customers"]) == 0:
        return None
    x, t_x, T = (rows[c].astype(float) for c in ("frequency", "t_x_days", "t_days"))
    holdout = Holdout(
        start_date=pd.Timestamp(rows["start_date"][0]).date(),
        days=int(rows["days"][0]),
        x=x, t_x=t_x, T=T,
        weights=rows["customers"].astype(float),
        actual_rows=rows["holdout_purchases"].astype(float),
    )
    w = holdout.weights
    repeaters = float(w[(x > 0) & (T > 0)].sum())
    for name in settings.candidates:
        if repeaters < max(1, settings.min_repeat_customers):
            holdout.models[name] = HoldoutModel(None, reason=(
                f"only {repeaters:.0f} customer(s) with a repeat purchase before {holdout.start_date}"))
            continue
        fit = _fit_purchase_model(name, x, t_x, T, w, start=(starts or {}).get(name))
        predicted = np.asarray(clv.model_expected_purchases(fit, float(holdout.days), x, t_x, T), dtype=float)
        if not np.all(np.isfinite(predicted)):
            holdout.models[name] = HoldoutModel(fit, reason=f"{int((~np.isfinite(predicted)).sum())} non-finite predictions")
            continue
        days = float(holdout.days)
        # the noise a correct model expects, estimated on a systematic sample of the rows when
        # there are many (rows are ordered by frequency: the sample is stratified); it only
        # matters where it exceeds the fixed bound, i.e. for small businesses, which are exact
        step = max(1, -(-len(x) // NOISE_SAMPLE_ROWS))
        s = slice(None, None, step)
        scale = len(x) / len(x[s])
        spread = scale * float(np.dot(w[s], clv.purchases_variance(fit, days, x[s], t_x[s], T[s])))
        parameters = clv.prediction_sd(
            fit, lambda f: scale * float(np.dot(w[s], clv.model_expected_purchases(f, days, x[s], t_x[s], T[s]))))
        holdout.models[name] = HoldoutModel(
            fit,
            predicted=float(np.dot(w, predicted)),
            mae=float(np.dot(w, np.abs(predicted - holdout.actual_rows)) / w.sum()),
            predicted_rows=predicted,
            noise_sd=float(np.sqrt(spread + (parameters**2 if np.isfinite(parameters) else 0.0))),
        )
    return holdout


def choose_model(holdout: Holdout | None, settings: ClvSettings) -> tuple[str, Problem | None]:
    """The published purchase model: the configured one, or for `auto` the one with the lower
    holdout error (per-customer MAE) among the holdout refits that converged."""
    if settings.purchase_model != "auto":
        return settings.purchase_model, None
    usable = {} if holdout is None else {
        name: model for name, model in holdout.models.items()
        if model.fit is not None and model.fit.converged and np.isfinite(model.mae)
    }
    if not usable:
        return "bgnbd", Problem("purchase model auto: no holdout to choose by, BG/NBD published", Severity.WARN)
    return min(usable, key=lambda name: (usable[name].mae, name)), None


def _summarise_holdout(holdout: Holdout) -> None:
    """The published model's holdout by calibration frequency and its decile lift table."""
    chosen = holdout.models.get(holdout.chosen)
    predicted_rows = chosen.predicted_rows if chosen and chosen.predicted_rows is not None else None
    w = holdout.weights
    frame = pd.DataFrame({
        "group": _frequency_group(holdout.x.astype(np.int64)),
        "customers": w,
        "predicted": (predicted_rows * w) if predicted_rows is not None else 0.0,
        "actual": holdout.actual_rows * w,
    })
    by_group = frame.groupby("group", sort=True).agg(
        customers=("customers", "sum"), predicted=("predicted", "sum"), actual=("actual", "sum")
    ).reset_index().rename(columns={"group": "calibration_frequency"})
    if predicted_rows is None:
        by_group["predicted"] = np.nan
    by_group["customers"] = by_group["customers"].round().astype(np.int64)
    by_group["actual"] = by_group["actual"].round().astype(np.int64)
    by_group["frequency_group"] = [
        f"{g}+" if g == TOP_FREQUENCY_GROUP else str(g) for g in by_group["calibration_frequency"]
    ]
    holdout.by_frequency = by_group
    customers = int(w.sum())
    if predicted_rows is not None and customers >= LIFT_GROUPS:
        counts = w.round().astype(np.int64)
        lift = clv.lift_table(np.repeat(predicted_rows, counts), np.repeat(holdout.actual_rows, counts), LIFT_GROUPS)
        holdout.lift = pd.DataFrame({
            "decile": lift["group"], "customers": lift["n"],
            "mean_predicted_purchases": lift["mean_predicted"], "mean_actual_purchases": lift["mean_actual"],
        })


def _tracking(con: duckdb.DuckDBPyConnection, holdout: Holdout, as_of: date) -> pd.DataFrame | None:
    """Weekly cumulative repeat purchase days of the holdout cohort (first purchase on or
    before H), actual against the holdout refit's expectation, over calibration and holdout.
    Needs the purchase days; a fit run on the RFM summaries alone draws no tracking curve."""
    if holdout.fit is None or not _table_exists(con, PURCHASE_DAYS_MODEL):
        return None
    start = holdout.start_date
    # days before D of every cohort customer's first purchase and of every repeat purchase day
    days = f"""
        with days as (
            select purchase_date, min(purchase_date) over (partition by customer_key) as first_date
            from {PURCHASE_DAYS_MODEL}
            where purchase_date <= $as_of
        )
        select cast($as_of - {{column}} as integer) as days_before, count(*) as n
        from days
        where first_date <= $start and {{condition}}
        group by days_before
        order by days_before
    """
    params = {"as_of": as_of, "start": start}
    first = con.execute(days.format(column="first_date", condition="purchase_date = first_date"), params).fetchnumpy()
    repeat = con.execute(days.format(column="purchase_date", condition="purchase_date > first_date"), params).fetchnumpy()
    if len(first["n"]) == 0:
        return None
    span = float(first["days_before"].max())  # the cohort's first purchase, days before D
    weeks = int(np.ceil(span / 7.0))
    ends_before_d = np.maximum(span - 7.0 * np.arange(1, weeks + 1), 0.0)  # days before D at each week's end
    elapsed = span - ends_before_d  # days since the cohort's first purchase
    # repeat purchases on or before a week's end: those at least that many days before D
    repeat_days = repeat["days_before"].astype(float)
    at_least = np.concatenate([np.cumsum(repeat["n"][::-1])[::-1], [0]]).astype(np.int64)
    actual_cumulative = at_least[np.searchsorted(repeat_days, ends_before_d, side="left")]
    first_since_origin = np.repeat(span - first["days_before"].astype(float), first["n"].astype(np.int64))
    predicted = clv.tracking_curve(holdout.fit, first_since_origin, elapsed)
    week_end = [as_of - timedelta(days=int(e)) for e in ends_before_d]
    return pd.DataFrame({
        "week": np.arange(1, weeks + 1),
        "week_end": week_end,
        "is_holdout": [d > start for d in week_end],
        "actual_repeat_purchases": actual_cumulative,
        "predicted_repeat_purchases": predicted,
    })


def _discounted_purchases(fit, x, t_x, T, annual_discount_rate: float) -> np.ndarray:
    """Σ_m E[purchases in month m] / (1 + d)^m over 12 months (predicted_clv_12m without money)."""
    if isinstance(fit, clv.BgNbdFit):
        return clv.predicted_clv_12m(fit, x, t_x, T, 1.0, 1.0, annual_discount_rate=annual_discount_rate)
    d = clv.monthly_discount_rate(annual_discount_rate)
    edges = clv.DAYS_PER_MONTH * np.arange(13)
    cumulative = clv.model_expected_purchases_curve(fit, edges, x, t_x, T)
    return np.diff(cumulative, axis=1) @ (1.0 + d) ** -np.arange(1, 13, dtype=float)


def _skip(outcome: ClvOutcome, purchases: pd.DataFrame, order_values: pd.DataFrame, reason: str, started: float):
    outcome.status = "skipped"
    outcome.problems.append(Problem(reason + ": no model fitted, predictions left null"))
    for column in PREDICTED_COLUMNS:
        purchases[column] = np.nan
    order_values["expected_order_value"] = np.nan
    outcome.seconds = time.perf_counter() - started
    return outcome, purchases, order_values


def _non_finite(name: str, values: np.ndarray, weights: np.ndarray) -> Problem | None:
    bad = ~np.isfinite(np.asarray(values, dtype=float))
    if bad.any():
        return Problem(f"{name}: {int(weights[bad].sum())} customer(s) got a non-finite prediction")
    return None


def fit_clv(
    con: duckdb.DuckDBPyConnection, settings: ClvSettings, *, as_of: date
) -> tuple[ClvOutcome, pd.DataFrame, pd.DataFrame]:
    """Fit the models as of D on the RFM summary; return the outcome and the compressed predictions."""
    started = time.perf_counter()
    _check_as_of(con, as_of)
    rows = con.execute(
        f"""
        select frequency, t_x_days, t_days, count(*) as customers
        from {RFM_MODEL}
        group by frequency, t_x_days, t_days
        order by frequency, t_x_days, t_days
        """
    ).fetchnumpy()
    spend = con.execute(
        f"""
        select frequency, monetary_value, count(*) as customers
        from {RFM_MODEL}
        where frequency > 0 and monetary_value > 0
        group by frequency, monetary_value
        order by frequency, monetary_value
        """
    ).fetchnumpy()
    x, t_x, T = (rows[c].astype(float) for c in ("frequency", "t_x_days", "t_days"))
    w = rows["customers"].astype(float)
    outcome = ClvOutcome(as_of_date=as_of, status="fitted", customers=int(w.sum()), prediction_rows=len(x))
    purchases = pd.DataFrame(
        {"frequency": rows["frequency"], "t_x_days": rows["t_x_days"], "t_days": rows["t_days"],
         "customers": rows["customers"].astype(np.int64)}
    )
    order_values = pd.DataFrame(
        {"frequency": spend["frequency"], "monetary_value": spend["monetary_value"],
         "customers": spend["customers"].astype(np.int64)}
    )
    repeaters = int(w[(x > 0) & (T > 0)].sum())
    if repeaters < max(1, settings.min_repeat_customers):
        return _skip(outcome, purchases, order_values, (
            f"only {repeaters} customer(s) with a repeat purchase (CVW_CLV_MIN_REPEAT_CUSTOMERS = "
            f"{settings.min_repeat_customers})"), started)
    if len(spend["customers"]) == 0:
        return _skip(outcome, purchases, order_values,
                     "no repeat customer with a positive mean order value: the spend model has nothing to fit", started)

    # holdout refits first: `auto` chooses by them, and their estimates start the full fits
    outcome.holdout = holdout = run_holdout(con, settings)
    outcome.purchase_model, choice_problem = choose_model(holdout, settings)
    if choice_problem:
        outcome.problems.append(choice_problem)
    if holdout is not None:
        holdout.chosen = outcome.purchase_model
        _summarise_holdout(holdout)
        holdout.tracking = _tracking(con, holdout, as_of)

    for name in settings.candidates:
        warm = holdout.models.get(name).fit if holdout and holdout.models.get(name) else None
        start = list(warm.params.values()) if warm is not None and warm.limit is None else None
        fit = _fit_purchase_model(name, x, t_x, T, w, start=start)
        setattr(outcome, name, fit)
        if not fit.converged:
            severity = Severity.ERROR if name == outcome.purchase_model else Severity.WARN
            outcome.problems.append(Problem(f"{MODEL_NAMES[name]} fit did not converge: {fit.message}", severity))
        elif fit.limit:
            outcome.problems.append(Problem(f"{MODEL_NAMES[name]} maximum{_limit_text(fit)}", Severity.WARN))
    outcome.gamma_gamma = _fit_quietly(
        clv.fit_gamma_gamma, spend["frequency"].astype(float), spend["monetary_value"], spend["customers"].astype(float)
    )
    gg = outcome.gamma_gamma
    if not gg.converged:
        outcome.problems.append(Problem(f"Gamma-Gamma fit did not converge: {gg.message}"))
    elif gg.limit:
        outcome.problems.append(Problem(f"Gamma-Gamma maximum{_limit_text(gg)}", Severity.WARN))
    if not gg.q > 1:
        outcome.problems.append(Problem(f"Gamma-Gamma q = {gg.q:.4g} <= 1: the mean order value is infinite"))

    fit = outcome.purchase_fit
    purchases["p_alive"] = clv.model_p_alive(fit, x, t_x, T)
    purchases["expected_purchases_365d"] = clv.model_expected_purchases(fit, float(PREDICTION_DAYS), x, t_x, T)
    # predicted_clv_12m = discounted purchases × expected order value × margin rate: the last
    # two are per customer, so dbt multiplies them in; here the discounted purchase count.
    purchases["discounted_purchases_12m"] = _discounted_purchases(fit, x, t_x, T, settings.annual_discount_rate)
    bounds = clv.purchases_percentiles(fit, float(PREDICTION_DAYS), x, t_x, T, q=INTERVAL)
    purchases["purchases_365d_low"], purchases["purchases_365d_high"] = bounds[:, 0], bounds[:, 1]
    order_values["expected_order_value"] = clv.conditional_expected_order_value(
        gg, spend["frequency"].astype(float), spend["monetary_value"]
    )
    outcome.p_alive, outcome.p_alive_weights = purchases["p_alive"].to_numpy(), w
    # a fitted model owes every buyer a finite prediction: anything else fails, never a silent null
    for column in ("p_alive", "expected_purchases_365d", "discounted_purchases_12m"):
        problem = _non_finite(f"{MODEL_NAMES[outcome.purchase_model]} {column}", purchases[column].to_numpy(), w)
        if problem:
            outcome.problems.append(problem)
    problem = _non_finite("Gamma-Gamma expected_order_value", order_values["expected_order_value"].to_numpy(),
                          spend["customers"].astype(float))
    if problem:
        outcome.problems.append(problem)

    if holdout is None or holdout.fit is None:
        reason = holdout.models[outcome.purchase_model].reason if holdout and outcome.purchase_model in holdout.models else ""
        outcome.problems.append(Problem(
            "holdout check skipped: too little history before the holdout period" + (f" ({reason})" if reason else ""),
            Severity.WARN,
        ))
    elif not holdout.fit.converged:
        outcome.problems.append(Problem(
            f"holdout {MODEL_NAMES[outcome.purchase_model]} refit did not converge: {holdout.fit.message}"))
    elif holdout.error is not None and holdout.error > holdout.allowed_error(settings):
        outcome.problems.append(Problem(
            f"holdout error {holdout.error:.1%} exceeds the bound {holdout.allowed_error(settings):.1%} "
            f"(CVW_CLV_MAX_HOLDOUT_ERROR {settings.max_holdout_error:.1%}, or "
            f"{settings.holdout_noise_sigmas:g} sigma of noise): "
            f"predicted {holdout.predicted:,.0f} purchases in the {holdout.days} days after {holdout.start_date}, "
            f"actual {holdout.actual:,}"
        ))
    blocking = [p for p in outcome.problems if p.severity == Severity.ERROR]
    outcome.status = "failed" if blocking else "fitted"
    outcome.seconds = time.perf_counter() - started
    return outcome, purchases, order_values


def _se(fit, name: str):
    return (fit.standard_errors or {}).get(name) if fit is not None else None


def _purchase_record(prefix: str, fit, names: tuple[str, ...]) -> dict:
    record = {f"{prefix}_{n}": getattr(fit, n) if fit else None for n in names}
    record.update({f"{prefix}_{n}_se": _se(fit, n) for n in names})
    record.update({
        f"{prefix}_log_likelihood": fit.log_likelihood if fit else None,
        f"{prefix}_customers": fit.n_customers if fit else None,
        f"{prefix}_converged": fit.converged if fit else None,
        f"{prefix}_limit": fit.limit if fit else None,
    })
    return record


def _fit_record(outcome: ClvOutcome, settings: ClvSettings, run_id: str | None, fitted_at) -> dict:
    gg, ho = outcome.gamma_gamma, outcome.holdout
    hf = ho.fit if ho else None
    # the holdout_bgnbd_* columns keep their meaning: the BG/NBD refit, whichever model publishes
    hb = ho.models.get("bgnbd") if ho else None
    hp = ho.models.get("pareto_nbd") if ho else None
    record = {
        "as_of_date": outcome.as_of_date,
        "status": outcome.status,
        "passed": outcome.passed,
        "problems": "; ".join(map(str, outcome.problems)) or None,
        "time_unit": "day",
        "purchase_model": outcome.purchase_model,
        **_purchase_record("bgnbd", outcome.bgnbd, ("r", "alpha", "a", "b")),
        **_purchase_record("pareto_nbd", outcome.pareto_nbd, ("r", "alpha", "s", "beta")),
        "gamma_gamma_p": gg.p if gg else None, "gamma_gamma_q": gg.q if gg else None,
        "gamma_gamma_v": gg.v if gg else None,
        "gamma_gamma_log_likelihood": gg.log_likelihood if gg else None,
        "gamma_gamma_customers": gg.n_customers if gg else None,
        "gamma_gamma_converged": gg.converged if gg else None,
        "gamma_gamma_limit": gg.limit if gg else None,
        "gamma_gamma_p_se": _se(gg, "p"), "gamma_gamma_q_se": _se(gg, "q"), "gamma_gamma_v_se": _se(gg, "v"),
        "population_order_value": clv.population_mean_order_value(gg) if gg and gg.q > 1 else None,
        "annual_discount_rate": settings.annual_discount_rate,
        "holdout_start_date": ho.start_date if ho else None,
        "holdout_days": ho.days if ho else None,
        "holdout_customers": ho.customers if ho else None,
        "holdout_converged": hf.converged if hf else None,
        "holdout_predicted_purchases": ho.predicted if hf else None,
        "holdout_noise_sd": ho.noise_sd if hf else None,
        "holdout_actual_purchases": ho.actual if ho else None,
        "holdout_error": ho.error if hf else None,
        "holdout_max_error": ho.allowed_error(settings) if hf else settings.max_holdout_error,
        "holdout_mae": ho.mae if hf else None,
        "holdout_bgnbd_predicted_purchases": hb.predicted if hb and hb.fit else None,
        "holdout_bgnbd_mae": hb.mae if hb and hb.fit else None,
        "holdout_pareto_nbd_predicted_purchases": hp.predicted if hp and hp.fit else None,
        "holdout_pareto_nbd_mae": hp.mae if hp and hp.fit else None,
        "fit_seconds": outcome.seconds,
        "fitted_at": fitted_at,
        "run_id": run_id,
    }
    bf = hb.fit if hb else None
    record.update({f"holdout_bgnbd_{n}": getattr(bf, n) if bf else None for n in ("r", "alpha", "a", "b")})
    # no NaN or infinity in the record: a value that does not exist (the standard error of a
    # parameter run off to a limit, the likelihood of equal order values) is null
    return {k: (None if isinstance(v, float) and not np.isfinite(v) else v) for k, v in record.items()}


def _replace(con: duckdb.DuckDBPyConnection, table: str, as_of: date, frame: pd.DataFrame) -> None:
    """Only the latest as-of date's predictions are kept: dbt reads them for that date."""
    con.execute(f"delete from {SCHEMA}.{table}")
    frame = frame.assign(as_of_date=as_of)
    con.register("_frame", frame)
    try:
        con.execute(f"insert into {SCHEMA}.{table} by name select * from _frame")
    finally:
        con.unregister("_frame")


def _replace_date(con: duckdb.DuckDBPyConnection, table: str, as_of: date, frame: pd.DataFrame | None) -> None:
    """The diagnostics of every as-of date are kept (one set per date, the latest run's)."""
    con.execute(f"delete from {SCHEMA}.{table} where as_of_date = ?", [as_of])
    if frame is None or frame.empty:
        return
    con.register("_frame", frame.assign(as_of_date=as_of))
    try:
        con.execute(f"insert into {SCHEMA}.{table} by name select * from _frame")
    finally:
        con.unregister("_frame")


def store_clv(
    con: duckdb.DuckDBPyConnection,
    outcome: ClvOutcome,
    purchases: pd.DataFrame,
    order_values: pd.DataFrame,
    settings: ClvSettings,
    *,
    run_id: str | None,
    fitted_at,
) -> None:
    """Write predictions, the holdout diagnostics and the fit record in one transaction."""
    ensure_clv_schema(con)
    ho = outcome.holdout
    holdout = ho.by_frequency if ho is not None and ho.by_frequency is not None else None
    if holdout is not None:
        holdout = holdout.rename(columns={"predicted": "predicted_purchases", "actual": "actual_purchases"})
    record = pd.DataFrame([_fit_record(outcome, settings, run_id, fitted_at)])
    with transaction(con):
        _replace(con, "purchase_predictions", outcome.as_of_date, purchases)
        _replace(con, "order_value_predictions", outcome.as_of_date, order_values)
        _replace_date(con, "holdout_by_frequency", outcome.as_of_date, holdout)
        _replace_date(con, "holdout_lift", outcome.as_of_date, ho.lift if ho else None)
        _replace_date(con, "holdout_tracking", outcome.as_of_date, ho.tracking if ho else None)
        _replace_date(con, "model_fits", outcome.as_of_date, record)
