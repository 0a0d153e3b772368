"""A worker's batches close as soon as a quiet stream has nothing more, widen under load,
never grow far past their size, lose or repeat no record (stream_processors/batching.py);
its consumer hands them over with Faust's bookkeeping, acks them only after they were
handled, forgets a batch whose handler failed (stream_processors/batch_drain.py) and
fetches with a short wait (stream_processors/fetch_wait.py). No broker: fetches are
scripted on a virtual clock, and the consumer is Faust's, never started."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from typing import Any

import faust
import pytest
from faust.transport.drivers import aiokafka as faust_aiokafka
from faust.types import TP, Message

from tahawul.stream_processors.batch_drain import BatchConsumer, Drain, Transport, install
from tahawul.stream_processors.batching import gather
from tahawul.stream_processors.fetch_wait import WORKER_FETCH_WAIT_MS
from tahawul.stream_processors.linger import Linger

NOWHERE = "kafka://127.0.0.1:9"  # never connected to


class Arrivals:
    """Records arriving at given (virtual) times, fetched as a consumer would: a fetch
    returns at once what has arrived, else waits for the next arrival up to its timeout,
    and brings at most ``per_fetch`` records."""

    def __init__(self, at: list[float], per_fetch: int = 1000) -> None:
        self.at = at
        self.next = 0
        self.now = 0.0
        self.per_fetch = per_fetch
        self.fetches: list[float] = []  # the timeout of each fetch

    def clock(self) -> float:
        return self.now

    async def take(self, timeout: float, into: list[int]) -> None:
        self.fetches.append(timeout)
        if self.next >= len(self.at):
            self.now += timeout
            return
        if self.at[self.next] > self.now:
            self.now = min(self.at[self.next], self.now + timeout)
        got = 0
        while self.next < len(self.at) and self.at[self.next] <= self.now and got < self.per_fetch:
            into.append(self.next)
            self.next += 1
            got += 1

    def batches(self, max_records: int, window: Linger, quiet: float,
                handle_seconds: float = 0.0) -> list[tuple[float, list[int]]]:
        """Every batch gather makes of the arrivals, with the virtual time it closed."""
        out: list[tuple[float, list[int]]] = []

        async def run() -> None:
            while self.next < len(self.at):
                batch = await gather(self.take, max_records, window, quiet, idle=1.0,
                                     clock=self.clock)
                if batch:
                    out.append((self.now, batch))
                    self.now += handle_seconds
                    window.wrote(handle_seconds)

        asyncio.run(run())
        return out


def test_a_quiet_stream_is_handled_at_once_not_after_the_most_a_batch_may_wait() -> None:
    # Batches may stay open 5 s, but handling takes no time, so each closes at once.
    arrivals = Arrivals([i * 0.05 for i in range(6)])
    got = arrivals.batches(100, Linger(ratio=1.0, most=5.0), quiet=1.0)
    assert [b for _, b in got] == [[i] for i in range(6)]
    assert all(closed == pytest.approx(i * 0.05) for i, (closed, _) in enumerate(got))
    assert Linger(ratio=0.0, most=5.0).seconds() == 0.0


def test_under_load_a_batch_stays_open_as_long_as_the_previous_one_took() -> None:
    window = Linger(ratio=1.0, most=5.0)
    window.wrote(1.5)  # the previous batch took 1.5 s to handle
    arrivals = Arrivals([i * 0.1 for i in range(10)] + [3.0])
    got = arrivals.batches(100, window, quiet=1.0, handle_seconds=1.5)
    # all that arrived within 1.5 s of the first in one batch, the late one in its own
    assert [b for _, b in got] == [list(range(10)), [10]]


def test_a_batch_closes_once_nothing_more_came_for_the_quiet_time() -> None:
    window = Linger(ratio=1.0, most=5.0)
    window.wrote(5.0)  # it could stay open 5 s
    arrivals = Arrivals([0.0, 0.0, 0.0, 1.5, 1.5, 1.5])
    got = arrivals.batches(100, window, quiet=0.2, handle_seconds=0.0)
    assert [b for _, b in got] == [[0, 1, 2], [3, 4, 5]]
    assert got[0][0] == pytest.approx(0.2)  # closed after the quiet time, not the 5 s window


def test_a_batch_closes_at_its_size_and_every_record_comes_once_in_order() -> None:
    window = Linger(ratio=1.0, most=5.0)
    window.wrote(5.0)  # wide open: only the size closes a batch
    arrivals = Arrivals([0.0] * 12, per_fetch=3)
    got = arrivals.batches(4, window, quiet=1.0, handle_seconds=5.0)
    assert [b for _, b in got] == [[0, 1, 2, 3, 4, 5], [6, 7, 8, 9, 10, 11]]  # 3 + 3 >= 4
    assert [v for _, b in got for v in b] == list(range(12))


def test_an_idle_fetch_gives_an_empty_batch_so_the_worker_can_look_at_stopping() -> None:
    arrivals = Arrivals([])
    assert asyncio.run(gather(arrivals.take, 10, Linger(1.0, 0.3), 0.01, idle=1.0,
                              clock=arrivals.clock)) == []
    assert arrivals.fetches == [1.0]


def message(partition: int, offset: int, topic: str = "tx") -> Message:
    return Message(topic, partition, offset, 0.0, 0, None, None, b"v", None,
                   tp=TP(topic, partition))


class Stopped:
    """A stand-in for Faust's fetcher service: the drain loop runs until it is stopped."""

    def __init__(self) -> None:
        self._stopped = asyncio.Event()


def drained(fetches: list[list[Message]], handle: Any, max_records: int = 100
            ) -> tuple[BatchConsumer, list[list[tuple[int, int, bool]]], BaseException | None]:
    """Run a worker consumer's drain loop over scripted fetches (it stops after the last),
    with ``handle`` called on each batch: the consumer, what each batch held when handed
    over (partition, offset, acked), and what the loop raised."""
    app = faust.App("t-drain", broker=NOWHERE, web_enabled=False)
    topic = app.topic("tx", value_type=bytes, value_serializer="raw")
    seen: list[list[tuple[int, int, bool]]] = []
    fetcher = Stopped()
    script = list(fetches)
    raised: list[BaseException] = []

    async def handled(batch: list[Message]) -> None:
        seen.append([(m.partition, m.offset, m.acked) for m in batch])
        if not script:
            fetcher._stopped.set()
        await handle(consumer, batch)

    async def getmany(timeout: float) -> AsyncIterator[tuple[TP, Message]]:
        for m in script.pop(0) if script else []:
            yield m.tp, m

    async def run() -> None:
        conductor: Any = app.topics
        await conductor._update_indices()  # what subscribing does: acks enabled for tx
        consumer.getmany = getmany  # type: ignore[method-assign]
        try:
            await consumer._drain_messages(fetcher)  # type: ignore[arg-type]
        except Exception as exc:
            raised.append(exc)

    consumer = install(app, topic, Drain(handled, max_records, Linger(0.0, 1.0), 0.01))
    asyncio.run(run())
    return consumer, seen, raised[0] if raised else None


async def ack(consumer: BatchConsumer, batch: list[Message]) -> None:
    consumer.ack_all(batch)


def test_the_drain_hands_a_fetch_over_whole_and_acks_it_only_after_the_handler() -> None:
    fetches = [[message(0, 0), message(1, 0), message(0, 1)], [message(0, 2), message(1, 1)]]
    consumer, seen, raised = drained(fetches, ack)
    assert raised is None
    assert seen == [[(0, 0, False), (1, 0, False), (0, 1, False)], [(0, 2, False), (1, 1, False)]]
    assert not consumer.unacked
    assert consumer._new_offset(TP("tx", 0)) == 3  # the offsets Faust will commit
    assert consumer._new_offset(TP("tx", 1)) == 2
    # Faust's check of the event path sees both partitions processed (else it logs errors)
    assert set(consumer.app.monitor.stream_inbound_time) == {TP("tx", 0), TP("tx", 1)}


def test_the_drain_drops_what_it_already_read_and_lets_commits_pass_a_gap() -> None:
    # 2-4 never come (transaction markers, compaction); 0 comes again (a fetch from before
    # a seek) and is dropped, as Faust's own loop drops it
    fetches = [[message(0, 0), message(0, 1)], [message(0, 0), message(0, 5)]]
    consumer, seen, raised = drained(fetches, ack)
    assert raised is None
    assert seen == [[(0, 0, False), (0, 1, False)], [(0, 5, False)]]
    assert consumer._new_offset(TP("tx", 0)) == 6


def test_a_record_after_a_gap_is_not_committed_before_it_is_acked() -> None:
    # The worker acks batches out of order: here offset 5 (just after a gap) never is,
    # and 6 is. Faust's own loop counts 5 in the gap, which would commit 7 (5 as done).
    async def all_but_5(consumer: BatchConsumer, batch: list[Message]) -> None:
        consumer.ack_all([m for m in batch if m.offset != 5])

    fetches = [[message(0, 0), message(0, 1)], [message(0, 5)], [message(0, 6)]]
    consumer, _, raised = drained(fetches, all_but_5)
    assert raised is None
    assert consumer._new_offset(TP("tx", 0)) == 5  # 0-4 done (2-4 the gap), 5 read again


def test_a_batch_whose_handler_fails_is_not_acked_and_not_waited_for() -> None:
    async def fail(consumer: BatchConsumer, batch: list[Message]) -> None:
        consumer.ack(batch[0])  # the first was handled, the second was not
        raise RuntimeError("broker gone")

    consumer, seen, raised = drained([[message(0, 0), message(0, 1)]], fail)
    assert isinstance(raised, RuntimeError)
    assert seen == [[(0, 0, False), (0, 1, False)]]
    assert not consumer.unacked  # Faust's stop and rebalance do not wait for offset 1
    assert consumer._new_offset(TP("tx", 0)) == 1  # only what was acked may be committed


def test_the_worker_consumer_fetches_with_a_short_wait() -> None:
    app = faust.App("t-fetch-wait", broker=NOWHERE, web_enabled=False)
    install(app, app.topic("tx", value_type=bytes, value_serializer="raw"),
            Drain(ack, 100, Linger(0.0, 1.0), 0.01))
    assert isinstance(app.transport, Transport)

    async def made() -> tuple[int, int]:
        consumer: Any = app.consumer
        transport: Any = app.transport
        ours = consumer._new_consumer_thread()._create_worker_consumer(transport)
        faust_own = faust_aiokafka.AIOKafkaConsumerThread(consumer, loop=consumer.loop,
                                                           beacon=consumer.beacon)
        theirs = faust_own._create_worker_consumer(transport)
        return ours._fetch_max_wait_ms, theirs._fetch_max_wait_ms

    ours, theirs = asyncio.run(made())
    assert ours == WORKER_FETCH_WAIT_MS == 50
    assert theirs == 1500  # Faust's fixed wait, which Tansu waits out when nothing is new


@pytest.mark.parametrize("ratio,took,most,expected", [(1.0, 0.004, 0.3, 0.004), (1.0, 2.0, 0.3, 0.3),
                                                      (2.0, 0.1, 0.3, 0.2)])
def test_the_window_is_ratio_times_the_last_batch_bounded(ratio: float, took: float, most: float,
                                                          expected: float) -> None:
    window = Linger(ratio=ratio, most=most)
    window.wrote(took)
    assert window.seconds() == pytest.approx(expected)
