"""The published figures table: complete, consistent, and matched the way the sources state it."""

from __future__ import annotations

from datetime import date
from decimal import Decimal

import pytest

from tahawul.schemas.published import SOURCES, figure, load_published
from tahawul.schemas.reference import load_catalogue, programme_entity


def test_every_figure_of_the_sources_is_in_the_table() -> None:
    values = {f.figure: f.value for f in load_published()}
    assert values["national-digital-2024-jan-nov"] == 26_989_120
    assert values["national-digital-2023"] == 9_427_548
    assert values["national-digital-2025-jan-may"] == 11_400_000
    assert values["admin-digital-OM-BS-2025-h1"] == 96_478
    assert values["admin-digital-OM-ZA-2025-h1"] == 13_931
    assert values["admin-digital-OM-MA-2025-jan-oct"] == 234_251
    assert values["admin-digital-OM-DA-2025-jan-oct"] == 581_006
    assert values["satisfaction-2024"] == 77
    assert values["intakhib-voters-2023"] == 496_279
    assert all(f.source in SOURCES for f in load_published())
    assert all(f.period_from <= f.period_to for f in load_published())


def test_exact_figures_scale_half_up() -> None:
    bs = figure("admin-digital-OM-BS-2025-h1")
    assert bs.expected(Decimal("0.01")) == 965  # 964.78
    assert bs.holds(965, Decimal("0.01")) and not bs.holds(964, Decimal("0.01"))
    assert bs.holds(96_478, Decimal(1)) and not bs.holds(96_479, Decimal(1))
    assert figure("admin-digital-OM-ZA-2025-h1").expected(Decimal("0.05")) == 697  # 696.55


def test_rounded_lower_bound_and_unscaled_figures() -> None:
    may = figure("national-digital-2025-jan-may")
    assert may.holds(11_350_000, Decimal(1)) and not may.holds(11_450_000, Decimal(1))
    assert may.holds(113_600, Decimal("0.01")) and not may.holds(113_400, Decimal("0.01"))
    over = figure("tawtheeq-2025-first-two-months")
    assert over.holds(501, Decimal("0.01")) and not over.holds(500, Decimal("0.01"))
    sat = figure("satisfaction-2024")
    assert sat.holds(76.5, Decimal("0.01")) and sat.holds(77.49, Decimal(1))
    assert not sat.holds(77.5, Decimal(1))
    assert figure("entities-2024-jan-nov").expected(Decimal("0.01")) == 48
    assert not figure("tawtheeq-departments-2025").countable


def test_48_programme_entities_and_digitisation_dates() -> None:
    cat = load_catalogue()
    assert len({programme_entity(e) for e in cat.entities.values()}) == 48
    assert len({e.governorate for e in cat.entities.values() if e.governorate}) == 11
    assert cat.services["MJLA-NOTARY-POA-LAWYER"].digitised_on == date(2025, 2, 23)
    assert cat.services["ROP-DRIVING-LICENCE-RENEW"].digitised_on is None


@pytest.mark.parametrize(("gov", "first", "last", "count"), [
    ("OM-ZA", date(2025, 1, 1), date(2025, 6, 30), 9),
    ("OM-MA", date(2025, 1, 1), date(2025, 10, 31), 9),
    ("OM-DA", date(2025, 1, 1), date(2025, 10, 31), 4),
])
def test_catalogue_dates_the_published_new_services(gov: str, first: date, last: date,
                                                    count: int) -> None:
    cat = load_catalogue()
    new = [s for s in cat.services.values() if cat.entities[s.entity].governorate == gov
           and s.digitised_on is not None and first <= s.digitised_on <= last]
    assert len(new) == count
    # Each administration keeps a service digital from before, so it transacts in 2024.
    assert any(s.digitised_on is None for s in cat.services.values()
               if cat.entities[s.entity].governorate == gov)
