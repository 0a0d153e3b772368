"""Reference data shipped with the package: governorates, channels, entities, services.

Codes live in CSV files under ``reference_data/`` rather than in code so that adding an
entity or re-classifying a channel is a data change reviewed like any other, and so the
JSON Schema published to integrating teams is generated from the same files.
"""

from __future__ import annotations

import csv
import io
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import date
from functools import lru_cache
from importlib import resources
from typing import Literal

Mode = Literal["digital", "manual"]
MODES: tuple[Mode, ...] = ("digital", "manual")


@dataclass(frozen=True, slots=True)
class Governorate:
    code: str
    name_en: str
    name_ar: str
    centre_en: str
    centre_lat: float
    centre_lon: float


@dataclass(frozen=True, slots=True)
class Channel:
    code: str
    mode: Mode
    name_en: str
    name_ar: str


@dataclass(frozen=True, slots=True)
class Entity:
    code: str
    name_en: str
    name_ar: str
    # ISO 3166-2:OM code of the only governorate this entity serves (a governorate office
    # or municipality), or None for a national entity that serves every governorate.
    governorate: str | None


@dataclass(frozen=True, slots=True)
class Service:
    code: str
    entity: str
    name_en: str
    name_ar: str
    # The day the service could first be completed on a digital channel; None when it was
    # digital before any period the programme publishes. Digitisation is a catalogue fact
    # (events of a truncated window cannot tell a new service from an old one), and the
    # simulator never puts a digital transaction of a service before this day.
    digitised_on: date | None = None


@dataclass(frozen=True, slots=True)
class Catalogue:
    governorates: Mapping[str, Governorate]
    channels: Mapping[str, Channel]
    entities: Mapping[str, Entity]
    services: Mapping[str, Service]
    services_by_entity: Mapping[str, tuple[str, ...]] = field(default_factory=dict)


def _rows(name: str) -> list[dict[str, str]]:
    text = resources.files("tahawul.schemas").joinpath("reference_data", name).read_text("utf-8")
    return [
        {k: v.strip() for k, v in row.items()} for row in csv.DictReader(io.StringIO(text))
    ]


class ReferenceDataError(ValueError):
    """The shipped reference data is inconsistent (a packaging defect, not bad input)."""


@lru_cache(maxsize=1)
def load_catalogue() -> Catalogue:
    governorates = {
        r["code"]: Governorate(
            r["code"], r["name_en"], r["name_ar"], r["centre_en"],
            float(r["centre_lat"]), float(r["centre_lon"]),
        )
        for r in _rows("governorates.csv")
    }
    channels: dict[str, Channel] = {}
    for r in _rows("channels.csv"):
        if r["mode"] not in MODES:
            raise ReferenceDataError(f"channel {r['code']}: unknown mode {r['mode']!r}")
        channels[r["code"]] = Channel(r["code"], r["mode"], r["name_en"], r["name_ar"])
    entities: dict[str, Entity] = {}
    for r in _rows("entities.csv"):
        gov = r["governorate"] or None
        if gov is not None and gov not in governorates:
            raise ReferenceDataError(f"entity {r['code']}: unknown governorate {gov}")
        if r["code"] in entities:
            raise ReferenceDataError(f"entity {r['code']} listed twice")
        entities[r["code"]] = Entity(r["code"], r["name_en"], r["name_ar"], gov)
    services: dict[str, Service] = {}
    by_entity: dict[str, list[str]] = {code: [] for code in entities}
    for r in _rows("services.csv"):
        if r["entity"] not in entities:
            raise ReferenceDataError(f"service {r['code']}: unknown entity {r['entity']}")
        if r["code"] in services:
            raise ReferenceDataError(f"service {r['code']} listed twice")
        digitised = r.get("digitised_on") or ""
        services[r["code"]] = Service(
            r["code"], r["entity"], r["name_en"], r["name_ar"],
            date.fromisoformat(digitised) if digitised else None,
        )
        by_entity[r["entity"]].append(r["code"])
    return Catalogue(
        governorates=governorates,
        channels=channels,
        entities=entities,
        services=services,
        services_by_entity={k: tuple(v) for k, v in by_entity.items()},
    )


def administration_of(entity: Entity) -> str | None:
    """The governorate whose administration an entity belongs to, None for a national one.

    The programme counts each governorate's administration (the governor's office, its
    municipality, its projects) as one of its 48 entities; in the catalogue those are the
    entities that serve a single governorate.
    """
    return entity.governorate


def programme_entity(entity: Entity) -> str:
    """The programme entity an entity reports under: itself, or ``admin:<governorate>``."""
    gov = administration_of(entity)
    return entity.code if gov is None else f"admin:{gov}"
