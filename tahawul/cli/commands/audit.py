"""`tahawul audit reconcile`: prove the published counts from the raw events."""

from __future__ import annotations

import argparse
import dataclasses
from datetime import date
from typing import Any

from tahawul.cli.common import EXIT_FAILED, print_result
from tahawul.settings import Settings


def register(sub: Any) -> None:
    audit = sub.add_parser("audit", help="auditors' checks on the store")
    audit_sub = audit.add_subparsers(dest="audit_command", required=True)
    rec = audit_sub.add_parser(
        "reconcile",
        help="recompute counts from raw events and compare with v_counts_daily; exit 1 on drift",
    )
    rec.add_argument("--from", dest="first", type=date.fromisoformat, help="first day (YYYY-MM-DD)")
    rec.add_argument("--to", dest="last", type=date.fromisoformat, help="last day (YYYY-MM-DD)")
    rec.add_argument("--format", choices=("table", "csv", "json"), default="table",
                     help="format of the differing rows")
    rec.set_defaults(handler=run_reconcile)


def run_reconcile(args: argparse.Namespace, settings: Settings) -> int:
    from tahawul.sinks.clickhouse.connection import connect
    from tahawul.sinks.clickhouse.reconcile import Difference, reconcile

    result = reconcile(connect(settings.clickhouse_dsn()), args.first, args.last)
    verdict = "DRIFT" if result.drift else "zero drift"
    print(f"reconcile {result.first_day} .. {result.last_day}: {verdict}")
    print(f"  completed transactions from raw events: {result.raw_total}")
    print(f"  completed transactions published:       {result.published_total}")
    print(f"  published cells (day x governorate x entity x service x channel): {result.cells}")
    print(f"  differing cells: {len(result.differences)}")
    print(f"  event_ids stored more than once: {result.repeated_event_ids}")
    if result.differences:
        columns = [f.name for f in dataclasses.fields(Difference)]
        print_result(columns, [dataclasses.astuple(d) for d in result.differences], args.format)
    return EXIT_FAILED if result.drift else 0
