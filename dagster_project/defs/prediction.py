"""The CLV model inside the asset graph: reads dbt's RFM summary, writes predictions for dbt."""

from datetime import date
from pathlib import Path

import dagster as dg

from ..core import plots
from ..core.clock import utc_now
from ..core.files import replace_pngs
from ..prediction.fit import LIMIT_NAMES, MODEL_NAMES, ClvOutcome, fit_clv, store_clv
from ..settings import Settings
from . import keys
from .partitions import ONE_DATE_PER_RUN, as_of_dates
from .resources import ClvModelResource, WarehouseResource

GROUP = "models"


def _spec(name: str, description: str) -> dg.AssetSpec:
    return dg.AssetSpec(
        key=keys.clv_table(name),
        description=description,
        group_name=GROUP,
        kinds={"duckdb", "scipy"},
        deps=list(keys.CLV_INPUTS),
        metadata={"dagster/table_name": f"clv.{name}"},
    )


def _specs() -> list[dg.AssetSpec]:
    # Built in a function: a module-level list of specs would load as assets of its own.
    return [
        _spec("purchase_predictions", "The purchase model's predictions (BG/NBD or Pareto/NBD) per distinct "
              "(x, t_x, T): P(alive), expected purchases in the next 365 days with their 10th and 90th "
              "percentiles, discounted expected purchases per month over 12 months."),
        _spec("order_value_predictions", "Gamma-Gamma expected order value per distinct (x, monetary value)."),
        _spec("holdout_by_frequency", "Holdout check: predicted vs actual purchase days after D − holdout "
              "days, by calibration repeat purchases."),
        _spec("holdout_lift", "Holdout check: customers ranked by predicted purchases in ten deciles, mean "
              "predicted vs mean actual purchases."),
        _spec("holdout_tracking", "Holdout check: cumulative repeat purchases week by week, actual vs the "
              "refit's expectation, over calibration and holdout."),
        _spec("model_fits", "One row per as-of date: parameters, log-likelihoods, customers fitted, holdout check."),
    ]


def _plots(outcome: ClvOutcome, directory: Path) -> dict[str, dg.MetadataValue]:
    pictures = {}
    if outcome.p_alive is not None:
        pictures["p_alive_distribution"] = plots.p_alive_png(outcome.p_alive, outcome.p_alive_weights)
    holdout = outcome.holdout
    if holdout is not None and holdout.fit is not None:
        model = MODEL_NAMES[holdout.chosen]
        pictures["calibration_holdout"] = plots.calibration_holdout_png(
            holdout.by_frequency, holdout_days=holdout.days, start_date=holdout.start_date, model=model
        )
        if holdout.tracking is not None and len(holdout.tracking):
            pictures["holdout_tracking"] = plots.tracking_png(holdout.tracking, start_date=holdout.start_date, model=model)
        if holdout.lift is not None and len(holdout.lift):
            pictures["holdout_lift"] = plots.lift_png(holdout.lift, holdout_days=holdout.days, model=model)
    # a picture this fit did not draw (no holdout this time) must not be published with it
    replace_pngs(directory, pictures)
    return {name: dg.MetadataValue.md(plots.markdown_image(png, name.replace("_", " "))) for name, png in pictures.items()}


def _fit_summary(fit) -> dict:
    summary = {**fit.params, "log_likelihood": fit.log_likelihood, "converged": fit.converged,
               "limit": fit.limit and f"{fit.limit} ({LIMIT_NAMES.get(fit.limit, fit.limit)})"}
    summary.update({f"{name}_se": value for name, value in (fit.standard_errors or {}).items()})
    return summary


def _fit_metadata(outcome: ClvOutcome) -> dict:
    metadata = {"status": outcome.status, "customers": outcome.customers,
                "purchase_model": outcome.purchase_model or "none",
                "distinct_rfm_rows": outcome.prediction_rows, "fit_seconds": round(outcome.seconds, 3)}
    for name in ("bgnbd", "pareto_nbd", "gamma_gamma"):
        fit = getattr(outcome, name)
        if fit is not None:
            metadata[name] = dg.MetadataValue.json(_fit_summary(fit))
    holdout = outcome.holdout
    if holdout and holdout.fit:
        metadata["holdout_error"] = holdout.error
        metadata["holdout_mae"] = holdout.mae
        metadata["holdout_by_model"] = dg.MetadataValue.json({
            name: {"predicted": model.predicted, "actual": holdout.actual, "mae": model.mae}
            for name, model in holdout.models.items() if model.fit is not None
        })
        metadata["holdout_by_frequency"] = dg.MetadataValue.md(holdout.by_frequency.to_markdown(index=False))
        if holdout.lift is not None:
            metadata["holdout_lift"] = dg.MetadataValue.md(holdout.lift.to_markdown(index=False))
    if outcome.problems:
        metadata["problems"] = dg.MetadataValue.md("\n".join(f"- {p}" for p in outcome.problems))
    return metadata


def clv_model_asset(settings: Settings) -> dg.AssetsDefinition:
    @dg.multi_asset(
        name="clv_model",
        specs=_specs(),
        partitions_def=as_of_dates(settings),
        backfill_policy=ONE_DATE_PER_RUN,
        check_specs=[
            dg.AssetCheckSpec(
                name="clv_fit_reliable",
                asset=keys.MODEL_FITS,
                blocking=True,
                description="The purchase model (BG/NBD or Pareto/NBD) and Gamma-Gamma fits converged (a "
                "maximum at a limit of the parameter space counts), every customer got a finite prediction, "
                "and the holdout error is within CVW_CLV_MAX_HOLDOUT_ERROR: otherwise no prediction is "
                "published. Too few repeat customers skip the fit with the reason in clv_model.problems.",
            )
        ],
        description="Fits the purchase model (BG/NBD, Pareto/NBD, or both and the better by holdout error "
        "with CVW_CLV_PURCHASE_MODEL=auto) and Gamma-Gamma by maximum likelihood on the compressed RFM "
        "summary, runs the holdout check, and writes the predictions dbt joins into customer_value.",
    )
    def clv_model(context: dg.AssetExecutionContext, warehouse: WarehouseResource, clv: ClvModelResource):
        fit_settings = clv.settings()
        with warehouse.connect() as con:
            outcome, purchases, order_values = fit_clv(con, fit_settings, as_of=date.fromisoformat(context.partition_key))
            store_clv(con, outcome, purchases, order_values, fit_settings, run_id=context.run_id,
                      fitted_at=utc_now(whole_seconds=True))
        for problem in outcome.problems:
            context.log.warning(str(problem))
        pictures = _plots(outcome, warehouse.model_plots_dir)
        for key in sorted(context.selected_asset_keys):
            metadata = {**_fit_metadata(outcome), **pictures} if key == keys.MODEL_FITS else {}
            yield dg.MaterializeResult(asset_key=key, metadata=metadata)
        yield dg.AssetCheckResult(
            asset_key=keys.MODEL_FITS,
            check_name="clv_fit_reliable",
            passed=outcome.passed,
            severity=dg.AssetCheckSeverity.ERROR,
            description="; ".join(map(str, outcome.problems)) or "the fits converged; holdout error within bound",
            metadata={"status": outcome.status,
                      "holdout_error": outcome.holdout.error if outcome.holdout and outcome.holdout.fit else None},
        )

    return clv_model


def definitions(settings: Settings) -> dg.Definitions:
    return dg.Definitions(assets=[clv_model_asset(settings)])
