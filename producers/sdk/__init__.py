"""The tahawul Python SDK: send contract-v1 events to the pipeline without losing any.

See :mod:`producers.sdk.client` for how, and docs/producers.md for an example.
"""

from tahawul.producers.sdk.client import BatchRejected, Producer, ProducerClosed, Rejection
from tahawul.producers.sdk.spool import SpoolError, SpoolFull, SpoolLocked
from tahawul.schemas.event import InvalidEvent

__all__ = [
    "BatchRejected",
    "InvalidEvent",
    "Producer",
    "ProducerClosed",
    "Rejection",
    "SpoolError",
    "SpoolFull",
    "SpoolLocked",
]
