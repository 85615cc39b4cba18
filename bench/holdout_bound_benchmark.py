"""Benchmark: how often does the holdout bound block a correct model?

    PYTHONPATH=. .venv/bin/python bench/holdout_bound_benchmark.py [--datasets R] [--customers N] [--seed S]

Simulates R businesses of N customers from known BG/NBD parameters (the shape of
tests/test_clv_fit.py's data: integer days, a 180-day holdout; seeded), runs the pipeline's own
holdout check (prediction.fit.run_holdout on DuckDB) for each and counts the businesses whose
holdout error exceeds the bound, for two bounds:

* poisson only - max(15 %, 3 / sqrt(actual)), the bound before issue 11;
* the model's own noise - max(15 %, 3 noise_sd / actual), noise_sd^2 the summed predictive
  variance of the customers' holdout purchases plus the delta-method variance of the prediction
  from the refit's parameter uncertainty (the bound the pipeline uses).

Every business is drawn from the model that is fitted, so every block is a false alarm. With
3 sigmas of an honest noise estimate about 0.3 % of correct fits should block.
"""

from __future__ import annotations

import argparse
import os
from datetime import date, timedelta

import duckdb
import numpy as np
import pandas as pd

from dagster_project.clv import simulate_bgnbd
from dagster_project.prediction.fit import ClvSettings, run_holdout
from dagster_project.settings import Settings

HOLDOUT_DAYS = 180
AS_OF = date(2024, 6, 30)


def business(n: int, seed: int) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    T = rng.integers(200, 900, n).astype(float)
    x, t_x, future = simulate_bgnbd(0.4, 12.0, 0.8, 2.5, T - HOLDOUT_DAYS, rng, horizon=HOLDOUT_DAYS)
    return pd.DataFrame({
        "as_of_date": AS_OF, "holdout_start_date": AS_OF - timedelta(days=HOLDOUT_DAYS),
        "holdout_days": HOLDOUT_DAYS, "customer_key": [f"C{i:06d}" for i in range(n)],
        "frequency": x.astype(int), "t_x_days": np.floor(t_x).astype(int),
        "t_days": (T - HOLDOUT_DAYS).astype(int), "holdout_purchases": future.astype(int),
    })


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--datasets", type=int, default=100)
    ap.add_argument("--customers", type=int, default=400)
    ap.add_argument("--seed", type=int, default=0)
    args = ap.parse_args()
    settings = ClvSettings.from_settings(Settings())
    print(f"load average {os.getloadavg()[0]:.2f}; {args.datasets} businesses of {args.customers} customers")
    old = new = 0
    errors, ratios = [], []
    for i in range(args.datasets):
        frame = business(args.customers, args.seed + i)
        with duckdb.connect() as con:
            con.execute("create schema intermediate")
            con.register("frame", frame)
            con.execute("create table intermediate.int_customers_holdout_split as select * from frame")
            holdout = run_holdout(con, settings)
        if holdout is None or holdout.error is None:
            continue
        poisson = max(settings.max_holdout_error, settings.holdout_noise_sigmas / np.sqrt(holdout.actual))
        old += holdout.error > poisson
        new += holdout.error > holdout.allowed_error(settings)
        errors.append(holdout.error)
        ratios.append((holdout.predicted - holdout.actual) / holdout.noise_sd)
    n = len(errors)
    print(f"fitted holdouts: {n}; median error {np.median(errors):.1%}")
    print(f"z = (predicted - actual) / noise_sd: mean {np.mean(ratios):+.2f}, sd {np.std(ratios):.2f} (0 and 1 if the noise model is right)")
    print(f"false blocks, poisson-only bound:          {old} of {n} ({old / n:.1%})")
    print(f"false blocks, model noise bound:           {new} of {n} ({new / n:.1%})")


if __name__ == "__main__":
    main()
