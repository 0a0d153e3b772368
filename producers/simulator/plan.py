"""How many events of each sort a run emits, per governorate and per day, before any is drawn.

Counts are fixed up front with exact arithmetic so that a run hits its profile's totals for
any scale and seed; randomness only decides *which* entity, service, channel and minute
each counted event gets.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
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
    if profile.programme is not None:
        return _programme_governorate_totals(profile, scale)
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


# ---- programme profiles ------------------------------------------------------------------

# A stratum is one governorate and one part of the programme in it: "admin" (the
# governorate's administration), "national" (the national entities' regular traffic) or a
# special's name (services with their own targets, e.g. an election's votes).
Stratum = tuple[str, str]
ADMIN = "admin"
NATIONAL = "national"


@dataclass(frozen=True, slots=True)
class ProgrammePlan:
    days: tuple[date, ...]
    # daily[i][stratum]: counts on days[i]; strata absent on a day have nothing that day.
    daily: tuple[Mapping[Stratum, Counts], ...]
    totals: Mapping[Stratum, Counts]


def _window(days: list[date], first: date, last: date) -> list[int]:
    return [i for i, day in enumerate(days) if first <= day <= last]


def _share_weights(weights: Mapping[str, float]) -> tuple[list[str], list[int]]:
    codes = sorted(weights)
    return codes, [round(weights[c] * WEIGHT_SCALE) for c in codes]


WEIGHT_SCALE = 1_000_000


def build_programme_plan(
    profile: Profile, scale: float, availability: Callable[[Stratum, date], float]
) -> ProgrammePlan:
    """Per-day counts of every stratum, exact for every target at ``scale``.

    Each target's scaled total (rounded half up) is spread over its window's days by the
    stratum's day weights (the profile's calendar times the share of the stratum's
    services already digital that day). Administrations and specials are fixed first; the
    national entities' regular traffic is what remains of each national target in its
    window, so the national total is exact as well, then split over governorates.
    """
    programme = profile.programme
    if programme is None:
        raise ValueError(f"profile {profile.name} is not a programme profile")
    factor = as_decimal(scale)
    if factor < 0:
        raise ValueError(f"scale must be >= 0, got {scale}")
    days = period_days(profile)
    n = len(days)
    shape_digital = day_weights(profile, days, "digital")
    shape_manual = day_weights(profile, days, "manual")

    def weights(stratum: Stratum) -> list[int]:
        return [round(w * availability(stratum, day)) for w, day in zip(shape_digital, days, strict=True)]

    digital: dict[Stratum, list[int]] = {}
    manual: dict[Stratum, list[int]] = {}
    dnc: dict[Stratum, list[int]] = {}
    mnc: dict[Stratum, list[int]] = {}
    rate = profile.non_completed_rate

    def spread(into: dict[Stratum, list[int]], stratum: Stratum, total: int,
               over: list[int], idx: list[int]) -> None:
        row = into.setdefault(stratum, [0] * n)
        try:
            parts = largest_remainder(total, [over[i] for i in idx])
        except ValueError as exc:
            raise ValueError(f"profile {profile.name} {stratum}: {exc}") from None
        for i, part in zip(idx, parts, strict=True):
            row[i] += part

    def add_rest(stratum: Stratum, idx: list[int], d: int, share: Decimal,
                 digital_w: list[int]) -> None:
        """Manual and non-completed counts that go with ``d`` digital in a window."""
        m = round_half_up(d * (1 - share) / share) if share < 1 else 0
        spread(manual, stratum, m, shape_manual, idx)
        nc = round_half_up((d + m) * rate)
        d_nc = round_half_up(nc * share)
        spread(dnc, stratum, d_nc, digital_w, idx)
        spread(mnc, stratum, nc - d_nc, shape_manual, idx)

    admin_share = programme.administration_digital_share
    for gov, targets in programme.administrations.items():
        stratum = (gov, ADMIN)
        w = weights(stratum)
        for t in targets:
            idx = _window(days, t.first, t.last)
            d = round_half_up(t.digital * factor)
            spread(digital, stratum, d, w, idx)
            add_rest(stratum, idx, d, admin_share, w)

    govs, gov_w = _share_weights(programme.national_weights)

    def over_governorates(part: str, per_day: list[int]) -> None:
        for i, count in enumerate(per_day):
            if count:
                for gov, c in zip(govs, largest_remainder(count, gov_w), strict=True):
                    digital.setdefault((gov, part), [0] * n)[i] += c

    for special in programme.specials:
        w = weights(("", special.name))
        for t in special.targets:
            idx = _window(days, t.first, t.last)
            per_day = [0] * n
            for i, c in zip(idx, largest_remainder(round_half_up(t.digital * factor),
                                                    [w[i] for i in idx]), strict=True):
                per_day[i] = c
            over_governorates(special.name, per_day)
    for gov in govs:
        for special in programme.specials:
            stratum = (gov, special.name)
            if stratum in digital:
                row = digital[stratum]
                nc = [round_half_up(c * rate) for c in row]
                dnc[stratum] = nc

    national_w = weights(("", NATIONAL))
    for t in programme.national:
        idx = _window(days, t.first, t.last)
        total = round_half_up(t.digital * factor)
        fixed = sum(row[i] for row in digital.values() for i in idx)
        rest = total - fixed
        if rest < 0:
            raise ValueError(f"profile {profile.name}: administrations and specials exceed "
                             f"the national target {t.first}..{t.last} at scale {scale}")
        per_day = [0] * n
        for i, c in zip(idx, largest_remainder(rest, [national_w[i] for i in idx]), strict=True):
            per_day[i] = c
        over_governorates(NATIONAL, per_day)
        for gov in govs:
            stratum = (gov, NATIONAL)
            d = sum(digital.get(stratum, [0] * n)[i] for i in idx)
            add_rest(stratum, idx, d, profile.governorates[gov].digital_share, national_w)

    strata = sorted(set(digital) | set(manual) | set(dnc) | set(mnc))
    zero = [0] * n
    daily: list[dict[Stratum, Counts]] = []
    for i in range(n):
        today: dict[Stratum, Counts] = {}
        for s in strata:
            cell = Counts(digital.get(s, zero)[i], manual.get(s, zero)[i], dnc.get(s, zero)[i],
                          mnc.get(s, zero)[i])
            if cell.digital or cell.manual or cell.digital_non_completed or cell.manual_non_completed:
                today[s] = cell
        daily.append(today)
    totals = {
        s: Counts(sum(digital.get(s, zero)), sum(manual.get(s, zero)), sum(dnc.get(s, zero)),
                  sum(mnc.get(s, zero)))
        for s in strata
    }
    return ProgrammePlan(days=tuple(days), daily=tuple(daily), totals=totals)


def _programme_governorate_totals(profile: Profile, scale: float) -> dict[str, Counts]:
    from tahawul.producers.simulator.population import ProgrammePools
    from tahawul.schemas.reference import load_catalogue

    pools = ProgrammePools(profile, load_catalogue())
    sums: dict[str, list[int]] = {}
    for (gov, _part), c in build_programme_plan(profile, scale, pools.availability).totals.items():
        row = sums.setdefault(gov, [0, 0, 0, 0])
        for i, value in enumerate((c.digital, c.manual, c.digital_non_completed,
                                   c.manual_non_completed)):
            row[i] += value
    return {gov: Counts(*row) for gov, row in sorted(sums.items())}
