"""The counting writer: validated batches -> deduplicated events and minute counts.

Exactly one counter runs per store (the embedded chDB store can only be opened by one
process, and one writer keeps the deduplication index simple and exact). It holds two
pieces of state, both rebuilt from ClickHouse at start-up, never from Kafka or Faust:
- progress: the last source offset applied per (topic, partition) of the source cluster;
- seen: (entity, event_id) -> content fingerprint of every event counted so far.
A record at or below progress was applied already (a replay or a worker's re-send) and is
skipped; an event_id its entity already sent with the same fingerprint is a producer resend
and is recorded as a duplicate; with a different fingerprint it is a conflicting reuse of the
id and is rejected. Event ids are per entity: another entity's events never make one a
duplicate or a conflict. State changes only after the store confirmed the write.
"""

from __future__ import annotations

import logging
import secrets
import threading
import time
from collections import defaultdict
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from datetime import date
from typing import Any

import numpy as np
import orjson
import pyarrow as pa
from clickhouse_connect.driver.client import Client
from kafka import TopicPartition
from kafka.errors import (
    InconsistentGroupProtocolError,
    InvalidGroupIdError,
    InvalidSessionTimeoutError,
    KafkaError,
)

from tahawul.errors import UsageError
from tahawul.kafka_admin import group_committed
from tahawul.kafka_admin import quiet as quiet_logger
from tahawul.kafka_clients import KafkaConsumer
from tahawul.kafka_security import PLAINTEXT, KafkaSecurity
from tahawul.schemas.redaction import redact as redact_payload
from tahawul.schemas.reference import load_catalogue
from tahawul.schemas.verdict import BAD, CELL, COUNT, COUNT_COLUMNS, OK, TOTAL
from tahawul.settings import Settings
from tahawul.sinks.clickhouse.completeness import missing_by_entity
from tahawul.sinks.clickhouse.connection import connect, redact
from tahawul.sinks.clickhouse.store import NewEvents, SourceKey, Store, WriteBatch
from tahawul.stream_processors import metrics, writer_stall
from tahawul.stream_processors.envelope import Envelope, decode_payload
from tahawul.stream_processors.exchange_counter import ExchangeBatch, ExchangeCounting, Incoming
from tahawul.stream_processors.exchange_verdicts import is_exchange_row
from tahawul.stream_processors.group_join import refusal_reason
from tahawul.stream_processors.grouping import group, repeated
from tahawul.stream_processors.linger import Linger
from tahawul.stream_processors.seen import CountedIndex, entity_tag, entity_tags, sort_keys, uuid_halves
from tahawul.stream_processors.writer_stall import QuietTimer, delivered_not_applied, stall_message

log = logging.getLogger(__name__)

# How long a fetch of the validated topic may wait at the broker for data. Tansu (0.6)
# answers a waiting fetch only when the wait ends, not when a record arrives: with the
# clients' default 500 ms a record waited 137 ms at p50 and 275 ms at p95 to be received,
# with 50 ms 13 ms and 31-55 ms (same run, docs/performance.md). 50 ms costs an idle
# writer 20 small fetches a second.
FETCH_WAIT_MS = 50


CONFLICT_REASON = ("this entity already sent an event with this event_id and different content; "
                   "an event_id names one transaction of its entity")
_LEGACY_KEY = secrets.token_bytes(32)  # see _legacy


def _legacy(row: list[Any]) -> tuple[bytes, str]:
    """The redacted form and claimed entity of a rejected verdict from an envelope of
    version 1 or 2 (workers of before redaction), whose row carries the payload's own first
    bytes: redacted here, under a key of this process (such hashes cannot be matched; the
    bytes are not kept), so that nothing unredacted reaches the store."""
    payload = decode_payload(row)
    redacted = redact_payload(payload, _LEGACY_KEY, load_catalogue())
    kept = orjson.loads(redacted).get("kept") or {}
    return redacted, str(kept.get("entity", ""))


# The OK field of each column of a count row's cell.
_OK_OF_CELL = {COUNT.MINUTE: OK.OCCURRED_MS, COUNT.GOVERNORATE: OK.GOVERNORATE, COUNT.ENTITY: OK.ENTITY,
               COUNT.SERVICE: OK.SERVICE, COUNT.CHANNEL: OK.CHANNEL, COUNT.MODE: OK.MODE,
               COUNT.STATUS: OK.STATUS}
# Arrow types of the OK columns (strings the store keeps as LowCardinality are dictionaries).
_OK_TYPES: dict[int, pa.DataType] = {
    OK.OFFSET: pa.int64(), OK.EVENT_ID: pa.string(), OK.OCCURRED_MS: pa.int64(), OK.QUANTITY: pa.int64(),
    OK.AUTOMATED: pa.bool_(), OK.SATISFACTION: pa.int64(), OK.FINGERPRINT: pa.uint64(),
}


# Strings the store keeps as LowCardinality: converted straight to an Arrow dictionary
# (one pass, about twice as fast as a string array and dictionary_encode).
_DICTIONARY = pa.dictionary(pa.int32(), pa.string())


def _event_columns(columns: list[list[Any]], entities: pa.DictionaryArray,
                   counted: np.ndarray | None) -> list[Any]:
    """The batch's OK columns as Arrow arrays (converted in C, the cell's strings dictionary
    encoded), keeping the ``counted`` events only when some are not."""
    out: list[Any] = []
    for at, column in enumerate(columns):
        if at == OK.ENTITY:
            array: pa.Array = entities
        elif at in _OK_TYPES:
            array = pa.array(column, _OK_TYPES[at])
        else:
            array = pa.array(column, _DICTIONARY)
        out.append(array)
    if counted is not None:
        mask = pa.array(counted)
        out = [array.filter(mask) for array in out]
    return out


@dataclass(slots=True)
class BatchStats:
    valid: int = 0
    duplicates: int = 0
    rejected: int = 0
    skipped: int = 0
    control_totals: int = 0  # statements stored (never counted as transactions)
    # (governorate, mode) -> completed transactions added by this batch
    completed: dict[tuple[str, str], int] = field(default_factory=lambda: defaultdict(int))


@dataclass(frozen=True, slots=True)
class Missing:
    """Source offsets ``first``..``last`` of a partition that no envelope brought, between
    the progress of the partition and the next envelope: either records that never reached
    the counter (a gap: an alarm) or offsets at which the broker holds no record (a hole,
    e.g. left by a broker restart: nothing to apply). Only the source topic can tell."""

    topic: str
    partition: int
    first: int
    last: int


@dataclass(slots=True)
class Prepared:
    batch: WriteBatch
    # (key, lo, entity tag, fingerprint) of the events this batch counts for the first time,
    # sorted by key: the run it adds to the index (CountedIndex.add_sorted)
    new_ids: tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]
    stats: BatchStats
    missing: list[Missing] = field(default_factory=list)


class CountingWriter:
    """The writer's state (progress and the index of counted events) and how a batch of
    envelopes changes it; :func:`run_counter` feeds it and writes what it prepares."""

    def __init__(self, store: Store, rejected_retention_days: int = 30) -> None:
        self.store = store
        self.cluster = store.cluster
        self.rejected_retention_ms = rejected_retention_days * 86_400_000
        self.progress: dict[SourceKey, int] = store.progress()
        self.seen = CountedIndex()
        self.seen.add(*store.seen_arrays(entity_tag))
        # Exchange halves: their own index and pairing (stream_processors/exchange_counter.py);
        # the batch each prepared write holds for them, by id of its WriteBatch, till commit.
        self.exchanges = ExchangeCounting(store.client, store.cluster)
        self._exchange_batches: dict[int, ExchangeBatch] = {}

    def prepare(self, envelopes: Iterable[Envelope]) -> Prepared:
        """Compute the write for these envelopes without changing any state.

        Per batch, not per event, wherever the rule allows: the envelopes' columns are
        concatenated, every id is looked up in the index at once, and when none was seen
        before and none occurs twice (the usual case) no Python code runs per event at all;
        otherwise one loop decides, in order, first sight, resend or conflict."""
        now_ms = int(time.time() * 1000)
        expires_ms = now_ms + self.rejected_retention_ms
        batch = WriteBatch()
        stats = BatchStats()
        progress = batch.progress
        cluster = self.cluster
        rejected = batch.rejected
        # Pass 1: what is beyond progress, in envelope order.
        columns: list[list[Any]] = [[] for _ in OK]
        segments: list[tuple[str, int, int]] = []  # (topic, partition, end in columns)
        missing: list[Missing] = []
        halves: list[Incoming] = []  # exchange halves beyond progress, in order
        for env in envelopes:
            key = (env.topic, env.partition)
            done = progress.get(key, self.progress.get(key, -1))
            if env.last_offset <= done:
                stats.skipped += env.n_ok + len(env.bad)
                continue
            if env.first_offset > done + 1:  # told apart by run_counter (check_missing)
                missing.append(Missing(env.topic, env.partition, done + 1, env.first_offset - 1))
            if env.first_offset > done:
                for column, part in zip(columns, env.ok, strict=True):
                    column.extend(part)
            else:  # overlaps what is applied: an envelope re-cut after a worker restart
                keep = [i for i, offset in enumerate(env.ok[OK.OFFSET]) if offset > done]
                stats.skipped += env.n_ok - len(keep)
                for column, part in zip(columns, env.ok, strict=True):
                    column.extend([part[i] for i in keep])
            segments.append((env.topic, env.partition, len(columns[OK.OFFSET])))
            for row in env.totals:  # stored as stated, counted nowhere
                offset = row[TOTAL.OFFSET]
                if offset <= done:
                    stats.skipped += 1
                    continue
                if is_exchange_row(row):
                    halves.append((env.topic, env.partition, row))
                    continue
                stats.control_totals += 1
                batch.control_totals.append((
                    row[TOTAL.ENTITY], date.fromisoformat(row[TOTAL.DAY]), row[TOTAL.SERVICE],
                    row[TOTAL.CHANNEL], row[TOTAL.COMPLETED], row[TOTAL.STATED_MS], now_ms, cluster,
                    env.topic, env.partition, offset))
            for row in env.bad:
                offset = row[BAD.OFFSET]
                if offset <= done:
                    stats.skipped += 1
                    continue
                stats.rejected += 1
                payload, entity = (decode_payload(row), row[BAD.ENTITY]) if env.redacted else _legacy(row)
                rejected.append((now_ms, row[BAD.CODE], row[BAD.MESSAGE], payload,
                                 row[BAD.PAYLOAD_BYTES], row[BAD.SOURCE], None, cluster, env.topic,
                                 env.partition, offset, entity, expires_ms))
            progress[key] = env.last_offset
        exchanges = self.exchanges.prepare(halves, now_ms, expires_ms)
        batch.tables += exchanges.tables
        rejected += exchanges.rejected
        stats.rejected += exchanges.conflicts
        self._exchange_batches = {id(batch): exchanges}  # (only the latest can be committed)
        # Pass 2: one lookup of every id in the index of counted events.
        hi, lo = uuid_halves(columns[OK.EVENT_ID])
        entities = pa.array(columns[OK.ENTITY], _DICTIONARY)
        tags = entity_tags(entities.dictionary.to_pylist())[entities.indices.to_numpy(zero_copy_only=False)]
        by_key = sort_keys(hi, lo, tags)  # one sort of the batch's keys, for all three uses
        found, previous_fps = self.seen.lookup(hi, lo, tags, by_key)
        # Only ids seen before or met twice in this batch need deciding one by one (about 1%
        # of events where producers resend); every other event is new.
        special = np.flatnonzero(found | repeated(by_key.keys, by_key.order))
        ends = np.array([end for _, _, end in segments], dtype=np.int64)
        segment_of = np.repeat(np.arange(len(segments)), np.diff(ends, prepend=0))
        counted: np.ndarray | None = None
        if special.size:
            counted = self._decide(columns, segments, ends, special, found, previous_fps, (hi, lo, tags),
                                   batch, stats, now_ms, expires_ms)
        events = batch.events
        events.ingested_ms = now_ms
        events.columns = _event_columns(columns, entities, counted)
        per_segment = np.bincount(segment_of if counted is None else segment_of[counted],
                                  minlength=len(segments)).tolist()
        events.sources = [(topic, partition, n) for (topic, partition, _), n in zip(segments, per_segment,
                                                                                    strict=True)]
        stats.valid = len(events)
        stats.duplicates = len(batch.duplicates)
        batch.counts = self._minute_counts(events, progress, stats)
        fingerprints = np.asarray(events.columns[OK.FINGERPRINT], dtype=np.uint64)  # of the counted
        # The index's new run: the counted events by key (the batch's order, kept to them).
        order = by_key.order
        if counted is None:
            new_ids = (by_key.keys[order], lo[order], tags[order], fingerprints[order])
        else:
            kept = order[counted[order]]
            among_counted = np.cumsum(counted) - 1  # an event's position among the counted
            new_ids = (by_key.keys[kept], lo[kept], tags[kept], fingerprints[among_counted[kept]])
        return Prepared(batch, new_ids, stats, missing)

    def _decide(self, columns: list[list[Any]], segments: list[tuple[str, int, int]], ends: np.ndarray,
                special: np.ndarray, found: np.ndarray, previous_fps: np.ndarray,
                pairs: tuple[np.ndarray, np.ndarray, np.ndarray], batch: WriteBatch, stats: BatchStats,
                now_ms: int, expires_ms: int) -> np.ndarray:
        """In order, for the ``special`` events (seen before, or twice in the batch): the first
        sight of an entity's id counts, a later copy with the same fingerprint is a duplicate,
        one with another fingerprint a conflict. Returns the mask of counted events. The
        conflict's reason names neither the id nor anything another entity sent: it concerns
        the entity's own events only."""
        cluster = self.cluster
        offsets, ids, fingerprints = columns[OK.OFFSET], columns[OK.EVENT_ID], columns[OK.FINGERPRINT]
        entities = columns[OK.ENTITY]
        hi, lo, tags = (a[special].tolist() for a in pairs)
        was_found = found[special].tolist()
        previous_of = previous_fps[special].tolist()
        segment_at = np.searchsorted(ends, special, side="right").tolist()
        counted = np.ones(len(offsets), dtype=bool)
        new_seen: dict[tuple[int, int, int], int] = {}  # (entity tag, id halves): an id as the index sees it
        for k, i in enumerate(special.tolist()):
            fingerprint = fingerprints[i]
            pair = (tags[k], hi[k], lo[k])
            previous = previous_of[k] if was_found[k] else new_seen.get(pair)
            if previous is None:
                new_seen[pair] = fingerprint
                continue
            counted[i] = False
            topic, partition, _ = segments[segment_at[k]]
            if previous == fingerprint:
                batch.duplicates.append((ids[i], now_ms, cluster, topic, partition, offsets[i], entities[i]))
            else:
                stats.rejected += 1
                batch.rejected.append((
                    now_ms, "event_id_conflict", CONFLICT_REASON, b"", 0, "", ids[i], cluster,
                    topic, partition, offsets[i], entities[i], expires_ms,
                ))
        return counted

    def _minute_counts(self, events: NewEvents, progress: dict[SourceKey, int],
                       stats: BatchStats) -> list[Any]:
        """counts_minute columns (:class:`schemas.verdict.COUNT`): per source partition, minute
        and cell, the transactions (sum of quantity) and events; each row tagged with its
        partition's new progress. Grouped by numpy on the columns' dictionary codes
        (:func:`grouping.group`), no Python object per event."""
        new = events.columns
        if not len(events):
            return [[] for _ in COUNT_COLUMNS]
        keys: dict[SourceKey, int] = {}
        source_at = [keys.setdefault((topic, partition), len(keys)) for topic, partition, _ in events.sources]
        source = np.repeat(np.array(source_at, dtype=np.int64),
                           np.array([n for _, _, n in events.sources], dtype=np.int64))
        minutes = np.asarray(new[OK.OCCURRED_MS], dtype=np.int64) // 60_000 * 60
        distinct_minutes, minute_code = np.unique(minutes, return_inverse=True)
        cell = [new[_OK_OF_CELL[c]] for c in CELL[1:]]  # dictionary arrays, governorate .. status
        codes = [source, minute_code.reshape(-1),
                 *(c.indices.to_numpy(zero_copy_only=False) for c in cell)]
        sizes = [len(keys), len(distinct_minutes), *(len(c.dictionary) for c in cell)]
        first, inverse = group(codes, sizes)
        groups = len(first)
        quantities = np.asarray(new[OK.QUANTITY], dtype=np.float64)  # sums exact below 2**53
        transactions = np.rint(np.bincount(inverse, weights=quantities, minlength=groups)).astype(np.uint64)
        counts_of = np.bincount(inverse, minlength=groups).astype(np.uint64)
        at = pa.array(first)
        out: list[Any] = [None] * len(COUNT_COLUMNS)
        out[COUNT.MINUTE] = minutes[first]
        for column, values in zip(CELL[1:], cell, strict=True):
            out[column] = values.take(at)
        out[COUNT.TRANSACTIONS] = transactions
        out[COUNT.EVENTS] = counts_of
        row_source = source[first]
        sources = list(keys)
        out[COUNT.SRC_CLUSTER] = [self.cluster] * groups
        topic_at: dict[str, int] = {}  # an Arrow dictionary holds each value once
        of_source = np.array([topic_at.setdefault(topic, len(topic_at)) for topic, _ in sources],
                             dtype=np.int32)
        out[COUNT.SRC_TOPIC] = pa.DictionaryArray.from_arrays(pa.array(of_source[row_source]),
                                                              pa.array(list(topic_at), pa.string()))
        partitions = np.array([partition for _, partition in sources], dtype=np.uint32)
        out[COUNT.SRC_PARTITION] = partitions[row_source]
        out[COUNT.SRC_OFFSET] = np.array([progress[key] for key in sources], dtype=np.uint64)[row_source]
        # Completed transactions by (governorate, mode) for the live view, on the codes.
        code_of = {c: codes[1 + CELL.index(c)][first] for c in (COUNT.STATUS, COUNT.GOVERNORATE, COUNT.MODE)}
        status, governorate, mode = (new[_OK_OF_CELL[c]]
                                     for c in (COUNT.STATUS, COUNT.GOVERNORATE, COUNT.MODE))
        statuses = status.dictionary.to_pylist()
        if "completed" in statuses:
            done = code_of[COUNT.STATUS] == statuses.index("completed")
            g_codes = code_of[COUNT.GOVERNORATE][done]
            m_codes = code_of[COUNT.MODE][done]
            n_modes = max(len(mode.dictionary), 1)
            pairs, at_pair = np.unique(g_codes.astype(np.int64) * n_modes + m_codes, return_inverse=True)
            sums = np.bincount(at_pair.reshape(-1), weights=transactions[done].astype(np.float64),
                               minlength=len(pairs))
            governorates, modes = governorate.dictionary.to_pylist(), mode.dictionary.to_pylist()
            for pair, n in zip(pairs.tolist(), np.rint(sums).astype(np.int64).tolist(), strict=True):
                stats.completed[(governorates[pair // n_modes], modes[pair % n_modes])] += n
        return out

    def commit(self, prepared: Prepared) -> None:
        """Adopt the state of a batch the store has confirmed."""
        self.seen.add_sorted(*prepared.new_ids)
        exchanges = self._exchange_batches.pop(id(prepared.batch), None)
        if exchanges is not None:
            self.exchanges.commit(exchanges)
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
            metrics.STORE_UP.set(1)  # true to the store's state whoever opened it
            return True
        except Exception as exc:
            failed = True
            metrics.STORE_WRITE_ERRORS.inc()
            metrics.STORE_UP.set(0)
            log.error("store write failed, retrying in %.1f s: %s", delay, exc)
            if stop.wait(delay):
                return False
            delay = min(max_delay, delay * 2)


def prepare_store(client: Client, cluster: str) -> Store:
    """The store of the Kafka cluster ``cluster`` on ``client``, migrated, with any
    unfinished batch of an earlier writer rolled back: the only state in which counting
    may start."""
    store = Store(client, cluster)
    store.migrate()
    store.recover()
    metrics.STORE_UP.set(1)
    return store


def open_store(dsn: str, cluster: str, stop: threading.Event, max_delay: float = 10.0) -> Store | None:
    """:func:`prepare_store` on the store at ``dsn``, retrying with backoff while it is
    unreachable (None if asked to stop first). Nothing is consumed before this succeeds, so
    an outage at start-up delays counting and loses nothing."""
    delay = 0.5
    while True:
        try:
            return prepare_store(connect(dsn), cluster)
        except Exception as exc:
            metrics.STORE_UP.set(0)
            metrics.STORE_OPEN_ERRORS.inc()
            log.error("store %s unavailable, retrying in %.1f s: %s", redact(dsn), delay, exc)
            if stop.wait(delay):
                return None
            delay = min(max_delay, delay * 2)


class SourceProbe:
    """Reads the source topic at offsets no envelope brought, to tell a gap (a record exists
    there and was never applied) from a hole (no record: Tansu leaves some after a restart,
    and compaction or transaction markers do on Apache Kafka).

    A fetch from an offset with no record returns the next record that exists, so the first
    record read from ``first`` tells: at or before ``last``, a gap; after it, a hole. The
    envelope that revealed the range starts with a record at ``last + 1``, so an answer
    always comes while the broker serves the partition; none in time (or any error) is
    reported as a gap, never passed over."""

    def __init__(self, bootstrap: str, timeout: float = 10.0, security: KafkaSecurity = PLAINTEXT) -> None:
        self.bootstrap = bootstrap
        self.security = security
        self.timeout = timeout
        self._consumer: KafkaConsumer | None = None

    def first_record(self, topic: str, partition: int, first: int) -> int:
        """The offset of the first record at or after ``first`` (raises if none in time)."""
        if self._consumer is None:
            self._consumer = KafkaConsumer(bootstrap_servers=self.bootstrap, group_id=None,
                                           enable_auto_commit=False, auto_offset_reset="none",
                                           max_poll_records=1, consumer_timeout_ms=1000,
                                           **self.security.client_options())
        consumer = self._consumer
        tp = TopicPartition(topic, partition)
        consumer.assign([tp])
        consumer.seek(tp, first)
        deadline = time.monotonic() + self.timeout
        while time.monotonic() < deadline:
            records = consumer.poll(timeout_ms=500, max_records=1).get(tp, [])
            if records:
                return int(records[0].offset)
        raise TimeoutError(f"no record of {topic}[{partition}] from offset {first} within "
                           f"{self.timeout} s")

    def close(self) -> None:
        if self._consumer is not None:
            self._consumer.close(autocommit=False)
            self._consumer = None


def check_missing(probe: SourceProbe, missing: Iterable[Missing]) -> None:
    """Raise the alarm (log and ``tahawul_counter_offset_gaps_total``) for each range that
    holds a record, or that cannot be checked; count the holes the broker left."""
    for m in missing:
        try:
            found = probe.first_record(m.topic, m.partition, m.first)
        except Exception as exc:
            metrics.OFFSET_GAP_CHECK_ERRORS.inc()
            metrics.OFFSET_GAPS.inc()
            log.error("offsets %d..%d of %s[%d] never reached the counter, and the source topic "
                      "could not be read to check them (%s); counting on",
                      m.first, m.last, m.topic, m.partition, exc)
            continue
        if found <= m.last:
            metrics.OFFSET_GAPS.inc()
            log.error("offsets %d..%d of %s[%d] never reached the counter (the source topic holds "
                      "a record at %d); counting on", m.first, m.last, m.topic, m.partition, found)
        else:
            metrics.OFFSET_HOLES.inc(m.last - m.first + 1)
            log.info("offsets %d..%d of %s[%d] hold no record (a hole the broker left)",
                     m.first, m.last, m.topic, m.partition)


def check_completeness(store: Store, grace_seconds: int) -> None:
    """Export the transactions each entity's control totals state and the counts lack
    (the TahawulEventsMissing alert reads it). From the store, between writes; a failure is
    logged and the counting goes on (the next check retries)."""
    try:
        metrics.observe_completeness(missing_by_entity(store.client, grace_seconds))
    except Exception as exc:
        log.warning("could not compute completeness for the metrics: %s", exc)


def poll_batch(consumer: KafkaConsumer, stop: threading.Event, linger: float,
               batch_events: int = 50_000) -> list[Envelope]:
    """Envelopes for one write: what the first poll brings, plus what arrives within
    ``linger`` seconds after it (see :class:`Linger`), up to about ``batch_events`` events."""
    polled = consumer.poll(timeout_ms=200)
    envelopes = [Envelope.decode(rec.value) for recs in polled.values() for rec in recs]
    if not envelopes:
        return envelopes
    events = sum(env.n_ok + len(env.bad) for env in envelopes)
    deadline = time.monotonic() + linger
    while events < batch_events and not stop.is_set():
        left = deadline - time.monotonic()
        if left <= 0:
            break
        polled = consumer.poll(timeout_ms=max(1, int(left * 1000)))
        for records in polled.values():
            for rec in records:
                env = Envelope.decode(rec.value)
                envelopes.append(env)
                events += env.n_ok + len(env.bad)
    return envelopes


def stalled_behind(settings: Settings, counter: CountingWriter) -> dict[int, tuple[int, int]]:
    """The source partitions whose envelopes the workers delivered beyond what ``counter``
    applied (writer_stall.delivered_not_applied); none when the broker cannot say."""
    try:
        committed = group_committed(settings.kafka_bootstrap() or "", settings.worker_group,
                                    settings.topic_transactions, settings.kafka_security())
    except Exception as exc:  # the broker away: the consumer cannot read either
        log.info("worker group offsets not read (%s)", exc)
        return {}
    progress = {p: o for (t, p), o in counter.progress.items() if t == settings.topic_transactions}
    return delivered_not_applied(progress, committed)


def run_counter(
    settings: Settings,
    store: Store,
    stop: threading.Event,
    on_batch: Callable[[CountingWriter, Prepared], None] | None = None,
) -> CountingWriter:
    """Consume the validated topic until ``stop`` is set."""
    counter = CountingWriter(store, settings.rejected_retention_days)

    def new_consumer() -> KafkaConsumer:
        return KafkaConsumer(
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
            fetch_max_wait_ms=FETCH_WAIT_MS,
            **settings.kafka_security().client_options(),
        )

    consumer = new_consumer()
    quiet = QuietTimer(writer_stall.WRITER_STALL_SECONDS)  # read at the start: tests shorten it
    probe = SourceProbe(settings.kafka_bootstrap() or "", security=settings.kafka_security())
    linger = Linger(settings.counter_linger_ratio, settings.counter_linger_max)
    next_completeness = 0.0
    try:
        while not stop.is_set():
            if time.monotonic() >= next_completeness:
                next_completeness = time.monotonic() + settings.completeness_check_seconds
                check_completeness(store, settings.completeness_grace_seconds)
            try:
                envelopes = poll_batch(consumer, stop, linger.seconds(), settings.counter_batch_events)
            except (InvalidSessionTimeoutError, InconsistentGroupProtocolError, InvalidGroupIdError) as exc:
                # Refused for good (a session timeout outside the broker's bounds, ...): polling
                # again changes nothing, so say which setting to change (as the worker does).
                raise UsageError(refusal_reason(f"{type(exc).__name__}: {exc}", settings.counter_group,
                                                settings.session_timeout)) from exc
            except KafkaError as exc:
                # The broker is away (restarting, network): wait and poll again. Nothing
                # was applied for these records yet, so nothing can be lost or doubled.
                metrics.BROKER_ERRORS.inc()
                log.warning("polling %s failed, retrying: %s", settings.topic_validated, exc)
                stop.wait(1.0)
                continue
            if not envelopes:
                if quiet.due() and (behind := stalled_behind(settings, counter)):
                    # A consumer that reads nothing while envelopes wait (writer_stall.py).
                    log.warning(stall_message(quiet.after, behind))
                    with quiet_logger("kafka"):
                        consumer.close(autocommit=False)
                    consumer = new_consumer()
                continue
            quiet.brought()
            started = time.monotonic()
            prepared = counter.prepare(envelopes)
            if prepared.missing:
                check_missing(probe, prepared.missing)
            if not write_with_retry(store, prepared.batch, stop):
                break
            counter.commit(prepared)
            linger.wrote(time.monotonic() - started)
            metrics.WRITER_LINGER_SECONDS.set(linger.seconds())
            # Rows, freshness, events per entity and lag for Prometheus, from what the store
            # has confirmed (the pipeline-health dashboard and alerts read them).
            batch = prepared.batch
            new = batch.events.columns
            metrics.observe_stored(new[OK.ENTITY], new[OK.OCCURRED_MS], len(batch.counts[COUNT.MINUTE]),
                                   len(batch.duplicates), len(batch.rejected))
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
        probe.close()
    return counter
