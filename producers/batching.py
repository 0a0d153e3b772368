"""Packing events into batched records (schemas/batch.py) on the producing side.

Events are grouped per key (the entity: a batched record is keyed and signed as one), in
the order they were added; a group becomes one record when it reaches the event or byte
limit, or when :meth:`Batcher.flush` is called. A group of one event is sent as a plain
record, so a lone event looks exactly as it always has. A payload that cannot travel in a
batch (it contains a newline, or is huge) is sent alone, after its key's pending events, so
each entity's events stay in order.
"""

from __future__ import annotations

from collections.abc import Callable

from tahawul.schemas.batch import (
    BATCH_FORMAT,
    MAX_BATCH_BYTES,
    MAX_BATCH_EVENTS,
    batchable,
    encode,
)
from tahawul.schemas.headers import BATCH_HEADER, SIGNATURE_HEADER

Headers = list[tuple[str, bytes]]
Emit = Callable[[bytes, bytes | None, Headers | None], None]  # value, key, headers
Sign = Callable[[bytes | None, bytes], bytes | None]  # key, value -> signature header value


class Batcher:
    def __init__(self, emit: Emit, max_events: int = MAX_BATCH_EVENTS, max_bytes: int = MAX_BATCH_BYTES,
                 sign: Sign | None = None) -> None:
        if not 1 <= max_events <= MAX_BATCH_EVENTS or not 1 <= max_bytes <= MAX_BATCH_BYTES:
            raise ValueError(f"batches hold 1..{MAX_BATCH_EVENTS} events and 1..{MAX_BATCH_BYTES} bytes")
        self._emit = emit
        self._sign = sign
        self.max_events = max_events
        self.max_bytes = max_bytes
        self._pending: dict[bytes | None, tuple[list[bytes], list[int]]] = {}  # key -> payloads, [bytes]
        self.records = 0  # records emitted
        self.events = 0  # events emitted

    def add(self, payload: bytes, key: bytes | None) -> None:
        if not batchable(payload):
            self.flush_key(key)
            self._send([payload], key)
            return
        group = self._pending.get(key)
        if group is None:
            group = self._pending[key] = ([], [0])
        payloads, size = group
        if payloads and (len(payloads) >= self.max_events or size[0] + 1 + len(payload) > self.max_bytes):
            self.flush_key(key)
            payloads, size = self._pending[key] = ([], [0])
        payloads.append(payload)
        size[0] += len(payload) + (1 if len(payloads) > 1 else 0)
        if len(payloads) >= self.max_events:
            self.flush_key(key)

    def flush_key(self, key: bytes | None) -> None:
        group = self._pending.pop(key, None)
        if group is not None and group[0]:
            self._send(group[0], key)

    def flush(self) -> None:
        """Emit every pending group."""
        for key in list(self._pending):
            self.flush_key(key)

    def _send(self, payloads: list[bytes], key: bytes | None) -> None:
        headers: Headers = []
        if len(payloads) == 1:
            value = payloads[0]
        else:
            value = encode(payloads)
            headers.append((BATCH_HEADER, BATCH_FORMAT))
        if self._sign is not None:
            signature = self._sign(key, value)
            if signature is not None:
                headers.append((SIGNATURE_HEADER, signature))
        self._emit(value, key, headers or None)
        self.records += 1
        self.events += len(payloads)
