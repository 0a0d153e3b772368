from __future__ import annotations

from datetime import UTC, datetime

import orjson
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from tahawul.schemas.event import (
    MAX_PAYLOAD_BYTES,
    Event,
    InvalidEvent,
    _plainly_valid,
    parse,
    parse_fields,
    validate,
)
from tahawul.schemas.reference import load_catalogue
from tests.unit.factories import event, payload

CAT = load_catalogue()
NOW = datetime(2026, 1, 1, tzinfo=UTC)


def test_valid_event_is_normalised() -> None:
    ev = parse(payload(event_id="6F9619FF-8B86-D011-B42D-00C04FC964FF", channel="counter",
                       quantity=12), CAT, NOW)
    assert ev.event_id == "6f9619ff-8b86-d011-b42d-00c04fc964ff"
    assert ev.occurred_at == datetime(2025, 3, 4, 5, 15, 22, 123000, tzinfo=UTC)
    assert ev.mode == "manual"
    assert ev.quantity == 12
    assert ev.satisfaction is None


def test_defaults_for_optional_fields() -> None:
    ev = parse(payload(quantity=..., automated=...), CAT, NOW)
    assert (ev.quantity, ev.automated, ev.satisfaction) == (1, False, None)


def test_round_trip_through_contract_form() -> None:
    ev = parse(payload(satisfaction=4, automated=True, channel="api"), CAT, NOW)
    again = parse(orjson.dumps(ev.to_json()), CAT, NOW)
    assert again == ev
    assert again.fingerprint() == ev.fingerprint()


@pytest.mark.parametrize(
    ("raw", "code"),
    [
        (b"not json", "not_json"),
        (b'{"event_id": "x"', "not_json"),
        (b"[1, 2]", "not_an_object"),
        (b"", "empty"),
        (b"\xff\xfe{}", "invalid_utf8"),
        (b"{" + b" " * MAX_PAYLOAD_BYTES + b"}", "too_large"),
        (payload(national_id="12345678"), "unknown_field"),
        (payload(service=...), "missing_field"),
        (payload(schema_version=99), "unknown_schema_version"),
        (payload(schema_version="1"), "wrong_type"),
        (payload(event_id="1234"), "bad_event_id"),
        (payload(occurred_at="2025-03-04T09:15:22"), "bad_occurred_at"),
        (payload(occurred_at="2025-02-30T09:15:22+04:00"), "bad_occurred_at"),
        (payload(occurred_at="1999-12-31T23:59:59+00:00"), "occurred_at_too_old"),
        (payload(occurred_at="2026-01-02T00:00:00+00:00"), "occurred_at_in_future"),
        (payload(entity="NOPE"), "unknown_entity"),
        (payload(service="NOPE"), "unknown_service"),
        (payload(service="MOH-PREARRIVAL-MED"), "service_not_of_entity"),
        (payload(governorate="OM-XX"), "unknown_governorate"),
        (payload(entity="MUSCAT-MUN", service="MUSCAT-MUN-PARKING-VIOL", governorate="OM-BS"),
         "entity_outside_governorate"),
        (payload(channel="fax"), "unknown_channel"),
        (payload(status="done"), "unknown_status"),
        (payload(quantity=0), "bad_quantity"),
        (payload(quantity=-3), "bad_quantity"),
        (payload(quantity=10**9), "bad_quantity"),
        (payload(quantity="1"), "wrong_type"),
        (payload(quantity=1.5), "wrong_type"),
        (payload(automated="yes"), "wrong_type"),
        (payload(satisfaction=6), "bad_satisfaction"),
        (payload(entity=7), "wrong_type"),
        (b'{"quantity": 123456789012345678901234567890}', "missing_field"),
    ],
)
def test_rejections_are_specific(raw: bytes, code: str) -> None:
    with pytest.raises(InvalidEvent) as info:
        parse(raw, CAT, NOW)
    assert info.value.code == code
    assert info.value.message  # a sentence a person can act on


def test_local_entity_in_its_governorate_is_valid() -> None:
    ev = parse(payload(entity="MUSCAT-MUN", service="MUSCAT-MUN-PARKING-VIOL",
                       governorate="OM-MA"), CAT, NOW)
    assert ev.entity == "MUSCAT-MUN"


json_values = st.recursive(
    st.none() | st.booleans() | st.integers(-(2**63), 2**64 - 1) | st.floats(allow_nan=False)
    | st.text(max_size=20),
    lambda children: st.lists(children, max_size=4)
    | st.dictionaries(st.text(max_size=12), children, max_size=6),
    max_leaves=20,
)


@settings(max_examples=300, deadline=None)
@given(st.binary(max_size=300))
def test_arbitrary_bytes_only_ever_raise_invalid_event(raw: bytes) -> None:
    try:
        parse(raw, CAT, NOW)
    except InvalidEvent as exc:
        assert exc.code
    # else: by chance a valid event; fine


@settings(max_examples=300, deadline=None)
@given(st.dictionaries(st.sampled_from(sorted(event())) , json_values, max_size=11))
def test_arbitrary_objects_only_ever_raise_invalid_event(obj: dict) -> None:
    merged = {**event(), **obj}
    try:
        result = parse(orjson.dumps(merged), CAT, NOW)
    except InvalidEvent as exc:
        assert exc.code
    else:
        assert isinstance(result, Event)


services = sorted(CAT.services.values(), key=lambda s: s.code)


@st.composite
def valid_events(draw: st.DrawFn) -> dict:
    svc = draw(st.sampled_from(services))
    entity = CAT.entities[svc.entity]
    gov = entity.governorate or draw(st.sampled_from(sorted(CAT.governorates)))
    ts = draw(st.datetimes(min_value=datetime(2000, 1, 2), max_value=datetime(2025, 12, 31),
                           timezones=st.just(UTC)))
    return event(
        event_id=str(draw(st.uuids())), service=svc.code, entity=svc.entity, governorate=gov,
        occurred_at=ts.isoformat(), channel=draw(st.sampled_from(sorted(CAT.channels))),
        status=draw(st.sampled_from(["submitted", "completed", "rejected", "abandoned"])),
        quantity=draw(st.integers(1, 100_000)), automated=draw(st.booleans()),
        satisfaction=draw(st.none() | st.integers(1, 5)),
    )


@settings(max_examples=300, deadline=None)
@given(valid_events())
def test_every_valid_event_is_accepted_and_stable(obj: dict) -> None:
    ev = parse(orjson.dumps(obj), CAT, NOW)
    assert ev.mode == CAT.channels[obj["channel"]].mode
    assert parse(orjson.dumps(ev.to_json()), CAT, NOW) == ev


def _fields_or_code(obj: object) -> object:
    try:
        return validate(obj, CAT, NOW).fields()
    except InvalidEvent as exc:
        return exc.code


plain_values = st.sampled_from([None, True, False, 0, 1, 5, 6, -1, 100_000, 100_001, 1.0, "", "x",
                                "ROP", "OM-BS", "portal", "completed", "2025-03-04T09:15:22+04:00",
                                "2025-03-04T09:15:22.5z", "2099-01-01T00:00:00Z", [], {}])


@settings(max_examples=600, deadline=None)
@given(st.one_of(
    valid_events(),
    st.builds(lambda base, changes: {**base, **changes}, valid_events(),
              st.dictionaries(st.sampled_from([*sorted(event()), "satisfaction", "extra"]),
                              json_values | plain_values, max_size=4)),
    st.builds(lambda base, drop: {k: v for k, v in base.items() if k not in drop}, valid_events(),
              st.sets(st.sampled_from(sorted(event())), max_size=3)),
))
def test_the_fast_path_accepts_only_what_validate_accepts_with_the_same_fields(obj: dict) -> None:
    """_plainly_valid is an optimisation of validate for the common case: it must return
    either None (validate then decides) or exactly validate's fields."""
    fast = _plainly_valid(obj, CAT, NOW)
    if fast is not None:
        assert fast == _fields_or_code(obj)
    # And the public path gives validate's answer, whichever way it went.
    try:
        got: object = parse_fields(orjson.dumps(obj), CAT, NOW)
    except InvalidEvent as exc:
        got = exc.code
    assert got == _fields_or_code(orjson.loads(orjson.dumps(obj)))
