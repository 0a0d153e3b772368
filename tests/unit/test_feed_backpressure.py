"""The feed of `tahawul up --simulate` waits while it is too far ahead of the counting writer
(tahawul.runtime.feeds.wait_for_room): what is sent and not yet counted is bounded, so no
record waits in the producer's buffer long enough to expire."""

from __future__ import annotations

import threading
from collections import namedtuple
from typing import Any

from tahawul.producers.kafka_sender import EventSender
from tahawul.runtime.feeds import records_ahead, send_feed
from tahawul.runtime.local import Run

Meta = namedtuple("Meta", "partition offset")


class Future:
    def __init__(self) -> None:
        self.callbacks: list[Any] = []

    def add_callback(self, fn: Any) -> Future:
        self.callbacks.append(fn)
        return self

    def add_errback(self, fn: Any) -> Future:
        return self


class Broker:
    """A producer that acknowledges each record at the next offset of partition 0 when told."""

    def __init__(self) -> None:
        self.pending: list[Future] = []
        self.offset = -1

    def send(self, topic: str, value: bytes, key: bytes | None, headers: Any) -> Future:
        future = Future()
        self.pending.append(future)
        return future

    def ack(self, n: int) -> None:
        for future in self.pending[:n]:
            self.offset += 1
            for fn in future.callbacks:
                fn(Meta(0, self.offset))
        del self.pending[:n]

    def flush(self, timeout: float | None = None) -> None:
        self.ack(len(self.pending))

    def close(self) -> None:
        pass


def test_records_ahead_counts_unacknowledged_and_uncounted_records() -> None:
    broker = Broker()
    sender = EventSender("unused:9092", "tx", producer=broker)
    run = Run()
    for i in range(10):
        sender.send(b"%d" % i, b"ROP")
    assert records_ahead(sender, run) == 10  # none acknowledged
    broker.ack(6)  # offsets 0..5 stored
    assert records_ahead(sender, run) == 4 + 6
    run.progress = {("tx", 0): 2, ("other", 0): 99}  # offsets 0..2 applied; another topic ignored
    assert records_ahead(sender, run) == 4 + 3
    run.progress = {("tx", 0): 5}
    assert records_ahead(sender, run) == 4


def test_the_feed_stops_at_the_bound_until_the_writer_catches_up() -> None:
    broker = Broker()
    sender = EventSender("unused:9092", "tx", producer=broker)
    run = Run()
    feed = ((b"%d" % i, b"ROP", [("source", b"x")]) for i in range(5000))
    thread = threading.Thread(target=send_feed, args=(sender, feed, run, None, 1500), daemon=True)
    thread.start()
    # Checked every 1,000 events: it sends 2,000 and then waits (2,000 ahead > 1,500), until
    # the broker stores them and the writer applies them; then the same for the next 2,000.
    for waits_at in (2000, 4000):
        while run.fed < waits_at:
            thread.join(0.01)
        thread.join(0.5)
        assert thread.is_alive() and run.fed == waits_at
        broker.ack(len(broker.pending))
        with run.lock:
            run.progress = {("tx", 0): broker.offset}  # the writer applied all of it
    thread.join(10)
    assert not thread.is_alive() and run.feed_done and run.feed_error is None
    assert run.fed == 5000 and sender.acked == {0: 4999}
