"""The mixes a profile draws from, resolved against the reference catalogue.

Which (entity, service) pairs a governorate's events can name, how likely each is on a
digital or a manual channel, and the channel, status and satisfaction mixes. Built once per
run; the generator then only draws from prepared tables.
"""

from __future__ import annotations

import zlib
from bisect import bisect_right
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import date

from tahawul.producers.simulator.profiles import NonCompletedStatus, Profile
from tahawul.producers.simulator.weighted import Weighted
from tahawul.schemas.reference import MODES, Catalogue, Entity, Mode

# A service's digital maturity is drawn in [LOW, LOW + SPAN] from a hash of its code, so the
# same service is as digital in every run and the per-service digital share varies.
_MATURITY_LOW = 0.35
_MATURITY_SPAN = 0.6


def digital_maturity(service: str) -> float:
    """Stable share of a service's traffic that is digital (before governorate totals)."""
    return _MATURITY_LOW + _MATURITY_SPAN * (zlib.crc32(service.encode()) / 0xFFFF_FFFF)


def serves(entity: Entity, governorate: str) -> bool:
    return entity.governorate is None or entity.governorate == governorate


@dataclass(frozen=True, slots=True)
class Population:
    # (governorate, mode) -> which (entity, service) an event names.
    services: Mapping[tuple[str, Mode], Weighted[tuple[str, str]]]
    channels: Mapping[Mode, Weighted[str]]
    tally_channels: Weighted[str]
    statuses: Mapping[Mode, Weighted[NonCompletedStatus]]
    satisfaction: Weighted[int]
    automated_rate: Mapping[str, float]

    @classmethod
    def of(cls, profile: Profile, catalogue: Catalogue) -> Population:
        unknown = set(profile.governorates) - set(catalogue.governorates)
        if unknown:
            raise ValueError(f"profile {profile.name}: governorates {sorted(unknown)} unknown")
        services: dict[tuple[str, Mode], Weighted[tuple[str, str]]] = {}
        for governorate in profile.governorates:
            for mode in MODES:
                pairs = list(_service_weights(profile, catalogue, governorate, mode))
                if not pairs:
                    raise ValueError(f"no entity with services serves {governorate}")
                services[(governorate, mode)] = Weighted(pairs)
        channels = {mode: Weighted(_channel_weights(profile, catalogue, mode)) for mode in MODES}
        manual = channels["manual"].items
        tally = [c for c in profile.tally_channels if c in manual] or list(manual)
        weights = profile.channel_weights
        return cls(
            services=services,
            channels=channels,
            tally_channels=Weighted((c, weights.get(c, 1.0)) for c in tally),
            statuses={
                "digital": Weighted(profile.digital_statuses.items()),
                "manual": Weighted(profile.manual_statuses.items()),
            },
            satisfaction=Weighted(profile.satisfaction_weights.items()),
            automated_rate=profile.automated_rate,
        )


def _service_weights(
    profile: Profile, catalogue: Catalogue, governorate: str, mode: Mode
) -> list[tuple[tuple[str, str], float]]:
    """Weight of each (entity, service) a governorate's events on ``mode`` channels name.

    An entity's weight is split over its services by a Zipf law in catalogue order, then
    tilted by each service's digital maturity, so that digital-heavy and counter-heavy
    services differ while entity totals stay roughly as the profile weights them.
    """
    pairs: list[tuple[tuple[str, str], float]] = []
    for code, entity in catalogue.entities.items():
        owned = catalogue.services_by_entity.get(code, ())
        # "" stands for the national entities' traffic anywhere (programme profiles).
        if not owned or not (serves(entity, governorate) if governorate else entity.governorate is None):
            continue
        if code in profile.entity_weights:
            weight = profile.entity_weights[code]
        elif entity.governorate is not None:
            weight = profile.local_entity_weight
        else:
            weight = profile.default_entity_weight
        zipf = [1.0 / (rank + 1) ** profile.service_zipf for rank in range(len(owned))]
        norm = sum(zipf)
        for service, popularity in zip(owned, zipf, strict=True):
            maturity = digital_maturity(service)
            tilt = maturity if mode == "digital" else 1.0 - maturity
            pairs.append(((code, service), weight * popularity / norm * tilt))
    return pairs


def _channel_weights(
    profile: Profile, catalogue: Catalogue, mode: Mode
) -> list[tuple[str, float]]:
    pairs = [
        (code, profile.channel_weights.get(code, profile.default_channel_weight))
        for code, channel in catalogue.channels.items()
        if channel.mode == mode
    ]
    if not pairs:
        raise ValueError(f"the catalogue has no {mode} channel")
    return pairs


class ProgrammePools:
    """What each stratum of a programme profile draws from, day by day.

    An administration's events name its own entities' services, the national entities'
    regular traffic the national entities' (minus the specials' services), a special its
    own services. A service is drawn on a digital channel only from its ``digitised_on``
    day; pools are cached per set of services available, which changes a few times a year.
    """

    def __init__(self, profile: Profile, catalogue: Catalogue) -> None:
        programme = profile.programme
        if programme is None:
            raise ValueError(f"profile {profile.name} is not a programme profile")
        self.catalogue = catalogue
        special_services = {s for sp in programme.specials for s in sp.services}
        unknown = special_services - set(catalogue.services)
        if unknown:
            raise ValueError(f"profile {profile.name}: services {sorted(unknown)} unknown")
        self.special_channel = {sp.name: sp.channel for sp in programme.specials}
        self._pairs: dict[tuple[str, str, Mode], list[tuple[tuple[str, str], float]]] = {}
        for gov in catalogue.governorates:
            for mode in MODES:
                admin = [(pair, w) for pair, w in _service_weights(profile, catalogue, gov, mode)
                         if catalogue.entities[pair[0]].governorate == gov]
                self._pairs[(gov, "admin", mode)] = admin
        for mode in MODES:
            self._pairs[("", "national", mode)] = [
                (pair, w) for pair, w in _service_weights(profile, catalogue, "", mode)
                if pair[1] not in special_services
            ]
        for sp in programme.specials:
            pairs = [((catalogue.services[s].entity, s), 1.0) for s in sp.services]
            for mode in MODES:
                self._pairs[("", sp.name, mode)] = pairs
        self._cache: dict[tuple[str, str, Mode, int], Weighted[tuple[str, str]] | None] = {}
        self._changes: dict[tuple[str, str], list[date]] = {}

    def _key(self, governorate: str, part: str) -> tuple[str, str]:
        return (governorate, part) if part == "admin" else ("", part)

    def _dates(self, key: tuple[str, str]) -> list[date]:
        found = self._changes.get(key)
        if found is None:
            services = self.catalogue.services
            found = sorted({d for (_, s), _w in self._pairs[(*key, "digital")]
                            if (d := services[s].digitised_on) is not None})
            self._changes[key] = found
        return found

    def available(self, governorate: str, part: str, day: date) -> list[tuple[tuple[str, str], float]]:
        services = self.catalogue.services
        return [(pair, w) for pair, w in self._pairs[(*self._key(governorate, part), "digital")]
                if (d := services[pair[1]].digitised_on) is None or d <= day]

    def availability(self, stratum: tuple[str, str], day: date) -> float:
        """Share of the stratum's digital service weight already digital on ``day``."""
        key = self._key(*stratum)
        total = sum(w for _, w in self._pairs[(*key, "digital")])
        if total == 0:
            return 0.0
        return sum(w for _, w in self.available(*key, day)) / total

    def pool(self, governorate: str, part: str, mode: Mode, day: date) -> Weighted[tuple[str, str]]:
        key = self._key(governorate, part)
        epoch = bisect_right(self._dates(key), day) if mode == "digital" else -1
        cache_key = (*key, mode, epoch)
        if cache_key not in self._cache:
            pairs = (self.available(*key, day) if mode == "digital"
                     else self._pairs[(*key, mode)])
            self._cache[cache_key] = Weighted(pairs) if any(w > 0 for _, w in pairs) else None
        found = self._cache[cache_key]
        if found is None:
            raise ValueError(f"nothing to draw for {governorate or 'national'} {part} {mode} on {day}")
        return found
