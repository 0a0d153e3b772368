"""Weighted random choice with precomputed cumulative weights.

``random.choices`` rebuilds its cumulative table on every call unless handed one, and the
generator draws several choices per event, so each distribution is built once here.
"""

from __future__ import annotations

import random
from bisect import bisect
from collections.abc import Iterable
from itertools import accumulate
from typing import Generic, TypeVar

T = TypeVar("T")


class Weighted(Generic[T]):
    """A fixed distribution over items; items with weight 0 are never drawn."""

    __slots__ = ("_bounds", "_cum", "_items", "_total")

    def __init__(self, pairs: Iterable[tuple[T, float]]) -> None:
        kept = [(item, float(weight)) for item, weight in pairs if weight > 0]
        if not kept:
            raise ValueError("a weighted choice needs at least one positive weight")
        self._items = tuple(item for item, _ in kept)
        self._cum = tuple(accumulate(weight for _, weight in kept))
        self._total = self._cum[-1]
        # The last bound is infinite: a draw that rounds up to the total still lands on the
        # last item, without a min() on every draw (the generator draws several an event).
        self._bounds = (*self._cum[:-1], float("inf"))

    @property
    def items(self) -> tuple[T, ...]:
        return self._items

    def pick(self, rng: random.Random) -> T:
        return self._items[bisect(self._bounds, rng.random() * self._total)]
