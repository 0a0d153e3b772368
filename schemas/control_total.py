"""Control total contract v1: an entity's own statement of how many transactions it completed.

The counting pipeline can prove that what it published agrees with the events it received
(`tahawul audit reconcile`), but not that it received all of them. A control total is the
entity's system saying, per day (Asia/Muscat), service and channel, how many transactions it
completed; `tahawul audit completeness` sets it beside what was counted. It travels like an
event (same topic, same signature check: an entity states totals for itself only), is
validated, dead-lettered when bad and stored raw in ``control_totals``, and is never counted
as a transaction. A later ``stated_at`` for the same cell supersedes an earlier statement;
both rows are kept.

``FIELDS`` is the single source of truth: the validator here and the published JSON Schema
(``schemas/control-total-v1.schema.json``, `tahawul schema export --kind control_total`)
derive from it, and a unit test checks that the committed file equals what the code renders.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from typing import Any, Final

from tahawul.schemas.event import (
    RFC3339_PATTERN,
    Event,
    FieldSpec,
    InvalidEvent,
    check_kind_and_version,
    decode,
    parse,
)
from tahawul.schemas.exchange import Exchange, is_exchange
from tahawul.schemas.exchange import validate as validate_exchange
from tahawul.schemas.reference import Catalogue

KIND: Final = "control_total"
SCHEMA_VERSION: Final = 1
# Far above any one service's day (the largest programme service completes ~40,000 a day),
# far below what would overflow anything.
MAX_COMPLETED: Final = 1_000_000_000
EARLIEST_DAY: Final = date(2000, 1, 1)
MUSCAT: Final = timedelta(hours=4)  # Asia/Muscat: UTC+4 all year, no daylight saving
DAY_PATTERN: Final = r"^\d{4}-\d{2}-\d{2}$"
_DAY_RE: Final = re.compile(DAY_PATTERN)
_RFC3339_RE: Final = re.compile(RFC3339_PATTERN)
# A statement stamped a few minutes ahead is a drifting clock, not a claim about the future.
FUTURE_TOLERANCE: Final = timedelta(minutes=10)

FIELDS: Final[tuple[FieldSpec, ...]] = (
    FieldSpec("kind", "kind", True, "Always \"control_total\": what tells a control total from an event."),
    FieldSpec("schema_version", "int", True, "Contract version of control totals; must be 1."),
    FieldSpec("entity", "code", True, "Code of the government entity stating the total; the record "
              "must be signed by it (or by a gateway trusted for it)."),
    FieldSpec("day", "day", True, "Calendar day in Asia/Muscat (YYYY-MM-DD) the total covers: the "
              "day of the events' occurred_at in Muscat time."),
    FieldSpec("service", "code", True, "Code of the service; must belong to the entity."),
    FieldSpec("channel", "code", True, "Delivery channel code (reference data)."),
    FieldSpec("completed", "count", True, "How many transactions the entity's system completed that "
              "day on that service and channel: the sum of quantity of its completed events."),
    FieldSpec("stated_at", "datetime", True, "When the system stated this total, RFC 3339 with an "
              "offset. A later stated_at for the same entity, day, service and channel supersedes "
              "the earlier statement (both are kept)."),
)
FIELD_NAMES: Final = frozenset(f.name for f in FIELDS)
REQUIRED: Final = tuple(f.name for f in FIELDS if f.required)


@dataclass(frozen=True, slots=True)
class ControlTotal:
    """A validated control total (stated_at in UTC, millisecond precision)."""

    entity: str
    day: date
    service: str
    channel: str
    completed: int
    stated_at: datetime

    def to_json(self) -> dict[str, Any]:
        """The contract form of this total."""
        return {
            "kind": KIND,
            "schema_version": SCHEMA_VERSION,
            "entity": self.entity,
            "day": self.day.isoformat(),
            "service": self.service,
            "channel": self.channel,
            "completed": self.completed,
            "stated_at": self.stated_at.isoformat(timespec="milliseconds"),
        }


def is_control_total(obj: Any) -> bool:
    """Whether a decoded payload claims to be a control total (then judged as one)."""
    return isinstance(obj, dict) and obj.get("kind") == KIND


def muscat_day(moment: datetime) -> date:
    """The Asia/Muscat calendar day of an aware datetime (Oman keeps UTC+4 all year)."""
    return (moment.astimezone(UTC) + MUSCAT).date()


def _code(obj: dict[str, Any], name: str) -> str:
    value = obj[name]
    if not isinstance(value, str):
        raise InvalidEvent("wrong_type", f"{name} must be a string code, got {type(value).__name__}")
    return value


def validate(obj: Any, catalogue: Catalogue, now: datetime | None = None) -> ControlTotal:
    """Check a decoded JSON value against control total contract v1 and the reference data.
    Reasons name fields and rules, never the values sent."""
    if not isinstance(obj, dict):
        raise InvalidEvent("not_an_object", f"control total must be a JSON object, got {type(obj).__name__}")
    unknown = sorted(k for k in obj if k not in FIELD_NAMES)
    if unknown:
        raise InvalidEvent("unknown_field", f"field(s) not in control total contract v1: "
                           f"{', '.join(unknown)[:200]}")
    missing = [name for name in REQUIRED if name not in obj]
    if missing:
        raise InvalidEvent("missing_field", f"missing required field(s): {', '.join(missing)}")
    check_kind_and_version(obj, KIND, SCHEMA_VERSION, "a control total")
    current = now or datetime.now(UTC)
    raw_day = obj["day"]
    if not isinstance(raw_day, str) or not _DAY_RE.match(raw_day):
        raise InvalidEvent("bad_day", "day is not a date YYYY-MM-DD")
    try:
        day = date.fromisoformat(raw_day)
    except ValueError:
        raise InvalidEvent("bad_day", "day is not a real date (e.g. a 30 February)") from None
    if day < EARLIEST_DAY:
        raise InvalidEvent("day_too_old", "day is before 2000-01-01")
    if day > muscat_day(current + FUTURE_TOLERANCE):
        raise InvalidEvent("day_in_future", "day is after today in Asia/Muscat")
    stated = obj["stated_at"]
    if not isinstance(stated, str) or not _RFC3339_RE.match(stated):
        raise InvalidEvent("bad_stated_at",
                           "stated_at is not RFC 3339 with an offset (e.g. 2025-03-05T00:10:00+04:00)")
    try:
        parsed = datetime.fromisoformat(stated.upper().replace("Z", "+00:00"))
    except ValueError:
        raise InvalidEvent("bad_stated_at", "stated_at is not a real date and time") from None
    stated_at = parsed.astimezone(UTC).replace(microsecond=parsed.microsecond // 1000 * 1000)
    if stated_at > current + FUTURE_TOLERANCE:
        raise InvalidEvent("stated_at_in_future", "stated_at is more than "
                           f"{int(FUTURE_TOLERANCE.total_seconds() // 60)} minutes in the future")
    if muscat_day(stated_at) < day:
        raise InvalidEvent("stated_before_day", "stated_at is before the day the total covers")
    completed = obj["completed"]
    if type(completed) is not int:
        raise InvalidEvent("wrong_type", "completed must be an integer")
    if not 0 <= completed <= MAX_COMPLETED:
        raise InvalidEvent("bad_completed", f"completed is outside 0..{MAX_COMPLETED}")
    entity = _code(obj, "entity")
    service = _code(obj, "service")
    channel = _code(obj, "channel")
    if entity not in catalogue.entities:
        raise InvalidEvent("unknown_entity", "entity is not a code of the reference catalogue")
    svc = catalogue.services.get(service)
    if svc is None:
        raise InvalidEvent("unknown_service", "service is not a code of the reference catalogue")
    if svc.entity != entity:
        raise InvalidEvent("service_not_of_entity",
                           "service belongs to another entity than the control total's entity")
    if channel not in catalogue.channels:
        raise InvalidEvent("unknown_channel", "channel is not a code of the reference catalogue")
    return ControlTotal(entity, day, service, channel, completed, stated_at)


def parse_either(payload: bytes | None, catalogue: Catalogue, now: datetime | None = None
                 ) -> Event | ControlTotal | Exchange:
    """A raw payload as an event, a control total or an exchange half (schemas/exchange.py),
    judged as the workers judge it: first as an event; only a payload the event contract
    refuses for a field it does not know, and that says ``"kind": "control_total"`` (or
    ``"exchange"``), as a control total (or an exchange half)."""
    try:
        return parse(payload, catalogue, now)
    except InvalidEvent as exc:
        if exc.code != "unknown_field":
            raise
        obj = decode(payload)
        if is_exchange(obj):
            return validate_exchange(obj, catalogue, now)
        if not is_control_total(obj):
            raise
        return validate(obj, catalogue, now)
