"""The pictures a data engineer checks the CLV model by: PNG bytes, drawn off-screen."""

import base64
import io

import numpy as np
import pandas as pd

FIGURE_SIZE = (6.4, 4.0)


def _pyplot():
    import matplotlib  # deferred: only the steps that draw pay for the import

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    return plt


def _png(figure) -> bytes:
    buffer = io.BytesIO()
    # No timestamp or software tag in the file: the same data gives the same bytes.
    figure.savefig(buffer, format="png", dpi=100, bbox_inches="tight", metadata={"Software": None})
    _pyplot().close(figure)
    return buffer.getvalue()


def calibration_holdout_png(
    by_frequency: pd.DataFrame, *, holdout_days: int, start_date, model: str = "BG/NBD"
) -> bytes:
    """Mean holdout purchases per customer, actual vs predicted, by calibration repeat purchases."""
    plt = _pyplot()
    figure, axes = plt.subplots(figsize=FIGURE_SIZE)
    customers = by_frequency["customers"].to_numpy(dtype=float)
    labels = by_frequency["frequency_group"].tolist()
    positions = np.arange(len(labels))
    axes.plot(positions, by_frequency["actual"] / customers, marker="o", label="actual")
    axes.plot(positions, by_frequency["predicted"] / customers, marker="s", linestyle="--", label=f"{model} refit")
    axes.set_xticks(positions, labels)
    axes.set_xlabel(f"repeat purchase days up to {start_date} (calibration)")
    axes.set_ylabel(f"mean purchase days in the next {holdout_days} days")
    axes.set_title("CLV holdout check: predicted vs actual repeat purchases")
    axes.legend()
    axes.grid(alpha=0.3)
    return _png(figure)


def tracking_png(tracking: pd.DataFrame, *, start_date, model: str) -> bytes:
    """Cumulative repeat purchases week by week, actual vs the refit's expectation; the line
    marks where calibration ends and the holdout begins."""
    plt = _pyplot()
    figure, axes = plt.subplots(figsize=FIGURE_SIZE)
    weeks = tracking["week"].to_numpy()
    axes.plot(weeks, tracking["actual_repeat_purchases"], label="actual")
    axes.plot(weeks, tracking["predicted_repeat_purchases"], linestyle="--", label=f"{model} refit")
    calibration = tracking.loc[~tracking["is_holdout"].astype(bool), "week"]
    if len(calibration):
        axes.axvline(float(calibration.max()), color="grey", linestyle=":", label=f"end of calibration ({start_date})")
    axes.set_xlabel("week since the cohort's first purchase")
    axes.set_ylabel("cumulative repeat purchase days")
    axes.set_title("CLV tracking: cumulative repeat purchases, predicted vs actual")
    axes.legend()
    axes.grid(alpha=0.3)
    return _png(figure)


def lift_png(lift: pd.DataFrame, *, holdout_days: int, model: str) -> bytes:
    """Mean holdout purchases per decile of predicted purchases (1 = highest predicted)."""
    plt = _pyplot()
    figure, axes = plt.subplots(figsize=FIGURE_SIZE)
    deciles = lift["decile"].to_numpy()
    axes.bar(deciles - 0.2, lift["mean_actual_purchases"], width=0.4, label="actual")
    axes.bar(deciles + 0.2, lift["mean_predicted_purchases"], width=0.4, label=f"{model} refit")
    axes.set_xticks(deciles)
    axes.set_xlabel("decile of predicted purchases (1 = highest)")
    axes.set_ylabel(f"mean purchase days in the {holdout_days} holdout days")
    axes.set_title("CLV holdout lift by decile")
    axes.legend()
    axes.grid(alpha=0.3, axis="y")
    return _png(figure)


def p_alive_png(p_alive: np.ndarray, weights: np.ndarray) -> bytes:
    """How many customers the model believes still active, by P(alive)."""
    plt = _pyplot()
    figure, axes = plt.subplots(figsize=FIGURE_SIZE)
    axes.hist(p_alive, bins=np.linspace(0, 1, 21), weights=weights, edgecolor="white")
    axes.set_xlabel("P(alive) at the as-of date")
    axes.set_ylabel("customers")
    axes.set_title("Distribution of P(alive) over customers with purchases")
    axes.grid(alpha=0.3)
    return _png(figure)


def concentration_curve(gross_margin: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """(share of customers, share of total margin they bring), customers by margin, largest first."""
    margin = np.sort(np.asarray(gross_margin, dtype=float))[::-1]
    total = margin.sum()
    share_customers = np.arange(1, len(margin) + 1) / max(len(margin), 1)
    share_margin = np.cumsum(margin) / total if total else np.zeros(len(margin))
    return np.concatenate([[0.0], share_customers]), np.concatenate([[0.0], share_margin])


def value_concentration_png(gross_margin: np.ndarray) -> bytes:
    """Share of gross margin earned from the top x % of customers."""
    plt = _pyplot()
    x, y = concentration_curve(gross_margin)
    figure, axes = plt.subplots(figsize=FIGURE_SIZE)
    axes.plot(x * 100, y * 100, label="customers by gross margin")
    axes.plot([0, 100], [0, 100], color="grey", linestyle=":", label="every customer equal")
    if len(x) > 1:
        top20 = float(np.interp(0.2, x, y))
        axes.axvline(20, color="grey", alpha=0.4)
        axes.annotate(f"top 20 %: {top20:.0%} of margin", (20, top20 * 100), textcoords="offset points", xytext=(8, -14))
    axes.set_xlabel("top x % of customers (with purchases)")
    axes.set_ylabel("% of total gross margin")
    axes.set_title("Value concentration")
    axes.legend(loc="lower right")
    axes.grid(alpha=0.3)
    return _png(figure)


def trend_png(dates, groups, values, *, title: str, ylabel: str) -> bytes:
    """`values` over `dates`, one line per group (e.g. customer equity by segment); a missing
    value (no fitted model that night) is a gap in its line."""
    plt = _pyplot()
    frame = pd.DataFrame({"date": pd.to_datetime(pd.Series(dates)), "group": list(groups),
                          "value": pd.to_numeric(pd.Series(values, dtype=object), errors="coerce")})
    figure, axes = plt.subplots(figsize=FIGURE_SIZE)
    for group, rows in sorted(frame.groupby("group"), key=lambda item: -item[1]["value"].abs().max()):
        axes.plot(rows["date"], rows["value"], marker="o", markersize=3, label=str(group),
                  linewidth=2.2 if group == "all" else 1.4)
    axes.set_xlabel("as-of date")
    axes.set_ylabel(ylabel)
    axes.set_title(title)
    axes.legend(loc="best", fontsize="small")
    axes.grid(alpha=0.3)
    figure.autofmt_xdate()
    return _png(figure)


def markdown_image(png: bytes, alt: str) -> str:
    """Markdown the Dagster UI renders inline (an asset's metadata)."""
    return f"![{alt}](data:image/png;base64,{base64.b64encode(png).decode('ascii')})"
