"""The programme's published figures as data, and the rule that says when a count matches one.

The figures live in ``reference_data/published_figures.csv`` (one row per figure, with its
scope, period, value, unit, rounding and source document) so that the simulator's profiles,
the store's audit and the documentation all read the same numbers, and a new publication
is a reviewed data change. How the sources are read is explained in docs/programme.md.

A figure is compared with a count as the source states it: an exact figure must be hit
exactly (at a run's scale, rounded half up, the way the simulator scales its totals); a
rounded one ("11.4 million") holds every count that rounds to it; "over 50,000" holds any
count above it. Counts of services, entities and percentages do not scale with a run.
"""

from __future__ import annotations

import csv
import io
from dataclasses import dataclass
from datetime import date
from decimal import ROUND_HALF_UP, Decimal
from functools import lru_cache
from importlib import resources

# Source documents (shared/seeds), by the number the figures table cites.
SOURCES: dict[str, str] = {
    "000": "North Al Batinah and Ad Dhahirah, H1 2025 (press release, 23 Oct 2025)",
    "001": "Muscat and Ad Dakhiliyah, January-October 2025 (Al Roya)",
    "002": "MTCIT: 25 Tahawul projects completed (ONA, 25 Oct 2025)",
    "003": "Tahawul annual performance report 2024",
    "004": "e-participation initiatives: Tawtheeq, Intakhib (MTCIT)",
}

# Units whose counts grow with a run's scale (transactions and what is counted like them).
SCALED_UNITS = frozenset({"transactions", "voters", "data items"})


class PublishedFiguresError(ValueError):
    """The shipped figures table is inconsistent (a packaging defect, not bad input)."""


@dataclass(frozen=True, slots=True)
class Figure:
    """One published figure.

    ``rounding`` is ``exact``, ``over`` (the source says "over" the value: a lower bound),
    or the unit the value was rounded to (``100000`` for "11.4 million", ``1`` for "77%").
    ``check`` names how the store counts it; empty when the pipeline cannot count it (a
    registry figure, a target, a field the event contract does not carry).
    """

    figure: str
    description: str
    scope: str
    period_from: date
    period_to: date
    value: int
    unit: str
    rounding: str
    source: str
    check: str
    note: str

    @property
    def scaled(self) -> bool:
        return self.unit in SCALED_UNITS

    @property
    def countable(self) -> bool:
        return bool(self.check)

    @property
    def source_title(self) -> str:
        return f"[{self.source}] {SOURCES.get(self.source, '')}".strip()

    def target(self, scale: Decimal) -> Decimal:
        """The value a run at ``scale`` must reproduce (unrounded)."""
        return Decimal(self.value) * scale if self.scaled else Decimal(self.value)

    def bounds(self, scale: Decimal) -> tuple[Decimal, Decimal | None]:
        """The counts that match: ``low <= count < high`` (``high`` None: no upper bound).

        Exact: the one count the scaled value rounds to, half up. Rounded to ``r``: the
        published value stands for [value - r/2, value + r/2), scaled. Over: above the
        scaled value.
        """
        target = self.target(scale)
        if self.rounding == "exact":
            hit = _half_up(target)
            return hit, hit + 1
        if self.rounding == "over":
            return target.to_integral_value(rounding="ROUND_FLOOR") + 1, None
        half = Decimal(self.rounding) / 2
        factor = scale if self.scaled else Decimal(1)
        return (Decimal(self.value) - half) * factor, (Decimal(self.value) + half) * factor

    def holds(self, counted: Decimal | int | float, scale: Decimal) -> bool:
        low, high = self.bounds(scale)
        value = Decimal(str(counted))
        return value >= low and (high is None or value < high)

    def expected(self, scale: Decimal) -> Decimal:
        """What to print as the published figure at ``scale`` (exact ones rounded half up)."""
        target = self.target(scale)
        return Decimal(_half_up(target)) if self.rounding == "exact" else target


def _half_up(value: Decimal) -> Decimal:
    return value.quantize(Decimal(1), rounding=ROUND_HALF_UP)


@lru_cache(maxsize=1)
def load_published() -> tuple[Figure, ...]:
    text = (
        resources.files("tahawul.schemas")
        .joinpath("reference_data", "published_figures.csv")
        .read_text("utf-8")
    )
    figures: list[Figure] = []
    seen: set[str] = set()
    for row in csv.DictReader(io.StringIO(text)):
        r = {k: v.strip() for k, v in row.items()}
        name = r["figure"]
        if name in seen:
            raise PublishedFiguresError(f"figure {name} listed twice")
        seen.add(name)
        if r["source"] not in SOURCES:
            raise PublishedFiguresError(f"figure {name}: unknown source {r['source']!r}")
        rounding = r["rounding"]
        if rounding not in ("exact", "over") and not rounding.isdigit():
            raise PublishedFiguresError(f"figure {name}: rounding {rounding!r}")
        first, last = date.fromisoformat(r["period_from"]), date.fromisoformat(r["period_to"])
        if last < first:
            raise PublishedFiguresError(f"figure {name}: period ends before it starts")
        figures.append(
            Figure(
                figure=name,
                description=r["description"],
                scope=r["scope"],
                period_from=first,
                period_to=last,
                value=int(r["value"]),
                unit=r["unit"],
                rounding=rounding,
                source=r["source"],
                check=r["check"],
                note=r["note"],
            )
        )
    return tuple(figures)


def figure(name: str) -> Figure:
    for item in load_published():
        if item.figure == name:
            return item
    raise KeyError(name)
