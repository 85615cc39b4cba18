"""The nightly CLV fit: BG/NBD + Gamma-Gamma on the RFM summary dbt builds, and its holdout check.

Reads only what the models need, compressed in DuckDB (one row per distinct (x, t_x, T)
with its number of customers; one per distinct (x, monetary value)), and writes the
predictions back in the same compressed form to the `clv` schema, where dbt joins them
to every customer. Every fit is recorded in `clv.model_fits`, one row per as-of date.
"""

import time
import warnings
from dataclasses import dataclass, field
from datetime import date

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
PREDICTION_DAYS = 365
# Calibration repeat purchases 0..6 each get a group; 7 and more share the last one.
TOP_FREQUENCY_GROUP = 7

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
    discounted_purchases_12m double
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
create table if not exists {SCHEMA}.model_fits (
    as_of_date date primary key,
    status varchar not null,
    passed boolean not null,
    problems varchar,
    time_unit varchar not null,
    bgnbd_r double, bgnbd_alpha double, bgnbd_a double, bgnbd_b double,
    bgnbd_log_likelihood double,
    bgnbd_customers bigint,
    bgnbd_converged boolean,
    gamma_gamma_p double, gamma_gamma_q double, gamma_gamma_v double,
    gamma_gamma_log_likelihood double,
    gamma_gamma_customers bigint,
    gamma_gamma_converged boolean,
    population_order_value double,
    annual_discount_rate double,
    holdout_start_date date,
    holdout_days integer,
    holdout_customers bigint,
    holdout_bgnbd_r double, holdout_bgnbd_alpha double, holdout_bgnbd_a double, holdout_bgnbd_b double,
    holdout_converged boolean,
    holdout_predicted_purchases double,
    holdout_actual_purchases bigint,
    holdout_error double,
    holdout_max_error double,
    fit_seconds double,
    fitted_at timestamp,
    run_id varchar
);
"""


@dataclass(frozen=True)
class ClvSettings:
    annual_discount_rate: float
    # Largest |predicted − actual| / actual holdout purchases; for small populations the
    # bound widens to `holdout_noise_sigmas` standard deviations of Poisson noise on the
    # actual count, so that chance alone never blocks a publication.
    max_holdout_error: float
    min_repeat_customers: int  # fewer customers with a repeat purchase: no fit
    holdout_noise_sigmas: float

    @classmethod
    def from_settings(cls, settings: Settings) -> "ClvSettings":
        return cls(settings.clv_annual_discount_rate, settings.clv_max_holdout_error,
                   settings.clv_min_repeat_customers, settings.clv_holdout_noise_sigmas)


@dataclass(frozen=True)
class Problem:
    """Something the fit found: an ERROR fails it (no predictions published), a WARN is recorded."""

    message: str
    severity: Severity = Severity.ERROR

    def __str__(self) -> str:
        return self.message + (" (warning)" if self.severity == Severity.WARN else "")


@dataclass
class Holdout:
    start_date: date
    days: int
    fit: clv.BgNbdFit | None
    by_frequency: pd.DataFrame
    predicted: float
    actual: int

    @property
    def error(self) -> float | None:
        return abs(self.predicted - self.actual) / self.actual if self.actual else None

    def allowed_error(self, settings: "ClvSettings") -> float:
        """The relative error tolerated: the configured bound, or sampling noise when larger."""
        sigmas = settings.holdout_noise_sigmas
        noise = sigmas / np.sqrt(self.actual) if self.actual else float("inf")
        return max(settings.max_holdout_error, noise)


@dataclass
class ClvOutcome:
    as_of_date: date
    status: str  # fitted | failed | skipped
    problems: list[Problem] = field(default_factory=list)
    bgnbd: clv.BgNbdFit | None = None
    gamma_gamma: clv.GammaGammaFit | None = None
    holdout: Holdout | None = None
    customers: int = 0
    prediction_rows: int = 0
    seconds: float = 0.0
    p_alive: np.ndarray | None = None  # per prediction row, with `p_alive_weights` customers each
    p_alive_weights: np.ndarray | None = None

    @property
    def passed(self) -> bool:
        return self.status != "failed"


def ensure_clv_schema(con: duckdb.DuckDBPyConnection) -> None:
    con.execute(_DDL)


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


def _frequency_group(frequency: np.ndarray) -> np.ndarray:
    return np.minimum(frequency, TOP_FREQUENCY_GROUP)


def run_holdout(con: duckdb.DuckDBPyConnection, settings: ClvSettings) -> Holdout | None:
    """Refit as of H = D − holdout days, predict the purchase days in (H, D], compare."""
    rows = con.execute(
        f"""
        select frequency, t_x_days, t_days, count(*) as customers, sum(holdout_purchases) as actual,
               any_value(holdout_start_date) as start_date, any_value(holdout_days) as days
        from {HOLDOUT_MODEL}
        group by frequency, t_x_days, t_days
        order by frequency, t_x_days, t_days
        """
    ).fetchnumpy()
    if len(rows["customers"]) == 0:
        return None
    x, t_x, T = (rows[c].astype(float) for c in ("frequency", "t_x_days", "t_days"))
    w, actual = rows["customers"].astype(float), rows["actual"].astype(np.int64)
    days = int(rows["days"][0])
    start = pd.Timestamp(rows["start_date"][0]).date()
    fit = None
    predicted_rows = np.full(len(x), np.nan)
    if w[x > 0].sum() >= settings.min_repeat_customers and np.any(T > 0):
        fit = _fit_quietly(clv.fit_bgnbd, x, t_x, T, w)
        predicted_rows = clv.expected_purchases(fit, float(days), x, t_x, T) * w
    group = _frequency_group(x.astype(np.int64))
    frame = pd.DataFrame({"group": group, "customers": w, "predicted": predicted_rows, "actual": actual})
    by_group = frame.groupby("group", sort=True).agg(
        customers=("customers", "sum"), predicted=("predicted", "sum"), actual=("actual", "sum")
    )
    if fit is None:
        by_group["predicted"] = np.nan
    by_group = by_group.reset_index().rename(columns={"group": "calibration_frequency"})
    by_group["frequency_group"] = [
        f"{g}+" if g == TOP_FREQUENCY_GROUP else str(g) for g in by_group["calibration_frequency"]
    ]
    return Holdout(
        start_date=start,
        days=days,
        fit=fit,
        by_frequency=by_group,
        predicted=float(np.nansum(predicted_rows)) if fit else float("nan"),
        actual=int(actual.sum()),
    )


def fit_clv(
    con: duckdb.DuckDBPyConnection, settings: ClvSettings, *, as_of: date
) -> tuple[ClvOutcome, pd.DataFrame, pd.DataFrame]:
    """Fit both models as of D on the RFM summary; return the outcome and the compressed predictions."""
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
    repeaters = int(w[x > 0].sum())
    if repeaters < settings.min_repeat_customers:
        outcome.status = "skipped"
        outcome.problems.append(Problem(
            f"only {repeaters} customer(s) with a repeat purchase (CVW_CLV_MIN_REPEAT_CUSTOMERS = "
            f"{settings.min_repeat_customers}): no model fitted, predictions left null"
        ))
        for column in ("p_alive", "expected_purchases_365d", "discounted_purchases_12m"):
            purchases[column] = np.nan
        order_values["expected_order_value"] = np.nan
        outcome.seconds = time.perf_counter() - started
        return outcome, purchases, order_values

    outcome.bgnbd = _fit_quietly(clv.fit_bgnbd, x, t_x, T, w)
    outcome.gamma_gamma = _fit_quietly(
        clv.fit_gamma_gamma, spend["frequency"].astype(float), spend["monetary_value"], spend["customers"].astype(float)
    )
    if not outcome.bgnbd.converged:
        outcome.problems.append(Problem(f"BG/NBD fit did not converge: {outcome.bgnbd.message}"))
    if not outcome.gamma_gamma.converged:
        outcome.problems.append(Problem(f"Gamma-Gamma fit did not converge: {outcome.gamma_gamma.message}"))
    if not outcome.gamma_gamma.q > 1:
        outcome.problems.append(Problem(f"Gamma-Gamma q = {outcome.gamma_gamma.q:.4g} <= 1: the mean order value is infinite"))

    fit = outcome.bgnbd
    purchases["p_alive"] = clv.p_alive(fit, x, t_x, T)
    purchases["expected_purchases_365d"] = clv.expected_purchases(fit, float(PREDICTION_DAYS), x, t_x, T)
    # predicted_clv_12m = discounted purchases × expected order value × margin rate: the last
    # two are per customer, so dbt multiplies them in; here the discounted purchase count.
    purchases["discounted_purchases_12m"] = clv.predicted_clv_12m(
        fit, x, t_x, T, 1.0, 1.0, annual_discount_rate=settings.annual_discount_rate
    )
    order_values["expected_order_value"] = clv.conditional_expected_order_value(
        outcome.gamma_gamma, spend["frequency"].astype(float), spend["monetary_value"]
    )
    outcome.p_alive, outcome.p_alive_weights = purchases["p_alive"].to_numpy(), w

    outcome.holdout = run_holdout(con, settings)
    holdout = outcome.holdout
    if holdout is None or holdout.fit is None:
        outcome.problems.append(Problem("holdout check skipped: too little history before the holdout period", Severity.WARN))
    elif not holdout.fit.converged:
        outcome.problems.append(Problem(f"holdout BG/NBD refit did not converge: {holdout.fit.message}"))
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


def _fit_record(outcome: ClvOutcome, settings: ClvSettings, run_id: str | None, fitted_at) -> dict:
    bg, gg, ho = outcome.bgnbd, outcome.gamma_gamma, outcome.holdout
    hf = ho.fit if ho else None
    return {
        "as_of_date": outcome.as_of_date,
        "status": outcome.status,
        "passed": outcome.passed,
        "problems": "; ".join(map(str, outcome.problems)) or None,
        "time_unit": "day",
        "bgnbd_r": bg.r if bg else None, "bgnbd_alpha": bg.alpha if bg else None,
        "bgnbd_a": bg.a if bg else None, "bgnbd_b": bg.b if bg else None,
        "bgnbd_log_likelihood": bg.log_likelihood if bg else None,
        "bgnbd_customers": bg.n_customers if bg else None,
        "bgnbd_converged": bg.converged if bg else None,
        "gamma_gamma_p": gg.p if gg else None, "gamma_gamma_q": gg.q if gg else None,
        "gamma_gamma_v": gg.v if gg else None,
        "gamma_gamma_log_likelihood": gg.log_likelihood if gg else None,
        "gamma_gamma_customers": gg.n_customers if gg else None,
        "gamma_gamma_converged": gg.converged if gg else None,
        "population_order_value": clv.population_mean_order_value(gg) if gg and gg.q > 1 else None,
        "annual_discount_rate": settings.annual_discount_rate,
        "holdout_start_date": ho.start_date if ho else None,
        "holdout_days": ho.days if ho else None,
        "holdout_customers": int(ho.by_frequency["customers"].sum()) if ho else None,
        "holdout_bgnbd_r": hf.r if hf else None, "holdout_bgnbd_alpha": hf.alpha if hf else None,
        "holdout_bgnbd_a": hf.a if hf else None, "holdout_bgnbd_b": hf.b if hf else None,
        "holdout_converged": hf.converged if hf else None,
        "holdout_predicted_purchases": ho.predicted if hf else None,
        "holdout_actual_purchases": ho.actual if ho else None,
        "holdout_error": ho.error if hf else None,
        "holdout_max_error": ho.allowed_error(settings) if hf else settings.max_holdout_error,
        "fit_seconds": outcome.seconds,
        "fitted_at": fitted_at,
        "run_id": run_id,
    }


def _replace(con: duckdb.DuckDBPyConnection, table: str, as_of: date, frame: pd.DataFrame) -> None:
    """Only the latest as-of date's predictions are kept: dbt reads them for that date."""
    con.execute(f"delete from {SCHEMA}.{table}")
    frame = frame.assign(as_of_date=as_of)
    con.register("_frame", frame)
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
    """Write predictions, the holdout groups and the fit record in one transaction."""
    ensure_clv_schema(con)
    holdout = outcome.holdout.by_frequency if outcome.holdout else pd.DataFrame(
        columns=["calibration_frequency", "frequency_group", "customers", "predicted", "actual"]
    )
    holdout = holdout.rename(columns={"predicted": "predicted_purchases", "actual": "actual_purchases"})
    record = pd.DataFrame([_fit_record(outcome, settings, run_id, fitted_at)])
    with transaction(con):
        _replace(con, "purchase_predictions", outcome.as_of_date, purchases)
        _replace(con, "order_value_predictions", outcome.as_of_date, order_values)
        con.execute(f"delete from {SCHEMA}.holdout_by_frequency where as_of_date = ?", [outcome.as_of_date])
        con.register("_holdout", holdout.assign(as_of_date=outcome.as_of_date))
        con.execute(f"insert into {SCHEMA}.holdout_by_frequency by name select * from _holdout")
        con.unregister("_holdout")
        con.execute(f"delete from {SCHEMA}.model_fits where as_of_date = ?", [outcome.as_of_date])
        con.register("_record", record)
        con.execute(f"insert into {SCHEMA}.model_fits by name select * from _record")
        con.unregister("_record")
