"""The validating Faust worker: transactions topic -> validated batches + dead letters.

Workers scale out in one consumer group: each owns some source partitions and, for each
batch it takes, sends one envelope per source partition to the same partition number of the
validated topic, waits for the broker's acknowledgement, and only then lets Faust commit the
source offsets (``take_events`` acks after the loop body). A crash therefore re-sends, never
skips; the counting writer drops what it has already applied by source offset.

Faust tables, Kafka transactions and compaction are deliberately not used: on our broker
they are not reliable (shared/docs/platform-notes.md), and the truth lives in ClickHouse.
"""

from __future__ import annotations

import asyncio
import logging
from collections import defaultdict
from typing import Any

import faust
from faust.types import EventT

from schemas.reference import load_catalogue
from stream_processors import metrics
from stream_processors.envelope import split
from stream_processors.validation import judge
from tahawul.keyring import signature_policy
from tahawul.settings import Settings

log = logging.getLogger(__name__)


Message = tuple[str, bytes | None, bytes | None, int | None, list[tuple[str, bytes]] | None]


async def deliver_all(app: faust.App, messages: list[Message], max_delay: float = 5.0) -> None:
    """Send and wait until the broker acknowledged every message, resending what failed.

    This never gives up. Raising out of the batch would be worse than waiting: Faust's
    ``take_events`` acks a batch's records when its loop body exits, even by an exception,
    so their offsets would be committed without their verdicts ever reaching the counter.
    (Seen when the broker was killed mid-run: the records of the failed batch were lost.)
    """
    delay = 0.2
    pending = messages
    while pending:
        failed: list[Message] = []
        futures = []
        for message in pending:
            topic, key, value, partition, headers = message
            try:
                futures.append((message, await app.producer.send(topic, key, value, partition,
                                                                 None, headers)))
            except Exception as exc:
                log.warning("send to %s failed: %s", message[0], exc)
                failed.append(message)
        for message, future in futures:
            try:
                await future
            except Exception as exc:
                log.warning("send to %s not acknowledged: %s", message[0], exc)
                failed.append(message)
        if failed:
            log.warning("%d messages not acknowledged; resending in %.1f s", len(failed), delay)
            await asyncio.sleep(delay)
            delay = min(max_delay, delay * 2)
        pending = failed


def create_app(settings: Settings) -> faust.App:
    bootstrap = settings.kafka_bootstrap()
    if bootstrap is None:
        raise ValueError("TAHAWUL_KAFKA_URL is not set: the worker needs a Kafka cluster")
    brokers = ",".join(f"kafka://{hp}" for hp in bootstrap.split(","))
    app = faust.App(
        settings.worker_group,
        broker=brokers,
        store="memory://",
        value_serializer="raw",
        key_serializer="raw",
        topic_partitions=settings.partitions,
        topic_allow_declare=False,
        consumer_auto_offset_reset="earliest",
        broker_session_timeout=settings.session_timeout,
        broker_heartbeat_interval=settings.session_timeout / 4,
        broker_request_timeout=max(30.0, settings.session_timeout * 2),
        broker_commit_every=settings.batch_max,
        broker_commit_interval=1.0,
        producer_acks=-1,
        producer_max_request_size=2 * 1024 * 1024,
        web_enabled=False,
        table_cleanup_interval=3600.0,
        loghandlers=[],
    )
    catalogue = load_catalogue()
    signatures = signature_policy(settings)
    source = app.topic(settings.topic_transactions, value_type=bytes, key_type=bytes,
                       value_serializer="raw", key_serializer="raw", partitions=settings.partitions)

    async def forward(events: list[EventT]) -> None:
        by_partition: dict[int, list[Any]] = defaultdict(list)
        for ev in events:
            msg = ev.message
            by_partition[msg.partition].append((msg.offset, msg.value, msg.headers))
        for partition, records in by_partition.items():
            records.sort(key=lambda r: r[0])
            verdicts = judge(records, catalogue, signatures=signatures)
            metrics.observe_worker_batch(app, settings.worker_group, settings.topic_transactions,
                                         partition, verdicts)  # issue 6: Prometheus
            dead_letters: list[Message] = []
            for (offset, value, _headers), (_, is_ok, row) in zip(records, verdicts, strict=True):
                if is_ok:
                    continue
                headers = [
                    ("tahawul-reason", row[1].encode()),
                    ("tahawul-message", row[2].encode()[:1000]),
                    ("tahawul-source-partition", str(partition).encode()),
                    ("tahawul-source-offset", str(offset).encode()),
                ]
                dead_letters.append((settings.topic_dead_letter, None, value, None, headers))
            await deliver_all(app, dead_letters)
            # Envelopes of one partition must land in offset order: one at a time.
            for envelope in split(settings.topic_transactions, partition, verdicts):
                await deliver_all(app, [(settings.topic_validated, str(partition).encode(),
                                         envelope.encode(), partition, None)])

    @app.agent(source, name="validate")
    async def validate(stream: faust.StreamT) -> None:
        # take_events is on faust's Stream but missing from the StreamT protocol.
        batches = stream.take_events(settings.batch_max, within=settings.batch_within)  # type: ignore[attr-defined]
        async for events in batches:
            await forward(list(events))

    return app


def run_worker(settings: Settings) -> None:
    """Run a worker until SIGINT/SIGTERM (Faust installs the handlers)."""
    app = create_app(settings)
    worker = faust.Worker(app, loglevel=settings.log_level.lower(), quiet=True,
                          redirect_stdouts=False)
    worker.execute_from_commandline()
