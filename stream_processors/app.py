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
import ctypes
import ctypes.util
import logging
from collections import defaultdict
from datetime import UTC, datetime
from typing import Any

import faust
from faust.types import EventT

from tahawul.keyring import signature_policy
from tahawul.schemas.headers import (
    MESSAGE_HEADER,
    REASON_HEADER,
    SOURCE_INDEX_HEADER,
    SOURCE_OFFSET_HEADER,
    SOURCE_PARTITION_HEADER,
)
from tahawul.schemas.reference import load_catalogue
from tahawul.settings import Settings
from tahawul.stream_processors import metrics
from tahawul.stream_processors.envelope import split
from tahawul.stream_processors.validation import DeadLetter, Judge, Verdict

log = logging.getLogger(__name__)


Message = tuple[str, bytes | None, bytes | None, int | None, list[tuple[str, bytes]] | None]
# Events judged before their envelopes are sent (a batch of batched records can hold a
# million): bounds the verdicts held in memory, and lets the broker work while we judge.
CHUNK_EVENTS = 10_000


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


async def deliver_in_order(app: faust.App, messages: list[Message]) -> None:
    """Deliver messages one after the other, each acknowledged before the next is sent."""
    for message in messages:
        await deliver_all(app, [message])


def consumer_options(settings: Settings) -> dict[str, Any]:
    """How a Faust app of the worker's group reads the transactions topic: the broker, raw
    bytes, the group's session and commit settings. The worker adds its producer settings;
    the bare Faust baseline of the benchmarks (benchmarks/faust_bare.py) uses these as they
    are, so that it reads exactly as the worker does."""
    bootstrap = settings.kafka_bootstrap()
    if bootstrap is None:
        raise ValueError("TAHAWUL_KAFKA_URL is not set: the worker needs a Kafka cluster")
    return dict(
        broker=",".join(f"kafka://{hp}" for hp in bootstrap.split(",")),
        store="memory://",
        value_serializer="raw",
        key_serializer="raw",
        topic_partitions=settings.partitions,
        topic_allow_declare=False,
        consumer_auto_offset_reset="earliest",
        broker_session_timeout=settings.session_timeout,
        broker_heartbeat_interval=settings.session_timeout / 4,
        broker_commit_every=settings.batch_max,
        broker_commit_interval=1.0,
        web_enabled=False,
        loghandlers=[],
    )


def source_topic(app: faust.App, settings: Settings) -> faust.TopicT:
    """The transactions topic, as raw bytes."""
    return app.topic(settings.topic_transactions, value_type=bytes, key_type=bytes,
                     value_serializer="raw", key_serializer="raw", partitions=settings.partitions)


def create_app(settings: Settings) -> faust.App:
    options = consumer_options(settings)
    datadir = settings.data_dir / "faust"  # Faust's own files (none with memory tables)
    datadir.mkdir(parents=True, exist_ok=True)
    app = faust.App(
        settings.worker_group,
        **options,
        broker_request_timeout=max(30.0, settings.session_timeout * 2),
        stream_buffer_maxsize=settings.worker_buffer,
        producer_acks=-1,
        producer_max_request_size=2 * 1024 * 1024,
        datadir=str(datadir),
        table_cleanup_interval=3600.0,
    )
    catalogue = load_catalogue()
    signatures = signature_policy(settings)
    source = source_topic(app, settings)

    async def forward(events: list[EventT]) -> None:
        """Judge a batch and deliver its envelopes and dead letters, all acknowledged before
        returning (then take_events acks the records, and Faust may commit their offsets).

        A partition's records are judged in chunks of about CHUNK_EVENTS events; a chunk's
        envelopes go out while the next chunk is judged (the broker works meanwhile), and
        at most one chunk per partition is in flight, which bounds the memory a batch of
        batched records takes. Within a partition, envelopes are delivered one after the
        other, so they land in offset order even when one must be re-sent; partitions go
        in parallel."""
        by_partition: dict[int, list[Any]] = defaultdict(list)
        for ev in events:
            msg = ev.message
            by_partition[msg.partition].append((msg.offset, msg.value, msg.headers))
        now = datetime.now(UTC)
        in_flight: list[asyncio.Future[None]] = []
        latest: dict[int, asyncio.Future[None]] = {}  # per partition: the last envelope delivery

        async def send(partition: int, verdicts: list[Verdict], dead: list[DeadLetter]) -> None:
            # Outcomes and lag for Prometheus (the pipeline-health dashboard and alerts).
            metrics.observe_worker_batch(app, settings.worker_group, settings.topic_transactions,
                                         partition, verdicts)
            if dead:
                in_flight.append(asyncio.ensure_future(deliver_all(app, dead_letters(partition, dead))))
            key = str(partition).encode()
            envelopes: list[Message] = [
                (settings.topic_validated, key, envelope.encode(), partition, None)
                for envelope in split(settings.topic_transactions, partition, verdicts)]
            previous = latest.get(partition)
            if previous is not None:
                await previous  # one chunk per partition in flight
            latest[partition] = delivery = asyncio.ensure_future(deliver_in_order(app, envelopes))
            in_flight.append(delivery)
            await asyncio.sleep(0)  # let the sends go out before judging on

        judge = Judge(catalogue, now, signatures)
        for partition, records in by_partition.items():
            records.sort(key=lambda r: r[0])
            for record in records:
                judge.record(record)
                if len(judge.out) >= CHUNK_EVENTS:
                    await send(partition, *judge.take())
            if judge.out:
                await send(partition, *judge.take())
        await asyncio.gather(*in_flight)

    def dead_letters(partition: int, dead: list[DeadLetter]) -> list[Message]:
        out: list[Message] = []
        for letter in dead:
            headers = [
                (REASON_HEADER, letter.code.encode()),
                (MESSAGE_HEADER, letter.message.encode()[:1000]),
                (SOURCE_PARTITION_HEADER, str(partition).encode()),
                (SOURCE_OFFSET_HEADER, str(letter.offset).encode()),
            ]
            if letter.index is not None:  # an event of a batched record
                headers.append((SOURCE_INDEX_HEADER, str(letter.index).encode()))
            out.append((settings.topic_dead_letter, None, letter.payload, None, headers))
        return out

    @app.agent(source, name="validate")
    async def validate(stream: faust.StreamT) -> None:
        # take_events is on faust's Stream but missing from the StreamT protocol.
        batches = stream.take_events(settings.batch_max, within=settings.batch_within)  # type: ignore[attr-defined]
        async for events in batches:
            await forward(list(events))

    return app


def release_large_blocks() -> None:
    """Have glibc return every block of 128 KiB or more to the system when it is freed.

    Batched records arrive as values of 100-256 KiB. By default glibc raises its mmap
    threshold each time such a block is freed, after which blocks of that size come from the
    heap, where freed space is fragmented and never returned: the worker's resident memory
    then grows for millions of events before it levels off (50% over the first ten million
    in benchmarks/memory.py). A fixed threshold keeps it at what is in use."""
    try:
        libc = ctypes.CDLL(ctypes.util.find_library("c") or "libc.so.6")
        libc.mallopt(-3, 128 * 1024)  # M_MMAP_THRESHOLD
    except (OSError, AttributeError):  # not glibc: nothing to tune
        pass


def run_worker(settings: Settings) -> None:
    """Run a worker until SIGINT/SIGTERM (Faust installs the handlers)."""
    release_large_blocks()
    app = create_app(settings)
    worker = faust.Worker(app, loglevel=settings.log_level.lower(), quiet=True,
                          redirect_stdouts=False)
    worker.execute_from_commandline()
