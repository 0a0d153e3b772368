"""Hostile input and late data through the real pipeline: every bad event lands in the
dead-letter path with its specific reason, the worker never crashes, every good event is
counted, late events count in the day they occurred."""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable
from datetime import UTC, datetime, timedelta

import orjson
import pytest

from tahawul.producers.kafka_sender import EventSender
from tahawul.producers.simulator import Truth, iter_simulation
from tahawul.runtime.local import Workers, WriterThread
from tahawul.settings import Settings
from tests.integration.helpers import assert_exact, scalar, sign_for, wait_applied
from tests.integration.hostile import KINDS, corpus
from tests.integration.test_pipeline import consume_all

pytestmark = pytest.mark.integration

BAD = 10_000


def test_hostile_corpus_is_rejected_exactly_and_good_events_all_count(
    settings: Settings, workers: Workers, start_counter: Callable[..., WriterThread]
) -> None:
    worker = workers.start()
    ct = start_counter()
    kinds: Counter[str] = Counter()
    sender = EventSender(settings.kafka_bootstrap() or "", settings.topic_transactions,
                         sign=sign_for(settings))
    try:
        for payload, key, kind in corpus(BAD, seed=31):
            sender.send(payload, key)
            kinds[kind] += 1
        sender.flush()
        acked = dict(sender.acked)
    finally:
        sender.close()
    assert sum(n for k, n in kinds.items() if k != "valid") == BAD
    wait_applied(ct, settings, acked, 300)

    truth = Truth()
    for line in iter_simulation("oman-2025-h1", 0.01, 31):
        truth.add(line)
    assert_exact(ct, truth)

    expected: Counter[str] = Counter()
    for kind, n in kinds.items():
        if kind == "conflict":
            expected["event_id_conflict"] += n
        elif kind != "valid":
            expected[KINDS[kind][1]] += n
    rows = ct.store.client.query(
        "SELECT reason_code, count() FROM rejected GROUP BY reason_code").result_rows
    assert dict(rows) == dict(expected)
    # Each reason is a sentence a person can act on, not just a code.
    assert scalar(ct, "SELECT countIf(length(reason) < 15) FROM rejected") == 0
    # Oversized payloads were cut to pass Kafka but keep their true size.
    assert scalar(ct, "SELECT min(payload_bytes) FROM rejected WHERE reason_code = 'too_large'") \
        == 65_536
    assert worker.poll() is None and len(workers.procs) == 1, "the worker crashed"
    dead = consume_all(settings, settings.topic_dead_letter, BAD - kinds["conflict"])
    assert len(dead) == BAD - kinds["conflict"]


def event(occurred_at: str, **extra: object) -> bytes:
    base = {"event_id": str(__import__("uuid").uuid4()), "schema_version": 1,
            "occurred_at": occurred_at, "entity": "ROP", "service": "ROP-VEH-FIRST-REG",
            "governorate": "OM-BS", "channel": "portal", "status": "completed"}
    return orjson.dumps({**base, **extra})


def test_late_and_out_of_order_events_count_in_the_day_they_occurred(
    settings: Settings, workers: Workers, start_counter: Callable[..., WriterThread]
) -> None:
    workers.start()
    ct = start_counter()
    now = datetime.now(UTC).replace(microsecond=0)
    sender = EventSender(settings.kafka_bootstrap() or "", settings.topic_transactions,
                         sign=sign_for(settings))
    # February first, then January arriving days late; the last two straddle midnight in
    # Muscat (UTC+4): 19:59:59Z is 31 Jan, 20:00:00Z is already 1 Feb there.
    stream = (
        [event("2025-02-02T09:00:00+04:00") for _ in range(5)]
        + [event("2025-02-01T08:00:00+04:00", channel="counter", quantity=3) for _ in range(2)]
        + [event("2025-01-29T10:00:00+04:00") for _ in range(4)]
        + [event("2025-01-31T19:59:59.999Z"), event("2025-01-31T20:00:00Z")]
        + [event((now - timedelta(days=40)).isoformat())]  # weeks late, across months
    )
    try:
        for payload in stream:
            sender.send(payload, b"ROP")
        sender.flush()
        acked = dict(sender.acked)
    finally:
        sender.close()
    wait_applied(ct, settings, acked, 120)
    rows = ct.store.client.query(
        "SELECT toString(day), mode, transactions FROM v_counts_daily ORDER BY day, mode").result_rows
    late_day = (now - timedelta(days=40)).astimezone(UTC) + timedelta(hours=4)
    assert rows == sorted([
        ("2025-01-29", "digital", 4),
        ("2025-01-31", "digital", 1),
        ("2025-02-01", "digital", 1),
        ("2025-02-01", "manual", 6),
        ("2025-02-02", "digital", 5),
        (late_day.date().isoformat(), "digital", 1),
    ])
