"""Builders of valid contract-v1 payloads for unit tests."""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from datetime import UTC, datetime
from typing import Any

import orjson

from tahawul.schemas.reference import load_catalogue
from tahawul.stream_processors.counter import CountingWriter
from tahawul.stream_processors.envelope import Envelope, split
from tahawul.stream_processors.validation import judge

CAT = load_catalogue()
NOW = datetime(2026, 1, 1, tzinfo=UTC)
TOPIC = "tahawul.transactions"


def event(**overrides: Any) -> dict[str, Any]:
    base: dict[str, Any] = {
        "event_id": str(uuid.uuid4()),
        "schema_version": 1,
        "occurred_at": "2025-03-04T09:15:22.123+04:00",
        "entity": "ROP",
        "service": "ROP-VEH-FIRST-REG",
        "governorate": "OM-BS",
        "channel": "portal",
        "status": "completed",
        "quantity": 1,
        "automated": False,
    }
    base.update(overrides)
    return {k: v for k, v in base.items() if v is not ...}


def payload(**overrides: Any) -> bytes:
    return orjson.dumps(event(**overrides))


def envelopes(partition: int, first_offset: int, payloads: Sequence[bytes]) -> list[Envelope]:
    """What the validating worker would send for these records of one source partition."""
    records = [(first_offset + i, p, None) for i, p in enumerate(payloads)]
    return list(split(TOPIC, partition, judge(records, CAT, NOW)))


def apply(counter: CountingWriter, envs: list[Envelope]) -> None:
    """One successful pass of the counting writer."""
    prepared = counter.prepare(envs)
    counter.store.write(prepared.batch)
    counter.commit(prepared)


class FakeClock:
    """A monotonic clock a test moves by hand (``clock.now += seconds``), for the timers
    that take a ``clock`` (stall and liveness rules)."""

    def __init__(self, start: float = 100.0) -> None:
        self.now = start

    def __call__(self) -> float:
        return self.now
