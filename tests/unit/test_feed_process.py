"""The feed process of `tahawul up --simulate` (tahawul.runtime.feed_process) sends what the
feed thread sent: the same events in the same batched, signed records, keyed by the same
rules (producers/partition_keys.py), every event it counts as fed, also after a stop."""

from __future__ import annotations

import threading
from collections import namedtuple
from typing import Any

from tahawul.producers.kafka_sender import EventSender
from tahawul.producers.partition_keys import entity_of
from tahawul.runtime.feed_process import SimulationSpec, send_batched
from tahawul.runtime.feeds import send_feed
from tahawul.runtime.local import Run
from tahawul.schemas.batch import BATCH_FORMAT
from tahawul.schemas.headers import BATCH_HEADER, SIGNATURE_HEADER

Meta = namedtuple("Meta", "partition offset")
Record = tuple[bytes, bytes | None, tuple[str, ...]]


class Future:
    def __init__(self, producer: Producer) -> None:
        self.producer = producer

    def add_callback(self, fn: Any) -> Future:
        self.producer.offset += 1
        fn(Meta(0, self.producer.offset))  # acknowledged at once
        return self

    def add_errback(self, fn: Any) -> Future:
        return self


class Producer:
    """Records what is sent, in order, and acknowledges each at the next offset."""

    def __init__(self) -> None:
        self.sent: list[tuple[bytes, bytes | None, list[tuple[str, bytes]]]] = []
        self.offset = -1

    def send(self, topic: str, value: bytes, key: bytes | None, headers: Any) -> Future:
        self.sent.append((value, key, list(headers or [])))
        return Future(self)

    def flush(self, timeout: float | None = None) -> None:
        pass

    def close(self) -> None:
        pass

    def records(self) -> list[Record]:
        """What was sent, with a batch's random key suffix (ENTITY/batch-<hex>) left out."""
        out: list[Record] = []
        for value, key, headers in self.sent:
            if key is not None and b"/batch-" in key:
                key = entity_of(key) + b"/batch"  # type: ignore[operator]
            out.append((value, key, tuple(name for name, _ in headers)))
        return out


def sign(key: bytes | None, value: bytes) -> bytes:
    return b"signed-by-" + (entity_of(key) or b"")


def events_in(producer: Producer) -> int:
    return sum(value.count(b"\n") + 1 for value, _, _ in producer.sent)


def test_the_same_records_as_the_batching_sender_of_the_feed_thread() -> None:
    spec = SimulationSpec("oman-2024", 0.002, 3, duplicates=0.02, invalid=0.02)
    threaded, inline = Producer(), Producer()
    run_threaded, run_inline = Run(), Run()
    send_feed(EventSender("unused:9092", "tx", producer=threaded, batch_events=500, sign=sign), spec(),
              run_threaded)
    send_batched(EventSender("unused:9092", "tx", producer=inline, sign=sign), spec.lines(), run_inline)

    assert inline.records() == threaded.records()
    assert run_inline.fed == run_threaded.fed == events_in(inline)
    assert run_inline.feed_done and run_inline.feed_error is None
    assert run_inline.acked == {0: len(inline.sent) - 1}
    # Batched, signed once a record by its entity: hundreds of events a record.
    batches = [(v, k, h) for v, k, h in inline.sent if (BATCH_HEADER, BATCH_FORMAT) in h]
    assert len(inline.sent) < run_inline.fed / 100
    assert all((SIGNATURE_HEADER, b"signed-by-" + (entity_of(k) or b"")) in h for _, k, h in batches)
    assert max(v.count(b"\n") + 1 for v, _, _ in batches) == 500


def test_a_stop_sends_every_event_it_counted_as_fed_and_no_more() -> None:
    spec = SimulationSpec("oman-2024", 0.01, 3)
    producer = Producer()
    run = Run()
    stop = threading.Event()
    sender = EventSender("unused:9092", "tx", producer=producer, sign=sign)

    def stopping_lines() -> Any:
        for n, line in enumerate(spec.lines()):
            if n == 12_345:
                stop.set()
            yield line

    send_batched(sender, stopping_lines(), run, stop)
    assert run.feed_done
    assert 12_345 <= run.fed < 14_000  # stops at the next check (every LAG_CHECK_EVERY events)
    assert events_in(producer) == run.fed  # the pending batches went out too


def test_the_spec_is_the_feed_process_command_line() -> None:
    spec = SimulationSpec("oman-2025-h1", 0.05, 11, 0.01, 0.02, True, 0.1)
    assert SimulationSpec.from_json(spec.to_json()) == spec
