"""Profiles of the whole programme, one per published period, built from the figures table.

Each published figure a period holds becomes a target the simulator hits exactly (scaled,
rounded half up); everything the sources do not publish is an estimate of ours, listed on
the profile. How the sources are read (governorate figures are the administrations' own,
national ones cover the 48 entities) is in docs/programme.md.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping
from datetime import date
from decimal import Decimal

from tahawul.producers.simulator.model import (
    Lull,
    Profile,
    Programme,
    Special,
    Target,
    frozen,
)
from tahawul.schemas.published import Figure, load_published

# How the national entities' regular traffic spreads over governorates: roughly each
# governorate's share of the population (NCSI mid-2024, rounded). An estimate.
NATIONAL_WEIGHTS: Mapping[str, float] = frozen({
    "OM-MA": 0.310, "OM-BS": 0.160, "OM-DA": 0.100, "OM-ZU": 0.095, "OM-BJ": 0.095,
    "OM-SJ": 0.070, "OM-SS": 0.055, "OM-ZA": 0.045, "OM-BU": 0.025, "OM-WU": 0.015,
    "OM-MU": 0.010,
})

# Mean 4.08 of 5, i.e. (4.08 - 1) / 4 = 77.0 %: the published 2024 satisfaction, drawn in
# exact blocks (Programme.exact_satisfaction) so it holds at any scale.
SATISFACTION_77 = frozen({1: 0.04, 2: 0.05, 3: 0.12, 4: 0.37, 5: 0.42})

TAWTHEEQ = ("MJLA-NOTARY-POA-LAWYER", "MJLA-NOTARY-POA-PROPERTY")
EVOTE = ("MOI-EVOTE",)


def _published(name: str, first: date | None = None, last: date | None = None) -> Target:
    """A target equal to a published figure over its own period (or the given window)."""
    fig = _figure(name)
    return Target(first or fig.period_from, last or fig.period_to, fig.value, "published",
                  fig.figure, fig.description)


def _figure(name: str) -> Figure:
    for fig in load_published():
        if fig.figure == name:
            return fig
    raise KeyError(name)


def _estimate(first: date, last: date, digital: int, note: str = "") -> Target:
    return Target(first, last, digital, "estimate", "", note)


def _whole(first: date, last: date, digital: Mapping[str, int]) -> dict[str, tuple[Target, ...]]:
    return {gov: (_estimate(first, last, value),) for gov, value in digital.items()}


_Y23 = (date(2023, 1, 1), date(2023, 12, 31))
_Y24 = (date(2024, 1, 1), date(2024, 11, 30))
_Y25 = (date(2025, 1, 1), date(2025, 10, 31))


def _oman_2023() -> tuple[str, str, tuple[date, date], Programme, tuple[Lull, ...]]:
    first, last = _Y23
    admins = _whole(first, last, {
        "OM-MA": 150_000, "OM-DA": 300_000, "OM-BS": 60_000, "OM-ZA": 2_000, "OM-ZU": 80_000,
        "OM-BJ": 40_000, "OM-SS": 25_000, "OM-SJ": 25_000, "OM-BU": 12_000, "OM-MU": 4_000,
        "OM-WU": 3_000,
    })
    programme = Programme(
        national=(_published("national-digital-2023"),),
        administrations=frozen(admins),
        specials=(
            # The Shura Council elections of 29 October 2023, voted on the Intakhib app.
            Special("intakhib", EVOTE,
                    (_published("intakhib-voters-2023", date(2023, 10, 29), date(2023, 10, 29)),),
                    "mobile_app"),
            Special("tawtheeq", TAWTHEEQ, ()),
        ),
        national_weights=NATIONAL_WEIGHTS,
        administration_digital_share=Decimal("0.55"),
        estimates=(
            "every governorate administration's digital transactions (none published for 2023)",
            "how the national entities' traffic spreads over governorates (by population)",
            "manual and unfinished transactions, channels, hours and services",
        ),
        exact_satisfaction=False,
    )
    lulls = (
        Lull(date(2023, 4, 20), date(2023, 4, 24), 0.35, 0.0, "Eid al-Fitr"),
        Lull(date(2023, 6, 27), date(2023, 7, 2), 0.35, 0.0, "Eid al-Adha"),
        Lull(date(2023, 11, 18), date(2023, 11, 19), 0.5, 0.0, "National Day"),
    )
    description = ("The programme in 2023: 9,427,548 digital transactions of the programme's "
                   "entities, 496,279 Intakhib votes on 29 October; the rest estimated.")
    return "oman-2023", description, _Y23, programme, lulls


def _oman_2024() -> tuple[str, str, tuple[date, date], Programme, tuple[Lull, ...]]:
    first, last = _Y24
    admins = _whole(first, last, {
        "OM-MA": 220_000, "OM-DA": 520_000, "OM-BS": 150_000, "OM-ZA": 5_000, "OM-ZU": 150_000,
        "OM-BJ": 80_000, "OM-SS": 50_000, "OM-SJ": 60_000, "OM-BU": 25_000, "OM-MU": 8_000,
        "OM-WU": 6_000,
    })
    programme = Programme(
        national=(_published("national-digital-2024-jan-nov"),),
        administrations=frozen(admins),
        specials=(Special("intakhib", EVOTE, ()), Special("tawtheeq", TAWTHEEQ, ())),
        national_weights=NATIONAL_WEIGHTS,
        administration_digital_share=Decimal("0.62"),
        estimates=(
            "every governorate administration's digital transactions (none published for 2024)",
            "how the national entities' traffic spreads over governorates (by population)",
            "manual and unfinished transactions, channels, hours and services",
        ),
    )
    lulls = (
        Lull(date(2024, 4, 9), date(2024, 4, 13), 0.35, 0.0, "Eid al-Fitr"),
        Lull(date(2024, 6, 15), date(2024, 6, 19), 0.35, 0.0, "Eid al-Adha"),
        Lull(date(2024, 11, 20), date(2024, 11, 21), 0.5, 0.0, "National Day"),
    )
    description = ("The programme from January to November 2024 (the annual report's period): "
                   "26,989,120 digital transactions of its 48 entities, satisfaction 77 %; "
                   "the rest estimated.")
    return "oman-2024", description, _Y24, programme, lulls


def _oman_2025() -> tuple[str, str, tuple[date, date], Programme, tuple[Lull, ...]]:
    first, last = _Y25
    h1_end, jul = date(2025, 6, 30), date(2025, 7, 1)
    admins: dict[str, tuple[Target, ...]] = {
        "OM-BS": (_published("admin-digital-OM-BS-2025-h1"), _estimate(jul, last, 70_000)),
        "OM-ZA": (_published("admin-digital-OM-ZA-2025-h1"), _estimate(jul, last, 12_000)),
        "OM-MA": (_published("admin-digital-OM-MA-2025-jan-oct"),),
        "OM-DA": (_published("admin-digital-OM-DA-2025-jan-oct"),),
        **_whole(first, last, {
            "OM-ZU": 150_000, "OM-BJ": 80_000, "OM-SS": 50_000, "OM-SJ": 55_000,
            "OM-BU": 25_000, "OM-MU": 8_000, "OM-WU": 6_000,
        }),
    }
    assert admins["OM-BS"][0].last == h1_end
    may = _figure("national-digital-2025-jan-may")
    programme = Programme(
        national=(
            # "11.4 million": simulated as 11,400,000, inside the published rounding.
            Target(may.period_from, may.period_to, may.value, "published", may.figure,
                   "11.4 million, rounded to 0.1 million; simulated as 11,400,000"),
            _estimate(date(2025, 6, 1), last, 12_500_000, "June-October, not published"),
        ),
        administrations=frozen(admins),
        specials=(
            Special("intakhib", EVOTE, ()),
            Special("tawtheeq", TAWTHEEQ, (
                # "Over 50,000" in the first two months: 52,000 is our estimate above it.
                Target(date(2025, 2, 23), date(2025, 4, 22), 52_000, "published",
                       "tawtheeq-2025-first-two-months", "over 50,000; simulated as 52,000"),
                _estimate(date(2025, 4, 23), last, 150_000, "after the first two months"),
            )),
        ),
        national_weights=NATIONAL_WEIGHTS,
        administration_digital_share=Decimal("0.70"),
        estimates=(
            "national digital transactions June-October 2025",
            "North Al Batinah's and Ad Dhahirah's administrations July-October 2025",
            "the other seven administrations' digital transactions",
            "Tawtheeq after its first two months, and 52,000 for 'over 50,000'",
            "how the national entities' traffic spreads over governorates (by population)",
            "manual and unfinished transactions, channels, hours and services",
        ),
    )
    lulls = (
        Lull(date(2025, 3, 30), date(2025, 4, 3), 0.35, 0.0, "Eid al-Fitr"),
        Lull(date(2025, 6, 6), date(2025, 6, 9), 0.35, 0.0, "Eid al-Adha"),
    )
    description = ("The programme from January to October 2025: 11.4 million digital "
                   "transactions January-May, the four governorate administrations' published "
                   "figures, Tawtheeq's first two months; the rest estimated.")
    return "oman-2025", description, _Y25, programme, lulls


def programme_profiles(base: Profile) -> dict[str, Profile]:
    """The programme's profiles on ``base``'s mixes and daily shape, by name."""
    profiles: dict[str, Profile] = {}
    for make in (_oman_2023, _oman_2024, _oman_2025):
        name, description, (first, last), programme, lulls = make()
        exact = programme.exact_satisfaction
        profiles[name] = dataclasses.replace(
            base,
            name=name,
            description=description,
            first_day=first,
            last_day=last,
            shape=dataclasses.replace(base.shape, lulls=lulls),
            satisfaction_weights=SATISFACTION_77 if exact else base.satisfaction_weights,
            programme=programme,
        )
    return profiles
