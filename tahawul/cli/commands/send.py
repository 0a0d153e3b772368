"""`tahawul send FILE...`: send JSONL or CSV files of events (backfill, daily tallies).

Every line is validated; valid lines are sent (idempotent producer, acks=all, keyed by
entity) and rejected ones are written to a report (file, line, code, reason). The exit code
is 0 when every line was sent, 1 when any was rejected (the valid ones are still sent), 2 on
a usage error (missing file, unusable CSV header), 69 when Kafka cannot be reached or did
not acknowledge everything. Re-sending a file counts nothing twice.
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path
from typing import Any

from tahawul.cli.common import EXIT_FAILED, EXIT_OK, EXIT_UNAVAILABLE, EXIT_USAGE
from tahawul.settings import Settings


def register(sub: Any) -> None:
    p = sub.add_parser(
        "send", help="validate and send JSONL or CSV files of events to TAHAWUL_KAFKA_URL",
        description="Validate every line, send the valid ones, report the rejected ones. "
        "CSV columns: see docs/producers.md.")
    p.add_argument("files", nargs="+", type=Path, metavar="FILE", help="JSONL or CSV files of events")
    p.add_argument("--format", choices=("auto", "jsonl", "csv"), default="auto",
                   help="file format (auto: .csv is CSV, anything else JSON lines)")
    p.add_argument("--report", type=Path, default=Path("tahawul-send-rejected.csv"),
                   help="CSV of rejected lines (file,line,code,reason); written only if any")
    p.add_argument("--source", help="name used to derive event ids of CSV rows without one "
                   "(default: the file's name); re-sending with the same name counts nothing twice")
    p.add_argument("--check", action="store_true", help="validate and report only; send nothing")
    p.add_argument("--no-progress", action="store_true", help="no progress bar")
    p.set_defaults(handler=send)


def send(args: argparse.Namespace, settings: Settings) -> int:
    from kafka.errors import KafkaError
    from rich.console import Console
    from rich.progress import (
        BarColumn,
        DownloadColumn,
        Progress,
        TextColumn,
        TimeRemainingColumn,
        TransferSpeedColumn,
    )

    from tahawul.kafka_admin import KafkaUnavailable, cluster_id
    from tahawul.keyring import producer_signers
    from tahawul.producers.file_send import RejectionReport, detect_format, send_file
    from tahawul.producers.kafka_sender import EventSender, SendFailed
    from tahawul.schemas.reference import load_catalogue

    for path in args.files:
        if not path.is_file():
            print(f"file not found: {path}", file=sys.stderr)
            return EXIT_USAGE
    if len(args.files) > 1 and args.source:
        print("--source names one file's rows; give one FILE with it", file=sys.stderr)
        return EXIT_USAGE
    signers = producer_signers(settings)
    if not args.check and not signers.keys:
        print("no signing key: set TAHAWUL_SIGNING_KEYS to your entity's private key file "
              "(`tahawul credentials signing-key`); the pipeline counts signed events only",
              file=sys.stderr)
        return EXIT_USAGE
    sender: EventSender | None = None
    if not args.check:
        bootstrap = settings.kafka_bootstrap()
        if bootstrap is None:
            print("TAHAWUL_KAFKA_URL is not set: `tahawul send` needs the Kafka cluster to send to",
                  file=sys.stderr)
            return EXIT_USAGE
        # One connection first: a refused login or certificate is one clear line (exit 69),
        # not a send that times out record by record.
        cluster_id(bootstrap, settings.kafka_security())
        try:
            sender = EventSender(bootstrap, settings.topic_transactions,
                                 security=settings.kafka_security())
        except KafkaError as exc:
            raise KafkaUnavailable(f"cannot reach Kafka at {bootstrap}: {exc}") from None
    catalogue = load_catalogue()
    report = RejectionReport(args.report)
    console = Console(stderr=True)
    started = time.monotonic()
    totals = {"lines": 0, "sent": 0, "rejected": 0}
    from tahawul.producers.csv_events import CsvHeaderError

    try:
        with Progress(TextColumn("{task.description}"), BarColumn(), DownloadColumn(),
                      TransferSpeedColumn(), TimeRemainingColumn(), console=console,
                      disable=args.no_progress, transient=False) as progress:
            for path in args.files:
                task = progress.add_task(path.name, total=path.stat().st_size)
                fmt = detect_format(path) if args.format == "auto" else args.format
                try:
                    result = send_file(
                        path, fmt, args.source or path.name, catalogue, signers,
                        sender.send if sender is not None else None, report,
                        on_bytes=lambda n, task=task: progress.advance(task, n))  # type: ignore[misc]
                except CsvHeaderError as exc:
                    print(f"{path}: {exc}; nothing of this file was sent", file=sys.stderr)
                    return EXIT_USAGE
                for key in totals:
                    totals[key] += getattr(result, key)
                codes = ", ".join(f"{c} {n}" for c, n in sorted(result.codes.items()))
                progress.console.print(
                    f"{path}: {result.lines} lines, {result.sent} "
                    f"{'valid' if args.check else 'sent'}, {result.rejected} rejected"
                    + (f" ({codes})" if codes else ""))
        if sender is not None:
            try:
                sender.flush()
            except SendFailed as exc:
                print(f"Kafka did not acknowledge every event: {exc}. Re-send the file: events "
                      "already counted are not counted twice.", file=sys.stderr)
                return EXIT_UNAVAILABLE
    finally:
        report.close()
        if sender is not None:
            sender.close()
    elapsed = time.monotonic() - started
    verb = "checked" if args.check else "acknowledged by Kafka"
    print(f"{totals['lines']} lines in {elapsed:.1f} s: {totals['sent']} {verb}, "
          f"{totals['rejected']} rejected")
    if report.count:
        print(f"rejected lines (file, line, code, reason): {report.path}")
        return EXIT_FAILED
    return EXIT_OK
