"""Ed25519 attribution: signing, verification, gateways, rotation, revocation, the trust and
key files, and the worker's check (stream_processors.validation.judge)."""

from __future__ import annotations

import base64
import json
import os
import stat
from pathlib import Path

import pytest

from tahawul.errors import UsageError
from tahawul.keyring import (
    TrustFile,
    create_key,
    dev_private_dir,
    ensure_dev_keys,
    gateway_signer,
    load_signers,
    load_signing_key,
    load_trust,
    producer_signers,
    revoke_key,
    worker_trust,
)
from tahawul.schemas.event import InvalidEvent
from tahawul.schemas.exchange import platform_members
from tahawul.schemas.headers import SIGNATURE_HEADER, SOURCE_HEADER
from tahawul.schemas.reference import load_catalogue
from tahawul.schemas.signing import (
    KeyringError,
    Signers,
    SigningKey,
    Trust,
    parse_signing_key,
    parse_trust,
    render_signing_key,
    render_trust,
)
from tahawul.settings import Settings
from tahawul.stream_processors.validation import judge
from tests.unit.factories import payload

ROP = SigningKey.generate("ROP", "k1")
MOH = SigningKey.generate("MOH", "k1")
GW = SigningKey.generate("gw", "k1")
MOH_EVENT = {"entity": "MOH", "service": "MOH-PREARRIVAL-MED", "governorate": "OM-MA"}


def trust() -> Trust:
    return (Trust().with_key("ROP", "k1", ROP.public_bytes())
            .with_key("MOH", "k1", MOH.public_bytes())
            .with_key("gw", "k1", GW.public_bytes(), gateway=True, vouches_for=["ROP"]))


def code_of(entity: str, data: bytes, header: bytes | None, t: Trust | None = None) -> str | None:
    try:
        (t or trust()).check(entity, data, header)
    except InvalidEvent as exc:
        return exc.code
    return None


def test_a_signed_event_passes_and_any_change_fails() -> None:
    data = payload(entity="ROP")
    header = ROP.sign(data)
    scheme, signer, key_id, signature = header.decode().split(":")
    assert (scheme, signer, key_id, len(base64.b64decode(signature))) == ("v2", "ROP", "k1", 64)
    assert code_of("ROP", data, header) is None
    assert code_of("ROP", data + b" ", header) == "signature_invalid"  # payload altered
    assert code_of("ROP", data, header[:-6] + b"AAAAA=") == "signature_invalid"  # signature altered


@pytest.mark.parametrize(("header", "message"), [
    (None, "events must be signed"),
    (b"garbage", "not of the form"),
    (b"v1:k1:00", "not of the form"),
    (b"v1:ROP:k1:AAAA", "scheme 'v1'"),
    (b"v2:XYZ:k1:AAAA", "'XYZ' is not in the trust file"),
    (b"v2:ROP:k9:AAAA", "'k9' is not a key of ROP"),
    (b"v2:ROP:k1:!!!", "does not match"),
    (b"v2:ROP:k1:AAAA", "does not match"),
])
def test_unsigned_and_malformed_signatures_are_refused(header: bytes | None, message: str) -> None:
    with pytest.raises(InvalidEvent, match=message) as exc:
        trust().check("ROP", payload(entity="ROP"), header)
    assert exc.value.code == ("signature_missing" if header is None else "signature_invalid")


def test_one_entity_cannot_sign_for_another() -> None:
    data = payload(**MOH_EVENT)
    # ROP's own key, named as ROP: ROP may not sign MOH's events.
    assert code_of("MOH", data, ROP.sign(data)) == "signature_invalid"
    # ROP's key under MOH's name: does not verify under MOH's public key.
    forged = SigningKey("MOH", "k1", ROP.private)
    assert code_of("MOH", data, forged.sign(data)) == "signature_invalid"
    assert code_of("MOH", data, MOH.sign(data)) is None


def test_a_gateway_signs_only_for_the_entities_it_may_vouch_for() -> None:
    rop, moh = payload(entity="ROP"), payload(**MOH_EVENT)
    assert code_of("ROP", rop, GW.sign(rop)) is None
    with pytest.raises(InvalidEvent, match="gw may not sign events of MOH"):
        trust().check("MOH", moh, GW.sign(moh))
    everyone = Trust().with_key("gw", "k1", GW.public_bytes(), gateway=True, vouches_for=["*"])
    assert code_of("MOH", moh, GW.sign(moh), everyone) is None


def test_rotation_keeps_both_keys_valid_and_revocation_refuses_one() -> None:
    new = SigningKey.generate("ROP", "k2")
    rotated = trust().with_key("ROP", "k2", new.public_bytes())
    data = payload(entity="ROP")
    assert code_of("ROP", data, ROP.sign(data), rotated) is None
    assert code_of("ROP", data, new.sign(data), rotated) is None
    revoked = rotated.revoked("ROP", "k1", "2026-12-01T00:00:00+00:00")
    with pytest.raises(InvalidEvent, match="key k1 of ROP was revoked at 2026-12-01") as exc:
        revoked.check("ROP", data, ROP.sign(data))
    assert exc.value.code == "signature_invalid"
    assert code_of("ROP", data, new.sign(data), revoked) is None
    # Revocation survives the file: render and parse again.
    assert code_of("ROP", data, ROP.sign(data), parse_trust(render_trust(revoked))) == "signature_invalid"
    with pytest.raises(KeyringError, match="key ids are never reused"):
        revoked.with_key("ROP", "k1", new.public_bytes())


def test_trust_file_round_trip_and_errors() -> None:
    text = render_trust(trust())
    obj = json.loads(text)
    assert obj["gateways"]["gw"]["entities"] == ["ROP"]
    assert set(obj["entities"]) == {"ROP", "MOH"}
    assert "private" not in text
    parsed = parse_trust(text)
    data = payload(entity="ROP")
    assert code_of("ROP", data, GW.sign(data), parsed) is None
    good_key = {"k1": {"public_key": base64.b64encode(ROP.public_bytes()).decode()}}
    for bad, message in [
        ("[]", "must be a JSON object"),
        ("{", "not valid JSON"),
        ('{"entities": {}, "extra": 1}', "must be a JSON object"),
        ('{"entities": {"ROP": {"keys": {}}}}', "non-empty object"),
        ('{"entities": {"ROP": {"keys": {"k 1": {"public_key": "AA=="}}}}}', "must match"),
        ('{"entities": {"ROP": {"keys": {"k1": {"public_key": "!!"}}}}}', "not valid base64"),
        ('{"entities": {"ROP": {"keys": {"k1": {"public_key": "AAAA"}}}}}', "must be 32 bytes"),
        (json.dumps({"gateways": {"gw": {"keys": good_key}}}), "must list the entity codes"),
        (json.dumps({"entities": {"gw": {"keys": good_key}},
                     "gateways": {"gw": {"entities": ["*"], "keys": good_key}}}),
         "both an entity and a gateway"),
    ]:
        with pytest.raises(KeyringError, match=message):
            parse_trust(bad)


def test_private_key_file_round_trip_never_shows_the_key() -> None:
    text = render_signing_key(ROP)
    again = parse_signing_key(text)
    assert (again.signer, again.key_id, again.public_bytes()) == ("ROP", "k1", ROP.public_bytes())
    secret = json.loads(text)["private_key"]
    assert secret not in repr(again) and secret not in str(again)
    with pytest.raises(KeyringError, match="must be 32 bytes"):
        parse_signing_key('{"signer": "ROP", "key_id": "k1", "private_key": "AAAA"}')


def test_signers_sign_only_for_their_keys() -> None:
    signers = Signers.of([ROP])
    data = payload(entity="ROP")
    assert signers.sign_keyed(b"ROP", data) is not None
    assert signers.sign("MOH", data) is None
    vouching = Signers.of([], vouch=GW)
    assert code_of("ROP", data, vouching.sign("ROP", data)) is None


def test_judge_rejects_with_signature_codes_and_keeps_order() -> None:
    catalogue = load_catalogue()
    good = payload(entity="ROP")
    unsigned = payload(entity="ROP")
    forged = payload(entity="ROP")
    other = payload(**MOH_EVENT)
    records = [
        (10, good, [(SIGNATURE_HEADER, ROP.sign(good))]),
        (11, unsigned, None),
        (12, forged, [(SOURCE_HEADER, b"x"), (SIGNATURE_HEADER, MOH.sign(forged))]),
        (13, b"not json", None),
        (14, other, [(SIGNATURE_HEADER, ROP.sign(other))]),
    ]
    verdicts = judge(records, catalogue, signatures=trust())
    assert [(o, ok) for o, ok, _ in verdicts] == [
        (10, True), (11, False), (12, False), (13, False), (14, False)]
    assert [row[1] for _, ok, row in verdicts if not ok] == [
        "signature_missing", "signature_invalid", "not_json", "signature_invalid"]


def test_create_list_rotate_revoke_files(tmp_path: Path) -> None:
    trust_path = tmp_path / "trust.json"
    k1 = create_key(trust_path, tmp_path / "out" / "rop1.key", "ROP")
    k2 = create_key(trust_path, tmp_path / "out" / "rop2.key", "ROP")
    gw = create_key(trust_path, tmp_path / "out" / "gw.key", "gw", gateway_for=["ROP", "MOH"])
    assert (k1.key_id, k2.key_id, gw.key_id) == ("k1", "k2", "k1")
    for name in ("rop1.key", "rop2.key", "gw.key"):
        assert stat.S_IMODE((tmp_path / "out" / name).stat().st_mode) == 0o600
    assert stat.S_IMODE((tmp_path / "out").stat().st_mode) == 0o700
    assert load_signing_key(tmp_path / "out" / "rop2.key").public_bytes() == k2.public_bytes()
    with pytest.raises(KeyringError, match="never overwritten"):
        create_key(trust_path, tmp_path / "out" / "rop1.key", "MOH")
    loaded = load_trust(trust_path)
    assert set(loaded.signers) == {"ROP", "gw"}
    assert loaded.signers["gw"].vouches_for == frozenset({"ROP", "MOH"})
    data = payload(entity="ROP")
    revoke_key(trust_path, "ROP", "k1")
    assert code_of("ROP", data, k1.sign(data), load_trust(trust_path)) == "signature_invalid"
    assert code_of("ROP", data, k2.sign(data), load_trust(trust_path)) is None
    with pytest.raises(KeyringError, match="no key 'k9'"):
        revoke_key(trust_path, "ROP", "k9")


def test_worker_refuses_to_start_without_a_trust_file(tmp_path: Path) -> None:
    bare = Settings(data_dir=tmp_path, _env_file=None)  # type: ignore[call-arg]
    with pytest.raises(UsageError, match=r"TAHAWUL_SIGNING_TRUST.*credentials signing-key"):
        worker_trust(bare)
    missing = bare.model_copy(update={"signing_trust": tmp_path / "nope.json"})
    with pytest.raises(UsageError, match="does not exist"):
        worker_trust(missing)
    with pytest.raises(UsageError, match="TAHAWUL_GATEWAY_SIGNING_KEY"):
        gateway_signer(bare)
    assert producer_signers(bare).keys == {}


def test_dev_keys_sign_for_every_entity_and_stay_private(tmp_path: Path) -> None:
    trust_path = ensure_dev_keys(tmp_path)
    assert ensure_dev_keys(tmp_path) == trust_path  # made once
    private = dev_private_dir(tmp_path)
    assert stat.S_IMODE(private.stat().st_mode) == 0o700
    assert all(stat.S_IMODE(p.stat().st_mode) == 0o600 for p in private.iterdir())
    settings = Settings(data_dir=tmp_path, signing_trust=trust_path, _env_file=None)  # type: ignore[call-arg]
    t = worker_trust(settings)
    signers = producer_signers(settings)
    entities = load_catalogue().entities
    # every party of the integration platform (they sign exchange halves); not the gateway
    assert set(signers.keys) == set(entities) | platform_members()
    for entity in ("ROP", "MOH"):
        data = payload(entity=entity)
        assert code_of(entity, data, signers.sign(entity, data), t) is None
    gw, moh = gateway_signer(settings), payload(**MOH_EVENT)
    assert code_of("MOH", moh, gw.sign(moh), t) is None
    assert load_signers(private / "ROP.key").keys.keys() == {"ROP"}


def test_workers_follow_the_trust_file_and_keep_it_through_a_bad_edit(tmp_path: Path) -> None:
    trust_path = tmp_path / "trust.json"
    key = create_key(trust_path, tmp_path / "rop.key", "ROP")
    followed = TrustFile(trust_path)
    data = payload(entity="ROP")
    assert code_of("ROP", data, key.sign(data), followed.current()) is None
    revoke_key(trust_path, "ROP", key.key_id)  # no restart: the next batch refuses it
    assert code_of("ROP", data, key.sign(data), followed.current()) == "signature_invalid"
    before = followed.current()
    trust_path.write_text("{ not json")
    assert followed.current() is before  # a broken edit neither opens nor stops the pipeline


def test_send_and_simulate_refuse_to_send_unsigned(tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
                                                   capsys: pytest.CaptureFixture[str]) -> None:
    """No signing key here and none of the local dev keys: nothing is sent that the workers
    would only reject (exit 2, one line saying what to set), and no broker is contacted."""
    from tahawul.cli.main import main

    for name in [n for n in os.environ if n.startswith("TAHAWUL_")]:
        monkeypatch.delenv(name)
    monkeypatch.setenv("TAHAWUL_DATA_DIR", str(tmp_path / "data"))
    monkeypatch.setenv("TAHAWUL_KAFKA_URL", "kafka://127.0.0.1:9")
    events = tmp_path / "events.jsonl"
    events.write_bytes(payload() + b"\n")
    assert main(["send", str(events), "--no-progress"]) == 2
    assert "TAHAWUL_SIGNING_KEYS" in capsys.readouterr().err
    assert main(["simulate", "--send", "--limit", "1"]) == 2
    assert "TAHAWUL_SIGNING_KEYS" in capsys.readouterr().err
