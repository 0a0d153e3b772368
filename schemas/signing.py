"""Attribution of events: Ed25519 signatures over the exact record value, in a Kafka header.

Anyone who can write to the transactions topic could otherwise have events counted for any
entity. So every record carries the header ``tahawul-signature`` with
``v2:<signer>:<key id>:<base64 signature>``, and a worker counts an event of entity E only
when the signer is E itself, or a gateway the trust file lets vouch for E, and the signature
verifies under that signer's (unrevoked) public key. The signatures are asymmetric: the
workers hold public keys only, so no worker, gateway or CLI can sign for an entity whose
private key it does not hold. The key id in the header lets a signer rotate keys (two valid
keys during the change-over) and lets one key be revoked alone.

The signature covers the whole record value (one event, or a batched record of up to 1000
events, signed once). It does not cover the record key, headers or the topic: the worker
attributes by the entity *in the payload*, which the signature does cover.

Ed25519 is libsodium's (PyNaCl): a verify costs about half of what OpenSSL's (``cryptography``)
did, and keys stay raw 32-byte Ed25519 (the seed for a private key), so key files, the trust
file and the header are unchanged (docs/performance.md).

This module is pure (no file or network I/O): the trust file and the private key files are
parsed from text that callers read, so the same logic serves the worker, the SDK and tests.
"""

from __future__ import annotations

import base64
import binascii
import json
import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any, Final

from nacl.exceptions import BadSignatureError
from nacl.signing import SigningKey as Ed25519PrivateKey
from nacl.signing import VerifyKey as Ed25519PublicKey

from tahawul.schemas.event import InvalidEvent
from tahawul.schemas.headers import SIGNATURE_HEADER

SCHEME: Final = "v2"
KEY_BYTES: Final = 32  # raw Ed25519 public and private keys
SIGNATURE_BYTES: Final = 64
KEY_ID_RE: Final = re.compile(r"^[A-Za-z0-9._-]{1,64}$")
SIGNER_RE: Final = re.compile(r"^[A-Za-z0-9._-]{1,64}$")
ANY_ENTITY: Final = "*"


class KeyringError(ValueError):
    """A trust file or key file that cannot be used; the message says what to fix."""


def _b64(raw: bytes) -> str:
    return base64.b64encode(raw).decode("ascii")


def _unb64(text: object, what: str, size: int) -> bytes:
    if not isinstance(text, str):
        raise KeyringError(f"{what} must be a base64 string")
    try:
        raw = base64.b64decode(text, validate=True)
    except (binascii.Error, ValueError):
        raise KeyringError(f"{what} is not valid base64") from None
    if len(raw) != size:
        raise KeyringError(f"{what} must be {size} bytes (raw Ed25519), not {len(raw)}")
    return raw


def _check_name(value: object, pattern: re.Pattern[str], what: str) -> str:
    if not isinstance(value, str) or not pattern.match(value):
        raise KeyringError(f"{what} {value!r} must match {pattern.pattern}")
    return value


# --- signing: what producers hold ---------------------------------------------------------

@dataclass(frozen=True, slots=True)
class SigningKey:
    """One signer's private key and its key id: what an entity's system (or a gateway) holds.

    ``repr`` never shows the key, so it cannot end up in a log line by accident."""

    signer: str
    key_id: str
    private: Ed25519PrivateKey = field(repr=False)

    @classmethod
    def generate(cls, signer: str, key_id: str) -> SigningKey:
        _check_name(signer, SIGNER_RE, "signer")
        _check_name(key_id, KEY_ID_RE, "key id")
        return cls(signer, key_id, Ed25519PrivateKey.generate())

    def public_bytes(self) -> bytes:
        return bytes(self.private.verify_key)

    def sign(self, payload: bytes) -> bytes:
        """The ``tahawul-signature`` header value for a record value."""
        signature = _b64(self.private.sign(payload).signature)
        return f"{SCHEME}:{self.signer}:{self.key_id}:{signature}".encode("ascii")


def render_signing_key(key: SigningKey) -> str:
    """The text of a private key file (keep it mode 0600; give it only to the signer)."""
    raw = bytes(key.private)  # the 32-byte seed: the raw Ed25519 private key
    return json.dumps({"signer": key.signer, "key_id": key.key_id, "private_key": _b64(raw)},
                      indent=2) + "\n"


def parse_signing_key(text: str) -> SigningKey:
    """Parse a private key file: ``{"signer": ..., "key_id": ..., "private_key": <base64>}``."""
    try:
        obj = json.loads(text)
    except json.JSONDecodeError as exc:
        raise KeyringError(f"signing key file is not valid JSON: {exc}") from None
    if not isinstance(obj, dict):
        raise KeyringError("signing key file must be a JSON object with signer, key_id, private_key")
    signer = _check_name(obj.get("signer"), SIGNER_RE, "signer")
    key_id = _check_name(obj.get("key_id"), KEY_ID_RE, "key id")
    raw = _unb64(obj.get("private_key"), "private_key", KEY_BYTES)
    return SigningKey(signer, key_id, Ed25519PrivateKey(raw))


@dataclass(frozen=True, slots=True)
class Signers:
    """The signing keys one producing process holds, by signer (entity code or gateway id).

    ``sign(entity, value)`` signs with the entity's own key, else with a gateway key the
    process holds (``vouch``): a process can sign only for what its keys allow."""

    keys: Mapping[str, SigningKey] = field(default_factory=dict)
    vouch: SigningKey | None = None

    @classmethod
    def of(cls, keys: Iterable[SigningKey], vouch: SigningKey | None = None) -> Signers:
        return cls({k.signer: k for k in keys}, vouch)

    def key_for(self, entity: str) -> SigningKey | None:
        return self.keys.get(entity) or self.vouch

    def sign(self, entity: str, payload: bytes) -> bytes | None:
        """The signature header value, or None when no key here can sign for ``entity``."""
        key = self.key_for(entity)
        return None if key is None else key.sign(payload)

    def sign_keyed(self, key: bytes | None, payload: bytes) -> bytes | None:
        """:meth:`sign` for a record whose key starts with its entity code: ``ENTITY`` or
        ``ENTITY/...`` (how every producer keys, producers/partition_keys.py)."""
        return self.sign((key or b"").partition(b"/")[0].decode("utf-8", "replace"), payload)


# --- verifying: what workers hold ----------------------------------------------------------

@dataclass(frozen=True, slots=True)
class PublicKey:
    key: Ed25519PublicKey = field(repr=False)
    raw: bytes = field(repr=False)
    revoked: str | None = None  # when it was revoked (ISO 8601), if it was


@dataclass(frozen=True, slots=True)
class Signer:
    """An entity, or a gateway with the entities it may vouch for (``ANY_ENTITY``: all)."""

    keys: Mapping[str, PublicKey]
    gateway: bool = False
    vouches_for: frozenset[str] = frozenset()

    def may_sign_for(self, name: str, entity: str) -> bool:
        if not self.gateway:
            return name == entity
        return ANY_ENTITY in self.vouches_for or entity in self.vouches_for


@dataclass(frozen=True, slots=True)
class Trust:
    """The trust file: signer (entity code or gateway id) -> its public keys."""

    signers: Mapping[str, Signer] = field(default_factory=dict)

    def check(self, entity: str, payload: bytes, header: bytes | None) -> None:
        """Raise :class:`InvalidEvent` (``signature_missing``/``signature_invalid``) unless
        ``payload`` is signed for ``entity`` by the entity or a gateway that may vouch for it,
        with an unrevoked key, and the signature verifies."""
        if header is None:
            raise InvalidEvent(
                "signature_missing",
                f"events must be signed (Kafka header {SIGNATURE_HEADER}, Ed25519 with the key of "
                f"{entity[:64]} or of a gateway trusted for it; see docs/security.md)",
            )
        try:
            scheme, name, key_id, encoded = header.decode("ascii").split(":")
        except (UnicodeDecodeError, ValueError):
            raise InvalidEvent(
                "signature_invalid",
                f"{SIGNATURE_HEADER} is not of the form {SCHEME}:<signer>:<key id>:<base64>",
            ) from None
        if scheme != SCHEME:
            raise InvalidEvent("signature_invalid", f"signature scheme {scheme[:20]!r} is not {SCHEME}")
        signer = self.signers.get(name)
        if signer is None:
            raise InvalidEvent("signature_invalid", f"signer {name[:64]!r} is not in the trust file")
        if not signer.may_sign_for(name, entity):
            raise InvalidEvent("signature_invalid",
                               f"{name} may not sign events of {entity[:64]}")
        key = signer.keys.get(key_id)
        if key is None:
            raise InvalidEvent("signature_invalid", f"key id {key_id[:64]!r} is not a key of {name}")
        if key.revoked is not None:
            raise InvalidEvent("signature_invalid",
                               f"key {key_id} of {name} was revoked at {key.revoked}")
        try:
            signature = base64.b64decode(encoded, validate=True)
            if len(signature) != SIGNATURE_BYTES:
                raise ValueError
            key.key.verify(payload, signature)
        except (BadSignatureError, binascii.Error, ValueError):
            raise InvalidEvent(
                "signature_invalid", f"signature does not match the payload under {name}'s key {key_id}"
            ) from None

    # -- editing (what `tahawul credentials` does to the file) --

    def with_key(self, name: str, key_id: str, public: bytes, gateway: bool = False,
                 vouches_for: Iterable[str] = ()) -> Trust:
        """A copy with one more public key for ``name`` (a gateway's entity list is replaced
        when ``vouches_for`` is given)."""
        _check_name(name, SIGNER_RE, "signer")
        _check_name(key_id, KEY_ID_RE, "key id")
        existing = self.signers.get(name)
        if existing is not None and existing.gateway != gateway:
            kind = "a gateway" if existing.gateway else "an entity"
            raise KeyringError(f"{name} is already {kind} in the trust file")
        if existing is not None and key_id in existing.keys:
            raise KeyringError(f"{name} already has a key {key_id}; key ids are never reused")
        keys = dict(existing.keys) if existing else {}
        keys[key_id] = PublicKey(_public_key(public), public)
        vouch = frozenset(vouches_for) or (existing.vouches_for if existing else frozenset())
        signers = dict(self.signers)
        signers[name] = Signer(keys, gateway, vouch if gateway else frozenset())
        return Trust(signers)

    def revoked(self, name: str, key_id: str, when: str) -> Trust:
        """A copy in which ``name``'s key ``key_id`` is revoked (kept, so it stays refused)."""
        signer = self.signers.get(name)
        if signer is None or key_id not in signer.keys:
            raise KeyringError(f"the trust file has no key {key_id!r} of {name!r}")
        keys = dict(signer.keys)
        old = keys[key_id]
        keys[key_id] = PublicKey(old.key, old.raw, old.revoked or when)
        signers = dict(self.signers)
        signers[name] = Signer(keys, signer.gateway, signer.vouches_for)
        return Trust(signers)


def _public_key(raw: bytes) -> Ed25519PublicKey:
    if len(raw) != KEY_BYTES:
        raise KeyringError(f"not an Ed25519 public key: {len(raw)} bytes, not {KEY_BYTES}")
    return Ed25519PublicKey(raw)


def _parse_keys(name: str, obj: object) -> dict[str, PublicKey]:
    if not isinstance(obj, dict) or not obj:
        raise KeyringError(f"{name}: keys must be a non-empty object of key id -> "
                           '{"public_key": <base64>, "revoked": null}')
    keys: dict[str, PublicKey] = {}
    for key_id, entry in obj.items():
        _check_name(key_id, KEY_ID_RE, f"{name}: key id")
        if not isinstance(entry, dict):
            raise KeyringError(f"{name}/{key_id}: must be an object with public_key")
        raw = _unb64(entry.get("public_key"), f"{name}/{key_id}: public_key", KEY_BYTES)
        revoked = entry.get("revoked")
        if revoked is not None and not isinstance(revoked, str):
            raise KeyringError(f"{name}/{key_id}: revoked must be null or a time")
        keys[key_id] = PublicKey(_public_key(raw), raw, revoked)
    return keys


def parse_trust(text: str) -> Trust:
    """Parse the trust file::

        {"entities": {"ROP": {"keys": {"k1": {"public_key": "<base64>", "revoked": null}}}},
         "gateways": {"gw": {"entities": ["ROP", "MOH"], "keys": {...}}}}

    Gateway ids and entity codes share one namespace (the header names the signer)."""
    try:
        obj = json.loads(text)
    except json.JSONDecodeError as exc:
        raise KeyringError(f"trust file is not valid JSON: {exc}") from None
    if not isinstance(obj, dict) or set(obj) - {"entities", "gateways"}:
        raise KeyringError('trust file must be a JSON object with "entities" and "gateways"')
    signers: dict[str, Signer] = {}
    entities = obj.get("entities", {})
    gateways = obj.get("gateways", {})
    if not isinstance(entities, dict) or not isinstance(gateways, dict):
        raise KeyringError('"entities" and "gateways" must be objects keyed by signer')
    for name, entry in entities.items():
        _check_name(name, SIGNER_RE, "entity")
        if not isinstance(entry, dict):
            raise KeyringError(f"entity {name}: must be an object with keys")
        signers[name] = Signer(_parse_keys(name, entry.get("keys")))
    for name, entry in gateways.items():
        _check_name(name, SIGNER_RE, "gateway")
        if name in signers:
            raise KeyringError(f"{name} is both an entity and a gateway")
        if not isinstance(entry, dict):
            raise KeyringError(f"gateway {name}: must be an object with entities and keys")
        vouch = entry.get("entities")
        if not isinstance(vouch, list) or not vouch or not all(isinstance(e, str) for e in vouch):
            raise KeyringError(f'gateway {name}: "entities" must list the entity codes it may '
                               'sign for (["*"] for all)')
        signers[name] = Signer(_parse_keys(name, entry.get("keys")), True, frozenset(vouch))
    return Trust(signers)


def render_trust(trust: Trust) -> str:
    """The JSON text of a trust file (what :func:`parse_trust` reads)."""
    def keys(signer: Signer) -> dict[str, Any]:
        return {kid: {"public_key": _b64(k.raw), "revoked": k.revoked} for kid, k in signer.keys.items()}

    return json.dumps({
        "entities": {n: {"keys": keys(s)} for n, s in trust.signers.items() if not s.gateway},
        "gateways": {n: {"entities": sorted(s.vouches_for), "keys": keys(s)}
                     for n, s in trust.signers.items() if s.gateway},
    }, indent=2) + "\n"
