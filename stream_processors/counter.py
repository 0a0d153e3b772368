"""The counting writer: validated batches -> deduplicated events and minute counts.

Exactly one counter runs per store (the embedded chDB store can only be opened by one
process, and one writer keeps the deduplication index simple and exact). It holds two
pieces of state, both rebuilt from ClickHouse at start-up, never from Kafka or Faust:
- progress: the last source offset applied per (topic, partition) of the source cluster;
- seen: event_id -> content fingerprint of every event counted so far.
A record at or below progress was applied already (a replay or a worker's re-send) and is
skipped; an event_id already seen with the same fingerprint is a producer resend and is
recorded as a duplicate; with a different fingerprint it is a conflicting reuse of the id
and is rejected. State changes only after the store confirmed the write.
"""

from __future__ import annotations

import logging
import threading
import time
from collections import defaultdict
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from datetime import UTC, datetime

from kafka import KafkaConsumer
from kafka.errors import KafkaError

from sinks.clickhouse.connection import connect, redact
from sinks.clickhouse.store import SourceKey, Store, WriteBatch
from stream_processors import metrics
from stream_processors.envelope import Envelope, decode_payload
from tahawul.settings import Settings

log = logging.getLogger(__name__)


@dataclass(slots=True)
class BatchStats:
    valid: int = 0
    duplicates: int = 0
    rejected: int = 0
    skipped: int = 0
    # (governorate, mode) -> completed transactions added by this batch
    completed: dict[tuple[str, str], int] = field(default_factory=lambda: defaultdict(int))


@dataclass(slots=True)
class Prepared:
    batch: WriteBatch
    seen: dict[str, int]
    stats: BatchStats


def _ms_to_dt(ms: int) -> datetime:
    return datetime.fromtimestamp(ms / 1000, UTC)


class Counter:
    def __init__(self, store: Store) -> None:
        self.store = store
        self.cluster = store.cluster
        self.progress: dict[SourceKey, int] = store.progress()
        self.seen: dict[str, int] = store.seen_fingerprints()

    def prepare(self, envelopes: Iterable[Envelope]) -> Prepared:
        """Compute the write for these envelopes without changing any state."""
        now = datetime.now(UTC)
        batch = WriteBatch()
        stats = BatchStats()
        new_seen: dict[str, int] = {}
        progress = batch.progress
        counts: dict[tuple, list[int]] = defaultdict(lambda: [0, 0])
        cluster = self.cluster
        for env in envelopes:
            key = (env.topic, env.partition)
            done = progress.get(key, self.progress.get(key, -1))
            if env.last_offset <= done:
                stats.skipped += len(env.ok) + len(env.bad)
                continue
            if env.first_offset > done + 1:
                log.error("offsets %d..%d of %s[%d] never reached the counter; counting on",
                          done + 1, env.first_offset - 1, env.topic, env.partition)
                metrics.OFFSET_GAPS.inc()
            tag = (cluster, env.topic, env.partition)
            for row in env.ok:
                offset = row[0]
                if offset <= done:
                    stats.skipped += 1
                    continue
                event_id, fingerprint = row[1], row[12]
                previous = new_seen.get(event_id)
                if previous is None:
                    previous = self.seen.get(event_id)
                if previous is None:
                    new_seen[event_id] = fingerprint
                    stats.valid += 1
                    (_, _, occurred_ms, entity, service, governorate, channel, mode, status,
                     quantity, automated, satisfaction, _) = row
                    batch.events.append((
                        event_id, _ms_to_dt(occurred_ms), entity, service, governorate, channel,
                        mode, status, quantity, automated, satisfaction, fingerprint,
                        *tag, offset, now,
                    ))
                    cell = counts[(env.topic, env.partition, occurred_ms // 60_000, governorate,
                                   entity, service, channel, mode, status)]
                    cell[0] += quantity
                    cell[1] += 1
                    if status == "completed":
                        stats.completed[(governorate, mode)] += quantity
                elif previous == fingerprint:
                    stats.duplicates += 1
                    batch.duplicates.append((event_id, now, *tag, offset))
                else:
                    stats.rejected += 1
                    batch.rejected.append((
                        now, "event_id_conflict",
                        f"event_id {event_id} was already counted with different content",
                        b"", 0, "", event_id, *tag, offset,
                    ))
            for row in env.bad:
                offset = row[0]
                if offset <= done:
                    stats.skipped += 1
                    continue
                stats.rejected += 1
                batch.rejected.append((now, row[1], row[2], decode_payload(row), row[4], row[5],
                                       None, *tag, offset))
            progress[key] = env.last_offset
        for (topic, partition, minute, *group), (transactions, events) in counts.items():
            batch.counts.append((_ms_to_dt(minute * 60_000), *group, transactions, events,
                                 cluster, topic, partition, progress[(topic, partition)]))
        return Prepared(batch, new_seen, stats)

    def commit(self, prepared: Prepared) -> None:
        """Adopt the state of a batch the store has confirmed."""
        self.seen.update(prepared.seen)
        self.progress.update(prepared.batch.progress)


def write_with_retry(store: Store, batch: WriteBatch, stop: threading.Event,
                     max_delay: float = 10.0) -> bool:
    """Write until it succeeds (False if asked to stop first). A failed attempt may have
    left part of the batch behind, so every retry starts by recovering."""
    delay = 0.2
    failed = False
    while True:
        try:
            if failed:
                store.recover()
            started = time.perf_counter()
            store.write(batch)
            metrics.STORE_WRITE_SECONDS.observe(time.perf_counter() - started)
            if failed:
                log.warning("store writes succeed again")
                metrics.STORE_UP.set(1)
            return True
        except Exception as exc:
            failed = True
            metrics.STORE_WRITE_ERRORS.inc()
            metrics.STORE_UP.set(0)
            log.error("store write failed, retrying in %.1f s: %s", delay, exc)
            if stop.wait(delay):
                return False
            delay = min(max_delay, delay * 2)


def open_store(dsn: str, cluster: str, stop: threading.Event, max_delay: float = 10.0) -> Store | None:
    """Open, migrate and recover the store, retrying with backoff while it is unreachable
    (None if asked to stop first). Nothing is consumed before this succeeds, so an outage
    at start-up delays counting and loses nothing."""
    delay = 0.5
    while True:
        try:
            store = Store(connect(dsn), cluster)
            store.migrate()
            store.recover()
            metrics.STORE_UP.set(1)
            return store
        except Exception as exc:
            metrics.STORE_UP.set(0)
            metrics.STORE_OPEN_ERRORS.inc()
            log.error("store %s unavailable, retrying in %.1f s: %s", redact(dsn), delay, exc)
            if stop.wait(delay):
                return None
            delay = min(max_delay, delay * 2)


def run_counter(
    settings: Settings,
    store: Store,
    stop: threading.Event,
    on_batch: Callable[[Counter, Prepared], None] | None = None,
) -> Counter:
    """Consume the validated topic until ``stop`` is set."""
    counter = Counter(store)
    consumer = KafkaConsumer(
        settings.topic_validated,
        bootstrap_servers=settings.kafka_bootstrap(),
        group_id=settings.counter_group,
        enable_auto_commit=False,
        auto_offset_reset="earliest",
        session_timeout_ms=int(settings.session_timeout * 1000),
        heartbeat_interval_ms=int(settings.session_timeout * 250),
        max_poll_records=200,
        max_poll_interval_ms=600_000,
        max_partition_fetch_bytes=8 * 1024 * 1024,
        fetch_max_bytes=64 * 1024 * 1024,
    )
    try:
        while not stop.is_set():
            try:
                polled = consumer.poll(timeout_ms=200)
            except KafkaError as exc:
                # The broker is away (restarting, network): wait and poll again. Nothing
                # was applied for these records yet, so nothing can be lost or doubled.
                metrics.BROKER_ERRORS.inc()
                log.warning("polling %s failed, retrying: %s", settings.topic_validated, exc)
                stop.wait(1.0)
                continue
            envelopes = [Envelope.decode(rec.value) for recs in polled.values() for rec in recs]
            if not envelopes:
                continue
            prepared = counter.prepare(envelopes)
            if not write_with_retry(store, prepared.batch, stop):
                break
            counter.commit(prepared)
            batch = prepared.batch  # issue 6: Prometheus (rows, freshness, per-entity, lag)
            metrics.observe_written(batch.events, len(batch.counts), len(batch.duplicates),
                                    len(batch.rejected))
            metrics.observe_kafka_lag(consumer, settings.counter_group)
            try:
                consumer.commit()
            except KafkaError as exc:
                # Only a hint for where to resume: the store's progress is the truth, and
                # anything re-read is skipped by offset. Typical after a long store outage
                # made the group drop this consumer; the next poll rejoins.
                log.warning("could not commit counter offsets (%s); re-reads will be skipped", exc)
            stats = prepared.stats
            metrics.EVENTS.labels("counted").inc(stats.valid)
            metrics.EVENTS.labels("duplicate").inc(stats.duplicates)
            metrics.EVENTS.labels("rejected").inc(stats.rejected)
            if on_batch is not None:
                on_batch(counter, prepared)
    finally:
        consumer.close(autocommit=False)
    return counter
