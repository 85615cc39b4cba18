"""Benchmark: our BG/NBD + Gamma-Gamma fits (dagster_project.clv) against the `lifetimes` package.

    .venv/bin/python bench/clv_fit_benchmark.py [--customers N] [--lifetimes-customers M [M ...]]
                                                [--seed S] [--repeats R]

Simulates N customers (days as the time unit) from known parameters, times our fits and the
prediction pass on all of them, then fits lifetimes' BetaGeoFitter / GammaGammaFitter and ours
on the same first M customers (customers are i.i.d., so a prefix is a random sample) and compares
time and parameters. Every time is the best of R runs (wall clock), for both libraries alike.
lifetimes is optional (`pip install "lifetimes==0.11.3" "autograd>=1.7"`); without it only our
figures are printed.
Results: BENCHMARKS.md, "CLV model fit (BG/NBD + Gamma-Gamma) vs lifetimes".
"""

from __future__ import annotations

import argparse
import os
import platform
import sys
import time
import warnings

import numpy as np
import scipy

from dagster_project.clv import (
    bgnbd_log_likelihood,
    expected_order_value,
    expected_purchases,
    fit_bgnbd,
    fit_gamma_gamma,
    gamma_gamma_log_likelihood,
    p_alive,
    predicted_clv_12m,
    simulate_bgnbd,
)

PURCHASE = {"r": 0.35, "alpha": 10.5, "a": 0.8, "b": 2.5}  # per day
SPEND = {"p": 4.0, "q": 3.5, "v": 43.75}  # population mean order value p v / (q - 1) = 70
MAX_T_DAYS = 1095
HORIZON_DAYS = 365.0
MARGIN_RATE = 0.3


def simulate(n: int, seed: int):
    """(x, t_x, T, monetary_value) of n customers, integer days."""
    rng = np.random.default_rng(seed)
    # T >= 1: a customer with T = 0 carries no information, and ours drops such rows while
    # lifetimes keeps them, which would make the customer counts differ
    T = rng.integers(1, MAX_T_DAYS + 1, n).astype(float)
    x, t_x, _ = simulate_bgnbd(**PURCHASE, T=T, rng=rng)
    # a purchase at continuous time t falls on day ceil(t): keeps 1 <= t_x <= T for x > 0, 0 for x = 0
    t_x = np.ceil(t_x)
    # each customer's orders are Gamma(p, rate nu), nu ~ Gamma(q, rate v); drawn per order (not
    # as one Gamma(p x) sum) so monetary_value is built the way the warehouse builds it
    nu = rng.gamma(SPEND["q"], 1.0 / SPEND["v"], n)
    orders = x.astype(np.int64)
    values = rng.gamma(SPEND["p"], 1.0, orders.sum()) / np.repeat(nu, orders)
    total = np.bincount(np.repeat(np.arange(n), orders), weights=values, minlength=n)
    m = np.divide(total, x, out=np.zeros(n), where=x > 0)
    assert np.all((t_x <= T) & ((x > 0) == (t_x > 0)) & ((x > 0) == (m > 0)))
    return x, t_x, T, m


def best_of(repeats: int, fn):
    """(shortest wall time, result of the last run)."""
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        out = fn()
        times.append(time.perf_counter() - start)
    return min(times), out


def fit_ours(x, t_x, T, m, repeats):
    pos = x > 0
    t_bg, bg = best_of(repeats, lambda: fit_bgnbd(x, t_x, T))
    t_gg, gg = best_of(repeats, lambda: fit_gamma_gamma(x[pos], m[pos]))
    return t_bg, bg, t_gg, gg


def fit_lifetimes(x, t_x, T, m, repeats):
    from lifetimes import BetaGeoFitter, GammaGammaFitter

    pos = x > 0
    # penalizer 0 so both libraries maximise the same likelihood
    t_bg, bg = best_of(repeats, lambda: BetaGeoFitter(penalizer_coef=0.0).fit(x, t_x, T))
    t_gg, gg = best_of(repeats, lambda: GammaGammaFitter(penalizer_coef=0.0).fit(x[pos], m[pos]))
    return t_bg, {k: float(v) for k, v in bg.params_.items()}, t_gg, {k: float(v) for k, v in gg.params_.items()}


def max_rel_diff(ours: dict, theirs: dict) -> tuple[float, str]:
    diffs = {k: abs(ours[k] / theirs[k] - 1.0) for k in ours}
    worst = max(diffs, key=diffs.get)
    return diffs[worst], worst


def log_likelihoods(bg: dict, gg: dict, x, t_x, T, m) -> tuple[float, float]:
    """Total log-likelihood of a parameter set, one formula for both libraries' estimates."""
    pos = x > 0
    return (
        float(bgnbd_log_likelihood(*bg.values(), x, t_x, T).sum()),
        float(gamma_gamma_log_likelihood(*gg.values(), x[pos], m[pos]).sum()),
    )


def environment() -> str:
    versions = {"python": platform.python_version(), "numpy": np.__version__, "scipy": scipy.__version__}
    for name in ("pandas", "lifetimes", "autograd"):
        try:
            module = __import__(name)
            versions[name] = getattr(module, "__version__", None) or _dist_version(name)
        except Exception as exc:  # noqa: BLE001 - report, don't fail, when lifetimes is absent/broken
            versions[name] = f"unavailable ({type(exc).__name__}: {exc})"
    cpu = platform.processor() or "?"
    try:
        with open("/proc/cpuinfo") as fh:
            cpu = next(line.split(":", 1)[1].strip() for line in fh if line.startswith("model name"))
    except (OSError, StopIteration):
        pass
    # BLAS thread pools matter a lot on a small machine (see BENCHMARKS.md): say how they were set
    threads = ", ".join(f"{k}={os.environ.get(k, 'unset')}" for k in ("OPENBLAS_NUM_THREADS", "OMP_NUM_THREADS"))
    return f"nproc {os.cpu_count()}, {cpu}, " + ", ".join(f"{k} {v}" for k, v in versions.items()) + f"; {threads}"


def _dist_version(name: str) -> str:
    from importlib.metadata import version

    return version(name)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--customers", type=int, default=1_000_000)
    parser.add_argument(
        "--lifetimes-customers",
        type=int,
        nargs="+",
        help="slice size(s) for the lifetimes comparison (default: 100000 and all customers; 0 skips it)",
    )
    parser.add_argument("--seed", type=int, default=20240601)
    parser.add_argument("--repeats", type=int, default=3, help="runs per timing; the best is reported")
    args = parser.parse_args()
    n = args.customers
    sizes = args.lifetimes_customers or [100_000, n]
    sizes = sorted({min(s, n) for s in sizes if s > 0})

    print(f"command: {' '.join([os.path.relpath(sys.executable)] + sys.argv)}")
    print(f"machine: {environment()}")
    print(f"timing: best of {args.repeats} runs, time.perf_counter wall clock\n")

    start = time.perf_counter()
    x, t_x, T, m = simulate(n, args.seed)
    print(
        f"simulated {n:,} customers in {time.perf_counter() - start:.2f} s (seed {args.seed}): "
        f"{np.mean(x > 0):.1%} repeat buyers, mean x {x.mean():.2f}, max x {x.max():.0f}, "
        f"mean order value {m[x > 0].mean():.2f}"
    )
    print(f"true parameters: {PURCHASE} {SPEND}\n")

    t_bg, bg, t_gg, gg = fit_ours(x, t_x, T, m, args.repeats)
    t_alive, _ = best_of(args.repeats, lambda: p_alive(bg, x, t_x, T))
    t_purchases, _ = best_of(args.repeats, lambda: expected_purchases(bg, HORIZON_DAYS, x, t_x, T))
    t_clv, clv = best_of(
        args.repeats, lambda: predicted_clv_12m(bg, x, t_x, T, expected_order_value(gg, x, m), MARGIN_RATE)
    )
    total = t_bg + t_gg + t_alive + t_purchases + t_clv
    print(f"ours on all {n:,} customers")
    print(f"  fit_bgnbd          {t_bg:8.3f} s  ({bg.n_rows:,} distinct rows, {bg.iterations} iterations, "
          f"converged {bg.converged})  {_fmt(bg.params)}")
    print(f"  fit_gamma_gamma    {t_gg:8.3f} s  ({gg.n_customers:,} customers, {gg.iterations} iterations, "
          f"converged {gg.converged})  {_fmt(gg.params)}")
    print(f"  p_alive            {t_alive:8.3f} s")
    print(f"  expected purchases {t_purchases:8.3f} s  (next {HORIZON_DAYS:.0f} days)")
    print(f"  predicted_clv_12m  {t_clv:8.3f} s  (incl. expected_order_value; mean {clv.mean():.2f})")
    print(f"  fit + predict      {total:8.3f} s  (target < 30 s)\n")

    if not sizes:
        return
    try:
        import lifetimes  # noqa: F401
    except Exception as exc:  # noqa: BLE001
        print(f"lifetimes not importable ({type(exc).__name__}: {exc}); comparison skipped")
        return

    rows = []
    for size in sizes:
        sl = (x[:size], t_x[:size], T[:size], m[:size])
        # at size n the slice is the full data set: reuse the timings above
        t_o_bg, o_bg, t_o_gg, o_gg = (t_bg, bg, t_gg, gg) if size == n else fit_ours(*sl, args.repeats)
        ours = (t_o_bg, o_bg.params, t_o_gg, o_gg.params)
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always")
            try:
                theirs = fit_lifetimes(*sl, args.repeats)
            except Exception as exc:  # noqa: BLE001 - lifetimes raises ConvergenceError etc.; report it
                print(f"lifetimes failed on {size:,} customers: {type(exc).__name__}: {exc}")
                continue
        note = f"{len(caught)} warning(s), e.g. {caught[0].category.__name__}: {str(caught[0].message)[:120]}" \
            if caught else "no warnings"
        print(f"lifetimes on {size:,}: BG/NBD {_fmt(theirs[1])}  Gamma-Gamma {_fmt(theirs[3])}  ({note})")
        ll_ours = log_likelihoods(ours[1], ours[3], *sl)
        ll_theirs = log_likelihoods(theirs[1], theirs[3], *sl)
        rows.append((size, ours, theirs, ll_ours, ll_theirs))

    print("\nequal-data comparison (time: best of runs; ratio = lifetimes / ours; "
          "dLL = logL(ours) - logL(lifetimes), same formula)")
    print(f"{'customers':>10} {'model':<12} {'ours s':>8} {'lifetimes s':>11} {'ratio':>7} "
          f"{'max rel param diff':>22} {'dLL':>10}")
    for size, ours, theirs, ll_ours, ll_theirs in rows:
        for i, model in enumerate(("BG/NBD", "Gamma-Gamma")):
            t_o, t_l = ours[2 * i], theirs[2 * i]
            diff, worst = max_rel_diff(ours[2 * i + 1], theirs[2 * i + 1])
            print(f"{size:>10,} {model:<12} {t_o:8.3f} {t_l:11.3f} {t_l / t_o:6.1f}x "
                  f"{diff:14.1e} ({worst:>5}) {ll_ours[i] - ll_theirs[i]:10.2e}")
        t_o, t_l = ours[0] + ours[2], theirs[0] + theirs[2]
        print(f"{size:>10,} {'both fits':<12} {t_o:8.3f} {t_l:11.3f} {t_l / t_o:6.1f}x")
    print("targets: ratio >= 20x, max rel param diff < 1e-3")


def _fmt(params: dict) -> str:
    return "{" + ", ".join(f"{k} {v:.6g}" for k, v in params.items()) + "}"


if __name__ == "__main__":
    main()
