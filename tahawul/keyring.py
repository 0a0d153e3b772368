"""The signing keyring file named by TAHAWUL_SIGNING_KEYRING: reading, writing, the policy.

The sign/verify logic is pure and lives in :mod:`schemas.signing`; this module is the file
around it. The file holds secrets, so it is written with mode 0600 and replaced atomically.
"""

from __future__ import annotations

import logging
import os
import secrets
import tempfile
from pathlib import Path

from tahawul.schemas.signing import (
    Keyring,
    KeyringError,
    SignaturePolicy,
    parse_keyring,
    parse_required,
    render_keyring,
)
from tahawul.settings import Settings

log = logging.getLogger(__name__)


def load_keyring(path: Path) -> Keyring:
    """The keyring in ``path``; an absent file is an empty keyring."""
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        return Keyring()
    try:
        return parse_keyring(text)
    except KeyringError as exc:
        raise KeyringError(f"{path}: {exc}") from None


def settings_keyring(settings: Settings) -> Keyring:
    """The configured keyring, or an empty one when TAHAWUL_SIGNING_KEYRING is unset."""
    return Keyring() if settings.signing_keyring is None else load_keyring(settings.signing_keyring)


def signature_policy(settings: Settings) -> SignaturePolicy | None:
    """What a worker checks: None when neither a keyring nor required entities are set."""
    required, all_required = parse_required(settings.signing_required)
    if settings.signing_keyring is None and not required and not all_required:
        return None
    keyring = settings_keyring(settings)
    for entity in sorted(required):
        if keyring.signing_key(entity) is None:
            log.error("entity %s must sign but has no key in %s: all its events will be rejected",
                      entity, settings.signing_keyring)
    return SignaturePolicy(keyring, required, all_required)


def add_signing_key(path: Path, entity: str, key_id: str | None = None) -> tuple[str, bytes]:
    """Create a new random key for ``entity`` in the keyring file; return (key id, key)."""
    keyring = load_keyring(path)
    existing = keyring.keys.get(entity, {})
    if key_id is None:
        n = len(existing) + 1
        while f"k{n}" in existing:
            n += 1
        key_id = f"k{n}"
    key = secrets.token_bytes(32)
    updated = keyring.with_key(entity, key_id, key)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=".keyring-", dir=path.parent)
    try:
        os.fchmod(fd, 0o600)
        with os.fdopen(fd, "w", encoding="utf-8") as fh:
            fh.write(render_keyring(updated))
            fh.flush()
            os.fsync(fh.fileno())
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
    return key_id, key
