"""No record stops a partition, without servers: dead letters bounded by construction, their
bounded retries and quarantine, the worker's watchdog, the judge's last resort, and the
counting writer telling a gap from a hole. (The same on real parts:
tests/integration/test_poison.py.)"""

from __future__ import annotations

import asyncio
import base64
import hmac
import logging
from pathlib import Path
from typing import Any

import orjson
import pytest
from aiokafka.errors import KafkaTimeoutError, MessageSizeTooLargeError
from faust.exceptions import ProducerSendError
from prometheus_client import REGISTRY

from tahawul.schemas.headers import (
    BATCH_HEADER,
    CONNECT_EXCEPTION_CLASS_HEADER,
    CONNECT_EXCEPTION_MESSAGE_HEADER,
    CONNECT_OFFSET_HEADER,
    CONNECT_PARTITION_HEADER,
    CONNECT_TOPIC_HEADER,
    MESSAGE_HEADER,
    PAYLOAD_BYTES_HEADER,
    PAYLOAD_HMAC_HEADER,
    REASON_HEADER,
    SOURCE_HEADER,
)
from tahawul.schemas.redaction import redact
from tahawul.sinks.clickhouse.store import Store
from tahawul.stream_processors.app import (
    STUCK_EXIT,
    TERM_EXIT,
    Quarantine,
    Watchdog,
    dead_letter_message,
    deliver_bounded,
)
from tahawul.stream_processors.counter import CountingWriter, Missing, check_missing
from tahawul.stream_processors.validation import DeadLetter, Judge, judge_records
from tests.unit.factories import CAT, NOW, TOPIC, envelopes, payload


def metric(name: str) -> float:
    return REGISTRY.get_sample_value(name) or 0.0


# ---- dead letters ------------------------------------------------------------------------


KEY = b"k" * 32


def letter(offset: int, index: int | None, raw: bytes | None, code: str, message: str) -> DeadLetter:
    """The dead letter the judge makes of ``raw`` (see Judge._reject)."""
    return DeadLetter(offset, index, redact(raw, KEY, CAT, NOW), None if raw is None else len(raw),
                      hmac.new(KEY, raw or b"", "sha256").hexdigest(), code, message)


def test_a_dead_letter_is_redacted_with_true_size_and_keyed_hash() -> None:
    big = b"x" * 5_000_000
    topic, key, value, partition, headers, timestamp = dead_letter_message(
        "dlq", "tx", 3, letter(17, None, big, "too_large", "m" * 5000), 256 * 1024)
    assert (topic, key, partition, timestamp) == ("dlq", None, None, None)
    assert b"x" * 20 not in value and len(value) < 400  # the redacted form, never the bytes
    named = dict(headers or [])
    assert named[PAYLOAD_BYTES_HEADER] == b"5000000"
    assert named[PAYLOAD_HMAC_HEADER] == hmac.new(KEY, big, "sha256").hexdigest().encode()
    assert named[REASON_HEADER] == b"too_large" and len(named[MESSAGE_HEADER]) == 1000
    assert sum(len(n) + len(v) for n, v in headers or []) < 3500


def test_a_dead_letter_is_cut_to_its_bound() -> None:
    cut_before = metric("tahawul_worker_dead_letters_cut_total")
    wide = orjson.dumps({f"field_{i}": i for i in range(60)})
    _, _, value, _, _, _ = dead_letter_message("dlq", "tx", 0, letter(1, None, wide, "unknown_field", "m"),
                                               1024)
    assert len(value) == 1024
    assert metric("tahawul_worker_dead_letters_cut_total") == cut_before + 1


def test_a_dead_letter_carries_kafka_connect_context_and_the_source_record() -> None:
    """Issue 15 item 9: the __connect.errors.* headers, the source record's key, timestamp
    and tahawul headers (a producer's other headers are outside the contract: not copied)."""
    source_headers = [(SOURCE_HEADER, b"events.jsonl:7"), (BATCH_HEADER, b"jsonl-v1"),
                      ("x-private", b"secret")]
    _, key, value, _, headers, timestamp = dead_letter_message(
        "dlq", "tahawul.transactions", 5, letter(42, 3, payload(), "unknown_service", "why"),
        1024 * 64, (b"ROP", 1700000000.5, source_headers), CAT.entities)
    assert (key, timestamp) == (b"ROP", 1700000000.5)
    named = dict(headers or [])
    assert named[CONNECT_TOPIC_HEADER] == b"tahawul.transactions"
    assert named[CONNECT_PARTITION_HEADER] == b"5" and named[CONNECT_OFFSET_HEADER] == b"42"
    assert named[CONNECT_EXCEPTION_CLASS_HEADER] == b"unknown_service"
    assert named[CONNECT_EXCEPTION_MESSAGE_HEADER] == b"why"
    assert named[SOURCE_HEADER] == b"events.jsonl:7"
    assert "x-private" not in named and BATCH_HEADER not in named  # one event, never a batch
    assert orjson.loads(value)["redacted"] == "tahawul-redacted-v1"
    # Free text where the contract has a form is not carried: a key that is no entity code,
    # a source that is no file:line, a batch header of another format, a signature.
    odd = [(SOURCE_HEADER, b"Aisha Al-Harthy"), (BATCH_HEADER, b"Aisha"), ("tahawul-signature", b"v2:x")]
    _, key, _, _, headers, _ = dead_letter_message(
        "dlq", "tx", 5, letter(42, None, payload(), "c", "m"), 1024, (b"Aisha", 1.0, odd), CAT.entities)
    assert key is None and not {SOURCE_HEADER, BATCH_HEADER, "tahawul-signature"} & set(dict(headers or []))
    # A producer's key ENTITY/<event id> or ENTITY/batch-<hex> keeps its entity alone.
    for source_key, kept in ((b"ROP/0b7e1c2a-3f4d-4e5f-8a9b-0c1d2e3f4a5b", b"ROP"), (b"ROP/batch-9f", b"ROP"),
                             (b"Aisha/ROP", None)):
        _, key, _, _, _, _ = dead_letter_message(
            "dlq", "tx", 5, letter(42, None, payload(), "c", "m"), 1024, (source_key, 1.0, []), CAT.entities)
        assert key == kept


def test_a_small_dead_letter_is_whole_and_a_null_one_is_sendable() -> None:
    small = payload()
    _, _, value, _, headers, _ = dead_letter_message("dlq", "tx", 0, letter(1, 2, small, "c", "m"), 1024 * 64)
    assert orjson.loads(value)["bytes"] == len(small)
    assert dict(headers or [])[PAYLOAD_BYTES_HEADER] == str(len(small)).encode()
    # Kafka takes no record without key and value: a null payload's redacted form is a value.
    _, key, value, _, headers, _ = dead_letter_message("dlq", "tx", 0, letter(1, None, None, "empty", "m"),
                                                       1024)
    assert key is None and orjson.loads(value)["bytes"] == 0
    assert PAYLOAD_BYTES_HEADER not in dict(headers or [])


class FakeProducer:
    """Answers sends as scripted: ``refuse`` maps a topic to the exception each send raises
    (as Faust raises it: wrapping aiokafka's)."""

    def __init__(self, refuse: dict[str, BaseException] | None = None) -> None:
        self.refuse = refuse or {}
        self.sent: list[str] = []

    async def send(self, topic: str, *args: Any) -> asyncio.Future[None]:
        self.sent.append(topic)
        if topic in self.refuse:
            raise self.refuse[topic]
        done: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        done.set_result(None)
        return done


class FakeApp:
    def __init__(self, producer: FakeProducer) -> None:
        self.producer = producer


def wrapped(cause: BaseException) -> ProducerSendError:
    try:
        raise ProducerSendError("Error while sending") from cause
    except ProducerSendError as exc:
        return exc


def test_dead_letters_are_retried_for_a_bounded_time_then_given_up() -> None:
    producer = FakeProducer({"slow": wrapped(KafkaTimeoutError()),
                             "big": wrapped(MessageSizeTooLargeError())})
    app: Any = FakeApp(producer)
    ok = ("dlq", None, b"v", None, [], None)
    assert asyncio.run(deliver_bounded(app, [ok], 1.0)) == []
    given_up = asyncio.run(deliver_bounded(app, [("slow", None, b"v", None, [], None)], 0.7))
    assert len(given_up) == 1 and "KafkaTimeoutError" in given_up[0][1]
    assert producer.sent.count("slow") >= 2  # retried, within the bound
    # A refusal no resend can cure is given up at once.
    given_up = asyncio.run(deliver_bounded(app, [("big", None, b"v", None, [], None)], 30.0))
    assert len(given_up) == 1 and producer.sent.count("big") == 1


def test_quarantine_appends_one_json_line_per_dead_letter(tmp_path: Path) -> None:
    quarantine = Quarantine(tmp_path / "q" / "dead-letters.jsonl")
    before = metric("tahawul_worker_dead_letters_quarantined_total")
    dead = dead_letter_message("dlq", "tx", 2, letter(9, None, b"\xff" * 10, "invalid_utf8", "m"), 1024)
    quarantine.add([(dead, "KafkaTimeoutError()")])
    quarantine.add([(dead, "again"), (dead_letter_message("dlq", "tx", 2, letter(9, None, None, "e", "m"),
                                                          1024), "x")])
    lines = [orjson.loads(line) for line in quarantine.path.read_bytes().splitlines()]
    assert [q["error"] for q in lines] == ["KafkaTimeoutError()", "again", "x"]
    assert lines[0]["headers"]["tahawul-source-offset"] == "9" and lines[0]["topic"] == "dlq"
    assert orjson.loads(base64.b64decode(lines[0]["value_b64"]))["bytes"] == 10
    assert metric("tahawul_worker_dead_letters_quarantined_total") == before + 3


# ---- the worker's watchdog -----------------------------------------------------------------


def test_watchdog_ends_a_stuck_batch_and_a_slow_stop() -> None:
    exits: list[int] = []
    dog = Watchdog(stuck_seconds=0.05, stop_seconds=0.05, exit=lambda code, why: exits.append(code))
    dog.check()
    assert exits == [] and metric("tahawul_worker_batch_in_progress_seconds") == 0
    dog.begin()
    dog.started = (dog.started or 0) - 1  # a batch that began a second ago
    assert metric("tahawul_worker_batch_in_progress_seconds") >= 1
    dog.check()
    assert exits == [STUCK_EXIT]
    dog.end()
    assert metric("tahawul_worker_last_batch_timestamp_seconds") > 0
    dog.stopping()
    dog.stopping_since = (dog.stopping_since or 0) - 1
    dog.check()
    assert exits == [STUCK_EXIT, TERM_EXIT]


# ---- the judge's last resort ---------------------------------------------------------------


def test_a_record_no_rule_foresaw_is_rejected_whole_not_raised() -> None:
    judge = Judge(CAT, NOW)
    judge.record((0, payload(), [(SOURCE_HEADER, None)]))  # a header without value
    judge.record((1, payload(), 5))  # type: ignore[arg-type]  # headers a client could not parse
    judge.record((2, payload(), None))
    verdicts, dead = judge.take()
    assert [(offset, ok) for offset, ok, _ in verdicts] == [(0, True), (1, False), (2, True)]
    assert verdicts[1][2][1] == "unreadable" and [d.code for d in dead] == ["unreadable"]


def test_duplicated_batch_headers_are_one_rejection() -> None:
    verdicts, dead = judge_records([(0, b"{}", [("tahawul-batch", b"jsonl-v1"), ("tahawul-batch", b"\xff")])],
                                   CAT, NOW)
    assert len(verdicts) == len(dead)
    assert all(not ok for _, ok, _ in verdicts)


# ---- the counting writer: gap or hole ------------------------------------------------------


class FakeProbe:
    """The source topic as a sorted list of the offsets that hold a record."""

    def __init__(self, existing: list[int] | None) -> None:
        self.existing = existing

    def first_record(self, topic: str, partition: int, first: int) -> int:
        if self.existing is None:
            raise TimeoutError("broker away")
        return next(o for o in self.existing if o >= first)


def test_prepare_reports_offsets_no_envelope_brought(store: Store) -> None:
    counter = CountingWriter(store)
    envs = envelopes(0, 0, [payload()]) + envelopes(0, 5, [payload()]) + envelopes(1, 0, [payload()])
    prepared = counter.prepare(envs)
    assert prepared.missing == [Missing(TOPIC, 0, 1, 4)]
    assert prepared.stats.valid == 3


def test_check_missing_alarms_on_a_gap_and_not_on_a_hole(caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.INFO, logger="tahawul.stream_processors.counter")
    gaps = metric("tahawul_counter_offset_gaps_total")
    holes = metric("tahawul_counter_offset_holes_total")
    errors = metric("tahawul_counter_offset_gap_check_errors_total")
    check_missing(FakeProbe([0, 5, 6]), [Missing(TOPIC, 0, 1, 4)])  # nothing at 1..4: a hole
    assert metric("tahawul_counter_offset_gaps_total") == gaps
    assert metric("tahawul_counter_offset_holes_total") == holes + 4
    check_missing(FakeProbe([0, 3, 5]), [Missing(TOPIC, 0, 1, 4)])  # a record at 3: a gap
    assert metric("tahawul_counter_offset_gaps_total") == gaps + 1
    check_missing(FakeProbe(None), [Missing(TOPIC, 0, 1, 4)])  # cannot tell: a gap
    assert metric("tahawul_counter_offset_gaps_total") == gaps + 2
    assert metric("tahawul_counter_offset_gap_check_errors_total") == errors + 1
    messages = [r.getMessage() for r in caplog.records]
    assert sum("never reached the counter" in m for m in messages) == 2
    assert any("holds a record at 3" in m for m in messages)
    assert any("hold no record" in m for m in messages)
