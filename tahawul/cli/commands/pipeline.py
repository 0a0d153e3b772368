"""`tahawul up`, `tahawul worker`, `tahawul counter`: running the pipeline."""

from __future__ import annotations

import argparse
import signal
import sys
import threading
from decimal import Decimal
from pathlib import Path
from typing import Any

from tahawul.cli.common import EXIT_FAILED, EXIT_USAGE, add_simulation_options
from tahawul.producers.simulator import EXCHANGE_PROFILES, PROFILES
from tahawul.settings import Settings


def register(sub: Any) -> None:
    up = sub.add_parser("up", help="run the whole pipeline here (embedded broker and store)")
    src = up.add_mutually_exclusive_group()
    src.add_argument("--input", type=Path,
                     help="file of events to send: JSONL, or CSV daily tallies (.csv, as `tahawul send`)")
    src.add_argument("--simulate", metavar="PROFILE", choices=sorted([*PROFILES, *EXCHANGE_PROFILES]),
                     help="send simulated events of a profile (one of: "
                          f"{', '.join(sorted([*PROFILES, *EXCHANGE_PROFILES]))}; exchanges-*: "
                          "the integration platform's exchange halves)")
    add_simulation_options(up, profile=False)
    up.add_argument("--exit-when-done", action="store_true",
                    help="exit once all input is counted in ClickHouse, printing the totals")
    up.add_argument("--broker", choices=("tansu", "kafka"),
                    help="the local broker when TAHAWUL_KAFKA_URL is unset: tansu (embedded, log in "
                         "memory) or kafka (Apache Kafka, log on disk in the data dir, kept across "
                         "restarts; `tahawul broker fetch` first). Default: TAHAWUL_LOCAL_BROKER, "
                         "else tansu")
    up.set_defaults(handler=run_up)
    worker = sub.add_parser("worker", help="run a validating Faust worker against TAHAWUL_KAFKA_URL")
    worker.set_defaults(handler=run_worker)
    counter = sub.add_parser("counter", help="run the counting writer (exactly one per store)")
    counter.set_defaults(handler=run_counter)


def run_up(args: argparse.Namespace, settings: Settings) -> int:
    from tahawul.cli.up import SIMULATION_MAX_AHEAD, up
    from tahawul.runtime.feed_process import SimulationSpec
    from tahawul.runtime.feeds import Feed, FileFeed
    from tahawul.sinks.clickhouse.runs import RunRecord

    if args.broker is not None:
        if settings.kafka_url is not None:
            print("tahawul up: --broker names the local broker to start, but TAHAWUL_KAFKA_URL names "
                  "a cluster to use instead; give one or the other", file=sys.stderr)
            return EXIT_USAGE
        settings = settings.model_copy(update={"local_broker": args.broker})
    feed_factory = None
    file_feed: FileFeed | None = None
    run_record: RunRecord | None = None
    if args.input is not None:
        if not args.input.is_file():
            print(f"tahawul up: input file not found: {args.input}", file=sys.stderr)
            return EXIT_USAGE
        file_feed = FileFeed(args.input, sys.stderr)

        def feed_factory() -> Feed:
            assert file_feed is not None
            return iter(file_feed)
    elif args.simulate is not None:
        print(f"simulating {args.simulate} at scale {args.scale:g} with seed {args.seed} "
              f"(the same seed gives the same events)", file=sys.stderr)

        # fed from a process of its own (tahawul.runtime.feed_process)
        feed_factory = SimulationSpec(args.simulate, args.scale, args.seed, args.duplicates,
                                      args.invalid, args.control_totals, args.lose_fraction)
        run_record = RunRecord(args.simulate, Decimal(str(args.scale)), args.seed,
                               args.duplicates, args.invalid)
    code = up(settings, feed_factory, args.exit_when_done, run_record=run_record,
              max_ahead=SIMULATION_MAX_AHEAD if run_record is not None else None)
    if code == 0 and file_feed is not None and file_feed.rejected:
        print(f"tahawul up: {file_feed.rejected} line(s) of {args.input} rejected (see above and the "
              "rejected table)", file=sys.stderr)
        return EXIT_FAILED
    return code


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
    from tahawul.keyring import worker_trust
    from tahawul.stream_processors.app import run_worker as faust_worker

    worker_trust(settings)  # no trust file: refuse to start (UsageError, exit 2) before joining
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
    store = open_store(settings.clickhouse_dsn(), cluster_id(bootstrap, settings.kafka_security()), stop)
    if store is not None:
        counting_loop(settings, store, stop)
    return 0
