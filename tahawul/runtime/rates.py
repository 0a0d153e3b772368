"""Events per second for what `tahawul up` shows: over the last seconds, not the last instant.

The counting writer applies events in batches, a write every second or two on a busy stream,
so the count moves in steps. A rate measured over the last second alone is zero whenever no
write fell into that second, which is what the progress line printed every 5 s always caught
(issue 15). The rate here is the change over a window of several seconds (5 s by default,
longer than the writer's linger), computed from samples the caller takes as it refreshes.
"""

from __future__ import annotations

import threading
import time
from collections import deque


class EventRate:
    """Samples of a growing count, and its rate of growth over the last ``window`` seconds.
    Sampled by one thread (the live view) and read by others (the live page's server)."""

    def __init__(self, window: float = 5.0) -> None:
        self.window = window
        self._samples: deque[tuple[float, int]] = deque()
        self._lock = threading.Lock()

    def sample(self, count: int, now: float | None = None) -> None:
        now = time.monotonic() if now is None else now
        with self._lock:
            self._samples.append((now, count))
            # keep one sample at or before the window's start, so the rate spans all of it
            while len(self._samples) > 2 and self._samples[1][0] <= now - self.window:
                self._samples.popleft()

    def rate(self) -> float:
        """Events per second between the oldest kept sample and the newest (0 until two
        samples are at least a tenth of a second apart)."""
        with self._lock:
            if len(self._samples) < 2:
                return 0.0
            (t0, n0), (t1, n1) = self._samples[0], self._samples[-1]
        return (n1 - n0) / (t1 - t0) if t1 - t0 >= 0.1 else 0.0
