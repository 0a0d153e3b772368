"""Per-entity rate limits of the gateway: a token bucket of events per entity.

One entity's runaway batch job must not crowd out the others, so each entity may send
``rate`` events per second on average and ``burst`` at once. A request that does not fit is
refused whole (429 with Retry-After), never half sent.
"""

from __future__ import annotations

import math
import threading
import time
from collections.abc import Callable


class RateLimiter:
    def __init__(self, rate: float, burst: int, clock: Callable[[], float] = time.monotonic) -> None:
        self.rate = rate
        self.burst = burst
        self._clock = clock
        self._lock = threading.Lock()
        self._buckets: dict[str, tuple[float, float]] = {}  # entity -> (tokens, at)

    def take(self, entity: str, n: int) -> float:
        """Take ``n`` tokens; return 0.0 if granted, else the seconds to wait before retrying."""
        now = self._clock()
        with self._lock:
            tokens, at = self._buckets.get(entity, (float(self.burst), now))
            tokens = min(float(self.burst), tokens + (now - at) * self.rate)
            if n <= tokens:
                self._buckets[entity] = (tokens - n, now)
                return 0.0
            self._buckets[entity] = (tokens, now)
        if n > self.burst:
            return math.inf
        return (n - tokens) / self.rate
