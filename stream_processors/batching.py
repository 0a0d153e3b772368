"""A worker's batches: Faust's ``Stream.take_events`` with a window that adapts to load.

``take_events(max, within)`` yields what arrived each time a fixed ``within`` timer ends,
so at any rate each record waited up to ``within`` (0.3 s) before it was validated. Here a
batch opens at its first record and stays open for :class:`Linger`'s wait (``ratio`` times
as long as the previous batch took to handle, at most ``within``), or until it holds ``max``
records, and closes early once no record came for ``quiet`` seconds (10 ms): a stream
with nothing more to give is not waited on. A quiet stream's batches take milliseconds to
handle, so its records go on almost at once; records that come in bursts (a producer
flushing batched records ten times a second) go on after each burst; under load (a
backlog, a replay) records keep coming, batches take longer and their windows widen up to
``within``, so batches fill as before. Waiting for nothing matters on a shared machine: a
worker that idles through its windows gives away CPU it needs to keep up.

Acknowledgements are Faust's: the records of a batch are acked (and their offsets may be
committed) only after the loop body that received the batch returned, as in
``take_events``, whose buffering this follows (faust-streaming 0.15, ``streams.py``).
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncGenerator, Callable
from typing import Any

from faust.types import EventT, StreamT

from tahawul.stream_processors.linger import Linger

# How long a worker with nothing to do waits before it checks again whether it should stop.
IDLE_CHECK_SECONDS = 1.0


def take_batches(stream: StreamT, max_records: int, window: Linger, quiet: float = 0.01,
                 clock: Callable[[], float] = time.monotonic) -> AsyncGenerator[list[EventT], None]:
    """Batches of the stream's events, each closed ``window.seconds()`` after its first
    record, when it holds ``max_records``, or as soon as no record came for ``quiet``
    seconds. The caller tells ``window`` how long each batch took to handle
    (``window.wrote``) before asking for the next."""
    batches = _batches(stream, max_records, window, quiet, clock)
    # As Faust's own take*: the stream closes generators left open when it stops.
    active = getattr(stream, "_active_agens", None)
    if active is not None:
        active.add(batches)
    return batches


async def _batches(stream: StreamT, max_records: int, window: Linger, quiet: float,
                   clock: Callable[[], float]) -> AsyncGenerator[list[EventT], None]:
    s: Any = stream  # Faust's Stream: the buffering hooks are not on the StreamT protocol
    events: list[EventT] = []
    arrived = asyncio.Event()  # set each time a record is added
    full = asyncio.Event()
    consumed = asyncio.Event()
    consuming: asyncio.Future[None] | None = None  # set while the caller holds a batch

    async def add_to_buffer(value: Any) -> Any:
        nonlocal consuming
        try:
            if consuming is not None:  # wait until the batch in hand is handled
                try:
                    await consuming
                finally:
                    consuming = None
            event = s.current_event
            if event is None:
                raise RuntimeError("take buffer found current_event is None")
            events.append(event)
            arrived.set()
            if len(events) >= max_records:
                full.set()
                consumed.clear()
                await s.wait(consumed)  # never more than max_records in a batch
        except asyncio.CancelledError:
            raise
        except Exception as exc:
            s.log.exception("Error adding to take buffer: %r", exc)
            await s.crash(exc)
        return value

    enable_acks = s.enable_acks
    s.enable_acks = False  # acked here, after the caller handled the batch
    s.add_processor(add_to_buffer)
    s._enable_passive(aiter(s.channel))
    try:
        while not s.should_stop:
            if not events:
                arrived.clear()
                await s.wait(arrived, timeout=IDLE_CHECK_SECONDS)
                if not events:
                    continue
            deadline = clock() + window.seconds()
            while len(events) < max_records and not s.should_stop:
                left = deadline - clock()
                if left <= 0:
                    break
                had = len(events)
                await s.wait(full, timeout=min(left, quiet))
                if len(events) == had:  # nothing more came: the stream is quiet, go
                    break
            consuming = asyncio.get_running_loop().create_future()
            try:
                yield list(events)
            finally:
                taken = list(events)
                events.clear()
                for event in taken:
                    await s.ack(event)
                consuming.set_result(None)
                full.clear()
                consumed.set()
    finally:
        s.enable_acks = enable_acks
        s._processors.remove(add_to_buffer)
