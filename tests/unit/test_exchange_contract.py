"""Exchange contract v1 (issue 18): the published JSON Schema is generated from the one
definition and agrees with the validator; every rejection has its stable reason code; the
contract is closed (no payloads, no personal data) and every string a code."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import jsonschema
import pytest

from tahawul.schemas.exchange import Exchange, InvalidEvent, is_exchange, validate
from tahawul.schemas.jsonschema import build_exchange, render_exchange
from tahawul.schemas.reference import load_catalogue

SCHEMA_FILE = Path(__file__).resolve().parents[2] / "schemas" / "exchange-v1.schema.json"
CAT = load_catalogue()
NOW = datetime(2026, 1, 1, tzinfo=UTC)


def half(**overrides: Any) -> dict[str, Any]:
    base: dict[str, Any] = {
        "kind": "exchange", "schema_version": 1,
        "exchange_id": "3F2504E0-4F89-41D3-9A0C-0305E82C3301", "side": "provider",
        "provider": "ROP", "consumer": "MOH", "product": "ROP.civil-registry.person",
        "items": 3, "occurred_at": "2024-03-04T09:15:22.1234+04:00", "outcome": "success",
    }
    base.update(overrides)
    return {k: v for k, v in base.items() if v is not ...}


def test_committed_schema_is_generated() -> None:
    assert SCHEMA_FILE.read_text("utf-8") == render_exchange(), (
        "run: tahawul schema export --kind exchange --out schemas/exchange-v1.schema.json")


def test_a_valid_half_is_normalised() -> None:
    got = validate(half(), CAT, NOW)
    assert got == Exchange("3f2504e0-4f89-41d3-9a0c-0305e82c3301", "provider", "ROP", "MOH",
                           "ROP.civil-registry.person", 3,
                           datetime(2024, 3, 4, 5, 15, 22, 123000, tzinfo=UTC), "success")
    assert got.reporter == "ROP"
    assert validate(half(side="consumer"), CAT, NOW).reporter == "MOH"
    assert validate(got.to_json(), CAT, NOW) == got
    assert is_exchange(half()) and not is_exchange({"event_id": "x"})


def test_fingerprint_tells_a_resend_from_a_conflict() -> None:
    a = validate(half(), CAT, NOW)
    assert a.fingerprint() == validate(half(occurred_at="2024-03-04T05:15:22.123Z"), CAT, NOW).fingerprint()
    assert a.fingerprint() != validate(half(items=4), CAT, NOW).fingerprint()
    assert 0 <= a.fingerprint() < 2**63


CASES = [
    (half(), None),
    (half(side="consumer", outcome="timeout", items=1_000_000), None),
    (half(kind="control_total"), "wrong_kind"),
    (half(schema_version=2), "unknown_schema_version"),
    (half(schema_version="1"), "wrong_type"),
    (half(exchange_id="req-42"), "bad_exchange_id"),
    (half(side="both"), "unknown_side"),
    (half(side=1), "wrong_type"),
    (half(provider="NOPE"), "unknown_provider"),
    (half(consumer="NOPE"), "unknown_consumer"),
    (half(consumer="ROP"), "same_party"),
    (half(product="has space"), "bad_product"),
    (half(product="x" * 65), "bad_product"),
    (half(product=""), "bad_product"),
    (half(items=0), "bad_items"),
    (half(items=1_000_001), "bad_items"),
    (half(items="3"), "wrong_type"),
    (half(items=True), "wrong_type"),
    (half(outcome="failed"), "unknown_outcome"),
    (half(occurred_at="2024-03-04 09:15"), "bad_occurred_at"),
    (half(occurred_at="2024-02-30T09:15:22+04:00"), "bad_occurred_at"),
    (half(occurred_at="1999-12-31T23:00:00Z"), "occurred_at_too_old"),
    (half(occurred_at="2026-01-01T01:00:00Z"), "occurred_at_in_future"),
    (half(national_id="12345678"), "unknown_field"),
    (half(payload="..."), "unknown_field"),
    (half(items=...), "missing_field"),
    ([half()], "not_an_object"),
]


@pytest.mark.parametrize(("obj", "code"), CASES)
def test_reason_codes(obj: Any, code: str | None) -> None:
    if code is None:
        validate(obj, CAT, NOW)
        return
    with pytest.raises(InvalidEvent) as caught:
        validate(obj, CAT, NOW)
    assert caught.value.code == code
    assert "12345678" not in caught.value.message  # reasons never echo the values sent


# What JSON Schema can express (pipeline-only rules: same party, time bounds, size, excluded).
SCHEMA_CASES = [(obj, code) for obj, code in CASES
                if code not in ("same_party", "bad_occurred_at", "occurred_at_too_old",
                                "occurred_at_in_future")]


@pytest.mark.parametrize(("obj", "code"), SCHEMA_CASES)
def test_schema_and_validator_agree(obj: Any, code: str | None) -> None:
    assert jsonschema.Draft202012Validator(build_exchange()).is_valid(obj) == (code is None)


def test_schema_is_closed_and_strings_bounded() -> None:
    schema = build_exchange()
    assert schema["additionalProperties"] is False
    for name, prop in schema["properties"].items():
        if prop["type"] == "string":
            assert "enum" in prop or "const" in prop or "pattern" in prop, name
