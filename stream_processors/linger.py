"""How long a batch stays open for more after its first records, adapting to load: the
counting writer's wait before a store write, and a worker's before it validates a batch.

Each batch has a fixed cost (a ClickHouse part per table for the writer; envelopes sent and
acknowledged, offsets committed for a worker), so under load a few large batches beat many
small ones, while a quiet stream is best handled at once. The load shows in how long the
previous batch took to handle (its size, and a machine busy with other work): the next one
waits up to ``ratio`` times that, at most ``most`` seconds. A quiet stream's batches take
milliseconds and go out almost at once; under load they grow, and so does the wait, until
``most``; handling then takes at most about 1/(1 + ratio) of the time.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(slots=True)
class Linger:
    """The wait after a batch's first records: ``ratio`` times the previous batch's
    handling time, at most ``most`` seconds (nothing handled yet: no wait).
    Settings: TAHAWUL_COUNTER_LINGER_RATIO/_MAX for the writer, TAHAWUL_BATCH_WINDOW_RATIO
    and TAHAWUL_BATCH_WITHIN for a worker (tahawul/settings.py)."""

    ratio: float = 1.0
    most: float = 0.5
    last_write: float = 0.0  # seconds the previous batch took to handle

    def seconds(self) -> float:
        return min(self.most, self.ratio * self.last_write)

    def wrote(self, seconds: float) -> None:
        self.last_write = seconds
