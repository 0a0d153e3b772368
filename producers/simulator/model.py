"""The shapes of simulation profiles: targets, calendar shape, mixes. Pure data types.

Kept apart from the profiles themselves (``profiles.py``) so that profiles generated from
the published figures (``programme.py``) and the hand-written ones share the types without
importing each other.
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
class Target:
    """Completed digital transactions of one part of the programme over a window, scale 1.

    ``figure`` names the published figure (``published_figures.csv``) the target
    reproduces; empty for an estimate of ours.
    """

    first: date
    last: date
    digital: int
    source: TargetSource
    figure: str = ""
    note: str = ""


@dataclass(frozen=True, slots=True)
class Special:
    """Services whose digital transactions are fixed apart from the regular national mix.

    An election's votes happen on the election day, a platform's first months are
    published on their own: these services are drawn only by their targets, never by the
    national mix, so their counts are exactly the targets'.
    """

    name: str
    services: tuple[str, ...]
    targets: tuple[Target, ...]
    channel: str | None = None


@dataclass(frozen=True, slots=True)
class Programme:
    """A profile of the whole programme: the 48 entities, split the way the sources are.

    ``national`` targets are every completed digital transaction of the programme in
    their windows (administrations and specials included); ``administrations`` are each
    governorate administration's own; the rest of the national figure is the national
    entities' regular traffic, spread over governorates by ``national_weights``. Each
    list of targets covers the profile's period without gaps or overlaps.
    """

    national: tuple[Target, ...]
    administrations: Mapping[str, tuple[Target, ...]]
    specials: tuple[Special, ...]
    national_weights: Mapping[str, float]
    administration_digital_share: Decimal
    # Plain-language list of what the profile estimates (everything not published).
    estimates: tuple[str, ...]
    # Ratings drawn in shuffled blocks with exactly the profile's mix, so the average
    # satisfaction is the mix's at any scale instead of drifting with the draw.
    exact_satisfaction: bool = True

    @property
    def published(self) -> tuple[str, ...]:
        """The published figures the profile reproduces, by figure id."""
        targets = [*self.national, *(t for ts in self.administrations.values() for t in ts),
                   *(t for sp in self.specials for t in sp.targets)]
        return tuple(t.figure for t in targets if t.figure)


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
    # Set for a programme profile (national, administration and special targets); None
    # for a profile whose ``governorates`` targets are each governorate's whole traffic.
    programme: Programme | None = None


def prorate(published: int, period_days: int, within_days: int) -> int:
    """Prorate a published period total to a sub-period by days, rounding half up."""
    exact = Decimal(published) * within_days / period_days
    return int(exact.quantize(Decimal(1), rounding=ROUND_HALF_UP))




def frozen(mapping: dict[K, V]) -> Mapping[K, V]:
    return MappingProxyType(mapping)
