"""Packing events into batched records (schemas/batch.py) on the producing side.

Events are grouped per entity (a batched record is signed as one, by or for its entity),
in the order they were added; a group becomes one record when it reaches the event or byte
limit, or when :meth:`Batcher.flush` is called. The entity is the prefix of the key an event
is added with (:mod:`tahawul.producers.partition_keys`: ``ENTITY/<event_id>``, or a plain
``ENTITY``). A group of one event is sent as a plain record with the key it was added with,
so a lone event looks exactly as it always has; a batched record gets a key of its own
(``ENTITY/batch-<hex>``), so that one entity's batches spread over the partitions. A payload
that cannot travel in a batch (it contains a newline, or is huge) is sent alone, after its
entity's pending events.
"""

from __future__ import annotations

from collections.abc import Callable

from tahawul.producers.partition_keys import batch_key, entity_of
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
        # entity -> (payloads, [bytes], key of the first event)
        self._pending: dict[bytes | None, tuple[list[bytes], list[int], bytes | None]] = {}
        self.records = 0  # records emitted
        self.events = 0  # events emitted

    def add(self, payload: bytes, key: bytes | None) -> None:
        entity = entity_of(key)
        if not batchable(payload):
            self.flush_key(entity)
            self._send([payload], entity, key)
            return
        group = self._pending.get(entity)
        if group is None:
            group = self._pending[entity] = ([], [0], key)
        payloads, size, _first = group
        if payloads and (len(payloads) >= self.max_events or size[0] + 1 + len(payload) > self.max_bytes):
            self.flush_key(entity)
            group = self._pending[entity] = ([], [0], key)
            payloads, size, _first = group
        payloads.append(payload)
        size[0] += len(payload) + (1 if len(payloads) > 1 else 0)
        if len(payloads) >= self.max_events:
            self.flush_key(entity)

    def flush_key(self, entity: bytes | None) -> None:
        """Emit the pending group of one entity (the prefix of the keys its events came with)."""
        group = self._pending.pop(entity, None)
        if group is not None and group[0]:
            self._send(group[0], entity, group[2])

    def flush(self) -> None:
        """Emit every pending group."""
        for entity in list(self._pending):
            self.flush_key(entity)

    def _send(self, payloads: list[bytes], entity: bytes | None, key: bytes | None) -> None:
        headers: Headers = []
        if len(payloads) == 1:
            value = payloads[0]
        else:
            value = encode(payloads)
            key = batch_key(entity)
            headers.append((BATCH_HEADER, BATCH_FORMAT))
        if self._sign is not None:
            signature = self._sign(key, value)
            if signature is not None:
                headers.append((SIGNATURE_HEADER, signature))
        self._emit(value, key, headers or None)
        self.records += 1
        self.events += len(payloads)
