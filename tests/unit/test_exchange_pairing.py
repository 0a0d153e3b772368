"""Exchange halves (issue 18) through the worker's judging and the counting writer: each
half is signed by the party that reports it; each exchange is counted once, with its
provider's figures when the provider reported it, else the consumer's, whatever order and
batches the halves come in; unmatched and mismatched halves are listed; resends, conflicts,
replays, restarts and unfinished batches change nothing."""

from __future__ import annotations

import random
import uuid
from collections import defaultdict
from typing import Any

import orjson
import pytest

from tahawul.schemas.signing import SigningKey, Trust
from tahawul.sinks.clickhouse.reconcile import reconcile_exchanges
from tahawul.sinks.clickhouse.store import Store
from tahawul.stream_processors.counter import CountingWriter
from tahawul.stream_processors.envelope import Envelope, split
from tahawul.stream_processors.exchange_counter import _Deltas, pair
from tahawul.stream_processors.validation import judge_records
from tests.unit.factories import CAT, NOW, TOPIC, apply, envelopes, payload

ROP = SigningKey.generate("ROP", "k1")
MOH = SigningKey.generate("MOH", "k1")
MOE = SigningKey.generate("MOE", "k1")
XID = "3f2504e0-4f89-41d3-9a0c-0305e82c3301"


def half(**overrides: Any) -> bytes:
    base: dict[str, Any] = {
        "kind": "exchange", "schema_version": 1, "exchange_id": XID, "side": "provider",
        "provider": "ROP", "consumer": "MOH", "product": "ROP.person", "items": 3,
        "occurred_at": "2024-03-04T09:15:22+04:00", "outcome": "success",
    }
    base.update(overrides)
    return orjson.dumps(base)


def trust() -> Trust:
    out = Trust()
    for key in (ROP, MOH, MOE):
        out = out.with_key(key.signer, "k1", key.public_bytes())
    return out


def signed(key: SigningKey, value: bytes) -> list[tuple[str, bytes]]:
    return [("tahawul-signature", key.sign(value))]


def test_each_half_is_signed_by_the_party_that_reports_it() -> None:
    provider_half, consumer_half = half(), half(side="consumer")
    records = [
        (0, provider_half, signed(ROP, provider_half)),  # the provider's own half
        (1, consumer_half, signed(MOH, consumer_half)),  # the consumer's own half
        (2, provider_half, signed(MOH, provider_half)),  # the consumer forging the provider's
        (3, consumer_half, signed(ROP, consumer_half)),  # the provider forging the consumer's
        (4, provider_half, signed(MOE, provider_half)),  # a third entity
        (5, provider_half, None),  # unsigned
    ]
    verdicts, dead = judge_records(records, CAT, NOW, trust())
    assert [v[1] for v in verdicts] == [None, None, False, False, False, False]
    assert verdicts[0][2][:8] == [0, XID, "provider", "ROP", "MOH", "ROP.person", 3, "success"]
    assert [d.code for d in dead] == ["signature_invalid"] * 3 + ["signature_missing"]
    assert b"ROP.person" not in dead[0].redacted  # dead letters are redacted like events'


def test_invalid_halves_are_dead_lettered_with_their_reason() -> None:
    records = [(0, half(items=0), None), (1, half(consumer="ROP"), None),
               (2, half(caller_name="Ahmed"), None), (3, half(outcome="oops"), None)]
    verdicts, dead = judge_records(records, CAT, NOW)
    assert [v[1] for v in verdicts] == [False] * 4
    assert [d.code for d in dead] == ["bad_items", "same_party", "unknown_field", "unknown_outcome"]
    assert {v[2][-1] for v in verdicts} == {"ROP"}  # the reporter: its entity auditors see them
    assert all(b"Ahmed" not in d.redacted for d in dead)
    kept = orjson.loads(dead[0].redacted)["kept"]  # the half's codes, never its product
    assert kept == {"kind": "exchange", "schema_version": 1, "exchange_id": XID, "side": "provider",
                    "provider": "ROP", "consumer": "MOH", "outcome": "success",
                    "occurred_at": "2024-03-04T09:15:22+04:00"}


def test_envelope_carries_halves_beside_events_and_totals() -> None:
    records = [(5, payload(), None), (6, half(), None), (7, half(items=-1), None)]
    verdicts, _ = judge_records(records, CAT, NOW)
    (env,) = split(TOPIC, 1, verdicts)
    back = Envelope.decode(env.encode())
    assert (back.first_offset, back.last_offset) == (5, 7)
    assert (back.n_ok, len(back.bad), len(back.totals)) == (1, 1, 1)


def counted(store: Store) -> dict[tuple[str, ...], tuple[int, int]]:
    rows = store.client.query(
        "SELECT provider, consumer, product, outcome, basis, sum(exchanges), sum(items) "
        "FROM exchange_counts_minute GROUP BY ALL HAVING sum(exchanges) != 0 OR sum(items) != 0"
    ).result_rows
    return {tuple(r[:5]): (int(r[5]), int(r[6])) for r in rows}


def quality(store: Store) -> dict[str, tuple[int, int]]:
    rows = store.client.query(
        "SELECT status, sum(halves), sum(items) FROM exchange_quality_minute GROUP BY status "
        "HAVING sum(halves) != 0 OR sum(items) != 0").result_rows
    return {r[0]: (int(r[1]), int(r[2])) for r in rows}


def totals(store: Store) -> tuple[int, int]:
    (n, items), = store.client.query(
        "SELECT sum(exchanges), sum(items) FROM exchange_counts_minute").result_rows
    return int(n or 0), int(items or 0)


def test_a_consumer_half_counts_until_the_provider_half_replaces_it(store: Store) -> None:
    counter = CountingWriter(store)
    apply(counter, envelopes(0, 0, [half(side="consumer", items=5)]))
    assert counted(store) == {("ROP", "MOH", "ROP.person", "success", "consumer"): (1, 5)}
    assert quality(store) == {"unmatched_consumer": (1, 5)}
    # The provider's half, a batch later and after a restart of the writer, with other figures.
    counter = CountingWriter(store)
    apply(counter, envelopes(0, 1, [half(items=3)]))
    assert counted(store) == {("ROP", "MOH", "ROP.person", "success", "provider"): (1, 3)}
    assert quality(store) == {"mismatched": (1, -2)}
    assert totals(store) == (1, 3)
    assert store.client.query("SELECT count() FROM exchanges").result_rows == [(2,)]


def test_a_provider_half_first_is_never_corrected(store: Store) -> None:
    counter = CountingWriter(store)
    apply(counter, envelopes(0, 0, [half()]))
    assert quality(store) == {"unmatched_provider": (1, 3)}
    apply(counter, envelopes(0, 1, [half(side="consumer", occurred_at="2024-03-04T09:15:25+04:00")]))
    assert counted(store) == {("ROP", "MOH", "ROP.person", "success", "provider"): (1, 3)}
    assert quality(store) == {}  # matched, and they agree


def test_resends_conflicts_replays_and_other_parties(store: Store) -> None:
    counter = CountingWriter(store)
    apply(counter, envelopes(0, 0, [
        half(), half(),  # a resend in one batch
        half(items=9),  # the same half with other content: a conflict
        half(side="consumer", consumer="MOE", items=4),  # names other parties: another exchange
    ]))
    apply(counter, envelopes(0, 4, [half()]))  # a resend in a later batch
    apply(counter, envelopes(0, 0, [half(side="consumer")] * 5))  # a replay of applied offsets
    assert totals(store) == (2, 7)
    assert quality(store) == {"unmatched_provider": (1, 3), "unmatched_consumer": (1, 4)}
    assert store.client.query("SELECT count() FROM exchange_duplicates").result_rows == [(2,)]
    assert store.client.query(
        "SELECT reason_code, entity FROM rejected").result_rows == [("exchange_id_conflict", "ROP")]


def test_an_unfinished_batch_of_halves_is_recovered(store: Store) -> None:
    counter = CountingWriter(store)
    apply(counter, envelopes(0, 0, [half(side="consumer")]))
    prepared = counter.prepare(envelopes(0, 1, [half()]))
    prepared.batch.progress.clear()  # killed before its progress row
    store.write(prepared.batch)
    assert store.recover() > 0
    counter = CountingWriter(store)
    apply(counter, envelopes(0, 1, [half()]))
    assert totals(store) == (1, 3)
    assert store.client.query("SELECT count() FROM exchanges").result_rows == [(2,)]


def test_pairing_rule_on_deltas() -> None:
    src = ("t", 0, 1)
    consumer = ("consumer", "ROP", "MOH", "p", 5, "success", 60_000)
    provider = ("provider", "ROP", "MOH", "p", 3, "timeout", 120_000)
    deltas = _Deltas()
    pair(deltas, src, consumer, None)
    pair(deltas, src, provider, consumer)
    counts, qual = deltas.rows("c")
    assert sorted((r[4], r[5], r[6], r[7]) for r in counts) == [("timeout", "provider", 1, 3)]
    assert sorted((r[4], r[5], r[6]) for r in qual) == [("mismatched", 1, -2)]


@pytest.mark.parametrize("seed", [1, 2, 3])
def test_counts_are_exact_whatever_the_order_and_batches(store: Store, seed: int) -> None:
    rng = random.Random(seed)
    sent: list[bytes] = []
    truth: dict[tuple[str, str], dict[str, dict[str, Any]]] = defaultdict(dict)
    for i in range(60):
        xid = str(uuid.UUID(int=rng.getrandbits(128)))
        consumer = rng.choice(["MOH", "MOE"])
        sides = rng.choice([["provider"], ["consumer"], ["provider", "consumer"]])
        for side in sides:
            fields = {"exchange_id": xid, "side": side, "consumer": consumer,
                      "items": rng.randint(1, 9), "outcome": rng.choice(["success", "timeout"]),
                      "occurred_at": f"2024-03-0{1 + i % 5}T1{rng.randint(0, 9)}:00:00+04:00"}
            truth[(xid, consumer)][side] = fields
            sent.append(half(**fields))
            if rng.random() < 0.2:
                sent.append(half(**fields))  # a resend
    rng.shuffle(sent)
    counter = CountingWriter(store)
    at = 0
    while at < len(sent):
        n = rng.randint(1, 15)
        apply(counter, envelopes(0, at, sent[at:at + n]))
        if rng.random() < 0.3:
            counter = CountingWriter(store)  # a writer restart between batches
        at += n
    expected: dict[tuple[str, ...], tuple[int, int]] = defaultdict(lambda: (0, 0))
    for (_, consumer), halves in truth.items():
        basis = "provider" if "provider" in halves else "consumer"
        h = halves[basis]
        n, items = expected[("ROP", consumer, "ROP.person", h["outcome"], basis)]
        expected[("ROP", consumer, "ROP.person", h["outcome"], basis)] = (n + 1, items + h["items"])
    assert counted(store) == dict(expected)
    unmatched = sum(1 for halves in truth.values() if len(halves) == 1)
    q = quality(store)
    assert q.get("unmatched_provider", (0, 0))[0] + q.get("unmatched_consumer", (0, 0))[0] == unmatched
    figures = [[(h[side]["items"], h[side]["outcome"]) for side in ("provider", "consumer")]
               for h in truth.values() if len(h) == 2]
    assert q.get("mismatched", (0, 0))[0] == sum(1 for p, c in figures if p != c)
    result = reconcile_exchanges(store.client)
    assert not result.drift, result
    assert result.raw_exchanges == result.published_exchanges == len(truth)
    assert result.unmatched_raw == unmatched


def test_reconcile_finds_a_cell_written_twice_or_lost(store: Store) -> None:
    counter = CountingWriter(store)
    apply(counter, envelopes(0, 0, [half(), half(side="consumer", consumer="MOE", items=2)]))
    assert not reconcile_exchanges(store.client).drift
    store.client.command("INSERT INTO exchange_counts_minute SELECT * FROM exchange_counts_minute "
                         "WHERE consumer = 'MOE'")
    result = reconcile_exchanges(store.client)
    assert result.drift and (result.raw_exchanges, result.published_exchanges) == (2, 3)
    assert [(d.consumer, d.raw_items, d.published_items) for d in result.differences] == [("MOE", 2, 4)]
