"""How many events of each sort a run emits, per governorate and per day, before any is drawn.

Counts are fixed up front with exact arithmetic so that a run hits its profile's totals for
any scale and seed; randomness only decides *which* entity, service, channel and minute
each counted event gets.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import date
from decimal import Decimal

from tahawul.producers.simulator.apportion import as_decimal, largest_remainder, round_half_up
from tahawul.producers.simulator.calendar import day_weights, period_days
from tahawul.producers.simulator.profiles import Profile


@dataclass(frozen=True, slots=True)
class Counts:
    """Events of one governorate (over the period or on one day).

    ``digital`` counts completed digital events (quantity 1 each); ``manual`` is completed
    manual *quantity*, which the generator splits into single events and counter tallies.
    """

    digital: int
    manual: int
    digital_non_completed: int
    manual_non_completed: int


def governorate_totals(profile: Profile, scale: float) -> dict[str, Counts]:
    """Per-governorate totals over the whole period at ``scale``."""
    factor = as_decimal(scale)
    if factor < 0:
        raise ValueError(f"scale must be >= 0, got {scale}")
    totals: dict[str, Counts] = {}
    for code, target in profile.governorates.items():
        share = target.digital_share
        if not Decimal(0) < share <= Decimal(1):
            raise ValueError(f"{profile.name} {code}: digital share {share} not in (0, 1]")
        exact_digital = target.digital * factor
        digital = round_half_up(exact_digital)
        manual = round_half_up(exact_digital * (1 - share) / share)
        non_completed = round_half_up((digital + manual) * profile.non_completed_rate)
        digital_nc = round_half_up(non_completed * share)
        totals[code] = Counts(digital, manual, digital_nc, non_completed - digital_nc)
    return totals


@dataclass(frozen=True, slots=True)
class Plan:
    days: tuple[date, ...]
    totals: Mapping[str, Counts]
    # daily[i][governorate]: counts on days[i]; the days add up to ``totals`` exactly.
    daily: tuple[Mapping[str, Counts], ...]


def build_plan(profile: Profile, scale: float) -> Plan:
    days = period_days(profile)
    digital_w = day_weights(profile, days, "digital")
    manual_w = day_weights(profile, days, "manual")
    totals = governorate_totals(profile, scale)
    per_gov: dict[str, list[Counts]] = {}
    for code, t in totals.items():
        columns = zip(
            largest_remainder(t.digital, digital_w),
            largest_remainder(t.manual, manual_w),
            largest_remainder(t.digital_non_completed, digital_w),
            largest_remainder(t.manual_non_completed, manual_w),
            strict=True,
        )
        per_gov[code] = [Counts(*column) for column in columns]
    daily = tuple({code: per_gov[code][i] for code in totals} for i in range(len(days)))
    return Plan(days=tuple(days), totals=totals, daily=daily)
