"""Generate the published JSON Schema of contract v1 from FIELDS and the reference data.

Integrating teams in Java and .NET validate against ``schemas/event-v1.schema.json``; it is
generated, never hand-edited (`tahawul schema export --out schemas/event-v1.schema.json`),
and a unit test fails when the committed file differs from what this module renders.
Rules JSON Schema cannot express without becoming unreadable (a service must belong to the
entity; a local entity only serves its governorate; occurred_at not in the future) are
stated in the descriptions and enforced by the pipeline.
"""

from __future__ import annotations

import json
from typing import Any

from tahawul.schemas import control_total as ct
from tahawul.schemas import exchange as ex
from tahawul.schemas.event import (
    FIELDS,
    MAX_QUANTITY,
    RFC3339_PATTERN,
    SCHEMA_VERSION,
    STATUSES,
)
from tahawul.schemas.reference import Catalogue, load_catalogue

SCHEMA_ID = "https://tahawul.example/schemas/event-v1.schema.json"


def _property(name: str, kind: str, catalogue: Catalogue) -> dict[str, Any]:
    if kind == "uuid":
        return {"type": "string", "format": "uuid",
                "pattern": "^[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}$"}
    if kind == "datetime":
        return {"type": "string", "format": "date-time", "pattern": RFC3339_PATTERN}
    if kind == "status":
        return {"type": "string", "enum": list(STATUSES)}
    if kind == "bool":
        return {"type": "boolean"}
    if name == "schema_version":
        return {"type": "integer", "const": SCHEMA_VERSION}
    if name == "quantity":
        return {"type": "integer", "minimum": 1, "maximum": MAX_QUANTITY}
    if name == "satisfaction":
        return {"type": ["integer", "null"], "minimum": 1, "maximum": 5}
    codes = {
        "entity": catalogue.entities,
        "service": catalogue.services,
        "governorate": catalogue.governorates,
        "channel": catalogue.channels,
    }[name]
    return {"type": "string", "enum": sorted(codes)}


def build(catalogue: Catalogue | None = None) -> dict[str, Any]:
    cat = catalogue or load_catalogue()
    properties = {}
    for spec in FIELDS:
        prop = _property(spec.name, spec.kind, cat)
        prop["description"] = spec.description
        if spec.default is not None:
            prop["default"] = spec.default
        properties[spec.name] = prop
    return {
        "$schema": "https://json-schema.org/draft/2020-12/schema",
        "$id": SCHEMA_ID,
        "title": "tahawul transaction event, contract v1",
        "description": (
            "One completed (or attempted) government transaction, emitted by the entity's system. "
            "No personal data: fields outside this contract are refused. Also enforced by the "
            "pipeline: the service must belong to the entity; an entity bound to a governorate "
            "only reports that governorate; occurred_at is not before 2000 nor in the future; "
            "the payload is at most 16 KiB of UTF-8."
        ),
        "type": "object",
        "additionalProperties": False,
        "required": [f.name for f in FIELDS if f.required],
        "properties": properties,
    }


def render() -> str:
    return json.dumps(build(), ensure_ascii=False, indent=2) + "\n"


CONTROL_TOTAL_SCHEMA_ID = "https://tahawul.example/schemas/control-total-v1.schema.json"


def _control_total_property(name: str, kind: str, catalogue: Catalogue) -> dict[str, Any]:
    if kind == "kind":
        return {"type": "string", "const": ct.KIND}
    if kind == "day":
        return {"type": "string", "format": "date", "pattern": ct.DAY_PATTERN}
    if kind == "count":
        return {"type": "integer", "minimum": 0, "maximum": ct.MAX_COMPLETED}
    if kind == "datetime":
        return {"type": "string", "format": "date-time", "pattern": RFC3339_PATTERN}
    if name == "schema_version":
        return {"type": "integer", "const": ct.SCHEMA_VERSION}
    codes = {"entity": catalogue.entities, "service": catalogue.services,
             "channel": catalogue.channels}[name]
    return {"type": "string", "enum": sorted(codes)}


def build_control_total(catalogue: Catalogue | None = None) -> dict[str, Any]:
    """The JSON Schema of control total contract v1 (schemas/control_total.py)."""
    cat = catalogue or load_catalogue()
    properties = {}
    for spec in ct.FIELDS:
        prop = _control_total_property(spec.name, spec.kind, cat)
        prop["description"] = spec.description
        properties[spec.name] = prop
    return {
        "$schema": "https://json-schema.org/draft/2020-12/schema",
        "$id": CONTROL_TOTAL_SCHEMA_ID,
        "title": "tahawul control total, contract v1",
        "description": (
            "An entity's own statement of how many transactions its system completed on one day "
            "(Asia/Muscat), service and channel; sent on the same paths as events, signed by the "
            "entity, never counted as a transaction. Also enforced by the pipeline: the service "
            "must belong to the entity; day is not before 2000 nor after today in Muscat; "
            "stated_at is not in the future nor before the day."
        ),
        "type": "object",
        "additionalProperties": False,
        "required": [f.name for f in ct.FIELDS if f.required],
        "properties": properties,
    }


def render_control_total() -> str:
    return json.dumps(build_control_total(), ensure_ascii=False, indent=2) + "\n"


EXCHANGE_SCHEMA_ID = "https://tahawul.example/schemas/exchange-v1.schema.json"


def _exchange_property(name: str, kind: str, codes: list[str]) -> dict[str, Any]:
    if kind == "kind":
        return {"type": "string", "const": ex.KIND}
    if name == "schema_version":
        return {"type": "integer", "const": ex.SCHEMA_VERSION}
    if kind == "uuid":
        return {"type": "string", "format": "uuid",
                "pattern": "^[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}$"}
    if kind == "side":
        return {"type": "string", "enum": list(ex.SIDES)}
    if kind == "party":
        return {"type": "string", "enum": codes}
    if kind == "product":
        return {"type": "string", "pattern": ex.PRODUCT_PATTERN}
    if kind == "items":
        return {"type": "integer", "minimum": 1, "maximum": ex.MAX_ITEMS}
    if kind == "datetime":
        return {"type": "string", "format": "date-time", "pattern": RFC3339_PATTERN}
    if kind == "outcome":
        return {"type": "string", "enum": list(ex.OUTCOMES)}
    raise ValueError(f"no JSON Schema for exchange field {name} ({kind})")


def build_exchange(catalogue: Catalogue | None = None) -> dict[str, Any]:
    """The JSON Schema of exchange contract v1 (schemas/exchange.py)."""
    codes = sorted(ex.parties(catalogue or load_catalogue()))
    properties = {}
    for spec in ex.FIELDS:
        prop = _exchange_property(spec.name, spec.kind, codes)
        prop["description"] = spec.description
        properties[spec.name] = prop
    return {
        "$schema": "https://json-schema.org/draft/2020-12/schema",
        "$id": EXCHANGE_SCHEMA_ID,
        "title": "tahawul data exchange half, contract v1",
        "description": (
            "One side's report of one data exchange over the national integration platform "
            "(X-Road style): codes and counts only, never a payload or personal data. Sent on "
            "the same paths as events, signed by the reporting party (the provider for "
            "side=provider, the consumer for side=consumer). Also enforced by the pipeline: "
            "provider and consumer differ; occurred_at is not before 2000 nor in the future; "
            "the payload is at most 16 KiB of UTF-8."
        ),
        "type": "object",
        "additionalProperties": False,
        "required": [f.name for f in ex.FIELDS if f.required],
        "properties": properties,
    }


def render_exchange() -> str:
    return json.dumps(build_exchange(), ensure_ascii=False, indent=2) + "\n"
