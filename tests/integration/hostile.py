"""A corpus of hostile input mixed into good events, each bad line with the one reason the
pipeline must give for it (shared by the hostile-input integration test)."""

from __future__ import annotations

import random
import uuid
from collections.abc import Callable, Iterator
from typing import Any

import orjson

from tahawul.producers.simulator import iter_simulation

Maker = Callable[[dict[str, Any], random.Random], bytes]


def _with(**changes: Any) -> Maker:
    def make(ev: dict[str, Any], rng: random.Random) -> bytes:
        bad = {**ev, "event_id": str(uuid.UUID(int=rng.getrandbits(128), version=4)), **changes}
        return orjson.dumps({k: v for k, v in bad.items() if v is not ...})
    return make


def _raw(data: bytes) -> Maker:
    return lambda ev, rng: data


def _truncated(ev: dict[str, Any], rng: random.Random) -> bytes:
    data = orjson.dumps(ev)
    return data[: rng.randrange(1, len(data) - 1)]


def _oversized(ev: dict[str, Any], rng: random.Random) -> bytes:
    return orjson.dumps({**ev, "entity": "X" * (1_200_000 + rng.randrange(1000))})


def _invalid_utf8(ev: dict[str, Any], rng: random.Random) -> bytes:
    return orjson.dumps(ev).replace(b'"entity":"', rng.choice([b'"entity":"\xff', b'"entity":"\xc3\x28']))


# kind -> (maker, expected reason code, weight)
KINDS: dict[str, tuple[Maker, str, int]] = {
    "not_json": (_raw(b"this is not json"), "not_json", 10),
    "truncated_json": (_truncated, "not_json", 10),
    "nan": (_raw(b'{"quantity": NaN}'), "not_json", 2),
    "deep_nesting": (_raw(b"[" * 5000 + b"]" * 5000), "not_json", 2),
    "array": (_raw(b"[1, 2, 3]"), "not_an_object", 3),
    "null": (_raw(b"null"), "not_an_object", 2),
    "empty": (_raw(b"   "), "empty", 2),
    "invalid_utf8": (_invalid_utf8, "invalid_utf8", 5),
    "oversized": (_oversized, "too_large", 1),
    "missing_fields": (_with(service=..., channel=...), "missing_field", 8),
    "wrong_type_quantity": (_with(quantity="3"), "wrong_type", 5),
    "wrong_type_automated": (_with(automated="yes"), "wrong_type", 5),
    "wrong_type_entity": (_with(entity=12), "wrong_type", 3),
    "unknown_entity": (_with(entity="MINISTRY-OF-MAGIC"), "unknown_entity", 6),
    "unknown_service": (_with(service="ROP-TELEPORT"), "unknown_service", 6),
    "unknown_governorate": (_with(governorate="OM-XX"), "unknown_governorate", 6),
    "unknown_channel": (_with(channel="carrier_pigeon"), "unknown_channel", 6),
    "future": (_with(occurred_at="2099-01-01T00:00:00+04:00"), "occurred_at_in_future", 5),
    "before_2000": (_with(occurred_at="1999-12-31T23:59:59+04:00"), "occurred_at_too_old", 5),
    "negative_quantity": (_with(quantity=-5), "bad_quantity", 4),
    "absurd_quantity": (_with(quantity=10**12), "bad_quantity", 4),
    "unknown_schema_version": (_with(schema_version=7), "unknown_schema_version", 4),
    "personal_data": (_with(national_id="12345678", phone="+96890000000"), "unknown_field", 4),
}


def corpus(bad: int, seed: int) -> Iterator[tuple[bytes, bytes | None, str]]:
    """(payload, key, kind) for the valid events of a simulated run (kind "valid"), with
    ``bad`` hostile lines mixed in, plus one conflicting reuse of a valid event_id per 50 bad
    lines (kind "conflict": same id and entity, other content, sent after the original)."""
    rng = random.Random(seed)
    kinds = list(KINDS)
    weights = [KINDS[k][2] for k in kinds]
    valid = [orjson.loads(line.data) for line in iter_simulation("oman-2025-h1", 0.01, seed)]
    every = max(1, len(valid) // bad)
    sent_bad = 0
    originals: list[dict[str, Any]] = []
    for i, ev in enumerate(valid):
        yield orjson.dumps(ev), ev["entity"].encode(), "valid"
        originals.append(ev)
        while sent_bad < bad and (i % every == 0 or i == len(valid) - 1):
            sent_bad += 1
            if sent_bad % 50 == 0:
                original = rng.choice(originals)
                other = {**original, "quantity": original.get("quantity", 1) + 1}
                yield orjson.dumps(other), original["entity"].encode(), "conflict"
                continue
            kind = rng.choices(kinds, weights)[0]
            yield KINDS[kind][0](ev, rng), ev["entity"].encode(), kind
            if i != len(valid) - 1:
                break
