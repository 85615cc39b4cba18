"""Command line of the demo generator: `python -m dagster_project.demo --help`, and the same
options under `cvw demo` (which defaults the folder to the configured sources folder)."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from .generator import append_days, generate
from .state import STATE_FILE, GeneratorError


def add_arguments(parser: argparse.ArgumentParser, *, default_out: Path | None = None) -> argparse.ArgumentParser:
    if default_out is None:
        parser.add_argument("--out", required=True, help="output folder (commerce.sqlite, landing/, generator state)")
    else:
        parser.add_argument("--out", default=str(default_out), help=f"output folder (default {default_out})")
    parser.add_argument("--customers", type=int, default=20_000, help="customer accounts to generate (default 20000)")
    parser.add_argument("--years", type=float, default=3, help="years of history up to the end date (default 3)")
    parser.add_argument("--seed", type=int, default=42, help="random seed (default 42)")
    parser.add_argument("--end-date", default=None, help="last generated day, YYYY-MM-DD (default: yesterday, UTC)")
    parser.add_argument("--force", action="store_true", help="regenerate even if the folder already holds generated sources")
    parser.add_argument("--if-missing", action="store_true", help="do nothing when the folder already holds generated sources")
    parser.add_argument("--progress", action=argparse.BooleanOptionalAction, default=None,
                        help="tell each phase as it starts (default: when the output is a terminal)")
    parser.add_argument("--days", type=int, default=None,
                        help="append N more days after the last generated day to existing sources")
    return parser


def parser() -> argparse.ArgumentParser:
    return add_arguments(argparse.ArgumentParser(
        prog="python -m dagster_project.demo",
        description="Generate the demo source systems (commerce SQLite database and landing files), "
        "or append days of activity to them.",
    ))


def run(args: argparse.Namespace) -> int:
    try:
        if args.days is not None:
            summary = append_days(args.out, args.days)
        elif args.if_missing and (Path(args.out) / STATE_FILE).exists():
            print(f"Demo sources already in {args.out}: reusing them (make clean to start over).")
            return 0
        else:
            tell = sys.stdout.isatty() if args.progress is None else args.progress
            summary = generate(args.out, customers=args.customers, years=args.years, seed=args.seed,
                               end_date=args.end_date, force=args.force,
                               progress=(lambda line: print(line, flush=True)) if tell else None)
    except GeneratorError as error:
        print(f"error: {error}", file=sys.stderr)
        return 2
    print(summary)
    return 0


def main(argv: list[str] | None = None) -> int:
    return run(parser().parse_args(argv))
