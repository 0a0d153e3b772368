"""Exact integer arithmetic for totals: scaling with half-up rounding, largest remainder.

Totals are the simulator's contract with the checks downstream, so they are computed with
Decimal and integers only: a float product like ``96478 * 0.01`` must round the way a
person rounds it on paper, and a total spread over days must add back up exactly.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from decimal import ROUND_HALF_UP, Decimal


def as_decimal(value: float | int | Decimal) -> Decimal:
    """The decimal a person reads in ``value`` (``0.01``, not 0.01000000000000000020816...)."""
    if isinstance(value, Decimal):
        return value
    if isinstance(value, float) and not math.isfinite(value):
        raise ValueError(f"not a finite number: {value!r}")
    return Decimal(repr(value))


def round_half_up(value: Decimal) -> int:
    return int(value.quantize(Decimal(1), rounding=ROUND_HALF_UP))


def largest_remainder(total: int, weights: Sequence[int]) -> list[int]:
    """Split ``total`` into parts proportional to integer ``weights``, summing exactly.

    Each part gets the floor of its quota; the units left over go to the largest
    remainders, ties to the earlier position, so the split is deterministic.
    """
    if total < 0:
        raise ValueError(f"cannot apportion a negative total: {total}")
    if any(w < 0 for w in weights):
        raise ValueError("weights must be non-negative")
    weight_sum = sum(weights)
    if weight_sum == 0:
        if total:
            raise ValueError(f"cannot apportion {total} over zero weights")
        return [0] * len(weights)
    parts = [total * w // weight_sum for w in weights]
    left = total - sum(parts)
    by_remainder = sorted(
        range(len(weights)), key=lambda i: (-(total * weights[i] % weight_sum), i)
    )
    for i in by_remainder[:left]:
        parts[i] += 1
    return parts
