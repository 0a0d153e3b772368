"""A counting writer whose Kafka consumer reads nothing while there is something to read
gets a new consumer.

Seen on Apache Kafka (docs/brokers.md, "`up --broker kafka` that did not exit after its
stop"): after the broker stood still for longer than the session timeout, kafka-python
3.0.12's consumer of the validated topic was dropped from its group and neither rejoined
nor fetched again, while the writer polled on and got nothing; `tahawul up`'s stop then
waited for ever, and a `tahawul counter` would count nothing more. The writer cannot tell
from its own consumer, so it looks from outside it: the worker group commits a source
record only once its envelope is acknowledged on the validated topic, so committed offsets
beyond the writer's progress are envelopes waiting to be read. When polls have brought
nothing for WRITER_STALL_SECONDS and that is so, the writer closes its consumer and makes a
new one, which reads on from the counter group's offsets; the store's progress skips
whatever was applied (docs/exactly-once.md)."""

from __future__ import annotations

import time
from collections.abc import Callable, Mapping
from typing import Final

# How long polls may bring nothing while envelopes wait before the consumer is replaced.
WRITER_STALL_SECONDS: Final = 60.0


class QuietTimer:
    """Says when polls have brought nothing for ``after`` seconds, and again every ``after``
    seconds while that lasts (each time, the caller asks the broker whether anything waits)."""

    def __init__(self, after: float, clock: Callable[[], float] = time.monotonic) -> None:
        self.after = after
        self.clock = clock
        self.since = clock()

    def brought(self) -> None:
        """A poll brought envelopes."""
        self.since = self.clock()

    def due(self) -> bool:
        now = self.clock()
        if now - self.since < self.after:
            return False
        self.since = now
        return True


def delivered_not_applied(progress: Mapping[int, int], committed: Mapping[int, int]
                          ) -> dict[int, tuple[int, int]]:
    """Per source partition whose records the workers delivered (the worker group's
    committed offset, the next record to read) beyond what the writer applied (its last
    applied offset): (last applied offset, last delivered offset)."""
    return {p: (progress.get(p, -1), c - 1) for p, c in sorted(committed.items())
            if c - 1 > progress.get(p, -1)}


def stall_message(seconds: float, behind: Mapping[int, tuple[int, int]]) -> str:
    parts = ", ".join(f"partition {p}: applied to {a}, delivered to {d}" for p, (a, d) in behind.items())
    return (f"the counting writer's polls have brought nothing for {seconds:.0f} s while the workers "
            f"delivered records it has not applied ({parts}); replacing its Kafka consumer")
