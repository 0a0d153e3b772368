"""Batches carried from the validating workers to the counting writer.

One Kafka record on the validated topic holds the verdicts for a contiguous run of offsets
of ONE source partition, in offset order. Every source offset appears (valid or rejected),
so the writer can prove it skipped nothing; and because a verdict depends only on the
source record, a batch re-emitted after a worker crash or rebalance is identical record for
record, which is what makes filtering by offset exact.
"""

from __future__ import annotations

import base64
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from typing import Any

import orjson

from schemas.event import Event

ENVELOPE_VERSION = 1
# Keep each validated record well under Kafka's default 1 MB request size.
MAX_ENVELOPE_BYTES = 512 * 1024
# How much of a rejected payload travels with its verdict (the DLQ topic keeps it whole).
MAX_KEPT_PAYLOAD = 16 * 1024

# Positions in an "ok" row: compact lists, not dicts, keep the batch small and fast.
OK_FIELDS = (
    "offset", "event_id", "occurred_ms", "entity", "service", "governorate", "channel",
    "mode", "status", "quantity", "automated", "satisfaction", "fingerprint",
)
BAD_FIELDS = ("offset", "code", "message", "payload_b64", "payload_bytes", "source")


def ok_row(offset: int, event: Event) -> list[Any]:
    return [
        offset, event.event_id, int(event.occurred_at.timestamp() * 1000), event.entity,
        event.service, event.governorate, event.channel, event.mode, event.status,
        event.quantity, event.automated, event.satisfaction, event.fingerprint(),
    ]


def bad_row(offset: int, code: str, message: str, payload: bytes | None, source: str) -> list[Any]:
    raw = payload or b""
    kept = base64.b64encode(raw[:MAX_KEPT_PAYLOAD]).decode("ascii")
    return [offset, code, message, kept, len(raw), source]


def decode_payload(row: Sequence[Any]) -> bytes:
    return base64.b64decode(row[3])


@dataclass(frozen=True, slots=True)
class Envelope:
    topic: str
    partition: int
    first_offset: int
    last_offset: int
    ok: list[list[Any]]
    bad: list[list[Any]]

    def encode(self) -> bytes:
        return orjson.dumps({
            "v": ENVELOPE_VERSION, "topic": self.topic, "partition": self.partition,
            "first": self.first_offset, "last": self.last_offset, "ok": self.ok, "bad": self.bad,
        })

    @staticmethod
    def decode(data: bytes) -> Envelope:
        obj = orjson.loads(data)
        if obj.get("v") != ENVELOPE_VERSION:
            raise ValueError(f"unsupported envelope version {obj.get('v')!r}")
        return Envelope(obj["topic"], obj["partition"], obj["first"], obj["last"], obj["ok"], obj["bad"])


def split(topic: str, partition: int, rows: Sequence[tuple[int, bool, list[Any]]]) -> Iterator[Envelope]:
    """Cut offset-ordered verdicts (offset, is_ok, row) into envelopes under the size cap."""
    ok: list[list[Any]] = []
    bad: list[list[Any]] = []
    first = None
    size = 0
    last = -1
    for offset, is_ok, row in rows:
        estimate = 160 + (len(row[3]) if not is_ok else 0)
        if first is not None and size + estimate > MAX_ENVELOPE_BYTES:
            yield Envelope(topic, partition, first, last, ok, bad)
            ok, bad, first, size = [], [], None, 0
        if first is None:
            first = offset
        (ok if is_ok else bad).append(row)
        size += estimate
        last = offset
    if first is not None:
        yield Envelope(topic, partition, first, last, ok, bad)
