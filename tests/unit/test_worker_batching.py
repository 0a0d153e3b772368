"""A worker's batches close as soon as a quiet stream has nothing more, widen under load,
never exceed their size, lose or repeat no record, and are acknowledged only after they were
handled (stream_processors/batching.py); its consumer fetches with a short wait
(stream_processors/fetch_wait.py). Driven through Faust's own agent test context (in memory,
no broker)."""

from __future__ import annotations

import asyncio
import time
from typing import Any

import faust
import pytest
from faust.transport.drivers import aiokafka as faust_aiokafka

from tahawul.stream_processors.batching import take_batches
from tahawul.stream_processors.fetch_wait import WORKER_FETCH_WAIT_MS, Transport, use_short_fetch_wait
from tahawul.stream_processors.linger import Linger

NOWHERE = "kafka://127.0.0.1:9"  # never connected to: the test context feeds the agent


class Batches:
    """An agent taking batches of at most ``max_records`` with ``window``, recording each
    batch (values, when it was handed over, whether any of its records was acked then),
    taking ``handle_seconds`` to handle each."""

    def __init__(self, max_records: int, window: Linger, handle_seconds: float = 0.0,
                 quiet: float = 1.0) -> None:
        self.app = faust.App("t-batching", broker=NOWHERE, web_enabled=False)
        self.got: list[tuple[list[Any], float, bool]] = []

        @self.app.agent()
        async def agent(stream: faust.StreamT) -> None:
            async for batch in take_batches(stream, max_records, window, quiet):
                started = time.monotonic()
                acked = any(e.message.acked for e in batch)
                self.got.append(([e.value for e in batch], started, acked))
                self.messages.extend(e.message for e in batch)
                await asyncio.sleep(handle_seconds)
                window.wrote(time.monotonic() - started)

        self.agent: Any = agent
        self.messages: list[Any] = []

    def run(self, values: list[int], gap: float, after: float) -> dict[int, float]:
        """Put ``values`` ``gap`` seconds apart, wait ``after`` seconds; when each was put."""
        put: dict[int, float] = {}

        async def main() -> None:
            async with self.agent.test_context() as agent:
                for value in values:
                    put[value] = time.monotonic()
                    await agent.put(value)
                    await asyncio.sleep(gap)
                deadline = time.monotonic() + after
                while sum(len(v) for v, _, _ in self.got) < len(values) and time.monotonic() < deadline:
                    await asyncio.sleep(0.01)

        asyncio.run(main())
        return put

    def run_with(self, put: Any, count: int, after: float) -> None:
        """Feed the agent with ``put(agent)``, then wait up to ``after`` s for ``count`` values."""

        async def main() -> None:
            async with self.agent.test_context() as agent:
                await put(agent)
                deadline = time.monotonic() + after
                while sum(len(v) for v, _, _ in self.got) < count and time.monotonic() < deadline:
                    await asyncio.sleep(0.01)

        asyncio.run(main())

    def values(self) -> list[int]:
        return [v for batch, _, _ in self.got for v in batch]


def test_a_quiet_stream_is_handled_at_once_not_after_the_most_a_batch_may_wait() -> None:
    # Batches may stay open 5 s, but handling takes no time, so each closes at once.
    batches = Batches(100, Linger(ratio=1.0, most=5.0))
    put = batches.run(list(range(6)), gap=0.05, after=10)
    assert batches.values() == list(range(6))
    handed = {v: at for vs, at, _ in batches.got for v in vs}
    assert max(handed[v] - put[v] for v in put) < 1.0
    assert Linger(ratio=0.0, most=5.0).seconds() == 0.0


def test_under_load_a_batch_stays_open_as_long_as_the_previous_one_took() -> None:
    window = Linger(ratio=1.0, most=5.0)
    window.wrote(1.5)  # the previous batch took 1.5 s to handle
    batches = Batches(100, window, handle_seconds=0.0)
    batches.run(list(range(10)), gap=0.01, after=10)
    assert [v for v, _, _ in batches.got] == [list(range(10))]  # one batch: all arrived within 1.5 s


def test_a_batch_closes_once_nothing_more_came_for_the_quiet_time() -> None:
    window = Linger(ratio=1.0, most=5.0)
    window.wrote(5.0)  # it could stay open 5 s
    batches = Batches(100, window, quiet=0.2)

    async def bursts(agent: Any) -> None:
        for value in range(3):
            await agent.put(value)
        await asyncio.sleep(1.5)  # quiet: the first burst goes on
        for value in range(3, 6):
            await agent.put(value)

    batches.run_with(bursts, 6, after=10)
    assert [v for v, _, _ in batches.got] == [[0, 1, 2], [3, 4, 5]]
    assert batches.got[1][1] - batches.got[0][1] < 4.0  # not held for the 5 s window


def test_batches_hold_at_most_max_records_each_record_once_in_order_acked_after_handling() -> None:
    window = Linger(ratio=1.0, most=5.0)
    window.wrote(5.0)  # wide open: only the size closes a batch
    batches = Batches(4, window, handle_seconds=0.02)
    batches.run(list(range(12)), gap=0.0, after=10)
    assert [v for v, _, _ in batches.got] == [[0, 1, 2, 3], [4, 5, 6, 7], [8, 9, 10, 11]]
    assert not any(acked for _, _, acked in batches.got)  # none acked while being handled
    assert all(m.acked for m in batches.messages)  # all acked once handled


def test_the_worker_consumer_fetches_with_a_short_wait() -> None:
    app = faust.App("t-fetch-wait", broker=NOWHERE, web_enabled=False)
    use_short_fetch_wait(app)
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
