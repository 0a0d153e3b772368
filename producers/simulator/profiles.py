"""Simulation profiles: who transacts how much, when and through which channel. Pure data.

A profile pins the *totals* the simulator must hit (so an end-to-end run can be checked
against published figures to the transaction) and the *shape* around them (weekdays, hours,
holidays, channels, entities). Entity and service codes are never listed as the only
possibilities: the catalogue in ``schemas/reference_data`` decides what exists, and the
profile only nudges weights for codes that happen to be present.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import date
from decimal import Decimal

from tahawul.producers.simulator.model import (
    GovernorateTarget,
    Lull,
    NonCompletedStatus,
    Profile,
    Programme,
    Shape,
    Special,
    Target,
    TargetSource,
    frozen,
    prorate,
)
from tahawul.producers.simulator.programme import programme_profiles

__all__ = [
    "PROFILES",
    "GovernorateTarget",
    "Lull",
    "NonCompletedStatus",
    "Profile",
    "Programme",
    "Shape",
    "Special",
    "Target",
    "TargetSource",
    "get_profile",
    "prorate",
]

_JAN_OCT_2025_DAYS = (date(2025, 10, 31) - date(2025, 1, 1)).days + 1  # 304
_H1_2025_DAYS = (date(2025, 6, 30) - date(2025, 1, 1)).days + 1  # 181


OMAN_2025_H1 = Profile(
    name="oman-2025-h1",
    description=(
        "First half of 2025 in Asia/Muscat. Digital totals per governorate reproduce the "
        "published H1 figures for North Al Batinah and Ad Dhahirah, prorate the Jan-Oct "
        "figures for Muscat and Ad Dakhiliyah, and estimate the rest. Each governorate's "
        "figure is put on everything in it, which predates the reading of docs/programme.md "
        "(those are the administrations' own); kept for the tests and demos built on it, "
        "oman-2025 is the programme."
    ),
    first_day=date(2025, 1, 1),
    last_day=date(2025, 6, 30),
    governorates=frozen(
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
    digital_statuses=frozen({"submitted": 0.35, "rejected": 0.25, "abandoned": 0.40}),
    manual_statuses=frozen({"submitted": 0.50, "rejected": 0.45, "abandoned": 0.05}),
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
    entity_weights=frozen(
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
    channel_weights=frozen(
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
    automated_rate=frozen({"api": 0.92, "portal": 0.12}),
    satisfaction_rate=0.30,
    # Mean 4.1 of 5: about the 77% average satisfaction published for 2024 ([003]).
    satisfaction_weights=frozen({1: 0.04, 2: 0.05, 3: 0.12, 4: 0.35, 5: 0.44}),
)



# The programme profiles are generated from the published figures, on the mixes and daily
# shape of the first profile.
PROFILES: Mapping[str, Profile] = frozen(
    {OMAN_2025_H1.name: OMAN_2025_H1, **programme_profiles(OMAN_2025_H1)}
)


def get_profile(name: str) -> Profile:
    try:
        return PROFILES[name]
    except KeyError:
        known = ", ".join(sorted(PROFILES))
        raise ValueError(f"unknown profile {name!r} (known: {known})") from None
