"""Per-entity HMAC signatures and the worker's check (stream_processors.validation.judge)."""

from __future__ import annotations

import base64
from pathlib import Path

import pytest

from tahawul.keyring import add_signing_key, load_keyring, signature_policy
from tahawul.schemas.event import InvalidEvent
from tahawul.schemas.headers import SIGNATURE_HEADER, SOURCE_HEADER
from tahawul.schemas.reference import load_catalogue
from tahawul.schemas.signing import (
    Keyring,
    KeyringError,
    SignaturePolicy,
    parse_keyring,
    parse_required,
    render_keyring,
    sign,
)
from tahawul.settings import Settings
from tahawul.stream_processors.validation import judge
from tests.unit.factories import payload

ROP_KEY = b"r" * 32
MOH_KEY = b"m" * 32


def policy(*required: str) -> SignaturePolicy:
    keyring = Keyring({"ROP": {"k1": ROP_KEY}, "MOH": {"k1": MOH_KEY}})
    codes, every = parse_required(",".join(required))
    return SignaturePolicy(keyring, codes, every)


def test_a_signed_event_passes_and_any_change_fails() -> None:
    data = payload(entity="ROP")
    header = sign(data, "k1", ROP_KEY)
    assert header.startswith(b"v1:k1:")
    policy("ROP").check("ROP", data, header)
    with pytest.raises(InvalidEvent) as exc:
        policy("ROP").check("ROP", data.replace(b'"quantity":1', b'"quantity":2'), header)
    assert exc.value.code == "signature_invalid"


@pytest.mark.parametrize(("header", "code", "message"), [
    (None, "signature_missing", "events of ROP must be signed"),
    (b"garbage", "signature_invalid", "not of the form"),
    (b"v2:k1:00", "signature_invalid", "scheme 'v2'"),
    (b"v1:k9:00", "signature_invalid", "'k9' is not a signing key of ROP"),
])
def test_required_entity_without_a_good_signature_is_rejected(
    header: bytes | None, code: str, message: str
) -> None:
    with pytest.raises(InvalidEvent) as exc:
        policy("ROP").check("ROP", payload(entity="ROP"), header)
    assert exc.value.code == code
    assert message in exc.value.message


def test_another_entitys_key_does_not_sign_for_rop() -> None:
    data = payload(entity="ROP")
    with pytest.raises(InvalidEvent, match="does not match") as exc:
        policy("ROP").check("ROP", data, sign(data, "k1", MOH_KEY))
    assert exc.value.code == "signature_invalid"


def test_entities_not_required_may_be_unsigned_but_never_mis_signed() -> None:
    data = payload(entity="MOH", service="MOH-PREARRIVAL-MED")
    policy("ROP").check("MOH", data, None)
    policy("ROP").check("MOH", data, sign(data, "k1", MOH_KEY))
    with pytest.raises(InvalidEvent):
        policy("ROP").check("MOH", data, sign(data, "k1", ROP_KEY))
    with pytest.raises(InvalidEvent) as exc:
        policy("*").check("MOH", data, None)
    assert exc.value.code == "signature_missing"


def test_judge_rejects_with_signature_codes_and_keeps_order() -> None:
    catalogue = load_catalogue()
    good = payload(entity="ROP")
    unsigned = payload(entity="ROP")
    forged = payload(entity="ROP")
    records = [
        (10, good, [(SIGNATURE_HEADER, sign(good, "k1", ROP_KEY))]),
        (11, unsigned, None),
        (12, forged, [(SOURCE_HEADER, b"x"), (SIGNATURE_HEADER, sign(forged, "k1", MOH_KEY))]),
        (13, b"not json", None),
    ]
    verdicts = judge(records, catalogue, signatures=policy("ROP"))
    assert [(o, ok) for o, ok, _ in verdicts] == [(10, True), (11, False), (12, False), (13, False)]
    assert [row[1] for _, ok, row in verdicts if not ok] == [
        "signature_missing", "signature_invalid", "not_json"]
    # Without a policy nothing about signatures is checked.
    assert [ok for _, ok, _ in judge(records[:3], catalogue)] == [True, True, True]


def test_keyring_round_trip_and_errors() -> None:
    keyring = Keyring().with_key("ROP", "k1", ROP_KEY).with_key("ROP", "k2", b"2" * 32)
    parsed = parse_keyring(render_keyring(keyring))
    assert parsed.signing_key("ROP") == ("k2", b"2" * 32)
    assert parsed.keys["ROP"]["k1"] == ROP_KEY
    assert parse_keyring("").keys == {}
    for text, message in [
        ("[]", "must be a JSON object"),
        ('{"ROP": {"k 1": "AAAA"}}', "key id"),
        ('{"ROP": {"k1": "***"}}', "not valid base64"),
        ('{"ROP": {"k1": "' + base64.b64encode(b"short").decode() + '"}}', "at least 16 bytes"),
        ("{", "not valid JSON"),
    ]:
        with pytest.raises(KeyringError, match=message):
            parse_keyring(text)


def test_keyring_file_and_policy_from_settings(tmp_path: Path) -> None:
    path = tmp_path / "keys" / "keyring.json"
    kid1, key1 = add_signing_key(path, "ROP")
    kid2, key2 = add_signing_key(path, "ROP")
    assert (kid1, kid2) == ("k1", "k2")
    assert path.stat().st_mode & 0o777 == 0o600
    assert load_keyring(path).signing_key("ROP") == ("k2", key2)
    assert load_keyring(path).keys["ROP"]["k1"] == key1
    settings = Settings(signing_keyring=path, signing_required="ROP, MOH", _env_file=None)  # type: ignore[call-arg]
    found = signature_policy(settings)
    assert found is not None and found.required == frozenset({"ROP", "MOH"})
    assert signature_policy(Settings(_env_file=None)) is None  # type: ignore[call-arg]
