"""The tahawul Python SDK: send contract-v1 events to the pipeline without losing any.

Integrating teams import it as ``from tahawul.sdk import Producer`` (:mod:`tahawul.sdk`, the
stable public name of this package). See :mod:`tahawul.producers.sdk.client` for how, and
docs/producers.md for an example.
"""

from tahawul.kafka_security import KafkaSecurity
from tahawul.producers.sdk.client import BatchRejected, Producer, ProducerClosed, Rejection
from tahawul.producers.sdk.spool import SpoolError, SpoolFull, SpoolLocked
from tahawul.schemas.event import InvalidEvent
from tahawul.schemas.signing import SigningKey

__all__ = [
    "BatchRejected",
    "InvalidEvent",
    "KafkaSecurity",
    "Producer",
    "ProducerClosed",
    "Rejection",
    "SigningKey",
    "SpoolError",
    "SpoolFull",
    "SpoolLocked",
]
