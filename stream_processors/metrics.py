"""Prometheus metrics of the processing stages (names follow Prometheus conventions)."""

import collections
import time
from collections.abc import Iterable, Sequence
from typing import Any

import numpy as np
import pyarrow as pa
from prometheus_client import Counter, Gauge, Histogram

from tahawul.schemas.verdict import BAD
from tahawul.stream_processors.envelope import Columns

EVENTS = Counter(
    "tahawul_counter_events_total",
    "Source records applied by the counting writer, by outcome.",
    ["outcome"],
)
STORE_WRITE_SECONDS = Histogram(
    "tahawul_store_write_seconds", "Time to write one batch to ClickHouse."
)
STORE_WRITE_ERRORS = Counter(
    "tahawul_store_write_errors_total", "Failed batch writes to ClickHouse (each is retried)."
)
STORE_UP = Gauge("tahawul_store_up", "1 while ClickHouse writes succeed, 0 during an outage.")
OFFSET_GAPS = Counter(
    "tahawul_counter_offset_gaps_total",
    "Times the counter saw source offsets jump past records it never received (records that "
    "exist in the source topic, or that it could not check): an alarm.",
)
STORE_OPEN_ERRORS = Counter(
    "tahawul_store_open_errors_total",
    "Failed attempts to open, migrate or recover the store at start-up (each is retried).",
)
BROKER_ERRORS = Counter(
    "tahawul_counter_broker_errors_total",
    "Failed polls of the validated topic by the counting writer (each is retried).",
)

# --- Pipeline health: what the Grafana pipeline dashboard and the alert rules read -------
# The validating worker (one series set per worker process; sum them in queries).
WORKER_CONSUMED = Counter(
    "tahawul_worker_events_consumed_total",
    "Records the validating worker took from the transactions topic (re-deliveries included).",
)
WORKER_VALID = Counter(
    "tahawul_worker_events_valid_total", "Records the validating worker judged valid.",
)
WORKER_REJECTED = Counter(
    "tahawul_worker_events_rejected_total",
    "Records the validating worker rejected (sent to the dead-letter topic), by reason code.",
    ["reason"],
)
DEAD_LETTERS_CUT = Counter(
    "tahawul_worker_dead_letters_cut_total",
    "Dead letters whose payload was cut to TAHAWUL_DEAD_LETTER_MAX_BYTES (true size and "
    "SHA-256 in their headers).",
)
DEAD_LETTERS_QUARANTINED = Counter(
    "tahawul_worker_dead_letters_quarantined_total",
    "Dead letters the broker would not acknowledge in time, written to the worker's local "
    "quarantine file instead (their rejection is in the `rejected` table all the same).",
)
DELIVERY_FAILURES = Counter(
    "tahawul_worker_delivery_failures_total",
    "Sends of the validating worker the broker did not acknowledge (each is retried), by what "
    "was sent: envelope or dead_letter.",
    ["kind"],
)
WORKER_BATCH_SECONDS = Gauge(
    "tahawul_worker_batch_in_progress_seconds",
    "Seconds since the batch in progress started (0 while idle): a worker that cannot deliver "
    "a batch shows here long before it gives up its partitions (TAHAWUL_WORKER_STUCK_SECONDS).",
)
WORKER_LAST_BATCH = Gauge(
    "tahawul_worker_last_batch_timestamp_seconds",
    "Unix time at which the validating worker last finished a batch (all delivered).",
)
CONSUMER_LAG = Gauge(
    "tahawul_consumer_lag_records",
    "Records behind the partition's high watermark when this process last read it.",
    ["group", "topic", "partition"],
)
# The counting writer.
ROWS_WRITTEN = Counter(
    "tahawul_counter_rows_written_total",
    "Rows the counting writer stored, by table (counts_minute rows are the aggregates).",
    ["table"],
)
ENTITY_EVENTS = Counter(
    "tahawul_counter_entity_events_total",
    "Events counted (stored once) per entity: a silent entity shows as a flat line.",
    ["entity"],
)
FRESHNESS_SECONDS = Histogram(
    "tahawul_event_freshness_seconds",
    "End-to-end freshness: time of the store write minus the event's occurred_at.",
    buckets=(1, 2, 5, 10, 20, 30, 60, 120, 300, 600, 1800, 3600, 6 * 3600, 86400, 7 * 86400),
)
OFFSET_HOLES = Counter(
    "tahawul_counter_offset_holes_total",
    "Source offsets between envelopes at which the broker holds no record (a hole, e.g. left by "
    "a broker restart): checked by fetching them, not an alarm.",
)
OFFSET_GAP_CHECK_ERRORS = Counter(
    "tahawul_counter_offset_gap_check_errors_total",
    "Times the counter could not fetch the source topic to tell a gap from a hole (counted as "
    "a gap, so that a missing record is never passed over silently).",
)
COMPLETENESS_MISSING = Gauge(
    "tahawul_completeness_missing_transactions",
    "Transactions an entity's control totals state and the counts lack, over the cells whose "
    "statement was stored more than TAHAWUL_COMPLETENESS_GRACE_SECONDS ago (what `tahawul audit "
    "completeness` calls missing events); 0 for an entity with control totals and nothing missing.",
    ["entity"],
)
COMPLETENESS_CHECKED = Gauge(
    "tahawul_completeness_checked_timestamp_seconds",
    "Unix time the counting writer last computed tahawul_completeness_missing_transactions.",
)
WRITER_LINGER_SECONDS = Gauge(
    "tahawul_counter_linger_seconds",
    "How long the counting writer's next write may wait for more envelopes (adapts to load: "
    "TAHAWUL_COUNTER_LINGER_RATIO times its last write, at most TAHAWUL_COUNTER_LINGER_MAX).",
)
LAST_WRITE = Gauge(
    "tahawul_counter_last_write_timestamp_seconds",
    "Unix time of the counting writer's last successful batch write.",
)


def observe_verdicts(verdicts: Iterable[tuple[int, bool | None, Sequence[Any]]]) -> None:
    """Count one partition's judged records (``judge`` output: offset, ok, row; a rejected
    row carries its reason code at ``BAD.CODE``). One increment per batch and reason, not per
    record: a metric update costs about a microsecond, a verdict a few."""
    consumed = 0
    reasons: dict[str, int] = {}
    for _offset, is_ok, row in verdicts:
        consumed += 1
        if type(row) is Columns:  # a batched record's valid events
            consumed += row.events - 1
        elif is_ok is False:  # (None: a valid control total)
            code = str(row[BAD.CODE])
            reasons[code] = reasons.get(code, 0) + 1
    WORKER_CONSUMED.inc(consumed)
    WORKER_VALID.inc(consumed - sum(reasons.values()))
    for code, n in reasons.items():
        WORKER_REJECTED.labels(code).inc(n)


def observe_lag(group: str, topic: str, partition: int, highwater: int | None, next_offset: int) -> None:
    """Set the lag of one partition; an unknown high watermark leaves the gauge as it was.
    Clamped at 0: some brokers report a watermark below what was already read."""
    if highwater is not None:
        CONSUMER_LAG.labels(group, topic, str(partition)).set(max(0, highwater - next_offset))


def observe_completeness(missing: dict[str, int], now_s: float | None = None) -> None:
    """Set the missing transactions of every entity with control totals; an entity that no
    longer appears (its totals deleted) is dropped rather than left at a stale value."""
    for labels in list(COMPLETENESS_MISSING._metrics):
        if labels[0] not in missing:
            COMPLETENESS_MISSING.remove(*labels)
    for entity, n in missing.items():
        COMPLETENESS_MISSING.labels(entity).set(n)
    COMPLETENESS_CHECKED.set(time.time() if now_s is None else now_s)


def observe_stored(entities: Sequence[str], occurred_ms: Sequence[int], aggregates: int,
                   duplicates: int, rejected: int, now_s: float | None = None) -> None:
    """After a confirmed store write: rows per table, events per entity, and freshness, from
    the new events' columns (the writer's ``NewEvents``): the entity and occurred_at
    (milliseconds since the epoch) of each stored event. Batch operations only (a per-event
    histogram observe costs about a microsecond, a third of what the writer spends on an
    event)."""
    now_s = time.time() if now_s is None else now_s
    for entity, n in _tally(entities).items():
        ENTITY_EVENTS.labels(entity).inc(n)
    if len(occurred_ms):
        ages = np.maximum(0.0, now_s - np.asarray(occurred_ms, dtype=np.int64) / 1000.0)
        observe_many(FRESHNESS_SECONDS, ages)
    for table, n in (("events", len(entities)), ("counts_minute", aggregates),
                     ("duplicates", duplicates), ("rejected", rejected)):
        ROWS_WRITTEN.labels(table).inc(n)
    LAST_WRITE.set(now_s)


def _tally(values: Sequence[str]) -> dict[str, int]:
    """How often each value occurs: counted by Arrow for the writer's Arrow columns (iterating
    one would make a Python object per event), by ``collections.Counter`` otherwise."""
    if isinstance(values, pa.Array):
        counts = values.value_counts()
        return dict(zip(counts.field("values").to_pylist(), counts.field("counts").to_pylist(), strict=True))
    return dict(collections.Counter(values))


def observe_many(histogram: Histogram, values: np.ndarray) -> None:
    """``histogram.observe(v)`` for every value, in one step per bucket: each value counts in
    the first bucket whose upper bound is at least the value, as prometheus-client does."""
    bounds = getattr(histogram, "_upper_bounds", None)
    buckets = getattr(histogram, "_buckets", None)
    total = getattr(histogram, "_sum", None)
    if bounds is None or buckets is None or total is None:  # another prometheus-client layout
        for v in values.tolist():
            histogram.observe(v)
        return
    check = getattr(histogram, "_raise_if_not_observable", None)
    if check is not None:
        check()
    per_bucket = np.bincount(np.searchsorted(np.asarray(bounds, dtype=float), values, side="left"),
                             minlength=len(bounds))
    for i, n in enumerate(per_bucket.tolist()):
        if n:
            buckets[i].inc(n)
    total.inc(float(values.sum()))


def _forget_unassigned(group: str, topic: str, assigned: set[int]) -> None:
    """Drop lag series of partitions this process no longer owns (after a rebalance), so a
    stale value cannot hold an alert up."""
    for labels in list(CONSUMER_LAG._metrics):  # prometheus_client keeps children by label tuple
        if labels[0] == group and labels[1] == topic and int(labels[2]) not in assigned:
            CONSUMER_LAG.remove(*labels)


def observe_worker_batch(app: Any, group: str, topic: str, partition: int,
                         verdicts: Sequence[tuple[int, bool | None, Sequence[Any]]]) -> None:
    """Everything the validating worker reports about one partition's batch: outcomes and
    the partition's lag (from the Faust consumer's last fetch)."""
    observe_verdicts(verdicts)
    if not verdicts:
        return
    from faust.types import TP

    try:
        highwater = app.consumer.highwater(TP(topic, partition))
        assigned = {tp.partition for tp in app.consumer.assignment() if tp.topic == topic}
    except Exception:  # no fetch yet, or a rebalance under way: report next time
        return
    observe_lag(group, topic, partition, highwater if isinstance(highwater, int) else None,
                verdicts[-1][0] + 1)
    _forget_unassigned(group, topic, assigned | {partition})


def observe_kafka_lag(consumer: Any, group: str) -> None:
    """Lag of every partition a kafka-python consumer owns (the counting writer's)."""
    try:
        assigned = consumer.assignment()
        for tp in assigned:
            observe_lag(group, tp.topic, tp.partition, consumer.highwater(tp),
                        consumer.position(tp, timeout_ms=1000))
    except Exception:  # the broker is away; the writer logs that itself
        return
    for topic in {tp.topic for tp in assigned}:
        _forget_unassigned(group, topic, {tp.partition for tp in assigned if tp.topic == topic})
