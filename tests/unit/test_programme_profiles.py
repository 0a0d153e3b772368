"""The programme profiles reproduce every published figure of their period, at any scale."""

from __future__ import annotations

from collections import Counter
from decimal import Decimal

import orjson
import pytest

from tahawul.producers.simulator import PROFILES, iter_simulation
from tahawul.producers.simulator.plan import ADMIN, build_programme_plan
from tahawul.producers.simulator.population import ProgrammePools
from tahawul.schemas.published import figure, load_published
from tahawul.schemas.reference import load_catalogue

PROGRAMME = ("oman-2023", "oman-2024", "oman-2025")


def plan_digital(name: str, scale: float) -> Counter[tuple[str, str, str]]:
    """Digital completed per (governorate, part, day) from the plan."""
    profile = PROFILES[name]
    plan = build_programme_plan(profile, scale, ProgrammePools(profile, load_catalogue()).availability)
    out: Counter[tuple[str, str, str]] = Counter()
    for day, counts in zip(plan.days, plan.daily, strict=True):
        for (gov, part), c in counts.items():
            out[(gov, part, day.isoformat())] += c.digital
    return out


@pytest.mark.parametrize("scale", [1, 0.01, 0.003, 0.0005])
@pytest.mark.parametrize("name", PROGRAMME)
def test_published_targets_hit_exactly_by_the_plan(name: str, scale: float) -> None:
    profile = PROFILES[name]
    assert profile.programme is not None
    digital = plan_digital(name, scale)
    s = Decimal(str(scale))
    for fig_name in profile.programme.published:
        fig = figure(fig_name)
        first, last = fig.period_from.isoformat(), fig.period_to.isoformat()
        if fig.scope == "national":
            counted = sum(v for (_, _, d), v in digital.items() if first <= d <= last)
        elif fig.scope.startswith("administration:"):
            gov = fig.scope.split(":")[1]
            counted = sum(v for (g, p, d), v in digital.items()
                          if g == gov and p == ADMIN and first <= d <= last)
        else:
            part = "intakhib" if "MOI-EVOTE" in fig.scope else "tawtheeq"
            counted = sum(v for (_, p, d), v in digital.items() if p == part and first <= d <= last)
        assert fig.holds(counted, s), (fig_name, counted, fig.bounds(s))


def test_every_countable_figure_of_a_profile_period_is_published_by_it() -> None:
    from tahawul.producers.simulator.exchanges import EXCHANGE_PROFILES

    # The integration platform's figures are the exchange profiles' (exchanges.py), not a
    # transaction profile's, though their periods coincide.
    of_exchanges = {figure for p in EXCHANGE_PROFILES.values() for figure in p.published}
    for name in PROGRAMME:
        profile = PROFILES[name]
        assert profile.programme is not None
        held = {f.figure for f in load_published() if f.countable and f.scaled
                and profile.first_day <= f.period_from and f.period_to <= profile.last_day
                and f.figure not in of_exchanges}
        assert held <= set(profile.programme.published), name
        assert profile.programme.estimates


def test_events_of_a_run_carry_the_plan() -> None:
    cat = load_catalogue()
    counted: Counter[str] = Counter()
    ratings: list[int] = []
    for line in iter_simulation("oman-2025", 0.002, 3):
        e = orjson.loads(line.data)
        if e["status"] != "completed" or cat.channels[e["channel"]].mode != "digital":
            continue
        gov = cat.entities[e["entity"]].governorate
        if gov and e["occurred_at"][:10] <= "2025-06-30":
            counted[gov] += 1
        assert (cat.services[e["service"]].digitised_on or e["occurred_at"][:10]).__str__() \
            <= e["occurred_at"][:10]
        ratings.extend([e["satisfaction"]] if "satisfaction" in e else [])
    assert counted["OM-BS"] == 193  # 96,478 x 0.002 = 192.956
    assert counted["OM-ZA"] == 28  # 13,931 x 0.002 = 27.862
    assert 76.5 <= (sum(ratings) / len(ratings) - 1) / 4 * 100 < 77.5
