"""Simulation profiles: who transacts how much, when and through which channel. Pure data.

A profile pins the *totals* the simulator must hit (so an end-to-end run can be checked
against published figures to the transaction) and the *shape* around them (weekdays, hours,
holidays, channels, entities). Entity and service codes are never listed as the only
possibilities: the catalogue in ``schemas/reference_data`` decides what exists, and the
profile only nudges weights for codes that happen to be present.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import date
from decimal import ROUND_HALF_UP, Decimal
from types import MappingProxyType
from typing import Literal, TypeVar

TargetSource = Literal["published", "prorated", "estimate"]
NonCompletedStatus = Literal["submitted", "rejected", "abandoned"]

K = TypeVar("K")
V = TypeVar("V")


@dataclass(frozen=True, slots=True)
class GovernorateTarget:
    """Digital completed transactions of one governorate over the whole period, at scale 1.

    ``digital_share`` is the share of completed transactions (by quantity) that is digital;
    the manual total is derived from it so that the digital-vs-manual indicator is known in
    advance. ``source`` says how much the digital figure can be trusted.
    """

    digital: int
    digital_share: Decimal
    source: TargetSource
    note: str = ""


@dataclass(frozen=True, slots=True)
class Lull:
    """A holiday stretch (inclusive) during which volume drops by the given factors."""

    first: date
    last: date
    digital_factor: float
    manual_factor: float
    name: str


@dataclass(frozen=True, slots=True)
class Shape:
    """How volume spreads over days and hours; the calendar module turns it into weights.

    Weekday factors are indexed by ``date.weekday()`` (Monday = 0). Manual channels only
    serve during office hours on working days, so their factor is zero on Oman's Friday and
    Saturday weekend and on public holidays.
    """

    digital_weekday: tuple[float, float, float, float, float, float, float]
    manual_weekday: tuple[float, float, float, float, float, float, float]
    lulls: tuple[Lull, ...]
    # Last days of a month carry fee deadlines and renewals.
    month_end_days: int
    month_end_digital: float
    month_end_manual: float
    # Linear drift from the first to the last day of the period (adoption of digital).
    digital_trend: tuple[float, float]
    manual_trend: tuple[float, float]
    # 24 relative weights, hour 0..23 local time, for digital channels.
    digital_hours: tuple[float, ...]
    # Office hours for manual channels, minutes after midnight [open, close), and relative
    # weights of consecutive half-hour slots from ``office_open``.
    office_open: int
    office_close: int
    manual_slots: tuple[float, ...]


@dataclass(frozen=True, slots=True)
class Profile:
    """Everything the generator needs apart from the reference catalogue and the seed."""

    name: str
    description: str
    first_day: date
    last_day: date
    governorates: Mapping[str, GovernorateTarget]
    # Non-completed events (submitted/rejected/abandoned) on top of completed transactions.
    non_completed_rate: Decimal
    digital_statuses: Mapping[NonCompletedStatus, float]
    manual_statuses: Mapping[NonCompletedStatus, float]
    shape: Shape
    # Relative weight of entities by code when present in the catalogue; absent codes are
    # ignored, codes not listed get ``default_entity_weight`` (or ``local_entity_weight`` for
    # an entity serving a single governorate, which competes only in that governorate).
    entity_weights: Mapping[str, float]
    default_entity_weight: float
    local_entity_weight: float
    # Zipf exponent of service popularity within an entity, in catalogue order.
    service_zipf: float
    # Channel mix within each mode, by channel code (codes absent from the catalogue are
    # ignored; catalogue channels not listed get ``default_channel_weight``).
    channel_weights: Mapping[str, float]
    default_channel_weight: float
    # Manual completed events that are tallies from legacy counter systems.
    tally_channels: tuple[str, ...]
    tally_rate: float
    tally_max: int
    # Probability that an event on a channel was handled with no human intervention.
    automated_rate: Mapping[str, float]
    satisfaction_rate: float
    satisfaction_weights: Mapping[int, float]


def prorate(published: int, period_days: int, within_days: int) -> int:
    """Prorate a published period total to a sub-period by days, rounding half up."""
    exact = Decimal(published) * within_days / period_days
    return int(exact.quantize(Decimal(1), rounding=ROUND_HALF_UP))


_JAN_OCT_2025_DAYS = (date(2025, 10, 31) - date(2025, 1, 1)).days + 1  # 304
_H1_2025_DAYS = (date(2025, 6, 30) - date(2025, 1, 1)).days + 1  # 181


def _frozen(mapping: dict[K, V]) -> Mapping[K, V]:
    return MappingProxyType(mapping)


OMAN_2025_H1 = Profile(
    name="oman-2025-h1",
    description=(
        "First half of 2025 in Asia/Muscat. Digital totals per governorate reproduce the "
        "published H1 figures for North Al Batinah and Ad Dhahirah, prorate the Jan-Oct "
        "figures for Muscat and Ad Dakhiliyah, and estimate the rest."
    ),
    first_day=date(2025, 1, 1),
    last_day=date(2025, 6, 30),
    governorates=_frozen(
        {
            # Published H1 2025 figures ([000] in shared/reference/README.md).
            "OM-BS": GovernorateTarget(96_478, Decimal("0.80"), "published"),
            "OM-ZA": GovernorateTarget(13_931, Decimal("0.66"), "published"),
            # Published Jan-Oct 2025 figures ([001]) prorated to H1 by days (181/304).
            "OM-MA": GovernorateTarget(
                prorate(234_251, _JAN_OCT_2025_DAYS, _H1_2025_DAYS),
                Decimal("0.88"),
                "prorated",
                "234,251 Jan-Oct 2025",
            ),
            "OM-DA": GovernorateTarget(
                prorate(581_006, _JAN_OCT_2025_DAYS, _H1_2025_DAYS),
                Decimal("0.85"),
                "prorated",
                "581,006 Jan-Oct 2025",
            ),
            # ESTIMATES, not published figures: chosen from population and the published
            # governorates' order of magnitude, only so that every governorate has traffic.
            "OM-ZU": GovernorateTarget(120_000, Decimal("0.80"), "estimate"),
            "OM-BJ": GovernorateTarget(60_000, Decimal("0.75"), "estimate"),
            "OM-SJ": GovernorateTarget(40_000, Decimal("0.70"), "estimate"),
            "OM-SS": GovernorateTarget(35_000, Decimal("0.72"), "estimate"),
            "OM-BU": GovernorateTarget(18_000, Decimal("0.70"), "estimate"),
            "OM-MU": GovernorateTarget(6_500, Decimal("0.62"), "estimate"),
            "OM-WU": GovernorateTarget(4_200, Decimal("0.60"), "estimate"),
        }
    ),
    non_completed_rate=Decimal("0.10"),
    digital_statuses=_frozen({"submitted": 0.35, "rejected": 0.25, "abandoned": 0.40}),
    manual_statuses=_frozen({"submitted": 0.50, "rejected": 0.45, "abandoned": 0.05}),
    shape=Shape(
        # Mon Tue Wed Thu Fri Sat Sun: Oman works Sunday to Thursday.
        digital_weekday=(1.0, 1.0, 1.0, 0.95, 0.32, 0.42, 1.05),
        manual_weekday=(1.0, 1.0, 1.0, 0.9, 0.0, 0.0, 1.1),
        lulls=(
            # Approximate public-holiday stretches; offices are closed, apps stay up.
            Lull(date(2025, 3, 30), date(2025, 4, 3), 0.35, 0.0, "Eid al-Fitr"),
            Lull(date(2025, 6, 6), date(2025, 6, 9), 0.35, 0.0, "Eid al-Adha"),
        ),
        month_end_days=3,
        month_end_digital=1.2,
        month_end_manual=1.1,
        digital_trend=(0.95, 1.1),
        manual_trend=(1.05, 0.95),
        digital_hours=(
            0.6, 0.35, 0.2, 0.15, 0.2, 0.5, 1.2, 2.6, 4.6, 6.0, 6.4, 6.1,
            5.3, 4.6, 3.8, 3.2, 3.0, 3.2, 3.5, 4.0, 4.3, 4.0, 2.8, 1.5,
        ),
        office_open=7 * 60 + 30,
        office_close=14 * 60 + 30,
        manual_slots=(1.5, 3.0, 4.5, 5.5, 6.0, 6.0, 5.5, 5.0, 4.5, 4.0, 3.5, 3.0, 2.0, 1.0),
    ),
    entity_weights=_frozen(
        {
            # The largest transactional entities, by the services the sources name.
            "ROP": 10.0,
            "MOH": 7.0,
            "MOL": 4.0,
            "MOCIIP": 4.0,
            "MJLA": 3.0,
            "SPF": 3.0,
            "MOSD": 2.5,
            "MOHUP": 2.5,
            "TAX": 2.0,
            "MOI": 2.0,
            "SJC": 2.0,
            "CDAA": 1.5,
            "PP": 1.5,
        }
    ),
    default_entity_weight=1.0,
    local_entity_weight=3.0,
    service_zipf=0.8,
    channel_weights=_frozen(
        {
            "portal": 0.42,
            "mobile_app": 0.33,
            "kiosk": 0.05,
            "api": 0.12,
            "assisted_digital": 0.08,
            "counter": 0.70,
            "paper": 0.20,
            "phone": 0.10,
        }
    ),
    default_channel_weight=0.05,
    tally_channels=("counter", "paper"),
    tally_rate=0.05,
    tally_max=40,
    automated_rate=_frozen({"api": 0.92, "portal": 0.12}),
    satisfaction_rate=0.30,
    # Mean 4.1 of 5: about the 77% average satisfaction published for 2024 ([003]).
    satisfaction_weights=_frozen({1: 0.04, 2: 0.05, 3: 0.12, 4: 0.35, 5: 0.44}),
)

PROFILES: Mapping[str, Profile] = _frozen({OMAN_2025_H1.name: OMAN_2025_H1})


def get_profile(name: str) -> Profile:
    try:
        return PROFILES[name]
    except KeyError:
        known = ", ".join(sorted(PROFILES))
        raise ValueError(f"unknown profile {name!r} (known: {known})") from None
