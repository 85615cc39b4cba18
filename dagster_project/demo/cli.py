"""Command line of the demo generator: `python -m dagster_project.demo --help`."""

from __future__ import annotations

import argparse
import sys

from .generator import append_days, generate
from .state import GeneratorError


def parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(
        prog="python -m dagster_project.demo",
        description="Generate the demo source systems (commerce SQLite database and landing files), "
        "or append days of activity to them.",
    )
    p.add_argument("--out", required=True, help="output folder (commerce.sqlite, landing/, generator state)")
    p.add_argument("--customers", type=int, default=20_000, help="customer accounts to generate (default 20000)")
    p.add_argument("--years", type=float, default=3, help="years of history up to the end date (default 3)")
    p.add_argument("--seed", type=int, default=42, help="random seed (default 42)")
    p.add_argument("--end-date", default=None, help="last generated day, YYYY-MM-DD (default: yesterday, UTC)")
    p.add_argument("--force", action="store_true", help="regenerate even if DIR already holds generated sources")
    p.add_argument("--days", type=int, default=None,
                   help="append N more days after the last generated day to existing sources")
    return p


def main(argv: list[str] | None = None) -> int:
    args = parser().parse_args(argv)
    try:
        if args.days is not None:
            summary = append_days(args.out, args.days)
        else:
            summary = generate(args.out, customers=args.customers, years=args.years, seed=args.seed,
                               end_date=args.end_date, force=args.force)
    except GeneratorError as error:
        print(f"error: {error}", file=sys.stderr)
        return 2
    print(summary)
    return 0
