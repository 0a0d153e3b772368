"""How every tahawul producer writes to Kafka: one producer configuration, one acknowledgement rule.

The SDK (:mod:`tahawul.producers.sdk.client`), the HTTP gateway
(:mod:`tahawul.producers.gateway.delivery`) and the file and simulator sender
(:mod:`tahawul.producers.kafka_sender`) all promise that an event they report delivered is
stored, once per partition and in order. That promise rests on the same kafka-python
settings, kept here once; what legitimately differs between them (how long a record may
take, the client id, how large a record may be) is a parameter.

The acknowledgement rule: kafka-python reports success with offset -1 when the broker
answers a produce request with DUPLICATE_SEQUENCE_NUMBER (the idempotent producer's "already
have it"). After a SIGKILL and restart on durable storage, Tansu was seen answering so for
batches it had NOT kept: 58 of 35,141 events acknowledged with offset -1 were missing from
the topic. So every producer in tahawul treats an acknowledgement without an offset as a
failed delivery and sends the event again; a resend that was in fact stored costs nothing,
because the pipeline counts each event_id once.

Only kafka-python is needed here: the SDK imports this module.
"""

from __future__ import annotations

from typing import Any, Final

from tahawul.kafka_security import PLAINTEXT, KafkaSecurity

# Reconnect attempts of a producer bounded in time back off to at most this (kafka-python's
# default is 30 s): after a broker outage it must be sending again well within its bound.
BOUNDED_RECONNECT_BACKOFF_MAX_MS: Final = 2000


def producer_config(
    bootstrap: str,
    *,
    linger_ms: int,
    client_id: str | None = None,
    max_request_size: int | None = None,
    delivery_timeout_ms: int | None = None,
    request_timeout_ms: int | None = None,
    max_block_ms: int | None = None,
    bootstrap_timeout_ms: int | None = None,
    security: KafkaSecurity = PLAINTEXT,
) -> dict[str, Any]:
    """The keyword arguments of a ``KafkaProducer`` that stores every record once and in order.

    Always: ``acks=all`` (every in-sync replica has the record before it counts as
    delivered), idempotence (a retry never duplicates or reorders a record within a
    partition), retries until ``delivery_timeout_ms`` says stop, five requests in flight
    (the most idempotence keeps in order) and 256 KiB batches.

    Each argument left None keeps kafka-python's default. ``delivery_timeout_ms`` bounds
    how long a record may take before it is reported failed; a producer given a bound also
    reconnects quickly after a broker outage (:data:`BOUNDED_RECONNECT_BACKOFF_MAX_MS`).
    ``security`` says how to log in and check the brokers' certificates (the settings'
    :meth:`~tahawul.settings.Settings.kafka_security`).
    """
    config: dict[str, Any] = dict(
        bootstrap_servers=bootstrap,
        acks="all",
        enable_idempotence=True,
        retries=2**31 - 1,
        max_in_flight_requests_per_connection=5,
        linger_ms=linger_ms,
        batch_size=256 * 1024,
    )
    optional = dict(
        client_id=client_id,
        max_request_size=max_request_size,
        delivery_timeout_ms=delivery_timeout_ms,
        request_timeout_ms=request_timeout_ms,
        max_block_ms=max_block_ms,
        reconnect_backoff_max_ms=None if delivery_timeout_ms is None else BOUNDED_RECONNECT_BACKOFF_MAX_MS,
        bootstrap_timeout_ms=bootstrap_timeout_ms,
    )
    config.update((name, value) for name, value in optional.items() if value is not None)
    config.update(security.client_options())
    return config


class UnconfirmedWrite(RuntimeError):
    """The broker acknowledged a record without saying where it stored it."""


def stored(metadata: Any) -> bool:
    """True when the acknowledgement names the offset the record was stored at (the module
    docstring says why an acknowledgement without one is a failed delivery)."""
    return metadata is not None and getattr(metadata, "offset", -1) >= 0
