"""The model pictures: the concentration curve's arithmetic, and deterministic PNG bytes."""

import numpy as np
import pandas as pd
import pytest

from dagster_project.core import plots


def test_concentration_curve_orders_customers_by_margin():
    x, y = plots.concentration_curve(np.array([10.0, 60.0, -10.0, 40.0]))
    assert x.tolist() == [0.0, 0.25, 0.5, 0.75, 1.0]
    assert y.tolist() == pytest.approx([0.0, 0.6, 1.0, 1.1, 1.0])  # a loss-making customer brings it back down


def test_pictures_are_png_and_identical_for_identical_data():
    groups = pd.DataFrame({"frequency_group": ["0", "1", "7+"], "customers": [10, 5, 2],
                           "predicted": [3.0, 4.0, 6.0], "actual": [2, 5, 6]})
    first = plots.calibration_holdout_png(groups, holdout_days=180, start_date="2024-01-02")
    assert first == plots.calibration_holdout_png(groups, holdout_days=180, start_date="2024-01-02")
    assert first[:8] == b"\x89PNG\r\n\x1a\n"
    p_alive = plots.p_alive_png(np.array([0.1, 0.9, 1.0]), np.array([3.0, 1.0, 2.0]))
    assert p_alive[:8] == b"\x89PNG\r\n\x1a\n" and p_alive != first
    assert plots.markdown_image(b"png", "x") == "![x](data:image/png;base64,cG5n)"


def test_the_equity_trend_draws_a_line_per_segment_and_gaps_for_unknown_values():
    dates = ["2026-07-01", "2026-07-01", "2026-07-02", "2026-07-02", "2026-07-03"]
    groups = ["all", "maintain", "all", "maintain", "all"]
    first = plots.trend_png(dates, groups, [100.0, 40.0, None, 41.0, 103.5], title="equity", ylabel="equity")
    assert first[:8] == b"\x89PNG\r\n\x1a\n"
    assert first == plots.trend_png(dates, groups, [100.0, 40.0, None, 41.0, 103.5], title="equity", ylabel="equity")
    assert first != plots.trend_png(dates, groups, [100.0, 40.0, 90.0, 41.0, 103.5], title="equity", ylabel="equity")
