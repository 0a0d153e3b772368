"""The `tahawul` command line. Settings are built here, once, and passed down."""

from __future__ import annotations

import argparse
import csv
import json
import logging
import signal
import sys
import threading
from collections.abc import Sequence
from datetime import date, datetime
from pathlib import Path
from typing import Any

from pydantic import ValidationError

from tahawul.settings import Settings

EXIT_USAGE = 2
EXIT_UNAVAILABLE = 69  # EX_UNAVAILABLE: a store or broker could not be reached


def _rate(text: str) -> float:
    value = float(text)
    if not 0.0 <= value <= 1.0:
        raise argparse.ArgumentTypeError("a rate must be between 0 and 1")
    return value


def _positive(text: str) -> float:
    value = float(text)
    if value <= 0:
        raise argparse.ArgumentTypeError("must be positive")
    return value


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="tahawul", description=__doc__)
    sub = parser.add_subparsers(dest="command", required=True)

    sim = sub.add_parser("simulate", help="write simulated events and their exact expected counts")
    sim.add_argument("--profile", default="oman-2025-h1")
    sim.add_argument("--scale", type=_positive, default=0.01)
    sim.add_argument("--seed", type=int, default=7)
    sim.add_argument("--out", type=Path, required=True, help="events, one JSON object per line")
    sim.add_argument("--truth", type=Path, required=True, help="expected counts (CSV)")
    sim.add_argument("--duplicates", type=_rate, default=0.0, help="rate of resent events")
    sim.add_argument("--invalid", type=_rate, default=0.0, help="rate of injected invalid events")

    upp = sub.add_parser("up", help="run the whole pipeline here (embedded broker and store)")
    src = upp.add_mutually_exclusive_group()
    src.add_argument("--input", type=Path, help="JSONL file of events to send")
    src.add_argument("--simulate", metavar="PROFILE", help="send simulated events of a profile")
    upp.add_argument("--scale", type=_positive, default=0.01)
    upp.add_argument("--seed", type=int, default=7)
    upp.add_argument("--duplicates", type=_rate, default=0.0)
    upp.add_argument("--invalid", type=_rate, default=0.0)
    upp.add_argument("--exit-when-done", action="store_true",
                     help="exit once all input is counted in ClickHouse, printing the totals")

    sub.add_parser("worker", help="run a validating Faust worker against TAHAWUL_KAFKA_URL")
    sub.add_parser("counter", help="run the counting writer (one per store)")

    sql = sub.add_parser("sql", help="run a query against the configured ClickHouse store")
    sql.add_argument("query")
    sql.add_argument("--format", choices=("table", "csv", "json"), default="table")

    db = sub.add_parser("db", help="store administration")
    db_sub = db.add_subparsers(dest="db_command", required=True)
    db_sub.add_parser("migrate", help="apply pending schema migrations")

    schema = sub.add_parser("schema", help="the event contract")
    schema_sub = schema.add_subparsers(dest="schema_command", required=True)
    export = schema_sub.add_parser("export", help="print or write the JSON Schema of contract v1")
    export.add_argument("--out", type=Path)
    return parser


def _cell(value: Any) -> Any:
    if isinstance(value, datetime | date):
        return value.isoformat()
    if isinstance(value, bytes):
        return value.decode("utf-8", "replace")
    return value if isinstance(value, int | float | str | bool) or value is None else str(value)


def print_result(columns: Sequence[str], rows: Sequence[Sequence[Any]], fmt: str) -> None:
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


def cmd_simulate(args: argparse.Namespace) -> int:
    from producers.simulator import PROFILES, run_simulation

    if args.profile not in PROFILES:
        print(f"unknown profile {args.profile!r}; known: {', '.join(PROFILES)}", file=sys.stderr)
        return EXIT_USAGE
    summary = run_simulation(args.profile, args.scale, args.seed, args.out, args.truth,
                             duplicate_rate=args.duplicates, invalid_rate=args.invalid)
    print(f"wrote {summary.lines} lines to {args.out} ({summary.valid} valid, "
          f"{summary.duplicates} duplicates, {summary.invalid} invalid) and truth to {args.truth}")
    return 0


def cmd_up(args: argparse.Namespace, settings: Settings) -> int:
    from tahawul.up import file_feed, simulation_feed, up

    feed_factory = None
    if args.input is not None:
        if not args.input.is_file():
            print(f"input file not found: {args.input}", file=sys.stderr)
            return EXIT_USAGE
        path = args.input
        feed_factory = lambda: file_feed(path, sys.stderr)  # noqa: E731
    elif args.simulate is not None:
        from producers.simulator import PROFILES

        if args.simulate not in PROFILES:
            print(f"unknown profile {args.simulate!r}; known: {', '.join(PROFILES)}",
                  file=sys.stderr)
            return EXIT_USAGE
        feed_factory = lambda: simulation_feed(  # noqa: E731
            args.simulate, args.scale, args.seed, args.duplicates, args.invalid)
    return up(settings, feed_factory, args.exit_when_done)


def cmd_counter(settings: Settings) -> int:
    from sinks.clickhouse.connection import connect
    from sinks.clickhouse.store import Store
    from stream_processors.counter import run_counter
    from tahawul.kafka_admin import cluster_id

    bootstrap = settings.kafka_bootstrap()
    if bootstrap is None:
        print("TAHAWUL_KAFKA_URL is not set: the counter needs a Kafka cluster", file=sys.stderr)
        return EXIT_USAGE
    store = Store(connect(settings.clickhouse_dsn()), cluster_id(bootstrap))
    store.migrate()
    store.recover()
    stop = threading.Event()
    for sig in (signal.SIGINT, signal.SIGTERM):
        signal.signal(sig, lambda *_: stop.set())
    run_counter(settings, store, stop)
    return 0


def cmd_sql(args: argparse.Namespace, settings: Settings) -> int:
    from sinks.clickhouse.connection import connect

    client = connect(settings.clickhouse_dsn())
    try:
        result = client.query(args.query)
    except Exception as exc:
        print(f"query failed: {exc}", file=sys.stderr)
        return 1
    print_result(result.column_names, result.result_rows, args.format)
    return 0


def cmd_migrate(settings: Settings) -> int:
    from sinks.clickhouse.connection import connect, redact
    from sinks.clickhouse.migrations import migrate

    dsn = settings.clickhouse_dsn()
    applied = migrate(connect(dsn))
    for m in applied:
        print(f"applied {m.version:03d}_{m.name}")
    print(f"{redact(dsn)}: schema up to date ({len(applied)} applied now)")
    return 0


def cmd_schema_export(args: argparse.Namespace) -> int:
    from schemas.jsonschema import render

    text = render()
    if args.out:
        args.out.write_text(text, "utf-8")
    else:
        sys.stdout.write(text)
    return 0


def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    try:
        settings = Settings()
    except ValidationError as exc:
        print(f"invalid TAHAWUL_* settings:\n{exc}", file=sys.stderr)
        return EXIT_USAGE
    logging.basicConfig(level=settings.log_level.upper(),
                        format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    from sinks.clickhouse.connection import StoreUnavailable
    from tahawul.broker import BrokerError
    from tahawul.kafka_admin import KafkaUnavailable

    try:
        if args.command == "simulate":
            return cmd_simulate(args)
        if args.command == "up":
            return cmd_up(args, settings)
        if args.command == "worker":
            from stream_processors.app import run_worker

            if settings.kafka_bootstrap() is None:
                print("TAHAWUL_KAFKA_URL is not set: the worker needs a Kafka cluster",
                      file=sys.stderr)
                return EXIT_USAGE
            run_worker(settings)
            return 0
        if args.command == "counter":
            return cmd_counter(settings)
        if args.command == "sql":
            return cmd_sql(args, settings)
        if args.command == "db":
            return cmd_migrate(settings)
        if args.command == "schema":
            return cmd_schema_export(args)
    except (StoreUnavailable, KafkaUnavailable, BrokerError) as exc:
        print(f"tahawul: {exc}", file=sys.stderr)
        return EXIT_UNAVAILABLE
    return EXIT_USAGE


if __name__ == "__main__":
    sys.exit(main())
