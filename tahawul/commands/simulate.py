"""`tahawul simulate`: simulated events and their exact expected counts."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import Any

from tahawul.commands.common import EXIT_USAGE, positive, rate
from tahawul.settings import Settings


def register(sub: Any) -> None:
    p = sub.add_parser("simulate", help="write simulated events and their exact expected counts")
    p.add_argument("--profile", default="oman-2025-h1")
    p.add_argument("--scale", type=positive, default=0.01)
    p.add_argument("--seed", type=int, default=7)
    p.add_argument("--out", type=Path, required=True, help="events, one JSON object per line")
    p.add_argument("--truth", type=Path, required=True, help="expected counts (CSV)")
    p.add_argument("--duplicates", type=rate, default=0.0, help="rate of resent events")
    p.add_argument("--invalid", type=rate, default=0.0, help="rate of injected invalid events")
    p.set_defaults(handler=simulate)


def simulate(args: argparse.Namespace, settings: Settings) -> int:
    from producers.simulator import PROFILES, run_simulation

    if args.profile not in PROFILES:
        print(f"unknown profile {args.profile!r}; known: {', '.join(PROFILES)}", file=sys.stderr)
        return EXIT_USAGE
    summary = run_simulation(args.profile, args.scale, args.seed, args.out, args.truth,
                             duplicate_rate=args.duplicates, invalid_rate=args.invalid)
    print(f"wrote {summary.lines} lines to {args.out} ({summary.valid} valid, "
          f"{summary.duplicates} duplicates, {summary.invalid} invalid) and truth to {args.truth}")
    return 0
