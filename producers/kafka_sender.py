"""Send raw event payloads to the transactions topic and track what the broker acknowledged.

kafka-python with ``acks=all`` and idempotence (:mod:`tahawul.producers.kafka_config`): the
broker confirms every record, retries do not duplicate, and per-partition order is kept.
Callers choose the record keys (producers/partition_keys.py): ``ENTITY/<event_id>`` for an
event sent alone, so copies of one event share a partition while one entity's events spread
over all of them; batched records get a key of their own. The counting writer deduplicates
by (entity, event_id) across all partitions (docs/exactly-once.md, "Partition keys").
"""

from __future__ import annotations

import threading
from collections.abc import Sequence
from functools import partial
from typing import Any

import orjson
from kafka import KafkaProducer

from tahawul.kafka_security import PLAINTEXT, KafkaSecurity
from tahawul.producers.batching import Batcher, Sign
from tahawul.producers.kafka_config import producer_config, stored
from tahawul.schemas.exchange import claimed_reporter
from tahawul.schemas.headers import ORIGINAL_BYTES_HEADER, SIGNATURE_HEADER


def entity_key(payload: bytes) -> bytes | None:
    """The entity code a payload names, if it has a readable one (what to sign it with; the
    record key is :func:`tahawul.producers.partition_keys.payload_key`)."""
    try:
        obj = orjson.loads(payload)
    except orjson.JSONDecodeError:
        return None
    entity = obj.get("entity") if isinstance(obj, dict) else None
    if entity is None:  # an exchange half: its reporter signs it (schemas/exchange.py)
        entity = claimed_reporter(obj)
    return entity.encode() if isinstance(entity, str) else None


# Payloads above this are cut before sending (the event limit is 16 KiB, so such a payload is
# invalid anyway): Kafka refuses records over its request size, and the bad input must still
# reach the dead-letter path. The original size travels in a header.
MAX_RECORD_BYTES = 1024 * 1024
KEPT_BYTES = 64 * 1024


class SendFailed(RuntimeError):
    pass


class EventSender:
    def __init__(self, bootstrap: str, topic: str, linger_ms: int = 20,
                 producer: Any | None = None, batch_events: int = 0,
                 sign: Sign | None = None, security: KafkaSecurity = PLAINTEXT) -> None:
        """``producer`` replaces the kafka-python producer (unit tests of the ack rules).

        ``batch_events`` > 0: events given to :meth:`add` travel in batched records of up to
        that many events of one key (schemas/batch.py); :meth:`send` always sends one record
        as given. ``sign`` (key, value -> header, e.g. ``Signers.sign_keyed``) signs every
        record that is not signed yet, once, over the exact value sent: the workers count
        no unsigned event."""
        self.topic = topic
        self._sign = sign
        self._batcher = Batcher(self.send, max_events=batch_events) if batch_events else None
        self.records_sent = 0
        # kafka-python's own timeouts (a batch sender has no caller waiting on an answer), and
        # requests large enough for a record of MAX_RECORD_BYTES (its default limit is 1 MiB).
        self._producer = producer or KafkaProducer(
            **producer_config(bootstrap, linger_ms=linger_ms, max_request_size=2 * MAX_RECORD_BYTES,
                              security=security))
        self._lock = threading.Lock()
        self.acked: dict[int, int] = {}  # partition -> highest acknowledged offset
        self.acked_count = 0
        self.unconfirmed = 0  # acknowledgements without an offset, each sent again
        self.errors: list[str] = []
        self._resend: list[tuple[bytes, bytes | None, Sequence[tuple[str, bytes]] | None]] = []

    def _ok(self, record: tuple[bytes, bytes | None, Sequence[tuple[str, bytes]] | None],
            meta: Any) -> None:
        with self._lock:
            if not stored(meta):
                self.unconfirmed += 1
                self._resend.append(record)
                return
            self.acked_count += 1
            if meta.offset > self.acked.get(meta.partition, -1):
                self.acked[meta.partition] = meta.offset

    def _err(self, exc: BaseException) -> None:
        with self._lock:
            self.errors.append(str(exc))

    def add(self, value: bytes, key: bytes | None = None) -> None:
        """Send one event, in a batched record with others of its key when batching is on."""
        if self._batcher is None:
            self.send(value, key)
        else:
            self._batcher.add(value, key)

    def send_batches(self) -> None:
        """Send the events :meth:`add` holds back for batching now, without waiting."""
        if self._batcher is not None:
            self._batcher.flush()

    def send(self, value: bytes, key: bytes | None = None,
             headers: Sequence[tuple[str, bytes]] | None = None) -> None:
        self.records_sent += 1
        sent_headers = list(headers) if headers else []
        if len(value) > MAX_RECORD_BYTES:
            sent_headers.append((ORIGINAL_BYTES_HEADER, str(len(value)).encode()))
            value = value[:KEPT_BYTES]
        if self._sign is not None and all(name != SIGNATURE_HEADER for name, _ in sent_headers):
            signature = self._sign(key, value)
            if signature is not None:
                sent_headers.append((SIGNATURE_HEADER, signature))
        future = self._producer.send(self.topic, value=value, key=key,
                                     headers=sent_headers or None)
        future.add_callback(partial(self._ok, (value, key, sent_headers or None)))
        future.add_errback(self._err)

    def flush(self, timeout: float | None = None) -> None:
        """Block until every record sent so far is stored (resending those acknowledged
        without an offset, see :mod:`tahawul.producers.kafka_config`) or failed. Pending
        batches are sent first."""
        self.send_batches()
        while True:
            self._producer.flush(timeout)
            with self._lock:
                again, self._resend = self._resend, []
            if not again:
                break
            for value, key, headers in again:
                self.records_sent -= 1  # the same record again
                self.send(value, key, headers)
        if self.errors:
            raise SendFailed(f"{len(self.errors)} records were not acknowledged: {self.errors[0]}")

    def close(self) -> None:
        self._producer.close()
