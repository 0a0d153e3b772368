"""What counts as a broker acknowledgement that the record is stored.

kafka-python reports success with offset -1 when the broker answers a produce request with
DUPLICATE_SEQUENCE_NUMBER (the idempotent producer's "already have it"). After a SIGKILL and
restart on durable storage, Tansu was seen answering so for batches it had NOT kept: 58 of
35,141 events acknowledged with offset -1 were missing from the topic. So every producer in
tahawul treats an acknowledgement without an offset as a failed delivery and sends the event
again; a resend that was in fact stored costs nothing, because the pipeline counts each
event_id once.
"""

from __future__ import annotations

from typing import Any


class UnconfirmedWrite(RuntimeError):
    """The broker acknowledged a record without saying where it stored it."""


def stored(metadata: Any) -> bool:
    """True when the acknowledgement names the offset the record was stored at."""
    return metadata is not None and getattr(metadata, "offset", -1) >= 0
