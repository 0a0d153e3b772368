"""A worker's batches: gathered from fetches over a window that adapts to load.

A fixed window (Faust's ``take_events(max, within)`` yields what arrived each time a
``within`` timer ends) makes every record wait up to ``within`` (0.3 s) before it is
validated. Here a batch opens at its first record and stays open for :class:`Linger`'s
wait (``ratio`` times as long as the previous batch took to handle, at most ``within``),
or until it holds ``max_records`` records, and closes early once no record came for
``quiet`` seconds (10 ms): a stream with nothing more to give is not waited on. A quiet
stream's batches take milliseconds to handle, so its records go on almost at once; records
that come in bursts (a producer flushing batched records ten times a second) go on after
each burst; under load (a backlog, a replay) records keep coming, batches take longer and
their windows widen up to ``within``, so batches fill. Waiting for nothing matters on a
shared machine: a worker that idles through its windows gives away CPU it needs to keep up.

The records come from the worker's consumer (batch_drain.py); the worker acks a batch's
records only once its envelopes are acknowledged (app.py).
"""

from __future__ import annotations

import time
from collections.abc import Awaitable, Callable
from typing import TypeVar

from tahawul.stream_processors.linger import Linger

T = TypeVar("T")
# Appends what one fetch brings, waiting at most the given seconds for it, to the list.
Take = Callable[[float, list[T]], Awaitable[None]]


async def gather(take: Take[T], max_records: int, window: Linger, quiet: float = 0.01,
                 idle: float = 1.0, clock: Callable[[], float] = time.monotonic) -> list[T]:
    """One batch: what a first fetch brings within ``idle`` seconds (nothing: an empty
    batch, so that the caller may look at whether it should stop), then more fetches until
    ``window.seconds()`` after the first, until the batch holds ``max_records`` (the last
    fetch may bring more), or until a fetch brought nothing for ``quiet`` seconds. The caller
    tells ``window`` how long each batch took to handle (``window.wrote``) before it asks for
    the next."""
    batch: list[T] = []
    await take(idle, batch)
    if not batch:
        return batch
    deadline = clock() + window.seconds()
    while len(batch) < max_records:
        left = deadline - clock()
        if left <= 0:
            break
        had = len(batch)
        await take(min(left, quiet), batch)
        if len(batch) == had:  # nothing more came: the stream is quiet, go
            break
    return batch
