"""`tahawul audit reconcile`, `audit published` and `audit completeness`: prove the counts,
compare them with the programme's published figures, and with the entities' own control
totals."""

from __future__ import annotations

import argparse
import dataclasses
import sys
from datetime import date
from decimal import Decimal, InvalidOperation
from typing import Any

from tahawul.cli.common import EXIT_FAILED, EXIT_USAGE, print_result
from tahawul.settings import Settings


def register(sub: Any) -> None:
    audit = sub.add_parser("audit", help="auditors' checks on the store")
    audit_sub = audit.add_subparsers(dest="audit_command", required=True)
    rec = audit_sub.add_parser(
        "reconcile",
        help="recompute counts from raw events (and exchanges from raw halves) and compare with "
             "the published counts; exit 1 on drift",
    )
    rec.add_argument("--from", dest="first", type=date.fromisoformat, help="first day (YYYY-MM-DD)")
    rec.add_argument("--to", dest="last", type=date.fromisoformat, help="last day (YYYY-MM-DD)")
    rec.add_argument("--format", choices=("table", "csv", "json"), default="table",
                     help="format of the differing rows")
    rec.set_defaults(handler=run_reconcile)
    pub = audit_sub.add_parser(
        "published",
        help="compare the views with every published figure of the periods the store holds; "
             "exit 1 on a difference beyond a figure's rounding",
    )
    pub.add_argument("--scale", type=_scale, default=None,
                     help="the scale the store's events were simulated at; default: the scale "
                          "`tahawul up --simulate` recorded in the store, else 1 (real data)")
    pub.add_argument("--format", choices=("table", "csv", "json"), default="table",
                     help="format of the figures table")
    pub.set_defaults(handler=run_published)
    comp = audit_sub.add_parser(
        "completeness",
        help="the entities' control totals beside what was counted, per entity, day, service and "
             "channel; exit 1 when a cell misses more transactions than --tolerance",
    )
    comp.add_argument("--from", dest="first", type=date.fromisoformat, help="first day (YYYY-MM-DD)")
    comp.add_argument("--to", dest="last", type=date.fromisoformat, help="last day (YYYY-MM-DD)")
    comp.add_argument("--entity", default="", help="one entity's code (default: every entity)")
    comp.add_argument("--tolerance", type=_tolerance, default=0,
                      help="transactions a cell may miss before the audit fails (default 0)")
    comp.add_argument("--all", dest="all_cells", action="store_true",
                      help="list every cell, complete ones too (default: only the others)")
    comp.add_argument("--format", choices=("table", "csv", "json"), default="table",
                      help="format of the cells table")
    comp.set_defaults(handler=run_completeness)


def _scale(text: str) -> Decimal:
    try:
        value = Decimal(text)
    except InvalidOperation:
        raise argparse.ArgumentTypeError(f"not a number: {text!r}") from None
    if not value.is_finite() or value <= 0:
        raise argparse.ArgumentTypeError(f"scale must be > 0, got {text}")
    return value


def _tolerance(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"not a whole number: {text!r}") from None
    if value < 0:
        raise argparse.ArgumentTypeError(f"tolerance must be >= 0, got {text}")
    return value


def run_completeness(args: argparse.Namespace, settings: Settings) -> int:
    from tahawul.schemas.reference import load_catalogue
    from tahawul.sinks.clickhouse.completeness import completeness
    from tahawul.sinks.clickhouse.reading import connect_for_reading

    if args.entity and args.entity not in load_catalogue().entities:
        print(f"tahawul audit completeness: {args.entity!r} is not an entity code of the catalogue",
              file=sys.stderr)
        return EXIT_USAGE
    client = connect_for_reading(settings.clickhouse_dsn())
    try:
        result = completeness(client, args.first, args.last, args.entity, args.tolerance)
    finally:
        client.close()
    failing = result.beyond_tolerance
    verdict = "INCOMPLETE" if failing else "complete"
    scope = f" entity {result.entity}" if result.entity else ""
    days = f"{result.first_day} .. {result.last_day}" if args.first or args.last else "all days"
    print(f"completeness {days}{scope}: {verdict} "
          f"(tolerance {result.tolerance} a cell)")
    shown = result.cells if args.all_cells else [c for c in result.cells if c.status != "complete"]
    columns = ["entity", "day", "service", "channel", "control_total", "counted", "difference", "status"]
    rows = [[c.entity, c.day.isoformat(), c.service, c.channel,
             "" if c.control_total is None else c.control_total, c.counted,
             "" if c.difference is None else c.difference, c.status] for c in shown]
    if rows:
        print_result(columns, rows, args.format)
    print("per entity:")
    for s in result.entities:
        print(f"  {s.entity}: {s.status}; stated {s.stated}, counted {s.counted_in_stated}, "
              f"missing {s.missing}, extra {s.extra}; cells complete {s.cells['complete']}, "
              f"missing events {s.cells['missing_events']}, extra events {s.cells['extra_events']}, "
              f"no control total {s.cells['no_control_total']} ({s.counted_without_total} counted)")
    if not result.entities:
        print("  nothing counted and no control total in this period")
    print(f"{len(failing)} cell(s) missing more than {result.tolerance} transaction(s)")
    return EXIT_FAILED if failing else 0


def run_reconcile(args: argparse.Namespace, settings: Settings) -> int:
    from tahawul.sinks.clickhouse.reading import connect_for_reading
    from tahawul.sinks.clickhouse.reconcile import (
        Difference,
        ExchangeDifference,
        reconcile,
        reconcile_exchanges,
    )

    client = connect_for_reading(settings.clickhouse_dsn())
    result = reconcile(client, args.first, args.last)
    exchanges = reconcile_exchanges(client, args.first, args.last)
    verdict = "DRIFT" if result.drift or exchanges.drift else "zero drift"
    print(f"reconcile {result.first_day} .. {result.last_day}: {verdict}")
    print(f"  completed transactions from raw events: {result.raw_total}")
    print(f"  completed transactions published:       {result.published_total}")
    print(f"  published cells (day x governorate x entity x service x channel): {result.cells}")
    print(f"  differing cells: {len(result.differences)}")
    print(f"  event_ids stored more than once for one entity: {result.repeated_event_ids}")
    if result.differences:
        columns = [f.name for f in dataclasses.fields(Difference)]
        print_result(columns, [dataclasses.astuple(d) for d in result.differences], args.format)
    # Exchanges (docs/exchanges.md): each counted once by the pairing rule.
    print(f"  exchanges from raw halves (pairing rule): {exchanges.raw_exchanges}")
    print(f"  exchanges published:                      {exchanges.published_exchanges}")
    print(f"  differing exchange cells: {len(exchanges.differences)}")
    print(f"  exchange halves stored more than once: {exchanges.repeated_halves}")
    print(f"  unmatched halves (raw / published): {exchanges.unmatched_raw} / "
          f"{exchanges.unmatched_published}")
    if exchanges.differences:
        columns = [f.name for f in dataclasses.fields(ExchangeDifference)]
        print_result(columns, [dataclasses.astuple(d) for d in exchanges.differences], args.format)
    return EXIT_FAILED if result.drift or exchanges.drift else 0


def run_published(args: argparse.Namespace, settings: Settings) -> int:
    from tahawul.sinks.clickhouse.published import audit_published
    from tahawul.sinks.clickhouse.reading import connect_for_reading
    from tahawul.sinks.clickhouse.runs import ScaleUnknown

    client = connect_for_reading(settings.clickhouse_dsn())
    try:
        result = audit_published(client, args.scale)
    except ScaleUnknown as exc:
        print(f"tahawul audit published: {exc}", file=sys.stderr)
        return EXIT_USAGE
    finally:
        client.close()
    held = f"{result.first_day} .. {result.last_day}" if result.first_day else "nothing"
    whence = " (the scale the store's simulated run recorded)" if result.scale_from_store else ""
    print(f"published figures: store holds {held}, compared at scale {result.scale}{whence}")
    if result.exchange_first_day:
        print(f"  exchanges held: {result.exchange_first_day} .. {result.exchange_last_day}")
    columns = ["figure", "period", "published", "counted", "difference", "within", "source"]
    rows = [
        [c.figure.figure, f"{c.figure.period_from}..{c.figure.period_to}", c.published_text,
         _number(c.counted), _number(c.difference), "yes" if c.within else "NO",
         c.figure.source_title]
        for c in result.checked
    ]
    print_result(columns, rows, args.format)
    for fig in result.not_countable:
        print(f"  not counted: {fig.figure} ({fig.value:,} {fig.unit}): {fig.note or fig.description}")
    if result.not_held:
        names = ", ".join(f.figure for f in result.not_held)
        print(f"  not held (period outside the store): {names}")
    bad = result.differences
    print(f"{len(result.checked) - len(bad)} of {len(result.checked)} figures within their rounding")
    return EXIT_FAILED if bad else 0


def _number(value: Decimal | None) -> str:
    if value is None:
        return ""
    return f"{int(value):,}" if value == value.to_integral_value() else f"{value:,.3f}"
