"""The worker's columnar path (stream_processors/columnar.py) judges batched records exactly as
the per-event path does: the same verdicts in the same order, the same dead letters and the
same envelopes, byte for byte, on records that mix every kind of valid and invalid event."""

from __future__ import annotations

import random
from typing import Any

import orjson
import pytest

from tahawul.schemas.batch import BATCH_FORMAT, encode, events_of
from tahawul.schemas.headers import BATCH_HEADER, SIGNATURE_HEADER
from tahawul.schemas.signing import SigningKey, Trust
from tahawul.stream_processors.columnar import ReferenceCache, now_ms, usual_rows
from tahawul.stream_processors.envelope import Columns, split
from tahawul.stream_processors.metrics import WORKER_CONSUMED, WORKER_VALID, observe_verdicts
from tahawul.stream_processors.validation import DeadLetter, Judge, Record, Verdict, per_event
from tests.unit.factories import CAT, NOW, TOPIC, event, payload

ROP = SigningKey.generate("ROP", "k1")
MOH = SigningKey.generate("MOH", "k1")
KEY = b"k" * 32
MOH_EVENT = {"entity": "MOH", "service": "MOH-PREARRIVAL-MED", "governorate": "OM-MA"}
UUID = "0b7e1c2a-3f4d-4e5f-8a9b-0c1d2e3f4a5b"


class PerEvent(Judge):
    """The per-event path alone: the definition the columnar path is held to."""

    __slots__ = ()

    def plainly_valid(self, payloads: list[bytes]) -> bool:
        return False


def trust() -> Trust:
    return Trust().with_key("ROP", "k1", ROP.public_bytes()).with_key("MOH", "k1", MOH.public_bytes())


# Valid events in every form the contract allows, and invalid ones of every kind, each as it
# would stand on a line of a batched record.
VALID: list[bytes] = [
    payload(),
    payload(occurred_at="2025-03-04T05:15:22Z"),
    payload(occurred_at="2025-03-04t05:15:22.5z"),
    payload(occurred_at="2025-03-04T09:15:22.123456+04:00"),  # truncated to milliseconds
    payload(occurred_at="2025-03-04T09:15:22.000+04:00"),
    payload(occurred_at="2025-03-03T23:45:00.999-05:30"),
    payload(occurred_at="2024-02-29T23:59:59.999+00:00"),
    payload(event_id=UUID.upper()),
    payload(event_id=UUID + "\n"),  # the contract's pattern ends in $, which admits this
    payload(satisfaction=5), payload(satisfaction=None), payload(satisfaction=1),
    payload(quantity=100_000), payload(quantity=...), payload(automated=True), payload(automated=...),
    payload(status="abandoned"),
    payload(**MOH_EVENT),
    orjson.dumps(dict(reversed(list(event().items())))),  # another field order
    b"  " + payload() + b"  ",
    payload(event_id=UUID), payload(event_id=UUID, quantity=2),  # the same id twice, differing
]
INVALID: list[bytes] = [
    b"", b" ", b"{not json", b"[]", b"3", b'"x"', b"null", b"\xff\xfe", payload() + b"x",
    payload(extra="personal data"), payload(event_id=...), payload(status=...),
    payload(schema_version=True), payload(schema_version=1.0), payload(schema_version=2),
    payload(event_id="not-a-uuid"), payload(event_id=7), payload(event_id=[UUID]),
    payload(occurred_at="2025-02-30T10:00:00.000+04:00"), payload(occurred_at="2025-03-04 10:00:00"),
    payload(occurred_at="2025-03-04T10:00:00.000+24:00"), payload(occurred_at="2025-03-04T10:00:00Z+04:00"),
    payload(occurred_at="٢٠٢٥-03-04T10:00:00.000+04:00"), payload(occurred_at=1741068922),
    payload(entity="NOPE"), payload(service="MOH-PREARRIVAL-MED"), payload(governorate="OM-XX"),
    payload(channel="pigeon"), payload(status="done"), payload(status=["completed"]),
    payload(quantity=0), payload(quantity=100_001), payload(quantity=True), payload(quantity=1.0),
    payload(automated=1), payload(automated=None), payload(satisfaction=0), payload(satisfaction=6),
    payload(satisfaction=True), payload(satisfaction="5"), payload(entity={"code": "ROP"}),
    b"x" * 17_000,
    orjson.dumps({"kind": "control_total", "schema_version": 1, "entity": "ROP", "day": "2025-03-04",
                  "service": "ROP-VEH-FIRST-REG", "channel": "portal", "completed": 3,
                  "stated_at": "2025-03-05T00:10:00+04:00"}),  # a control total: valid, not an event
]

# Records of the usual time form only (read by numpy for the whole column), and invalid
# times of that very form.
USUAL: list[bytes] = [payload(), payload(**MOH_EVENT), payload(satisfaction=2),
                      payload(occurred_at="2025-03-03T23:45:00.999-05:30")]
USUAL_INVALID: list[bytes] = [
    payload(occurred_at=f"{day}T{time}{offset}") for day, time, offset in (
        ("2025-02-30", "10:00:00.000", "+04:00"), ("2025-03-04", "24:00:00.000", "+04:00"),
        ("2025-03-04", "10:60:00.000", "+04:00"), ("2025-03-04", "10:00:60.000", "+04:00"),
        ("2025-03-04", "10:00:00.000", "+24:00"), ("2025-03-04", "10:00:00.000", "+04:60"),
        ("1999-12-31", "23:59:59.999", "+00:00"), ("2030-01-01", "00:00:00.000", "+04:00"),
        ("2000-01-01", "03:59:59.999", "+04:00"), ("2025-13-01", "10:00:00.000", "+04:00"))]


def records(rng: random.Random, n: int, signed: bool) -> list[Record]:
    out: list[Record] = []
    for offset in range(n):
        size = rng.choice((1, 2, 5, 40, 300))
        lines = [rng.choice(VALID) if rng.random() < 0.8 else rng.choice(INVALID) for _ in range(size)]
        if rng.random() < 0.2:
            lines = [rng.choice(VALID) for _ in range(size)]
        elif rng.random() < 0.3:
            lines = [rng.choice(USUAL) for _ in range(size)]
            lines[rng.randrange(size)] = rng.choice(USUAL_INVALID)
        value = encode(lines)
        headers: list[tuple[str, bytes]] = [(BATCH_HEADER, BATCH_FORMAT)]
        if signed:
            headers.append((SIGNATURE_HEADER, (MOH if rng.random() < 0.05 else ROP).sign(value)))
        out.append((offset, value, headers))
    return out


def judged(judge: Judge, batch: list[Record]) -> tuple[list[Verdict], list[DeadLetter]]:
    for record in batch:
        judge.record(record)
    return judge.take()


def rows(verdicts: list[Verdict]) -> list[tuple[Any, ...]]:
    return [(offset, valid, tuple(row)) for offset, valid, row in verdicts]


@pytest.mark.parametrize("signed", [False, True])
def test_columnar_verdicts_dead_letters_and_envelopes_equal_the_per_event_path(signed: bool) -> None:
    batch = records(random.Random(19), 200, signed)
    signatures = trust() if signed else None
    expected, expected_dead = judged(PerEvent(CAT, NOW, signatures, KEY), batch)
    # One verdict per event, in the record's order (judge_records, tests and tools).
    ordered, ordered_dead = judged(Judge(CAT, NOW, signatures, KEY, grouping=False), batch)
    assert rows(ordered) == rows(expected)
    assert ordered_dead == expected_dead
    # The worker's form: a record's plainly valid events as one Columns verdict.
    grouped, grouped_dead = judged(Judge(CAT, NOW, signatures, KEY), batch)
    assert grouped_dead == expected_dead
    assert any(type(row) is Columns for _, _, row in grouped)
    assert sorted(rows(per_event(grouped)), key=repr) == sorted(rows(expected), key=repr)
    assert ([e.encode() for e in split(TOPIC, 0, grouped)]
            == [e.encode() for e in split(TOPIC, 0, expected)])


@pytest.mark.parametrize("lines", [
    [payload()[:40], payload()[40:], payload()],  # halves of one event
    [b'{"a":"}', b'{"}', payload() + b"," + payload(), payload()],  # a string across two lines
    [b'{"a":{}', b'{"b":1}}', payload() + b"," + payload(), payload()],  # an object across two
    [payload()[:-1] + b',"a":[{}', b'{}]}', payload(), payload() + b"," + payload()],
])
def test_lines_that_join_into_other_json_are_judged_each_on_its_own(lines: list[bytes]) -> None:
    """Each line is parsed on its own: lines never pair into valid events (as a parse of the
    record as one JSON array, lines joined by commas, would make of these)."""
    batch: list[Record] = [(0, encode(lines), [(BATCH_HEADER, BATCH_FORMAT)])]
    expected, expected_dead = judged(PerEvent(CAT, NOW, None, KEY), batch)
    verdicts, dead = judged(Judge(CAT, NOW, None, KEY, grouping=False), batch)
    assert rows(verdicts) == rows(expected) and dead == expected_dead
    assert [valid for _, valid, _ in verdicts].count(True) == 1  # the one whole event


def test_a_repeated_key_is_read_as_each_line_alone_reads_it() -> None:
    """JSON lets an object repeat a key (the last one counts): read as the per-event path
    reads it."""
    obj = event()
    repeated = orjson.dumps(obj)[:-1] + b',"status":"rejected"}'
    batch: list[Record] = [(0, encode([repeated, payload()]), [(BATCH_HEADER, BATCH_FORMAT)])]
    expected, _ = judged(PerEvent(CAT, NOW, None, KEY), batch)
    verdicts, _ = judged(Judge(CAT, NOW, None, KEY, grouping=False), batch)
    assert rows(verdicts) == rows(expected)
    assert verdicts[0][2][8] == "rejected"  # (schemas.verdict.OK.STATUS)


def test_a_record_of_one_refused_signature_is_rejected_whole() -> None:
    value = encode([payload(), payload()])
    batch: list[Record] = [(0, value, [(BATCH_HEADER, BATCH_FORMAT), (SIGNATURE_HEADER, MOH.sign(value))])]
    verdicts, dead = judged(Judge(CAT, NOW, trust(), KEY), batch)
    assert [valid for _, valid, _ in verdicts] == [False, False]
    assert {d.code for d in dead} == {"signature_invalid"}


def test_the_worker_metrics_count_each_event_of_a_columns_verdict() -> None:
    value = encode([payload(), payload(), b"{", payload()])
    verdicts, _ = judged(Judge(CAT, NOW, None, KEY), [(0, value, [(BATCH_HEADER, BATCH_FORMAT)])])
    assert [type(row) is Columns for _, _, row in verdicts] == [False, True]
    before = (WORKER_CONSUMED._value.get(), WORKER_VALID._value.get())
    observe_verdicts(verdicts)
    assert (WORKER_CONSUMED._value.get() - before[0], WORKER_VALID._value.get() - before[1]) == (4, 3)


# Lines near the edge of the usual form (columnar.usual_rows: one regular expression over
# the record), each judged as the per-event path judges it: of the usual form or not, valid
# or not.
USUAL_EDGES: list[bytes] = [
    payload(quantity=..., automated=...), payload(automated=...), payload(quantity=...),
    payload(satisfaction=None), payload(satisfaction=5), payload(quantity=100_000), payload(automated=True),
    payload(event_id=UUID.upper()), payload(**MOH_EVENT, satisfaction=1),
    payload(quantity=100_001), payload(quantity=999_999), payload(quantity=0),
    payload()[:-1].replace(b'"quantity":1', b'"quantity":01') + b"}",
    payload().replace(b'"entity":"ROP"', b'"entity":"R\\u004fP"'),  # an escape: valid, not usual
    payload().replace(b'"entity":"ROP"', b'"entity":"ROP\\""'),
    payload(entity="ÖMAN"), payload(service="MOH-PREARRIVAL-MED"), payload(governorate="OM-XX"),
    payload(entity="X" * 600),
    payload(channel="pigeon"), payload(status="done"),
    payload(occurred_at="2025-03-04t09:15:22.123+04:00"),
    payload(occurred_at="2025-03-04T09:15:22.123Z"), payload(occurred_at="2025-03-04T09:15:22.123-00:00"),
    payload(occurred_at="2026-01-01T04:09:59.999+04:00"),
    payload(occurred_at="2026-01-01T04:10:00.001+04:00"),
    payload(occurred_at="٢٠٢٥-03-04T10:00:00.000+04:00"),
    payload()[:-1] + b',"extra":1}', payload()[:-1] + b',"automated":true}',
    payload() + b" ", b" " + payload(),
    payload() + b"\r", b"", payload(schema_version=True), payload(schema_version=1.0),
    payload().replace(b'"schema_version":1', b'"schema_version":1e0'),
    orjson.dumps({**event(), "satisfaction": 3, "automated": True}),  # optional fields out of order
]


@pytest.mark.parametrize("trailing", [b"", b"\n", b"\n\n"])
def test_the_usual_form_is_read_as_the_per_event_path_reads_it(trailing: bytes) -> None:
    rng = random.Random(7)
    batch: list[Record] = []
    for offset, edge in enumerate(USUAL_EDGES):
        lines = [rng.choice(USUAL) for _ in range(9)]
        lines[rng.randrange(len(lines))] = edge
        batch.append((offset, encode(lines) + trailing, [(BATCH_HEADER, BATCH_FORMAT)]))
    for _, value, _ in batch:  # each record is read by the usual form's path
        assert value is not None
        lines = events_of(value, BATCH_FORMAT)
        assert usual_rows(value, lines, 0, now_ms(NOW), ReferenceCache(CAT)) is not None
    expected, expected_dead = judged(PerEvent(CAT, NOW, None, KEY), batch)
    ordered, ordered_dead = judged(Judge(CAT, NOW, None, KEY, grouping=False), batch)
    assert rows(ordered) == rows(expected) and ordered_dead == expected_dead
    grouped, grouped_dead = judged(Judge(CAT, NOW, None, KEY), batch)
    assert grouped_dead == expected_dead
    assert sorted(rows(per_event(grouped)), key=repr) == sorted(rows(expected), key=repr)
    assert ([e.encode() for e in split(TOPIC, 0, grouped)]
            == [e.encode() for e in split(TOPIC, 0, expected)])
    valid = sum(valid is True for _, valid, _ in expected)
    assert len(batch) * 8 < valid < len(batch) * 10  # most edges are valid, some are not


@pytest.mark.parametrize("value", [payload(), payload() + b"\n", payload() + b"\n\n", b"\n" + payload()])
def test_a_short_record_of_usual_lines_is_read_as_the_per_event_path_reads_it(value: bytes) -> None:
    batch: list[Record] = [(0, value, [(BATCH_HEADER, BATCH_FORMAT)])]
    assert usual_rows(value, events_of(value, BATCH_FORMAT), 0, now_ms(NOW), ReferenceCache(CAT)) is not None
    expected, expected_dead = judged(PerEvent(CAT, NOW, None, KEY), batch)
    verdicts, dead = judged(Judge(CAT, NOW, None, KEY, grouping=False), batch)
    assert rows(verdicts) == rows(expected) and dead == expected_dead
    assert [valid for _, valid, _ in verdicts].count(True) == 1
