"""The calendar of a profile: which days carry how much volume, and at what time of day.

Day weights are integers so that totals can be apportioned exactly; times are drawn as
milliseconds after local midnight in Asia/Muscat (UTC+04:00 all year, Oman has no DST), so
formatting an ``occurred_at`` needs no time-zone database.
"""

from __future__ import annotations

import random
from collections.abc import Sequence
from datetime import date, timedelta
from typing import Final

from tahawul.producers.simulator.profiles import Profile, Shape
from tahawul.producers.simulator.weighted import Weighted
from tahawul.schemas.reference import Mode

MUSCAT_OFFSET = "+04:00"
MS_PER_HOUR = 3_600_000
MS_PER_SLOT = 1_800_000
# Day weights are relative factors around 1.0 made integer at this resolution.
WEIGHT_RESOLUTION = 1_000_000

def period_days(profile: Profile) -> list[date]:
    count = (profile.last_day - profile.first_day).days + 1
    if count <= 0:
        raise ValueError(f"profile {profile.name}: last day before first day")
    return [profile.first_day + timedelta(days=i) for i in range(count)]


def _day_factor(shape: Shape, day: date, position: float, mode: Mode) -> float:
    digital = mode == "digital"
    factor = (shape.digital_weekday if digital else shape.manual_weekday)[day.weekday()]
    start, end = shape.digital_trend if digital else shape.manual_trend
    factor *= start + (end - start) * position
    next_month = (day.replace(day=28) + timedelta(days=4)).replace(day=1)
    if (next_month - day).days <= shape.month_end_days:
        factor *= shape.month_end_digital if digital else shape.month_end_manual
    for lull in shape.lulls:
        if lull.first <= day <= lull.last:
            factor *= lull.digital_factor if digital else lull.manual_factor
    return factor


def day_weights(profile: Profile, days: Sequence[date], mode: Mode) -> list[int]:
    """Integer weight of each day for events on channels of ``mode``."""
    last = max(len(days) - 1, 1)
    return [
        round(_day_factor(profile.shape, day, i / last, mode) * WEIGHT_RESOLUTION)
        for i, day in enumerate(days)
    ]


class TimeOfDay:
    """Draws the time of an event within its day, in ms after local midnight."""

    __slots__ = ("_hours", "_office_open_ms", "_slots")

    def __init__(self, shape: Shape) -> None:
        if len(shape.digital_hours) != 24:
            raise ValueError("digital_hours needs 24 weights")
        if shape.office_open + 30 * len(shape.manual_slots) != shape.office_close:
            raise ValueError("manual_slots must cover office hours in half-hour slots")
        self._hours = Weighted(enumerate(shape.digital_hours))
        self._slots = Weighted(enumerate(shape.manual_slots))
        self._office_open_ms = shape.office_open * 60_000

    # rng.randrange(n) for an int n > 0 is rng._randbelow(n) after its argument checks (the
    # same draw: CPython's random.py), which cost as much as the draw; one call per event.
    def digital(self, rng: random.Random) -> int:
        return self._hours.pick(rng) * MS_PER_HOUR + rng._randbelow(MS_PER_HOUR)  # type: ignore[attr-defined]

    def manual(self, rng: random.Random) -> int:
        slot = self._slots.pick(rng)
        return self._office_open_ms + slot * MS_PER_SLOT + rng._randbelow(MS_PER_SLOT)  # type: ignore[attr-defined]


# "HH:MM:SS" of every second of a day (5 MB): formatting three numbers for every event cost
# the generator more than drawing them.
_CLOCK: Final = tuple(f"{s // 3600:02d}:{s // 60 % 60:02d}:{s % 60:02d}" for s in range(86_400))
_MILLIS: Final = tuple(f".{m:03d}{MUSCAT_OFFSET}" for m in range(1000))


def occurred_at(day_iso: str, ms: int) -> str:
    """RFC 3339 local time with the Muscat offset and millisecond precision."""
    seconds, millis = divmod(ms, 1000)
    return f"{day_iso}T{_CLOCK[seconds]}{_MILLIS[millis]}"
