"""`tahawul simulate`: simulated events and their exact expected counts.

``--out/--truth`` write a run to files; ``--send`` streams it straight to the broker
(TAHAWUL_KAFKA_URL) at ``--rate`` events per second for live demos, optionally writing the
truth of what was sent; Ctrl-C stops it cleanly after flushing what was sent.
"""

from __future__ import annotations

import argparse
import contextlib
import sys
import time
from collections.abc import Callable, Iterable, Iterator
from pathlib import Path
from typing import TYPE_CHECKING, Any

from tahawul.cli.common import EXIT_UNAVAILABLE, EXIT_USAGE, add_simulation_options, positive
from tahawul.settings import Settings

if TYPE_CHECKING:
    from tahawul.producers.simulator import SimulatedLine

Wrap = Callable[[Iterable["SimulatedLine"]], Iterator["SimulatedLine"]]


def register(sub: Any) -> None:
    p = sub.add_parser("simulate", help="write simulated events and their exact expected counts, "
                       "or stream them to the broker (--send)")
    add_simulation_options(p)
    p.add_argument("--out", type=Path, help="events, one JSON object per line (not with --send)")
    p.add_argument("--truth", type=Path, help="expected counts (CSV); with --send, of the events sent")
    p.add_argument("--send", action="store_true",
                   help="stream the events to TAHAWUL_KAFKA_URL instead of writing them: "
                        "takes no --out, --truth optional")
    p.add_argument("--rate", type=positive, default=None, metavar="EVENTS_PER_S",
                   help="with --send: events per second (default: as fast as the broker takes them)")
    p.add_argument("--limit", type=int, default=None, help="with --send: stop after this many events")
    p.add_argument("--lost", type=Path, default=None, metavar="FILE",
                   help="with --lose-fraction: write the events lost on purpose here (JSONL)")
    p.set_defaults(handler=simulate)


def simulate(args: argparse.Namespace, settings: Settings) -> int:
    from tahawul.producers.simulator import PROFILES, is_exchange_profile, run_simulation

    if is_exchange_profile(args.profile) and not args.send:
        return _exchanges_to_files(args)
    if args.profile not in PROFILES:
        print(f"unknown profile {args.profile!r}; known: {', '.join(PROFILES)}", file=sys.stderr)
        return EXIT_USAGE
    if args.send:
        if args.out is not None:
            print("--send streams to the broker; it takes no --out", file=sys.stderr)
            return EXIT_USAGE
        return send_simulation(args, settings)
    if args.out is None or args.truth is None:
        print("give --out and --truth (or --send)", file=sys.stderr)
        return EXIT_USAGE
    if args.rate is not None or args.limit is not None:
        print("--rate and --limit go with --send", file=sys.stderr)
        return EXIT_USAGE
    with _losses(args) as wrap:
        summary = run_simulation(args.profile, args.scale, args.seed, args.out, args.truth,
                                 duplicate_rate=args.duplicates, invalid_rate=args.invalid, wrap=wrap)
    print(f"wrote {summary.lines} lines to {args.out} ({summary.valid} valid, "
          f"{summary.duplicates} duplicates, {summary.invalid} invalid) and truth to {args.truth}")
    return 0


def _exchanges_to_files(args: argparse.Namespace) -> int:
    """An exchange profile's halves and their truth (expected cells by the pairing rule)."""
    from tahawul.producers.simulator.exchanges import run_exchange_simulation

    if args.out is None or args.truth is None:
        print("give --out and --truth (or --send)", file=sys.stderr)
        return EXIT_USAGE
    try:
        truth = run_exchange_simulation(args.profile, args.scale, args.seed, args.out, args.truth)
    except ValueError as exc:
        print(f"tahawul simulate: {exc}", file=sys.stderr)
        return EXIT_USAGE
    providers, consumers = truth.active()
    print(f"wrote {truth.halves} exchange halves to {args.out} ({truth.exchanges} exchanges, "
          f"{truth.unmatched} halves without their partner) and truth to {args.truth}: "
          f"{truth.items():,} items of successful exchanges, {providers} providers, {consumers} consumers")
    return 0


@contextlib.contextmanager
def _losses(args: argparse.Namespace) -> Iterator[Wrap | None]:
    """The stream's wrapper for --control-totals/--lose-fraction (None without them), with
    --lost's file open while the stream runs."""
    from tahawul.producers.simulator.control_totals import with_control_totals

    if not (args.control_totals or args.lose_fraction):
        yield None
        return
    with contextlib.ExitStack() as stack:
        on_lost = None
        if args.lost is not None:
            fh = stack.enter_context(args.lost.open("wb"))

            def on_lost(line: SimulatedLine) -> None:
                fh.write(line.data + b"\n")

        counts = {"lost": 0, "totals": 0}

        def count_lost(line: SimulatedLine) -> None:
            counts["lost"] += 1
            if on_lost is not None:
                on_lost(line)

        def wrap(lines: Iterable[SimulatedLine]) -> Iterator[SimulatedLine]:
            for line in with_control_totals(lines, args.seed, args.lose_fraction, count_lost):
                counts["totals"] += line.kind == "control_total"
                yield line
        yield wrap
        lost = f" (written to {args.lost})" if args.lost is not None else ""
        print(f"stated {counts['totals']} control totals; lost {counts['lost']} valid events on "
              f"purpose{lost}")


def send_simulation(args: argparse.Namespace, settings: Settings) -> int:
    from kafka.errors import KafkaError

    from tahawul.kafka_admin import KafkaUnavailable, ensure_topics
    from tahawul.keyring import producer_signers
    from tahawul.producers.kafka_sender import EventSender, SendFailed, entity_key
    from tahawul.producers.simulator import Truth, iter_simulation
    from tahawul.schemas.headers import SIGNATURE_HEADER

    bootstrap = settings.kafka_bootstrap()
    if bootstrap is None:
        print("TAHAWUL_KAFKA_URL is not set: --send needs the Kafka cluster to send to", file=sys.stderr)
        return EXIT_USAGE
    # Signed with the keys this process holds (TAHAWUL_SIGNING_KEYS, else the local dev
    # keys of every entity: fine for the embedded broker, refused by a real trust file).
    signers = producer_signers(settings)
    if not signers.keys:
        print("no signing keys: set TAHAWUL_SIGNING_KEYS to a directory of entities' private key "
              "files (the pipeline counts signed events only; docs/security.md)", file=sys.stderr)
        return EXIT_USAGE
    ensure_topics(bootstrap, settings)
    try:
        sender = EventSender(bootstrap, settings.topic_transactions, linger_ms=5,
                             security=settings.kafka_security())
    except KafkaError as exc:
        raise KafkaUnavailable(f"cannot reach Kafka at {bootstrap}: {exc}") from None
    truth = Truth()
    started = time.monotonic()
    sent = 0
    stopped = False
    try:
        with _losses(args) as wrap:
            lines: Iterable[SimulatedLine] = iter_simulation(args.profile, args.scale, args.seed,
                                                             args.duplicates, args.invalid)
            if wrap is not None:
                lines = wrap(lines)
            for line in lines:
                if args.limit is not None and sent >= args.limit:
                    break
                if args.rate is not None:
                    due = started + sent / args.rate  # pacing a live demo, not a test wait
                    delay = due - time.monotonic()
                    if delay > 0:
                        time.sleep(delay)
                entity = line.entity
                key = entity.encode() if entity else entity_key(line.data)
                signature = signers.sign(entity, line.data) if entity else None
                sender.send(line.data, key, [(SIGNATURE_HEADER, signature)] if signature else None)
                truth.add(line)
                sent += 1
    except KeyboardInterrupt:
        stopped = True
    try:
        sender.flush()
    except SendFailed as exc:
        print(f"Kafka did not acknowledge every event: {exc}", file=sys.stderr)
        return EXIT_UNAVAILABLE
    finally:
        sender.close()
    elapsed = time.monotonic() - started
    if args.truth is not None:
        truth.write_csv(args.truth)
    print(f"{'stopped after' if stopped else 'sent'} {sent} events in {elapsed:.1f} s "
          f"({truth.valid} valid, {truth.duplicate} duplicates, {truth.invalid} invalid), "
          f"all acknowledged by Kafka" + (f"; truth in {args.truth}" if args.truth else ""))
    return 0
