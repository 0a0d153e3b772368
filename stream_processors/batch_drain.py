"""The worker's consumer: Faust's, handing each fetched batch of records to the worker at
once instead of one record at a time through a stream.

Faust's fetcher loop (``Consumer._drain_messages``, faust-streaming 0.15) passes every
record to the conductor in a task of its own (``wait_first`` on the callback and on the
flow's suspension), the conductor wraps it in an ``Event`` and queues it to the agent's
channel, and the agent's stream takes it off the queue, runs its processors and acks it:
about 120 us of CPU a record here, which the worker paid on top of the 60 us an Ed25519
signature takes to verify, so with one event per record it could never reach a bare Faust
agent's rate (docs/performance.md). Here the same loop gathers records with Faust's own
``getmany`` (a batch: ``batching.gather``), keeps Faust's bookkeeping of each record (read
offsets, offset gaps, ``track_message``) and awaits the worker's handler with the whole
batch. The handler acks each record through ``Consumer.ack`` only after its envelopes were
acknowledged by the broker, and Faust commits acked offsets exactly as before: the group
membership, the rebalance handling (stop the flow, wait until every tracked record is
acked, commit), the commit interval and the security settings all stay Faust's.

A handler that raises (or is cancelled by a stop) acks nothing; its records are then
forgotten by the consumer (not acked, so never committed) so that Faust's stop does not wait
for them for ever: the next owner of their partitions reads them again. (The worker's
handler ends the process instead, so that the stop's exit code says a batch was abandoned.)"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from time import monotonic
from typing import cast

import faust
from faust.transport.drivers import aiokafka as faust_aiokafka
from faust.types import Message
from mode import Service, ServiceT

from tahawul.stream_processors import fetch_wait
from tahawul.stream_processors.batching import gather
from tahawul.stream_processors.linger import Linger

# The most a fetch waits for a first record when the worker has nothing to do (Faust's own
# loop uses the same second): how often an idle worker looks at whether it should stop.
IDLE_FETCH_SECONDS = 1.0

Handler = Callable[[list[Message]], Awaitable[None]]


@dataclass
class Drain:
    """What the worker's consumer does with fetched records: ``handle`` each batch of at
    least one and about ``max_records`` records (a fetch may bring more than the rest of a
    batch needs), gathered over ``window`` and closed early after ``quiet`` seconds without
    a record (batching.gather)."""

    handle: Handler
    max_records: int
    window: Linger
    quiet: float


class BatchConsumer(fetch_wait.ShortWaitConsumer):
    """Faust's aiokafka consumer (with the worker's short fetch wait) whose fetcher hands
    batches to ``drain.handle``; without a drain it is Faust's consumer unchanged."""

    drain: Drain | None = None

    async def _drain_messages(self, fetcher: ServiceT) -> None:
        drain = self.drain
        if drain is None:
            await super()._drain_messages(fetcher)
            return
        consumer_stopped = cast(Service, self)._stopped.is_set
        inbound = self.app.monitor.stream_inbound_time
        fetcher_stopped = cast(Service, fetcher)._stopped.is_set
        try:
            while not (consumer_stopped() or fetcher_stopped()):
                batch = await gather(self._take, drain.max_records, drain.window, drain.quiet,
                                     idle=IDLE_FETCH_SECONDS)
                if not batch:
                    continue
                # What Faust's streams tell its monitor: these partitions are being processed.
                # (Its check of the event path otherwise logs, for every partition with
                # records waiting, that "Stream has not started processing" it.)
                now = monotonic()
                for tp in {message.tp for message in batch}:
                    inbound[tp] = now
                try:
                    await drain.handle(batch)
                except BaseException:
                    self.forget(batch)
                    raise
                commit_every = self._commit_every
                if commit_every is not None and self._n_acked >= commit_every:
                    self._n_acked = 0
                    await self.commit()
        except self.consumer_stopped_errors:
            if self.transport.app.should_stop:
                return
            raise
        except asyncio.CancelledError:
            raise
        except Exception as exc:  # as Faust's own loop: said, then the fetcher crashes
            self.log.exception("Drain messages raised: %r", exc)
            raise

    async def _take(self, timeout: float, into: list[Message]) -> None:
        """Append what one fetch brings (waiting at most ``timeout`` seconds for it) to
        ``into``, with Faust's bookkeeping of each record as its own fetcher loop does it:
        a record below the partition's read offset (a fetch from before a seek) is dropped,
        the offsets a jump skips are recorded as a gap that commits may pass over
        (compaction, transaction markers), and each record is tracked as pending until
        acked."""
        await self.sleep(0)
        if self.should_stop:
            return
        read_offset = self._read_offset
        acks_enabled_for = self.app.topics.acks_enabled_for
        track = self.track_message
        async for tp, message in self.getmany(timeout=timeout):
            offset = message.offset
            last = read_offset[tp]
            if last is not None and offset < last:
                continue
            if last and offset - last > 1 and acks_enabled_for(message.topic):
                # The offsets between, not this one: Faust's own loop passes ``offset`` as the
                # gap's end, which counts this record as done once any later one is acked,
                # and the worker's batches may be acked out of order (at most
                # PIPELINED_BATCHES apart).
                await self._add_gap(tp, last + 1, offset - 1)
            read_offset[tp] = offset
            track(message)
            into.append(message)

    def ack_all(self, batch: list[Message]) -> None:
        """Ack a handled batch: Faust may now commit its offsets."""
        ack = self.ack
        for message in batch:
            ack(message)

    def forget(self, batch: list[Message]) -> None:
        """Stop tracking records that will not be acked (their handler was cancelled or
        failed): they are not committed, and Faust's stop and rebalance stop waiting for
        them."""
        unacked = self._unacked_messages
        for message in batch:
            if not message.acked:
                unacked.discard(message)


class Transport(faust_aiokafka.Transport):
    """The worker's transport: Faust's aiokafka transport with :class:`BatchConsumer`."""

    Consumer = BatchConsumer


def install(app: faust.App, topic: faust.TopicT, drain: Drain) -> BatchConsumer:
    """Have ``app`` consume ``topic`` through :class:`BatchConsumer`, handing its records to
    ``drain``. Call right after creating the app, before anything asks for its transport;
    ``topic`` is then subscribed without an agent (the app must have none on it)."""
    app.transport = Transport(app.conf.broker_consumer, app)
    app.topics.add(topic)
    consumer = cast(BatchConsumer, app.consumer)
    consumer.drain = drain
    return consumer
