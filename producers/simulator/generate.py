"""The generator: a profile, a scale and a seed in, event-contract-v1 lines out.

Counts come from the plan (exact for any scale), so randomness only decides what each
counted event looks like. The stream is produced one day at a time, in ``occurred_at``
order within the day, so memory stays flat however large the scale.

Duplicates and invalid lines are drawn from a second generator seeded from the same seed:
turning injection on or off never changes the valid events of a run, so the truth of a run
depends only on (profile, scale, seed).
"""

from __future__ import annotations

import heapq
import random
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from operator import itemgetter
from typing import Any, Final, Literal

import orjson

from tahawul.producers.simulator.calendar import TimeOfDay, occurred_at
from tahawul.producers.simulator.ids import valid_event_id
from tahawul.producers.simulator.invalid import InvalidLines
from tahawul.producers.simulator.plan import Counts, Plan, build_plan
from tahawul.producers.simulator.population import Population
from tahawul.producers.simulator.profiles import Profile, get_profile
from tahawul.schemas.reference import Mode, load_catalogue

SCHEMA_VERSION: Final = 1
# A duplicate is re-sent after at most this many further valid events of the same day.
DUPLICATE_MAX_DELAY: Final = 50

LineKind = Literal["valid", "duplicate", "invalid"]


@dataclass(frozen=True, slots=True)
class SimulatedLine:
    """One line of the stream, without its newline, and what it is meant to be.

    ``entity`` is the key a producer partitions by; None for an invalid line that names no
    real entity (or cannot be parsed).
    """

    data: bytes
    kind: LineKind
    entity: str | None


def iter_simulation(
    profile: str,
    scale: float,
    seed: int,
    duplicate_rate: float = 0.0,
    invalid_rate: float = 0.0,
) -> Iterator[SimulatedLine]:
    """Stream a run's lines. Arguments are checked now, lines are produced lazily."""
    chosen = get_profile(profile)
    for name, rate in (("duplicate_rate", duplicate_rate), ("invalid_rate", invalid_rate)):
        if not 0.0 <= rate <= 1.0:
            raise ValueError(f"{name} must be within [0, 1], got {rate}")
    catalogue = load_catalogue()
    generator = _Generator(
        profile=chosen,
        population=Population.of(chosen, catalogue),
        times=TimeOfDay(chosen.shape),
        rng=random.Random(seed),
    )
    return _stream(
        generator,
        build_plan(chosen, scale),
        invalid=InvalidLines(catalogue),
        injection=random.Random(f"tahawul-injection/{seed}"),
        duplicate_rate=duplicate_rate,
        invalid_rate=invalid_rate,
    )


def _stream(
    generator: _Generator,
    plan: Plan,
    *,
    invalid: InvalidLines,
    injection: random.Random,
    duplicate_rate: float,
    invalid_rate: float,
) -> Iterator[SimulatedLine]:
    inject = injection.random
    for day, counts in zip(plan.days, plan.daily, strict=True):
        # Duplicates waiting to be re-sent: (after valid event number, order, line).
        pending: list[tuple[int, int, SimulatedLine]] = []
        for position, event in enumerate(generator.day(day.isoformat(), counts), 1):
            data = orjson.dumps(event)
            entity = event["entity"]
            yield SimulatedLine(data, "valid", entity)
            if duplicate_rate and inject() < duplicate_rate:
                due = position + injection.randint(1, DUPLICATE_MAX_DELAY)
                heapq.heappush(pending, (due, position, SimulatedLine(data, "duplicate", entity)))
            if invalid_rate and inject() < invalid_rate:
                bad, key = invalid.make(event, injection)
                yield SimulatedLine(bad, "invalid", key)
            while pending and pending[0][0] <= position:
                yield heapq.heappop(pending)[2]
        while pending:
            yield heapq.heappop(pending)[2]


_by_time = itemgetter("occurred_at")


@dataclass(slots=True)
class _Generator:
    """Draws the events of one day from the plan's counts."""

    profile: Profile
    population: Population
    times: TimeOfDay
    rng: random.Random

    def day(self, day_iso: str, counts: Mapping[str, Counts]) -> list[dict[str, Any]]:
        """All events of a day, sorted by ``occurred_at`` (stable, so ties keep draw order)."""
        profile = self.profile
        rng = self.rng
        tally_rate = profile.tally_rate
        events: list[dict[str, Any]] = []
        add = events.append
        for gov, c in counts.items():
            for _ in range(c.digital):
                add(self._event(day_iso, gov, "digital", "completed", 1))
            # Manual quantity is exact: tallies never take more than what is left.
            remaining = c.manual
            while remaining:
                quantity, channel = 1, None
                if remaining >= 2 and rng.random() < tally_rate:
                    quantity = rng.randint(2, min(profile.tally_max, remaining))
                    channel = self.population.tally_channels.pick(rng)
                add(self._event(day_iso, gov, "manual", "completed", quantity, channel))
                remaining -= quantity
            non_completed: tuple[tuple[Mode, int], ...] = (
                ("digital", c.digital_non_completed),
                ("manual", c.manual_non_completed),
            )
            for mode, count in non_completed:
                statuses = self.population.statuses[mode]
                for _ in range(count):
                    add(self._event(day_iso, gov, mode, statuses.pick(rng), 1))
        events.sort(key=_by_time)
        return events

    def _event(
        self,
        day_iso: str,
        governorate: str,
        mode: Mode,
        status: str,
        quantity: int,
        channel: str | None = None,
    ) -> dict[str, Any]:
        rng = self.rng
        pop = self.population
        digital = mode == "digital"
        ms = self.times.digital(rng) if digital else self.times.manual(rng)
        entity, service = pop.services[(governorate, mode)].pick(rng)
        if channel is None:
            channel = pop.channels[mode].pick(rng)
        rate = pop.automated_rate.get(channel, 0.0) if digital else 0.0
        event: dict[str, Any] = {
            "event_id": valid_event_id(rng),
            "schema_version": SCHEMA_VERSION,
            "occurred_at": occurred_at(day_iso, ms),
            "entity": entity,
            "service": service,
            "governorate": governorate,
            "channel": channel,
            "status": status,
            "quantity": quantity,
            "automated": rate > 0.0 and rng.random() < rate,
        }
        if (
            digital
            and status == "completed"
            and rng.random() < self.profile.satisfaction_rate
        ):
            event["satisfaction"] = pop.satisfaction.pick(rng)
        return event
