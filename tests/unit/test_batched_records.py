"""Batched records (schemas/batch.py): one Kafka record carrying many events is validated,
rejected, dead-lettered and counted per event, never split across envelopes, and exact
under replays and a half-written batch, like records of one event."""

from __future__ import annotations

import base64
import dataclasses
import threading

import orjson
import pytest

from tahawul.producers.batching import Batcher
from tahawul.producers.partition_keys import entity_of
from tahawul.schemas.batch import BATCH_FORMAT, MAX_BATCH_BYTES, MAX_BATCH_EVENTS, encode
from tahawul.schemas.headers import BATCH_HEADER, ORIGINAL_BYTES_HEADER, SIGNATURE_HEADER
from tahawul.schemas.signing import SigningKey, Trust
from tahawul.sinks.clickhouse.store import Store
from tahawul.stream_processors.counter import CountingWriter, write_with_retry
from tahawul.stream_processors.envelope import MAX_ENVELOPE_BYTES, Envelope, split
from tahawul.stream_processors.validation import judge_records
from tests.unit.factories import CAT, NOW, TOPIC, apply, payload
from tests.unit.test_counter import FailingInserts, scalar

BATCH = [(BATCH_HEADER, BATCH_FORMAT)]


def batch_envelopes(partition: int, records: list[tuple[int, bytes, list[tuple[str, bytes]] | None]]
                    ) -> list[Envelope]:
    verdicts, _ = judge_records(records, CAT, NOW)
    return list(split(TOPIC, partition, verdicts))


def test_each_event_of_a_batch_gets_its_own_verdict_and_dead_letter() -> None:
    good = [payload() for _ in range(3)]
    events = [good[0], b"{not json", good[1], payload(service="NOPE"), b"", good[2]]
    verdicts, dead = judge_records([(7, encode(events), BATCH)], CAT, NOW)
    assert [(offset, ok) for offset, ok, _ in verdicts] == [
        (7, True), (7, False), (7, True), (7, False), (7, False), (7, True)]
    assert [row[1] for _, ok, row in verdicts if not ok] == ["not_json", "unknown_service", "empty"]
    assert [row[5] for _, ok, row in verdicts if not ok] == ["#1", "#3", "#4"]  # source: position
    assert [(d.offset, d.index, d.payload_bytes, d.code) for d in dead] == [
        (7, 1, 9, "not_json"), (7, 3, len(events[3]), "unknown_service"), (7, 4, 0, "empty")]
    assert b"not json" not in dead[0].redacted  # the redacted form, never the bytes
    # A trailing newline is allowed; a record without the header is one (invalid) event.
    verdicts, _ = judge_records([(8, encode(good) + b"\n", BATCH)], CAT, NOW)
    assert [ok for _, ok, _ in verdicts] == [True, True, True]
    verdicts, _ = judge_records([(9, encode(good), None)], CAT, NOW)
    assert [(ok, row[1]) for _, ok, row in verdicts] == [(False, "not_json")]


@pytest.mark.parametrize(("value", "headers", "code"), [
    (b"x" * (MAX_BATCH_BYTES + 1), BATCH, "batch_too_large"),
    (b"\n".join([b"{}"] * (MAX_BATCH_EVENTS + 1)), BATCH, "batch_too_large"),
    (b"{}", [(BATCH_HEADER, b"csv-v9")], "bad_batch"),
    (b"", BATCH, "bad_batch"),
    (b"{}\n{}", [*BATCH, (ORIGINAL_BYTES_HEADER, b"2000000")], "too_large"),
])
def test_a_record_that_is_no_batch_is_rejected_as_one(value: bytes, headers: list[tuple[str, bytes]],
                                                      code: str) -> None:
    verdicts, dead = judge_records([(3, value, headers)], CAT, NOW)
    assert [(offset, ok, row[1]) for offset, ok, row in verdicts] == [(3, False, code)]
    assert [(d.index, d.payload_bytes) for d in dead] == [(None, len(value))]


def test_a_batch_is_signed_as_a_whole_and_checked_per_entity() -> None:
    key = SigningKey.generate("ROP", "k1")
    trust = Trust().with_key("ROP", "k1", key.public_bytes())
    rop = [payload(), payload()]
    moh = payload(entity="MOH", service="MOH-PREARRIVAL-MED")
    value = encode([*rop, moh])
    signed = [*BATCH, (SIGNATURE_HEADER, key.sign(value))]
    verdicts, _ = judge_records([(0, value, signed)], CAT, NOW, trust)
    # One signature for the record; ROP's key attributes ROP's events, never MOH's.
    assert [(ok, row[1] if not ok else None) for _, ok, row in verdicts] == [
        (True, None), (True, None), (False, "signature_invalid")]
    forged = [*BATCH, (SIGNATURE_HEADER, key.sign(value + b" "))]
    verdicts, _ = judge_records([(1, value, forged)], CAT, NOW, trust)
    assert [row[1] for _, _, row in verdicts] == ["signature_invalid"] * 3
    verdicts, _ = judge_records([(2, value, BATCH)], CAT, NOW, trust)
    assert [row[1] for _, _, row in verdicts] == ["signature_missing"] * 3


def test_envelopes_never_split_a_record() -> None:
    # Bad events carry their payload's redacted form (~180 bytes in base64), so 3 records of
    # 1,000 bad events are ~1 MiB of verdicts: more than two envelopes' worth, but each
    # record stays whole.
    junk = [b"[" + b"1," * 50 + b"]"] * MAX_BATCH_EVENTS
    records = [(offset, encode(junk), BATCH) for offset in (10, 11, 12)]
    envelopes = batch_envelopes(0, records)
    assert len(envelopes) == 3
    for env, offset in zip(envelopes, (10, 11, 12), strict=True):
        assert (env.first_offset, env.last_offset, len(env.bad)) == (offset, offset, MAX_BATCH_EVENTS)
        assert len(env.encode()) > MAX_ENVELOPE_BYTES / 3
    # Records of single events are still cut at the size cap.
    singles = [(i, junk[0], None) for i in range(3000)]
    cut = batch_envelopes(0, singles)
    assert len(cut) > 1 and all(len(e.encode()) < MAX_ENVELOPE_BYTES + 5000 for e in cut)
    assert [e.first_offset for e in cut[1:]] == [e.last_offset + 1 for e in cut[:-1]]


def test_envelopes_of_the_previous_versions_are_still_read() -> None:
    env = batch_envelopes(2, [(5, encode([payload(), b"{"]), BATCH)])[0]
    assert env.redacted and Envelope.decode(env.encode()) == env
    rows = [list(r) for r in zip(*env.ok, strict=True)]
    v1 = orjson.dumps({"v": 1, "topic": TOPIC, "partition": 2, "first": 5, "last": 5, "ok": rows,
                       "bad": env.bad})
    v2 = orjson.dumps({"v": 2, "topic": TOPIC, "partition": 2, "first": 5, "last": 5, "ok": env.ok,
                       "bad": env.bad})
    # Rejected rows of versions 1 and 2 carry payload bytes: marked, for the writer to redact.
    old = dataclasses.replace(env, redacted=False)
    assert Envelope.decode(v1) == old == Envelope.decode(v2)


def test_batched_records_count_exactly_through_replays_resends_and_a_half_written_batch(
        store: Store) -> None:
    counter = CountingWriter(store)
    first = [payload() for _ in range(40)]
    conflict = orjson.loads(first[0])
    conflict["quantity"] = 9
    records = [
        (0, encode(first[:20]), BATCH),
        (1, payload(), None),
        (2, encode([*first[20:], first[3], orjson.dumps(conflict), b"oops"]), BATCH),
    ]
    apply(counter, batch_envelopes(0, records[:2]))
    apply(counter, batch_envelopes(0, records))  # a worker re-sent offsets 0..1 with 2
    assert scalar(store, "SELECT count() FROM events") == 41
    assert scalar(store, "SELECT count() FROM duplicates") == 1
    assert scalar(store, "SELECT count() FROM rejected WHERE reason_code = 'event_id_conflict'") == 1
    assert scalar(store, "SELECT count() FROM rejected WHERE reason_code = 'not_json' "
                         "AND source = '#22'") == 1
    # A batch of batched records dies half-written; recovery and a redo leave it exact.
    later = [(3, encode([payload() for _ in range(30)]), BATCH), (4, encode([first[5], b"{"]), BATCH)]
    broken = Store(FailingInserts(store.client, "counts_minute", 1), store.cluster)  # type: ignore[arg-type]
    with pytest.raises(ConnectionError):
        broken.write(CountingWriter(broken).prepare(batch_envelopes(0, later)).batch)
    assert store.recover() == 32  # 30 events, 1 duplicate, 1 rejected of offsets 3..4
    restarted = CountingWriter(store)
    prepared = restarted.prepare(batch_envelopes(0, later))
    assert write_with_retry(store, prepared.batch, threading.Event())
    restarted.commit(prepared)
    apply(restarted, batch_envelopes(0, [*records, *later]))  # a full replay changes nothing
    assert scalar(store, "SELECT count() FROM events") == 71
    assert scalar(store, "SELECT sum(transactions) FROM v_counts_daily") == 71
    assert scalar(store, "SELECT count() FROM duplicates") == 2
    assert scalar(store, "SELECT count() FROM rejected") == 3
    payloads = store.client.query("SELECT payload FROM rejected WHERE reason_code = 'not_json' "
                                  "ORDER BY src_offset").result_rows
    # Each bad event's own redacted form: its size and keyed hash, never its bytes.
    assert [(orjson.loads(p[0])["bytes"], orjson.loads(p[0])["json"]) for p in payloads] == [
        (4, None), (1, None)]
    assert not any("oops" in p[0] for p in payloads)


def test_batcher_groups_per_key_in_order_within_limits() -> None:
    sent: list[tuple[bytes, bytes | None, list[tuple[str, bytes]] | None]] = []
    batcher = Batcher(lambda v, k, h: sent.append((v, k, h)), max_events=3,
                      sign=lambda key, value: b"sig:" + value[:5] if entity_of(key) == b"ROP" else None)
    for i in range(7):
        batcher.add(b'{"n":%d}' % i, b"ROP")
        batcher.add(b'{"m":%d}' % i, b"MOH")
    batcher.add(b'{\n"pretty": 1}', b"MOH")  # cannot travel in a batch: alone, after MOH's
    batcher.flush()
    rop = [(v, h) for v, k, h in sent if entity_of(k) == b"ROP"]
    moh = [(v, h) for v, k, h in sent if entity_of(k) == b"MOH"]
    # A batched record has a key of its own (it spreads over partitions); a lone event keeps
    # the key it was added with.
    keys = [k for _, k, _ in sent]
    assert all(k is not None and k.startswith((b"ROP/batch-", b"MOH/batch-")) for k in keys[:4])
    assert len(set(keys)) == len(keys) - 1 and keys.count(b"MOH") == 2
    assert [v for v, _ in rop] == [b'{"n":0}\n{"n":1}\n{"n":2}', b'{"n":3}\n{"n":4}\n{"n":5}', b'{"n":6}']
    assert rop[0][1] == [*BATCH, (SIGNATURE_HEADER, b'sig:{"n":')]
    assert rop[2][1] == [(SIGNATURE_HEADER, b'sig:{"n":')]  # one event: a plain record
    assert [v for v, _ in moh][-2:] == [b'{"m":6}', b'{\n"pretty": 1}']
    assert moh[0][1] == BATCH
    assert (batcher.records, batcher.events) == (len(sent), 15)
    # The byte limit holds too.
    sent.clear()
    small = Batcher(lambda v, k, h: sent.append((v, k, h)), max_bytes=21)
    for _ in range(5):
        small.add(b"0123456789", b"K")
    small.flush()
    assert [len(v) for v, _, _ in sent] == [21, 21, 10]


def test_a_rejected_event_travels_redacted_in_the_envelope() -> None:
    env = batch_envelopes(0, [(0, encode([payload(), b"{broken"]), BATCH)])[0]
    kept = orjson.loads(base64.b64decode(env.bad[0][3]))
    assert kept["redacted"] == "tahawul-redacted-v1" and kept["bytes"] == len(b"{broken")
    assert b"broken" not in base64.b64decode(env.bad[0][3])
    assert env.bad[0][4] == len(b"{broken")
