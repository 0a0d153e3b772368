"""The published JSON Schema and the Python validator are one contract."""

from datetime import UTC, datetime
from pathlib import Path

import jsonschema
import orjson
import pytest

from tahawul.schemas.event import InvalidEvent, parse
from tahawul.schemas.jsonschema import build, render
from tahawul.schemas.reference import load_catalogue
from tests.unit.factories import event

SCHEMA_FILE = Path(__file__).resolve().parents[2] / "schemas" / "event-v1.schema.json"
CAT = load_catalogue()
NOW = datetime(2026, 1, 1, tzinfo=UTC)


def test_committed_schema_is_generated() -> None:
    assert SCHEMA_FILE.read_text("utf-8") == render(), (
        "run: tahawul schema export --out schemas/event-v1.schema.json"
    )


# Cases JSON Schema can express; pipeline-only rules (ownership, governorate binding,
# time bounds, size) are excluded on purpose and documented in the schema's description.
CORPUS = [
    event(),
    event(channel="counter", quantity=40, satisfaction=None),
    event(satisfaction=5, automated=True),
    event(quantity=..., automated=...),
    event(national_id="x"),
    event(status="done"),
    event(channel="fax"),
    event(entity="NOPE"),
    event(governorate="OM-XX"),
    event(schema_version=2),
    event(quantity=0),
    event(quantity="3"),
    event(automated="yes"),
    event(satisfaction=0),
    event(event_id="abc"),
    event(occurred_at="2025-03-04 09:15"),
    event(occurred_at="2025-03-04T09:15:22"),
    event(status=...),
    event(event_id=...),
]


@pytest.mark.parametrize("obj", CORPUS)
def test_schema_and_validator_agree(obj: dict) -> None:
    validator = jsonschema.Draft202012Validator(build())
    schema_ok = validator.is_valid(obj)
    try:
        parse(orjson.dumps(obj), CAT, NOW)
        python_ok = True
    except InvalidEvent:
        python_ok = False
    assert schema_ok == python_ok
