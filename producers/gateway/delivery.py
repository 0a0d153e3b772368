"""The gateway's way to Kafka: send a request's events and wait for the broker's acknowledgement.

The gateway answers only after ``acks=all`` for every event of the request; if any is not
acknowledged within the timeout the whole request is answered 503 and may be retried as it
is (events that did arrive are counted once).

Every record is signed here with the gateway's own Ed25519 key (schemas/signing.py): the
gateway vouches for the entity whose API key it authenticated, and the workers' trust file
says which entities this gateway may vouch for. The gateway holds no entity's key.

After a failure the idempotent producer is replaced, so its sequence state never blocks
later requests.
"""

from __future__ import annotations

import logging
import socket
import threading
import time
from collections.abc import Sequence
from typing import Protocol

from kafka import KafkaProducer

from tahawul.kafka_security import PLAINTEXT, KafkaSecurity
from tahawul.producers.kafka_config import UnconfirmedWrite, producer_config, stored
from tahawul.producers.partition_keys import batch_key, entity_of, payload_key
from tahawul.schemas.headers import BATCH_HEADER, SIGNATURE_HEADER
from tahawul.schemas.signing import SigningKey

log = logging.getLogger(__name__)

Record = tuple[bytes, bytes, list[tuple[str, bytes]] | None]  # value, key, headers


class NotAcknowledged(RuntimeError):
    pass


class Delivery(Protocol):
    def deliver(self, records: Sequence[Record]) -> None: ...
    def ready(self) -> bool: ...
    def close(self) -> None: ...


def signed(signer: SigningKey, value: bytes, headers: list[tuple[str, bytes]] | None
           ) -> list[tuple[str, bytes]]:
    """The record's headers with the gateway's signature over its exact value (any signature
    header already there is dropped: only the gateway's own key speaks for it)."""
    kept = [(name, v) for name, v in headers or () if name != SIGNATURE_HEADER]
    return [*kept, (SIGNATURE_HEADER, signer.sign(value))]


def spread(value: bytes, key: bytes, headers: list[tuple[str, bytes]] | None) -> bytes | None:
    """The partition key of a record the gateway was given keyed by its entity: a batched
    record gets a batch id, a lone event ``ENTITY/<event_id>`` (producers/partition_keys.py),
    so one busy entity's requests spread over the partitions. Copies of an event still meet
    in the counting writer, which deduplicates over every partition."""
    entity = entity_of(key)
    if any(name == BATCH_HEADER for name, _ in headers or ()):
        return batch_key(entity)
    own = payload_key(value)
    return own if own is not None and entity_of(own) == entity else key


class KafkaDelivery:
    def __init__(self, bootstrap: str, topic: str, ack_timeout: float, signer: SigningKey,
                 linger_ms: int = 5,
                 security: KafkaSecurity = PLAINTEXT) -> None:
        self.bootstrap = bootstrap
        self.topic = topic
        self.ack_timeout = ack_timeout
        self.signer = signer
        # Every wait of the producer fits in the time the gateway may take to answer: a
        # produce request, sent after lingering, must be answered within it (1 s to 30 s).
        timeout_ms = int(ack_timeout * 1000)
        self._config = producer_config(
            bootstrap,
            client_id="tahawul-gateway",
            linger_ms=linger_ms,
            delivery_timeout_ms=timeout_ms,
            request_timeout_ms=max(1000, min(30_000, timeout_ms - linger_ms - 100)),
            max_block_ms=timeout_ms,
            security=security,
        )
        self._lock = threading.Lock()
        self._producer: KafkaProducer | None = KafkaProducer(**self._config)
        self._producer.partitions_for(topic)  # metadata now, not on the first request
        self._healthy = True

    def _current(self) -> KafkaProducer:
        with self._lock:
            if self._producer is None:
                self._producer = KafkaProducer(**self._config)
            return self._producer

    def _discard(self, producer: KafkaProducer) -> None:
        with self._lock:
            if self._producer is producer:
                self._producer = None
        try:
            producer.close(timeout=0)
        except Exception as exc:
            log.debug("closing a failed producer: %s", exc)

    def deliver(self, records: Sequence[Record]) -> None:
        """Send and wait until the broker acknowledged every record; raise NotAcknowledged."""
        deadline = time.monotonic() + self.ack_timeout
        try:
            producer = self._current()
        except Exception as exc:
            self._healthy = False
            raise NotAcknowledged(f"cannot reach Kafka at {self.bootstrap}: {exc}") from None
        try:
            futures = [producer.send(self.topic, value=v, key=spread(v, k, h),
                                     headers=signed(self.signer, v, h))
                       for v, k, h in records]
            for future in futures:
                meta = future.get(timeout=max(0.1, deadline - time.monotonic()))
                if not stored(meta):  # acknowledged without an offset: not proof (kafka_config)
                    raise UnconfirmedWrite("the broker acknowledged a record without an offset")
        except Exception as exc:
            self._healthy = False
            self._discard(producer)
            raise NotAcknowledged(f"{type(exc).__name__}: {exc}") from None
        self._healthy = True

    def ready(self) -> bool:
        """The last delivery (if any) succeeded and a bootstrap broker accepts connections."""
        if not self._healthy and self._producer is None:
            try:
                self._current()
            except Exception:
                return False
        for host_port in self.bootstrap.split(","):
            host, _, port = host_port.strip().rpartition(":")
            try:
                with socket.create_connection((host.strip("[]"), int(port)), timeout=1.0):
                    return True
            except (OSError, ValueError):
                continue
        return False

    def close(self) -> None:
        with self._lock:
            producer, self._producer = self._producer, None
        if producer is not None:
            producer.close(timeout=5)
