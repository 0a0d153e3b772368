"""The redacted form of a rejected payload: what the pipeline keeps of an event it refused.

A rejected event is by definition untrusted: it may carry fields the contract forbids
(``national_id``, ``citizen_name``, ``phone``) or personal data in a contract field
(a name where a service code belongs). Nothing downstream of the validating worker (the
dead-letter topic, the ``rejected`` table, logs) ever holds its bytes. What is kept is:

- ``bytes``: the payload's size, and ``hmac_sha256``: a keyed hash of its exact bytes
  (HMAC-SHA256 with the pipeline's redaction key, TAHAWUL_REDACTION_KEY). Support asks the
  sender for the event and compares hashes; without the key nobody can test guesses (a
  plain SHA-256 of a low-entropy national id is reversed by trying them all);
- ``json``: the JSON type of the payload (``null`` when it is not JSON at all);
- ``fields``: for an object, each top-level field's name, JSON type and size (bytes of its
  JSON text), in payload order, at most MAX_FIELDS of them (``fields_total`` says how many);
- ``kept``: the values of contract fields that passed their own field check (a UUID
  event_id, a catalogue entity/service/governorate/channel code, a known status, an
  in-range quantity, satisfaction or occurred_at, a boolean automated). These are codes and
  numbers from the contract's closed vocabularies, never free text, so no value a sender
  made up is kept; they let an operator see which entity and service a rejection concerns.
  For an exchange half (``"kind": "exchange"``): its kind, a UUID exchange_id, a known side
  and outcome, and provider and consumer when they are catalogue codes (never its product).

Field names are kept (cut to MAX_NAME_CHARS): they tell the sender which field broke the
contract. Pure: the key is passed in, nothing here reads a file.
"""

from __future__ import annotations

import hashlib
import hmac
import re
from datetime import UTC, datetime
from typing import Any, Final

import orjson

from tahawul.schemas.event import (
    EARLIEST_OCCURRED_AT,
    FUTURE_TOLERANCE,
    MAX_QUANTITY,
    RFC3339_PATTERN,
    SCHEMA_VERSION,
    STATUSES,
)
from tahawul.schemas.exchange import OUTCOMES as EXCHANGE_OUTCOMES
from tahawul.schemas.exchange import SIDES as EXCHANGE_SIDES
from tahawul.schemas.reference import Catalogue

FORM: Final = "tahawul-redacted-v1"
MAX_FIELDS: Final = 50
MAX_NAME_CHARS: Final = 64
_UUID_RE: Final = re.compile(r"^[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}$")
_RFC3339_RE: Final = re.compile(RFC3339_PATTERN)


def payload_hmac(key: bytes, payload: bytes) -> str:
    """HMAC-SHA256 (hex) of a payload's exact bytes under the redaction key."""
    return hmac.new(key, payload, hashlib.sha256).hexdigest()


def _json_type(value: Any) -> str:
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "boolean"
    if isinstance(value, int):
        return "integer"
    if isinstance(value, float):
        return "number"
    if isinstance(value, str):
        return "string"
    if isinstance(value, list):
        return "array"
    return "object"


def _is_int(value: Any) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


def _occurred_ok(value: Any, now: datetime) -> bool:
    if not isinstance(value, str) or not _RFC3339_RE.match(value):
        return False
    try:
        parsed = datetime.fromisoformat(value.upper().replace("Z", "+00:00")).astimezone(UTC)
    except ValueError:
        return False
    return EARLIEST_OCCURRED_AT <= parsed <= now + FUTURE_TOLERANCE


def kept_values(obj: dict[str, Any], catalogue: Catalogue | None, now: datetime) -> dict[str, Any]:
    """The contract fields of ``obj`` whose values pass their own field check (see the
    module docstring); catalogue codes are kept only with a catalogue to check them."""
    kept: dict[str, Any] = {}
    value = obj.get("event_id")
    if isinstance(value, str) and _UUID_RE.match(value):
        kept["event_id"] = value.lower()
    if obj.get("schema_version") == SCHEMA_VERSION and _is_int(obj.get("schema_version")):
        kept["schema_version"] = SCHEMA_VERSION
    if _occurred_ok(obj.get("occurred_at"), now):
        kept["occurred_at"] = obj["occurred_at"]
    if catalogue is not None:
        for name, known in (("entity", catalogue.entities), ("service", catalogue.services),
                            ("governorate", catalogue.governorates), ("channel", catalogue.channels)):
            value = obj.get(name)
            if isinstance(value, str) and value in known:
                kept[name] = value
    value = obj.get("status")
    if isinstance(value, str) and value in STATUSES:
        kept["status"] = value
    value = obj.get("quantity")
    if isinstance(value, int) and _is_int(value) and 1 <= value <= MAX_QUANTITY:
        kept["quantity"] = value
    value = obj.get("automated")
    if isinstance(value, bool):
        kept["automated"] = value
    value = obj.get("satisfaction")
    if isinstance(value, int) and _is_int(value) and 1 <= value <= 5:
        kept["satisfaction"] = value
    if obj.get("kind") == "exchange":  # an exchange half (schemas/exchange.py): its codes
        kept["kind"] = "exchange"
        value = obj.get("exchange_id")
        if isinstance(value, str) and _UUID_RE.match(value):
            kept["exchange_id"] = value.lower()
        for name, allowed in (("side", EXCHANGE_SIDES), ("outcome", EXCHANGE_OUTCOMES)):
            value = obj.get(name)
            if isinstance(value, str) and value in allowed:
                kept[name] = value
        if catalogue is not None:  # (a product code is a pattern, not a closed list: never kept)
            for name in ("provider", "consumer"):
                value = obj.get(name)
                if isinstance(value, str) and value in catalogue.entities:
                    kept[name] = value
    return kept


def redact(payload: bytes | None, key: bytes, catalogue: Catalogue | None,
           now: datetime | None = None, digest: str | None = None) -> bytes:
    """The redacted form (compact JSON) of a rejected payload; see the module docstring.
    Bounded whatever the payload: at most MAX_FIELDS names of MAX_NAME_CHARS characters.
    ``digest``: the payload's :func:`payload_hmac` under ``key``, when the caller has it."""
    raw = payload or b""
    out: dict[str, Any] = {"redacted": FORM, "bytes": len(raw),
                           "hmac_sha256": payload_hmac(key, raw) if digest is None else digest}
    try:
        obj = orjson.loads(raw) if raw else None
        out["json"] = _json_type(obj) if raw else None
    except orjson.JSONDecodeError:
        obj = None
        out["json"] = None
    if isinstance(obj, dict):
        out["fields_total"] = len(obj)
        out["fields"] = [
            {"name": name[:MAX_NAME_CHARS], "type": _json_type(value),
             "size": len(orjson.dumps(value))}
            for name, value in list(obj.items())[:MAX_FIELDS]
        ]
        out["kept"] = kept_values(obj, catalogue, now or datetime.now(UTC))
    elif isinstance(obj, list):
        out["items"] = len(obj)
    return orjson.dumps(out)


def claimed_entity(redacted: bytes) -> str:
    """The catalogue entity a redacted payload kept, or ""."""
    try:
        kept = orjson.loads(redacted).get("kept") or {}
    except (orjson.JSONDecodeError, AttributeError):
        return ""
    entity = kept.get("entity") if isinstance(kept, dict) else None
    return entity if isinstance(entity, str) else ""
