"""Exchange contract v1: one half of a data exchange over the national integration platform.

X-Road logs one exchange (a request and its response) twice: at the consumer's security
server and at the provider's. X-Road Metrics collects both records and its corrector pairs
them by the request's id. tahawul takes the same two reports: each entity's system states
the exchanges it took part in, one *half* per exchange and side, signed by the entity that
reports it (the provider's half by the provider, the consumer's half by the consumer), and
the counting writer pairs the halves by ``(provider, consumer, exchange_id)`` and counts each
exchange once (docs/exchanges.md, "Pairing rule").

A half carries codes and counts only: who provided, who consumed, which data product, how
many items, when, the outcome class. No payload, no query, no personal data: the schema is
closed (unknown fields are refused) and every string is a code from a closed list or a
bounded pattern.

``FIELDS`` is the single source of truth: the validator here and the published JSON Schema
(``schemas/exchange-v1.schema.json``, `tahawul schema export --kind exchange`) derive from
it, and a unit test checks that the committed file equals what the code renders.
"""

from __future__ import annotations

import hashlib
import re
from dataclasses import dataclass
from datetime import UTC, datetime
from functools import lru_cache
from typing import Any, Final

from tahawul.schemas.event import (
    RFC3339_PATTERN,
    FieldSpec,
    InvalidEvent,
    check_kind_and_version,
    check_occurred_at,
)
from tahawul.schemas.platform_members import load_platform_members
from tahawul.schemas.reference import Catalogue

KIND: Final = "exchange"
SCHEMA_VERSION: Final = 1
SIDES: Final = ("provider", "consumer")
# success, or the class of the failure; a closed list so that error rates compare across
# entities (X-Road Metrics keeps a succeeded flag and a SOAP/REST fault code; a fault code is
# free text, so it is mapped to one of these classes by the reporting system).
OUTCOMES: Final = ("success", "timeout", "provider_error", "unauthorized", "not_found",
                   "invalid_request", "platform_error")
# One exchange may carry a bulk answer; a million items is far above any one response and
# far below anything that could overflow a sum.
MAX_ITEMS: Final = 1_000_000
# A data product (an X-Road service code, e.g. "ROP.civil-registry.person"): a bounded code,
# never text that could carry data.
PRODUCT_PATTERN: Final = r"^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$"
_PRODUCT_RE: Final = re.compile(PRODUCT_PATTERN)
_UUID_RE: Final = re.compile(r"^[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}$")
_RFC3339_RE: Final = re.compile(RFC3339_PATTERN)

FIELDS: Final[tuple[FieldSpec, ...]] = (
    FieldSpec("kind", "kind", True, "Always \"exchange\": what tells an exchange half from a "
              "transaction event."),
    FieldSpec("schema_version", "int", True, "Contract version of exchanges; must be 1."),
    FieldSpec("exchange_id", "uuid", True,
              "The exchange's id, shared by both halves: the X-Road request id (a UUID; a system "
              "whose request ids are not UUIDs sends uuid5(NAMESPACE_URL, its id)). With the "
              "provider and consumer it names one exchange; a resend of a half is counted once."),
    FieldSpec("side", "side", True,
              "Which party reports this half: provider or consumer. The record must be signed by "
              "that party (or a gateway trusted for it)."),
    FieldSpec("provider", "party", True, "Code of the entity that provided the data (a catalogue "
              "entity or a platform member)."),
    FieldSpec("consumer", "party", True, "Code of the entity that consumed the data (a catalogue "
              "entity or a platform member)."),
    FieldSpec("product", "product", True, "Code of the data product or service exchanged "
              "(e.g. ROP.civil-registry.person): 1-64 of A-Z a-z 0-9 . _ -."),
    FieldSpec("items", "items", True, "How many data items the exchange carried (1 or more)."),
    FieldSpec("occurred_at", "datetime", True,
              "When the exchange happened at the reporting side, RFC 3339 with an offset. Counts "
              "are bucketed by it (days in Asia/Muscat)."),
    FieldSpec("outcome", "outcome", True,
              "success, or the class of the failure: " + ", ".join(OUTCOMES[1:]) + "."),
)
FIELD_NAMES: Final = frozenset(f.name for f in FIELDS)
REQUIRED: Final = tuple(f.name for f in FIELDS if f.required)
_REQUIRED_SET: Final = frozenset(REQUIRED)


@dataclass(frozen=True, slots=True)
class Exchange:
    """A validated exchange half (id lower-case, occurred_at in UTC, millisecond precision)."""

    exchange_id: str
    side: str
    provider: str
    consumer: str
    product: str
    items: int
    occurred_at: datetime
    outcome: str

    @property
    def reporter(self) -> str:
        """The entity that reports this half, and must have signed it."""
        return self.provider if self.side == "provider" else self.consumer

    @property
    def entity(self) -> str:
        """The entity that sends this half (its reporter): what producers sign and key by,
        and what a gateway credential must be, as for an event's ``entity``."""
        return self.reporter

    def fingerprint(self) -> int:
        """63-bit digest of the half's content: a resend has the same one, a conflicting
        reuse of (exchange_id, side) by the same parties another."""
        text = "|".join((self.exchange_id, self.side, self.provider, self.consumer, self.product,
                         str(self.items), self.occurred_at.isoformat(), self.outcome))
        return int.from_bytes(hashlib.blake2b(text.encode(), digest_size=8).digest(), "big") >> 1

    def to_json(self) -> dict[str, Any]:
        """The contract form of this half."""
        return {
            "kind": KIND,
            "schema_version": SCHEMA_VERSION,
            "exchange_id": self.exchange_id,
            "side": self.side,
            "provider": self.provider,
            "consumer": self.consumer,
            "product": self.product,
            "items": self.items,
            "occurred_at": self.occurred_at.isoformat(timespec="milliseconds"),
            "outcome": self.outcome,
        }


def is_exchange(obj: Any) -> bool:
    """Whether a decoded payload claims to be an exchange half (then judged as one)."""
    return isinstance(obj, dict) and obj.get("kind") == KIND


def claimed_reporter(obj: Any) -> str | None:
    """The party a (not yet validated) exchange half says reports it: its provider for
    side=provider, its consumer for side=consumer; None when it names none as a string.
    A gateway compares it with the caller's entity before anything else."""
    if not is_exchange(obj):
        return None
    side = obj.get("side")
    party = obj.get("provider") if side == "provider" else obj.get("consumer") if side == "consumer" else None
    return party if isinstance(party, str) else None


@lru_cache(maxsize=1)
def platform_members() -> frozenset[str]:
    """Codes of the platform members outside the programme catalogue
    (schemas/platform_members.py)."""
    return frozenset(load_platform_members())


def parties(catalogue: Catalogue) -> frozenset[str]:
    """Every code that may provide or consume: catalogue entities and platform members."""
    return frozenset(catalogue.entities) | platform_members()


def _string(obj: dict[str, Any], name: str) -> str:
    value = obj[name]
    if not isinstance(value, str):
        raise InvalidEvent("wrong_type", f"{name} must be a string, got {type(value).__name__}")
    return value


def validate(obj: Any, catalogue: Catalogue, now: datetime | None = None,
             known: frozenset[str] | None = None) -> Exchange:
    """Check a decoded JSON value against exchange contract v1 and the reference data.
    ``known``: the party codes (:func:`parties`; computed when not given). Reasons name
    fields and rules, never the values sent."""
    if not isinstance(obj, dict):
        raise InvalidEvent("not_an_object", f"exchange must be a JSON object, got {type(obj).__name__}")
    unknown = [] if obj.keys() <= FIELD_NAMES else sorted(k for k in obj if k not in FIELD_NAMES)
    if unknown:
        raise InvalidEvent("unknown_field", f"field(s) not in exchange contract v1: "
                           f"{', '.join(unknown)[:200]} (exchanges carry codes and counts only, "
                           "never payloads or personal data)")
    missing = [] if obj.keys() >= _REQUIRED_SET else [name for name in REQUIRED if name not in obj]
    if missing:
        raise InvalidEvent("missing_field", f"missing required field(s): {', '.join(missing)}")
    check_kind_and_version(obj, KIND, SCHEMA_VERSION, "an exchange")
    exchange_id = obj["exchange_id"]
    if not isinstance(exchange_id, str) or not _UUID_RE.match(exchange_id):
        raise InvalidEvent("bad_exchange_id", "exchange_id is not a UUID (8-4-4-4-12 hex digits)")
    side = _string(obj, "side")
    if side not in SIDES:
        raise InvalidEvent("unknown_side", "side is not provider or consumer")
    occurred = obj["occurred_at"]
    if not isinstance(occurred, str) or not _RFC3339_RE.match(occurred):
        raise InvalidEvent("bad_occurred_at",
                           "occurred_at is not RFC 3339 with an offset (e.g. 2024-03-04T09:15:22+04:00)")
    try:
        parsed = datetime.fromisoformat(occurred.upper().replace("Z", "+00:00"))
    except ValueError:
        raise InvalidEvent("bad_occurred_at", "occurred_at is not a real date and time") from None
    occurred_at = parsed.astimezone(UTC).replace(microsecond=parsed.microsecond // 1000 * 1000)
    check_occurred_at(occurred_at, now)
    items = obj["items"]
    if type(items) is not int:
        raise InvalidEvent("wrong_type", "items must be an integer")
    if not 1 <= items <= MAX_ITEMS:
        raise InvalidEvent("bad_items", f"items is outside 1..{MAX_ITEMS}")
    outcome = _string(obj, "outcome")
    if outcome not in OUTCOMES:
        raise InvalidEvent("unknown_outcome", f"outcome is not one of {', '.join(OUTCOMES)}")
    product = _string(obj, "product")
    if not _PRODUCT_RE.match(product):
        raise InvalidEvent("bad_product", "product is not a code of 1-64 characters A-Z a-z 0-9 . _ -")
    provider = _string(obj, "provider")
    consumer = _string(obj, "consumer")
    codes = known if known is not None else parties(catalogue)
    if provider not in codes:
        raise InvalidEvent("unknown_provider", "provider is not a code of the reference catalogue "
                           "or the platform members")
    if consumer not in codes:
        raise InvalidEvent("unknown_consumer", "consumer is not a code of the reference catalogue "
                           "or the platform members")
    if provider == consumer:
        raise InvalidEvent("same_party", "provider and consumer are the same entity")
    # The pattern admits only the canonical 8-4-4-4-12 form, so this is str(uuid.UUID(id)).
    return Exchange(exchange_id.lower(), side, provider, consumer, product, items,
                    occurred_at, outcome)

