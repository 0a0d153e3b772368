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
from typing import Any

import numpy as np
from kafka import KafkaConsumer
from kafka.errors import KafkaError

from sinks.clickhouse.connection import connect, redact
from sinks.clickhouse.store import SourceKey, Store, WriteBatch
from stream_processors import metrics
from stream_processors.envelope import Envelope, decode_payload
from stream_processors.seen import SeenIndex, uuid_halves
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
    # (hi, lo, fingerprint) of the events this batch counts for the first time
    new_ids: tuple[np.ndarray, np.ndarray, np.ndarray]
    stats: BatchStats


class Counter:
    def __init__(self, store: Store) -> None:
        self.store = store
        self.cluster = store.cluster
        self.progress: dict[SourceKey, int] = store.progress()
        self.seen = SeenIndex()
        self.seen.add(*store.seen_arrays())

    def prepare(self, envelopes: Iterable[Envelope]) -> Prepared:
        """Compute the write for these envelopes without changing any state.

        The work is done per batch, not per event, where it can be: one vectorised lookup
        of all ids in the index, rows kept as the envelope's lists (columns are made once,
        at insert), and one dict operation per event for its minute bucket."""
        now_ms = int(time.time() * 1000)
        batch = WriteBatch()
        stats = BatchStats()
        progress = batch.progress
        cluster = self.cluster
        rejected = batch.rejected
        # Pass 1: what is beyond progress, in envelope order.
        candidates: list[list[Any]] = []
        segments: list[tuple[str, int, int]] = []  # (topic, partition, end in candidates)
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
            if env.first_offset > done:
                candidates.extend(env.ok)
            else:  # overlaps what is applied: an envelope re-cut after a worker restart
                for row in env.ok:
                    if row[0] <= done:
                        stats.skipped += 1
                    else:
                        candidates.append(row)
            segments.append((env.topic, env.partition, len(candidates)))
            for row in env.bad:
                offset = row[0]
                if offset <= done:
                    stats.skipped += 1
                    continue
                stats.rejected += 1
                rejected.append((now_ms, row[1], row[2], decode_payload(row), row[4], row[5],
                                 None, cluster, env.topic, env.partition, offset))
            progress[key] = env.last_offset
        # Pass 2: one lookup of every candidate id in the index of counted events.
        hi, lo = uuid_halves([row[1] for row in candidates])
        found, previous_fps = self.seen.lookup(hi, lo)
        found_l = found.tolist()
        previous_l = previous_fps.tolist()
        # Pass 3: in order, first sight counts, a resend is a duplicate, a reuse a conflict.
        events = batch.events
        events.ingested_ms = now_ms
        new_rows = events.rows
        new_at: list[int] = []
        new_seen: dict[str, int] = {}
        duplicates = batch.duplicates
        counts: dict[tuple[Any, ...], list[int]] = {}
        start = 0
        for topic, partition, end in segments:
            before = len(new_rows)
            for i in range(start, end):
                row = candidates[i]
                event_id = row[1]
                fingerprint = row[12]
                previous = previous_l[i] if found_l[i] else new_seen.get(event_id)
                if previous is None:
                    new_seen[event_id] = fingerprint
                    new_at.append(i)
                    new_rows.append(row)
                    # (minute, governorate, entity, service, channel, mode, status)
                    cell_key = (topic, partition, row[2] // 60_000, row[5], row[3], row[4],
                                row[6], row[7], row[8])
                    cell = counts.get(cell_key)
                    if cell is None:
                        counts[cell_key] = [row[9], 1]
                    else:
                        cell[0] += row[9]
                        cell[1] += 1
                elif previous == fingerprint:
                    duplicates.append((event_id, now_ms, cluster, topic, partition, row[0]))
                else:
                    stats.rejected += 1
                    rejected.append((
                        now_ms, "event_id_conflict",
                        f"event_id {event_id} was already counted with different content",
                        b"", 0, "", event_id, cluster, topic, partition, row[0],
                    ))
            events.sources.append((topic, partition, len(new_rows) - before))
            start = end
        stats.valid = len(new_rows)
        stats.duplicates = len(duplicates)
        for (topic, partition, minute, governorate, entity, service, channel, mode, status), \
                (transactions, n) in counts.items():
            batch.counts.append((minute * 60, governorate, entity, service, channel, mode, status,
                                 transactions, n, cluster, topic, partition, progress[(topic, partition)]))
            if status == "completed":
                stats.completed[(governorate, mode)] += transactions
        at = np.array(new_at, dtype=np.intp)
        fingerprints = np.array([candidates[i][12] for i in new_at], dtype=np.uint64)
        return Prepared(batch, (hi[at], lo[at], fingerprints), stats)

    def commit(self, prepared: Prepared) -> None:
        """Adopt the state of a batch the store has confirmed."""
        self.seen.add(*prepared.new_ids)
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
