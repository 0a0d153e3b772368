"""Producers that build an event's JSON from a caller's fields (the SDK, the gateway, CSV rows)
write its members in the contract's order, so that the workers read their batched records by
the fast path (stream_processors/columnar.py ``usual_rows``), whatever order the caller used."""

from __future__ import annotations

from typing import Any

import orjson

from tahawul.producers.csv_events import iter_csv
from tahawul.producers.gateway.app import _validate
from tahawul.producers.sdk.client import encode
from tahawul.schemas.batch import BATCH_FORMAT, events_of
from tahawul.schemas.batch import encode as encode_batch
from tahawul.schemas.event import FIELD_ORDER, in_contract_order, parse
from tahawul.stream_processors.columnar import ReferenceCache, now_ms, usual_rows
from tests.unit.factories import CAT, NOW, event


def shuffled(n: int) -> list[dict[str, Any]]:
    """Events whose members come in reverse contract order, some with satisfaction."""
    out = []
    for i in range(n):
        ev = event(satisfaction=(i % 5) + 1) if i % 2 else event()
        out.append(dict(reversed(list(ev.items()))))
    return out


def usual_lines(payloads: list[bytes]) -> list[int] | None:
    """The lines of a batched record of ``payloads`` that the fast path reads (None: the
    record goes the general way)."""
    value = encode_batch(payloads)
    found = usual_rows(value, events_of(value, BATCH_FORMAT), 0, now_ms(NOW), ReferenceCache(CAT))
    return None if found is None else found[0]


def test_in_contract_order_keeps_every_member_and_puts_unknown_ones_last() -> None:
    ev = {"extra": 1, **dict(reversed(list(event(satisfaction=None).items())))}
    ordered = in_contract_order(ev)
    assert ordered == ev  # same members, same values
    assert list(ordered) == [*[f for f in FIELD_ORDER if f in ev], "extra"]


def test_a_callers_order_alone_would_miss_the_fast_path() -> None:
    assert usual_lines([orjson.dumps(ev) for ev in shuffled(8)]) is None


def test_the_sdk_writes_events_in_contract_order() -> None:
    events = shuffled(8)
    payloads = [encode(ev, CAT)[0] for ev in events]
    assert usual_lines(payloads) == list(range(8))
    assert [parse(p, CAT, NOW) for p in payloads] == [parse(orjson.dumps(ev), CAT, NOW) for ev in events]


def test_the_gateway_writes_events_in_contract_order() -> None:
    events = shuffled(8)
    results, valid = _validate(CAT, [*events, {"event_id": "nope"}])
    assert [r["status"] for r in results] == ["accepted"] * 8 + ["rejected"]
    assert usual_lines([payload for _, payload, _ in valid]) == list(range(8))


def test_csv_rows_become_events_in_contract_order_whatever_the_columns_order() -> None:
    names = ["status", "channel", "governorate", "service", "entity", "occurred_at", "event_id"]
    ev = event()
    rows = [",".join(names)] + [",".join(str(event()[n]) if n == "event_id" else str(ev[n]) for n in names)
                                for _ in range(4)]
    payloads = [p for _, p in iter_csv(rows, "test.csv")]
    assert all(isinstance(p, bytes) for p in payloads)
    assert usual_lines(payloads) == list(range(4))  # type: ignore[arg-type]
