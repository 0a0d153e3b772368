"""Batched records: one Kafka record carrying many events (part of the wire contract).

A record whose header ``tahawul-batch`` is ``jsonl-v1`` holds events in JSON lines: each
event is one contract-v1 JSON object, UTF-8, and events are separated by a newline (one
trailing newline is allowed). Every event of a batched record is validated, counted,
rejected and dead-lettered on its own, exactly as if it had been sent alone; the record as a
whole is refused (``bad_batch``, ``batch_too_large``) only when it is not a batch at all.

Why: the validating worker's cost is mostly per Kafka record (Faust's machinery), so a
record of hundreds of events is validated many times faster per event (docs/performance.md).
The gateway and `tahawul send` batch; anyone may (docs/producers.md).

Limits keep what a worker emits for one record (its verdicts, which are never split across
two envelopes because all of a record's events share its offset) far below Kafka's 1 MB
message limit: at most MAX_BATCH_EVENTS events and MAX_BATCH_BYTES bytes per record. All
events of a batched record must be of one entity (it is keyed, and signed, as one).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Final

from tahawul.schemas.event import InvalidEvent
from tahawul.schemas.headers import BATCH_HEADER

BATCH_FORMAT: Final = b"jsonl-v1"
MAX_BATCH_EVENTS: Final = 1000
MAX_BATCH_BYTES: Final = 256 * 1024


def encode(payloads: Sequence[bytes]) -> bytes:
    """The value of a batched record holding these event payloads (none may contain a newline)."""
    return b"\n".join(payloads)


def batchable(payload: bytes) -> bool:
    """Whether a payload can travel in a batched record (compact JSON has no newline)."""
    return b"\n" not in payload and len(payload) < MAX_BATCH_BYTES


def events_of(value: bytes | None, fmt: bytes) -> list[bytes]:
    """The event payloads of a batched record's value; InvalidEvent if it is no valid batch."""
    if fmt != BATCH_FORMAT:
        raise InvalidEvent("bad_batch", f"the batch format (header {BATCH_HEADER}) is not "
                           f"{BATCH_FORMAT.decode()} (see docs/producers.md)")
    if not value:
        raise InvalidEvent("bad_batch", "a batched record holds no events")
    if len(value) > MAX_BATCH_BYTES:
        raise InvalidEvent("batch_too_large", f"batched record is {len(value)} bytes; the limit is "
                           f"{MAX_BATCH_BYTES} (send smaller batches)")
    lines = value.split(b"\n")
    if len(lines) > 1 and not lines[-1]:
        lines.pop()  # one trailing newline
    if len(lines) > MAX_BATCH_EVENTS:
        raise InvalidEvent("batch_too_large", f"batched record holds {len(lines)} events; the limit "
                           f"is {MAX_BATCH_EVENTS} (send smaller batches)")
    return lines
