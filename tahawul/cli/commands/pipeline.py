"""`tahawul up`, `tahawul worker`, `tahawul counter`: running the pipeline."""

from __future__ import annotations

import argparse
import signal
import sys
import threading
from pathlib import Path
from typing import Any

from tahawul.cli.common import EXIT_USAGE, positive, rate
from tahawul.settings import Settings


def register(sub: Any) -> None:
    up = sub.add_parser("up", help="run the whole pipeline here (embedded broker and store)")
    src = up.add_mutually_exclusive_group()
    src.add_argument("--input", type=Path, help="JSONL file of events to send")
    src.add_argument("--simulate", metavar="PROFILE", help="send simulated events of a profile")
    up.add_argument("--scale", type=positive, default=0.01)
    up.add_argument("--seed", type=int, default=7)
    up.add_argument("--duplicates", type=rate, default=0.0)
    up.add_argument("--invalid", type=rate, default=0.0)
    up.add_argument("--exit-when-done", action="store_true",
                    help="exit once all input is counted in ClickHouse, printing the totals")
    up.set_defaults(handler=run_up)
    worker = sub.add_parser("worker", help="run a validating Faust worker against TAHAWUL_KAFKA_URL")
    worker.set_defaults(handler=run_worker)
    counter = sub.add_parser("counter", help="run the counting writer (exactly one per store)")
    counter.set_defaults(handler=run_counter)


def run_up(args: argparse.Namespace, settings: Settings) -> int:
    from tahawul.cli.up import up
    from tahawul.runtime.feeds import Feed, file_feed, simulation_feed

    feed_factory = None
    if args.input is not None:
        if not args.input.is_file():
            print(f"input file not found: {args.input}", file=sys.stderr)
            return EXIT_USAGE
        path: Path = args.input

        def feed_factory() -> Feed:
            return file_feed(path, sys.stderr)
    elif args.simulate is not None:
        from tahawul.producers.simulator import PROFILES

        if args.simulate not in PROFILES:
            print(f"unknown profile {args.simulate!r}; known: {', '.join(PROFILES)}",
                  file=sys.stderr)
            return EXIT_USAGE

        def feed_factory() -> Feed:
            return simulation_feed(args.simulate, args.scale, args.seed, args.duplicates,
                                   args.invalid)
    return up(settings, feed_factory, args.exit_when_done)


def _join_cluster(settings: Settings, who: str) -> str | None:
    """What a production process does before it works: check that it has a Kafka cluster,
    create the topics it needs and serve its /metrics. The cluster's bootstrap, or None
    (after saying why) when TAHAWUL_KAFKA_URL is not set."""
    from tahawul.kafka_admin import ensure_topics
    from tahawul.runtime.metrics_server import serve_metrics

    bootstrap = settings.kafka_bootstrap()
    if bootstrap is None:
        print(f"TAHAWUL_KAFKA_URL is not set: the {who} needs a Kafka cluster", file=sys.stderr)
        return None
    ensure_topics(bootstrap, settings)
    serve_metrics(settings)
    return bootstrap


def run_worker(args: argparse.Namespace, settings: Settings) -> int:
    from tahawul.stream_processors.app import run_worker as faust_worker

    if _join_cluster(settings, "worker") is None:
        return EXIT_USAGE
    faust_worker(settings)
    return 0


def run_counter(args: argparse.Namespace, settings: Settings) -> int:
    from tahawul.kafka_admin import cluster_id
    from tahawul.stream_processors.counter import open_store
    from tahawul.stream_processors.counter import run_counter as counting_loop

    bootstrap = _join_cluster(settings, "counter")
    if bootstrap is None:
        return EXIT_USAGE
    stop = threading.Event()
    for sig in (signal.SIGINT, signal.SIGTERM):
        signal.signal(sig, lambda *_: stop.set())
    store = open_store(settings.clickhouse_dsn(), cluster_id(bootstrap), stop)
    if store is not None:
        counting_loop(settings, store, stop)
    return 0
