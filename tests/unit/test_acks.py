"""An acknowledgement without an offset is not proof the record is stored
(tahawul.producers.kafka_config)."""

from __future__ import annotations

from collections import namedtuple
from typing import Any

from tahawul.producers.kafka_config import stored
from tahawul.producers.kafka_sender import EventSender

Meta = namedtuple("Meta", "partition offset")


def test_only_an_offset_proves_storage() -> None:
    assert stored(Meta(0, 0))
    assert stored(Meta(3, 41))
    assert not stored(Meta(3, -1))
    assert not stored(None)


class FakeFuture:
    def __init__(self, meta: Meta) -> None:
        self.meta = meta
        self.callbacks: list[Any] = []

    def add_callback(self, fn: Any) -> FakeFuture:
        self.callbacks.append(fn)
        return self

    def add_errback(self, fn: Any) -> FakeFuture:
        return self


class FlakyProducer:
    """Acknowledges the first send of every record with offset -1, later ones properly."""

    def __init__(self) -> None:
        self.sent: list[bytes] = []
        self.pending: list[FakeFuture] = []

    def send(self, topic: str, value: bytes, key: bytes | None, headers: Any) -> FakeFuture:
        first = value not in self.sent
        self.sent.append(value)
        future = FakeFuture(Meta(0, -1 if first else len(self.sent)))
        self.pending.append(future)
        return future

    def flush(self, timeout: float | None = None) -> None:
        pending, self.pending = self.pending, []
        for future in pending:
            for fn in future.callbacks:
                fn(future.meta)


def test_sender_resends_what_was_acknowledged_without_an_offset() -> None:
    producer = FlakyProducer()
    sender = EventSender("unused:9092", "t", producer=producer)
    for v in (b"a", b"b", b"c"):
        sender.send(v, b"k")
    sender.flush()
    assert producer.sent == [b"a", b"b", b"c", b"a", b"b", b"c"]
    assert (sender.acked_count, sender.unconfirmed) == (3, 3)
    assert sender.acked == {0: 6}
