"""The GX runner keeps each expectation's verdict while feeding GX dtypes it checks vectorised."""

import numpy as np
import pandas as pd
import pytest

from dagster_project.quality.gx_runner import _vectorisable, validate


def frame_as_duckdb_returns_it() -> pd.DataFrame:
    return pd.DataFrame({
        "orders_count": np.array([1, 5, 40], dtype="int32"),
        "recency_days": pd.array([0, None, 400], dtype="Int32"),
        "first_order_date": pd.to_datetime(["2024-01-02", "2025-06-30", "2026-11-29"]).astype("datetime64[us]"),
        "is_at_risk": [True, False, True],
        "customer_key": ["a", "b", "c"],
    })


def suite(*expectations: dict) -> dict:
    return {"name": "probe", "expectations": list(expectations)}


def between(column: str, low, high) -> dict:
    return {"type": "expect_column_values_to_be_between", "kwargs": {"column": column, "min_value": low, "max_value": high}}


@pytest.mark.parametrize("column", ["orders_count", "recency_days"])
def test_narrowed_columns_take_gx_fast_path_with_the_same_values(column):
    original = frame_as_duckdb_returns_it()[column]
    converted = _vectorisable(original)
    # GX's range check is vectorised only for these dtypes (else one Python call per row)
    assert converted.dtype in [int, float]
    assert converted.isna().tolist() == original.isna().tolist()
    assert [v for v in converted.dropna().tolist()] == [v for v in original.dropna().tolist()]


def test_text_booleans_and_dates_are_left_as_they_are():
    frame = frame_as_duckdb_returns_it()
    for column in ("customer_key", "is_at_risk", "first_order_date"):
        assert _vectorisable(frame[column]) is frame[column]


def test_range_checks_keep_their_verdicts_on_converted_columns():
    frame = frame_as_duckdb_returns_it()
    passing = validate(frame, suite(
        between("orders_count", 1, 40),
        between("recency_days", 0, 400),  # the null is not a range failure
    ))
    assert passing.success, passing.summary()
    failing = validate(frame, suite(
        between("orders_count", 1, 39),
        between("recency_days", 1, 400),
        {"type": "expect_column_values_to_not_be_null", "kwargs": {"column": "recency_days"}},
    ))
    assert not failing.success
    assert [f["kwargs"]["column"] for f in failing.failures] == ["orders_count", "recency_days", "recency_days"]
    assert [f["observed"]["unexpected_count"] for f in failing.failures] == [1, 1, 1]
