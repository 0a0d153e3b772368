"""Invalid lines: one of each way a producer can break event contract v1.

Each is derived from a valid event (so it looks like real traffic apart from its defect)
and carries a fresh event id, so a validator that wrongly accepted one would visibly
change the counts instead of being masked by deduplication.
"""

from __future__ import annotations

import random
from collections.abc import Collection
from typing import Any, Final

import orjson

from tahawul.producers.simulator.ids import invalid_line_id
from tahawul.schemas.reference import Catalogue

INVALID_KINDS: Final = (
    "not_json",
    "truncated_json",
    "json_array",
    "missing_field",
    "quantity_as_string",
    "automated_as_string",
    "unknown_entity",
    "unknown_service",
    "service_not_owned",
    "unknown_governorate",
    "unknown_channel",
    "unknown_status",
    "quantity_not_positive",
    "occurred_at_without_offset",
    "occurred_at_before_2000",
    "unsupported_schema_version",
    "extra_field",
)

REQUIRED_FIELDS: Final = (
    "event_id",
    "schema_version",
    "occurred_at",
    "entity",
    "service",
    "governorate",
    "channel",
    "status",
)

class InvalidLines:
    """Turns a valid event into an invalid line of a randomly chosen kind."""

    def __init__(self, catalogue: Catalogue) -> None:
        self._services = tuple(sorted((s.code, s.entity) for s in catalogue.services.values()))
        self._entities = frozenset(catalogue.entities)
        self._absent = {
            "entity": _absent(("MOX", "ROYAL-POLICE", "XX-ENTITY"), catalogue.entities),
            "governorate": _absent(("OM-XX", "OM-00", "AE-DU"), catalogue.governorates),
            "channel": _absent(("fax", "email", "carrier_pigeon"), catalogue.channels),
        }

    def make(
        self, event: dict[str, Any], rng: random.Random, kind: str | None = None
    ) -> tuple[bytes, str | None]:
        """An invalid variant of ``event`` (of a random kind unless given) and its entity key.

        The key is the entity code when the line names a real entity, else None.
        """
        if kind is None:
            kind = rng.choice(INVALID_KINDS)
        elif kind not in INVALID_KINDS:
            raise ValueError(f"unknown invalid-line kind {kind!r}")
        bad = dict(event, event_id=invalid_line_id(rng))
        entity: str | None = bad["entity"]
        match kind:
            case "not_json":
                text = " ".join(f"{k}={v}" for k, v in bad.items())
                return text.encode(), None
            case "truncated_json":
                data = orjson.dumps(bad)
                return data[: rng.randrange(1, len(data) - 1)], None
            case "json_array":
                return orjson.dumps([bad]), None
            case "missing_field":
                field = rng.choice(REQUIRED_FIELDS)
                del bad[field]
                if field == "entity":
                    entity = None
            case "quantity_as_string":
                bad["quantity"] = str(bad["quantity"])
            case "automated_as_string":
                bad["automated"] = rng.choice(("yes", "no", "true"))
            case "unknown_entity":
                bad["entity"] = rng.choice(self._absent["entity"])
                entity = None
            case "unknown_service":
                bad["service"] = f"{bad['entity']}-NO-SUCH-SERVICE"
            case "service_not_owned":
                others = [code for code, owner in self._services if owner != bad["entity"]]
                bad["service"] = (
                    rng.choice(others) if others else f"{bad['entity']}-NO-SUCH-SERVICE"
                )
            case "unknown_governorate":
                bad["governorate"] = rng.choice(self._absent["governorate"])
            case "unknown_channel":
                bad["channel"] = rng.choice(self._absent["channel"])
            case "unknown_status":
                bad["status"] = rng.choice(("pending", "in_progress", "done"))
            case "quantity_not_positive":
                bad["quantity"] = rng.choice((0, -1, -rng.randint(2, 40)))
            case "occurred_at_without_offset":
                bad["occurred_at"] = bad["occurred_at"][:23]
            case "occurred_at_before_2000":
                month_day = bad["occurred_at"][5:10]
                month_day = "02-28" if month_day == "02-29" else month_day
                year = rng.randint(1970, 1999)
                bad["occurred_at"] = f"{year}-{month_day}{bad['occurred_at'][10:]}"
            case "unsupported_schema_version":
                bad["schema_version"] = 99
            case "extra_field":
                bad["national_id"] = f"{rng.randrange(10**7, 10**8)}"
        if entity is not None and entity not in self._entities:
            entity = None
        return orjson.dumps(bad), entity


def _absent(candidates: tuple[str, ...], present: Collection[str]) -> tuple[str, ...]:
    """The candidate codes not in the catalogue (guards against a code being added later)."""
    left = tuple(c for c in candidates if c not in present)
    if not left:
        raise ValueError(f"all of {candidates} exist in the catalogue")
    return left
