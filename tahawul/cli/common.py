"""Helpers shared by subcommands: argument types, exit codes, result printing."""

from __future__ import annotations

import argparse
import csv
import json
import sys
from collections.abc import Sequence
from datetime import date, datetime
from typing import Any

EXIT_OK = 0
EXIT_FAILED = 1
EXIT_USAGE = 2
EXIT_UNAVAILABLE = 69  # EX_UNAVAILABLE: a store or broker could not be reached



def rate(text: str) -> float:
    value = float(text)
    if not 0.0 <= value <= 1.0:
        raise argparse.ArgumentTypeError("a rate must be between 0 and 1")
    return value


def positive(text: str) -> float:
    value = float(text)
    if value <= 0:
        raise argparse.ArgumentTypeError("must be positive")
    return value


def add_simulation_options(parser: argparse.ArgumentParser, profile: bool = True) -> None:
    """--profile/--scale/--seed/--duplicates/--invalid, the same for `simulate` and `up`."""
    from tahawul.producers.simulator import EXCHANGE_PROFILES, PROFILES

    if profile:
        parser.add_argument("--profile", default="oman-2025-h1",
                            choices=sorted([*PROFILES, *EXCHANGE_PROFILES]),
                            help="which published period to simulate")
    parser.add_argument("--scale", type=positive, default=0.01,
                        help="fraction of the profile's volume (1 = the published national volume; "
                        "exact figures are scaled with round-half-up)")
    parser.add_argument("--seed", type=int, default=7,
                        help="random seed: the same seed gives the same events, byte for byte")
    parser.add_argument("--duplicates", type=rate, default=0.0,
                        help="share of events sent a second time (must be counted once)")
    parser.add_argument("--invalid", type=rate, default=0.0,
                        help="share of invalid events mixed in (must be rejected with a reason)")
    parser.add_argument("--control-totals", action="store_true",
                        help="after the events, state each entity's control totals (what it "
                        "completed per day, service and channel; tahawul audit completeness)")
    parser.add_argument("--lose-fraction", type=rate, default=0.0, metavar="SHARE",
                        help="lose this share of the valid events on purpose between the producer and "
                        "the broker (never sent; still in the control totals, which it implies)")


def _cell(value: Any) -> Any:
    if isinstance(value, datetime | date):
        return value.isoformat()
    if isinstance(value, bytes):
        return value.decode("utf-8", "replace")
    return value if isinstance(value, int | float | str | bool) or value is None else str(value)


def print_result(columns: Sequence[str], rows: Sequence[Sequence[Any]], fmt: str) -> None:
    """A query result as an aligned table, CSV, or JSON lines, on stdout."""
    if fmt == "csv":
        writer = csv.writer(sys.stdout, lineterminator="\n")
        writer.writerow(columns)
        writer.writerows([[_cell(v) for v in row] for row in rows])
    elif fmt == "json":
        for row in rows:
            print(json.dumps(dict(zip(columns, (_cell(v) for v in row), strict=True)),
                             ensure_ascii=False))
    else:
        texts = [[str(_cell(v)) for v in row] for row in rows]
        widths = [max([len(c)] + [len(r[i]) for r in texts]) for i, c in enumerate(columns)]
        print("  ".join(c.ljust(w) for c, w in zip(columns, widths, strict=True)))
        print("  ".join("-" * w for w in widths))
        for r in texts:
            print("  ".join(v.ljust(w) for v, w in zip(r, widths, strict=True)))
        print(f"({len(rows)} rows)")
