"""The generator: a profile, a scale and a seed in, event-contract-v1 lines out.

Counts come from the plan (exact for any scale), so randomness only decides what each
counted event looks like. The stream is produced one day at a time, in ``occurred_at``
order within the day, so memory stays flat however large the scale.

Duplicates and invalid lines are drawn from a second generator seeded from the same seed:
turning injection on or off never changes the valid events of a run, so the truth of a run
depends only on (profile, scale, seed).
"""

from __future__ import annotations

import dataclasses
import heapq
import random
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass
from datetime import date
from operator import itemgetter
from typing import Any, Final, Literal, Protocol

import orjson

from tahawul.producers.simulator.apportion import largest_remainder
from tahawul.producers.simulator.calendar import TimeOfDay, occurred_at
from tahawul.producers.simulator.ids import valid_event_id
from tahawul.producers.simulator.invalid import InvalidLines
from tahawul.producers.simulator.plan import (
    ADMIN,
    Counts,
    Plan,
    ProgrammePlan,
    Stratum,
    build_plan,
    build_programme_plan,
)
from tahawul.producers.simulator.population import Population, ProgrammePools
from tahawul.producers.simulator.profiles import Profile, get_profile
from tahawul.producers.simulator.weighted import Weighted
from tahawul.schemas.reference import Mode, load_catalogue

SCHEMA_VERSION: Final = 1
# A duplicate is re-sent after at most this many further valid events of the same day.
DUPLICATE_MAX_DELAY: Final = 50

# control_total: an entity's statement of what it completed (control_totals.py), not an event.
# exchange: one half of a data exchange of an exchange profile (exchange_lines.py), not an event.
LineKind = Literal["valid", "duplicate", "invalid", "control_total", "exchange"]


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
    """Stream a run's lines. Arguments are checked now, lines are produced lazily. An
    exchange profile's name gives its halves (exchange_lines.py)."""
    from tahawul.producers.simulator.exchanges import is_exchange_profile

    if is_exchange_profile(profile):
        from tahawul.producers.simulator.exchange_lines import exchange_lines

        return (SimulatedLine(data, kind, signer)  # type: ignore[arg-type]
                for data, kind, signer in exchange_lines(profile, scale, seed, duplicate_rate,
                                                         invalid_rate))
    chosen = get_profile(profile)
    for name, rate in (("duplicate_rate", duplicate_rate), ("invalid_rate", invalid_rate)):
        if not 0.0 <= rate <= 1.0:
            raise ValueError(f"{name} must be within [0, 1], got {rate}")
    catalogue = load_catalogue()
    if chosen.programme is not None:
        pools = ProgrammePools(chosen, catalogue)
        programme_generator = _ProgrammeGenerator(
            profile=chosen,
            population=Population.of(chosen, catalogue),
            pools=pools,
            times=TimeOfDay(chosen.shape),
            rng=random.Random(seed),
        )
        return _stream(
            programme_generator,
            build_programme_plan(chosen, scale, pools.availability),
            invalid=InvalidLines(catalogue),
            injection=random.Random(f"tahawul-injection/{seed}"),
            duplicate_rate=duplicate_rate,
            invalid_rate=invalid_rate,
        )
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


class _Picker(Protocol):
    def pick(self, rng: random.Random) -> Any: ...


def build_event(rng: random.Random, pop: Population, times: TimeOfDay, day_iso: str, governorate: str,
                mode: Mode, status: str, quantity: int, pair: Callable[[], tuple[str, str]],
                channel: str | None, satisfaction_rate: float, ratings: _Picker) -> dict[str, Any]:
    """One event of a day, drawn in a fixed order (time, entity and service, channel,
    id, automation, rating) so that a seed always gives the same events; ``pair`` picks the
    entity and service when its turn comes."""
    digital = mode == "digital"
    ms = times.digital(rng) if digital else times.manual(rng)
    entity, service = pair()
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
    if digital and status == "completed" and rng.random() < satisfaction_rate:
        event["satisfaction"] = ratings.pick(rng)
    return event


class _DayGenerator(Protocol):
    def day(self, day_iso: str, counts: Mapping[Any, Counts]) -> list[dict[str, Any]]: ...


def _stream(
    generator: _DayGenerator,
    plan: Plan | ProgrammePlan,
    *,
    invalid: InvalidLines,
    injection: random.Random,
    duplicate_rate: float,
    invalid_rate: float,
) -> Iterator[SimulatedLine]:
    inject = injection.random
    daily: tuple[Mapping[Any, Counts], ...] = plan.daily
    for day, counts in zip(plan.days, daily, strict=True):
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
        pop = self.population
        return build_event(self.rng, pop, self.times, day_iso, governorate, mode, status, quantity,
                           lambda: pop.services[(governorate, mode)].pick(self.rng), channel,
                           self.profile.satisfaction_rate, pop.satisfaction)


class _Ratings:
    """Satisfaction scores in shuffled blocks of 100 with exactly the profile's mix.

    Independent draws let a run's average drift by more than a published percentage's
    rounding at small scales; blocks keep the running average within one block of the mix.
    """

    __slots__ = ("_block", "_pending", "_rng")

    def __init__(self, weights: Mapping[int, float], rng: random.Random) -> None:
        scores = sorted(weights)
        counts = largest_remainder(100, [round(weights[s] * 1_000_000) for s in scores])
        self._block = [s for s, c in zip(scores, counts, strict=True) for _ in range(c)]
        self._pending: list[int] = []
        self._rng = rng

    def pick(self, _rng: random.Random) -> int:
        if not self._pending:
            self._pending = list(self._block)
            self._rng.shuffle(self._pending)
        return self._pending.pop()


@dataclass(slots=True)
class _ProgrammeGenerator:
    """Draws the events of one day of a programme profile from its strata's counts."""

    profile: Profile
    population: Population
    pools: ProgrammePools
    times: TimeOfDay
    rng: random.Random
    # Per administration, services digital but not yet completed digitally in this run:
    # the next digital completion takes one of them, so every newly digitised service is
    # used as soon as the administration has a transaction after its digitisation day.
    fresh: dict[str, set[str]] = dataclasses.field(default_factory=dict)
    known: dict[str, set[str]] = dataclasses.field(default_factory=dict)
    ratings: _Ratings | None = None

    def __post_init__(self) -> None:
        programme = self.profile.programme
        if programme is not None and programme.exact_satisfaction:
            self.ratings = _Ratings(self.profile.satisfaction_weights,
                                    random.Random(f"tahawul-ratings/{self.rng.random()}"))

    def day(self, day_iso: str, counts: Mapping[Stratum, Counts]) -> list[dict[str, Any]]:
        profile = self.profile
        rng = self.rng
        pools = self.pools
        on = date.fromisoformat(day_iso)
        events: list[dict[str, Any]] = []
        add = events.append
        for (gov, part), c in counts.items():
            channel = pools.special_channel.get(part)
            if c.digital:
                pool = pools.pool(gov, part, "digital", on)
                fresh = self._fresh(gov, pool) if part == ADMIN else None
                for _ in range(c.digital):
                    if fresh:
                        service = min(fresh)
                        fresh.discard(service)
                        pair = (pools.catalogue.services[service].entity, service)
                    else:
                        pair = pool.pick(rng)
                    add(self._event(day_iso, gov, "digital", "completed", 1, pair, channel))
            remaining = c.manual
            if remaining:
                pool = pools.pool(gov, part, "manual", on)
                while remaining:
                    quantity, tally_channel = 1, None
                    if remaining >= 2 and rng.random() < profile.tally_rate:
                        quantity = rng.randint(2, min(profile.tally_max, remaining))
                        tally_channel = self.population.tally_channels.pick(rng)
                    add(self._event(day_iso, gov, "manual", "completed", quantity, pool.pick(rng),
                                    tally_channel))
                    remaining -= quantity
            open_counts: tuple[tuple[Mode, int], ...] = (
                ("digital", c.digital_non_completed), ("manual", c.manual_non_completed))
            for mode_, count in open_counts:
                if not count:
                    continue
                pool = pools.pool(gov, part, mode_, on)
                statuses = self.population.statuses[mode_]
                for _ in range(count):
                    add(self._event(day_iso, gov, mode_, statuses.pick(rng), 1, pool.pick(rng),
                                    channel if mode_ == "digital" else None))
        events.sort(key=_by_time)
        return events

    def _fresh(self, gov: str, pool: Weighted[tuple[str, str]]) -> set[str]:
        known = self.known.setdefault(gov, set())
        fresh = self.fresh.setdefault(gov, set())
        for _, service in pool.items:
            if service not in known:
                known.add(service)
                fresh.add(service)
        return fresh

    def _event(
        self,
        day_iso: str,
        governorate: str,
        mode: Mode,
        status: str,
        quantity: int,
        pair: tuple[str, str],
        channel: str | None,
    ) -> dict[str, Any]:
        """:func:`build_event` with the pair already drawn, written out: the same draws in
        the same order (so the same events), without a closure and two calls an event (the
        national year is 34 million of them)."""
        rng = self.rng
        pop = self.population
        digital = mode == "digital"
        ms = self.times.digital(rng) if digital else self.times.manual(rng)
        if channel is None:
            channel = pop.channels[mode].pick(rng)
        rate = pop.automated_rate.get(channel, 0.0) if digital else 0.0
        event: dict[str, Any] = {
            "event_id": valid_event_id(rng),
            "schema_version": SCHEMA_VERSION,
            "occurred_at": occurred_at(day_iso, ms),
            "entity": pair[0],
            "service": pair[1],
            "governorate": governorate,
            "channel": channel,
            "status": status,
            "quantity": quantity,
            "automated": rate > 0.0 and rng.random() < rate,
        }
        if digital and status == "completed" and rng.random() < self.profile.satisfaction_rate:
            event["satisfaction"] = (self.ratings or pop.satisfaction).pick(rng)
        return event
