"""Per-entity event signatures: HMAC-SHA256 over the exact record value, in a Kafka header.

Defence in depth for producers that write to Kafka directly. In production broker ACLs stop
one entity's system from writing as another; where they are absent or misconfigured, a
worker can still refuse an event of entity E unless it is signed with one of E's keys. The
contract forbids extra payload fields, so the signature travels in the record header
``tahawul-signature`` as ``v1:<key id>:<hex digest>``. The key id lets an entity rotate
keys: sign with the new key while the worker still accepts the old one.

This module is pure (no file or network I/O): the keyring is parsed from text that callers
read, so the same logic serves the worker, the SDK and the tests.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import json
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Final

from tahawul.schemas.event import InvalidEvent
from tahawul.schemas.headers import SIGNATURE_HEADER

SCHEME: Final = "v1"
MIN_KEY_BYTES: Final = 16
KEY_ID_RE: Final = re.compile(r"^[A-Za-z0-9._-]{1,64}$")


class KeyringError(ValueError):
    """A keyring text that cannot be used; the message says what to fix."""


def digest(payload: bytes, key: bytes) -> str:
    return hmac.new(key, payload, hashlib.sha256).hexdigest()


def sign(payload: bytes, key_id: str, key: bytes) -> bytes:
    """The header value that signs ``payload`` with ``key`` (named ``key_id``)."""
    if not KEY_ID_RE.match(key_id):
        raise KeyringError(f"key id {key_id!r} must match {KEY_ID_RE.pattern}")
    return f"{SCHEME}:{key_id}:{digest(payload, key)}".encode("ascii")


@dataclass(frozen=True, slots=True)
class Keyring:
    """entity code -> key id -> secret key, in the order given (the last key signs)."""

    keys: Mapping[str, Mapping[str, bytes]] = field(default_factory=dict)

    def signing_key(self, entity: str) -> tuple[str, bytes] | None:
        """The (key id, key) an entity signs with now: the last one listed for it."""
        entity_keys = self.keys.get(entity)
        if not entity_keys:
            return None
        key_id = list(entity_keys)[-1]
        return key_id, entity_keys[key_id]

    def sign(self, entity: str, payload: bytes) -> bytes | None:
        """The signature header value for an entity's payload, or None if it has no key."""
        found = self.signing_key(entity)
        return None if found is None else sign(payload, found[0], found[1])

    def with_key(self, entity: str, key_id: str, key: bytes) -> Keyring:
        """A copy with one more key for ``entity`` (which then becomes its signing key)."""
        if not KEY_ID_RE.match(key_id):
            raise KeyringError(f"key id {key_id!r} must match {KEY_ID_RE.pattern}")
        if len(key) < MIN_KEY_BYTES:
            raise KeyringError(f"a signing key needs at least {MIN_KEY_BYTES} bytes")
        merged = {e: dict(k) for e, k in self.keys.items()}
        entity_keys = merged.setdefault(entity, {})
        entity_keys.pop(key_id, None)
        entity_keys[key_id] = key
        return Keyring(merged)


def parse_keyring(text: str) -> Keyring:
    """Parse ``{"ENTITY": {"key-id": "<base64 key>", ...}, ...}``."""
    try:
        obj = json.loads(text) if text.strip() else {}
    except json.JSONDecodeError as exc:
        raise KeyringError(f"keyring is not valid JSON: {exc}") from None
    if not isinstance(obj, dict):
        raise KeyringError("keyring must be a JSON object of entity -> {key id: base64 key}")
    keys: dict[str, dict[str, bytes]] = {}
    for entity, entity_keys in obj.items():
        if not isinstance(entity_keys, dict):
            raise KeyringError(f"keyring entry {entity!r} must be an object of key id -> base64 key")
        for key_id, encoded in entity_keys.items():
            if not KEY_ID_RE.match(key_id):
                raise KeyringError(f"{entity}: key id {key_id!r} must match {KEY_ID_RE.pattern}")
            if not isinstance(encoded, str):
                raise KeyringError(f"{entity}/{key_id}: the key must be a base64 string")
            try:
                key = base64.b64decode(encoded, validate=True)
            except (binascii.Error, ValueError):
                raise KeyringError(f"{entity}/{key_id}: the key is not valid base64") from None
            if len(key) < MIN_KEY_BYTES:
                raise KeyringError(f"{entity}/{key_id}: a key needs at least {MIN_KEY_BYTES} bytes")
            keys.setdefault(entity, {})[key_id] = key
    return Keyring(keys)


def render_keyring(keyring: Keyring) -> str:
    """The JSON text of a keyring (what :func:`parse_keyring` reads)."""
    return json.dumps(
        {e: {kid: base64.b64encode(k).decode("ascii") for kid, k in ks.items()}
         for e, ks in keyring.keys.items()},
        indent=2, sort_keys=False,
    ) + "\n"


def parse_required(text: str) -> tuple[frozenset[str], bool]:
    """``TAHAWUL_SIGNING_REQUIRED``: comma-separated entity codes, or ``*`` for all."""
    codes = frozenset(c.strip() for c in text.split(",") if c.strip())
    return codes - {"*"}, "*" in codes


@dataclass(frozen=True, slots=True)
class SignaturePolicy:
    """Which entities must sign, and the keys to check with."""

    keyring: Keyring
    required: frozenset[str] = frozenset()
    all_required: bool = False

    def must_sign(self, entity: str) -> bool:
        return self.all_required or entity in self.required

    def check(self, entity: str, payload: bytes, header: bytes | None) -> None:
        """Raise :class:`InvalidEvent` (``signature_missing``/``signature_invalid``) unless the
        event is acceptable. A signature from an entity that need not sign is still checked
        when the keyring knows the entity; a wrong one is never let through."""
        required = self.must_sign(entity)
        if header is None:
            if required:
                raise InvalidEvent(
                    "signature_missing",
                    f"events of {entity} must be signed (Kafka header {SIGNATURE_HEADER}, "
                    "HMAC-SHA256 with the entity's key; see docs/producers.md)",
                )
            return
        entity_keys = self.keyring.keys.get(entity)
        if not entity_keys:
            if required:
                raise InvalidEvent(
                    "signature_invalid", f"no signing key of {entity} is known to the pipeline")
            return
        try:
            scheme, key_id, hexdigest = header.decode("ascii").split(":")
        except (UnicodeDecodeError, ValueError):
            raise InvalidEvent(
                "signature_invalid", f"{SIGNATURE_HEADER} is not of the form v1:<key id>:<hex>"
            ) from None
        if scheme != SCHEME:
            raise InvalidEvent("signature_invalid", f"signature scheme {scheme[:20]!r} is not {SCHEME}")
        key = entity_keys.get(key_id)
        if key is None:
            raise InvalidEvent(
                "signature_invalid", f"key id {key_id[:64]!r} is not a signing key of {entity}")
        if not hmac.compare_digest(digest(payload, key), hexdigest.lower()):
            raise InvalidEvent(
                "signature_invalid",
                f"signature does not match the payload under {entity}'s key {key_id}",
            )
