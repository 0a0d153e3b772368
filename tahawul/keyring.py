"""The signing files: the workers' trust file, producers' private key files, the dev keys.

The sign/verify logic is pure and lives in :mod:`schemas.signing`; this module is the files
around it. Private key files are written mode 0600 (in a 0700 directory) and replaced
atomically; their contents are never logged. The trust file holds public keys only.

Where the keys come from:

* production: `tahawul credentials signing-key ENTITY` makes a key pair, puts the public key
  in the trust file (TAHAWUL_SIGNING_TRUST, read by the workers) and writes the private key
  to a file for the entity's system (its SDK, or `tahawul send` with TAHAWUL_SIGNING_KEYS);
  `credentials gateway-key` does the same for a gateway and the entities it may vouch for.
* the local pipeline (`tahawul up`'s embedded broker, the tests, the benchmarks): dev keys
  of every entity and of a gateway are generated under ``<data dir>/keys`` on first start.
"""

from __future__ import annotations

import logging
import os
import tempfile
from datetime import UTC, datetime
from pathlib import Path

from tahawul.errors import UsageError
from tahawul.schemas.exchange import parties
from tahawul.schemas.reference import load_catalogue
from tahawul.schemas.signing import (
    ANY_ENTITY,
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

log = logging.getLogger(__name__)

DEV_GATEWAY = "gateway"  # the dev gateway's signer id (entity codes are upper case)
KEY_SUFFIX = ".key"
MAKE_TRUST = ("make one with `tahawul credentials signing-key ENTITY --trust FILE` for each "
              "entity (and `credentials gateway-key` for a gateway), then set TAHAWUL_SIGNING_TRUST=FILE")


def keys_dir(data_dir: Path) -> Path:
    return data_dir / "keys"


def dev_trust_path(data_dir: Path) -> Path:
    return keys_dir(data_dir) / "trust.json"


def dev_private_dir(data_dir: Path) -> Path:
    return keys_dir(data_dir) / "private"


def _write_atomic(path: Path, text: str, mode: int) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}-", dir=path.parent)
    try:
        os.fchmod(fd, mode)
        with os.fdopen(fd, "w", encoding="utf-8") as fh:
            fh.write(text)
            fh.flush()
            os.fsync(fh.fileno())
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def write_signing_key(path: Path, key: SigningKey) -> None:
    """Write a private key file, readable by its owner only; an existing file is kept."""
    if path.exists():
        raise KeyringError(f"{path} exists; a private key file is never overwritten")
    path.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
    _write_atomic(path, render_signing_key(key), 0o600)


def load_signing_key(path: Path) -> SigningKey:
    try:
        text = path.read_text(encoding="utf-8")
    except OSError as exc:
        raise KeyringError(f"cannot read the signing key file {path}: {exc.strerror}") from None
    try:
        return parse_signing_key(text)
    except KeyringError as exc:
        raise KeyringError(f"{path}: {exc}") from None


def load_signers(path: Path) -> Signers:
    """The keys of a private key file, or of every ``*.key`` file of a directory."""
    files = sorted(path.glob(f"*{KEY_SUFFIX}")) if path.is_dir() else [path]
    keys = [load_signing_key(f) for f in files]
    return Signers.of(k for k in keys if k.signer != DEV_GATEWAY)


def load_trust(path: Path) -> Trust:
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise KeyringError(f"trust file {path} does not exist; {MAKE_TRUST}") from None
    try:
        return parse_trust(text)
    except KeyringError as exc:
        raise KeyringError(f"{path}: {exc}") from None


def load_trust_or_empty(path: Path) -> Trust:
    return load_trust(path) if path.exists() else Trust()


def write_trust(path: Path, trust: Trust) -> None:
    _write_atomic(path, render_trust(trust), 0o644)


def worker_trust(settings: Settings) -> Trust:
    """The trust file a worker verifies with. There is no unsigned mode: without one the
    worker refuses to start (the local pipeline sets it to its dev keys)."""
    if settings.signing_trust is None:
        raise UsageError("a worker needs a trust file of the signers' public keys "
                         f"(TAHAWUL_SIGNING_TRUST); {MAKE_TRUST}")
    try:
        return load_trust(settings.signing_trust)
    except KeyringError as exc:
        raise UsageError(str(exc)) from None


class TrustFile:
    """The workers' trust file, read again when it changes (checked once per batch, a
    ``stat``): a revoked key is refused from the next batch on, without a restart. A changed
    file that cannot be used is logged and the previous contents kept, so a bad edit never
    opens the pipeline up nor stops it."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self._seen = self._stamp()
        self.trust = load_trust(path)

    def _stamp(self) -> tuple[int, int, int] | None:
        try:
            st = self.path.stat()
        except OSError:
            return None
        return st.st_mtime_ns, st.st_size, st.st_ino

    def current(self) -> Trust:
        stamp = self._stamp()
        if stamp != self._seen:
            self._seen = stamp
            try:
                self.trust = load_trust(self.path)
                log.info("trust file %s read again: %d signers", self.path, len(self.trust.signers))
            except KeyringError as exc:
                log.error("trust file changed but cannot be used (%s); keeping the previous one", exc)
        return self.trust


def worker_trust_file(settings: Settings) -> TrustFile:
    """:func:`worker_trust`, followed as the file changes."""
    worker_trust(settings)  # the same refusal, with the same message
    assert settings.signing_trust is not None
    return TrustFile(settings.signing_trust)


def producer_signers(settings: Settings) -> Signers:
    """The keys `tahawul send`, `simulate --send` and `up --input` sign with:
    TAHAWUL_SIGNING_KEYS, else the local pipeline's dev keys, else none."""
    path = settings.signing_keys
    if path is None:
        path = dev_private_dir(settings.data_dir)
        if not path.is_dir():
            return Signers()
    try:
        return load_signers(path)
    except KeyringError as exc:
        raise UsageError(str(exc)) from None


def gateway_signer(settings: Settings) -> SigningKey:
    """The gateway's own key: TAHAWUL_GATEWAY_SIGNING_KEY, else the local dev gateway key."""
    path = settings.gateway_signing_key or dev_private_dir(settings.data_dir) / f"{DEV_GATEWAY}{KEY_SUFFIX}"
    if not path.exists():
        raise UsageError("the gateway signs what it forwards and needs its private key "
                         "(TAHAWUL_GATEWAY_SIGNING_KEY); make one with `tahawul credentials "
                         "gateway-key GATEWAY_ID --trust FILE --entities ROP,MOH`")
    try:
        return load_signing_key(path)
    except KeyringError as exc:
        raise UsageError(str(exc)) from None


def new_key_id(trust: Trust, signer: str) -> str:
    existing = trust.signers.get(signer)
    ids = set(existing.keys) if existing else set()
    n = len(ids) + 1
    while f"k{n}" in ids:
        n += 1
    return f"k{n}"


def create_key(trust_path: Path, private_path: Path, signer: str, key_id: str | None = None,
               gateway_for: list[str] | None = None) -> SigningKey:
    """Make a key pair for ``signer``: the private key to ``private_path`` (0600), the public
    key into the trust file. A signer's earlier keys stay valid until revoked (rotation).
    ``gateway_for``: the signer is a gateway that may vouch for these entities."""
    trust = load_trust_or_empty(trust_path)
    key = SigningKey.generate(signer, key_id or new_key_id(trust, signer))
    updated = trust.with_key(signer, key.key_id, key.public_bytes(), gateway_for is not None,
                             gateway_for or ())
    write_signing_key(private_path, key)
    write_trust(trust_path, updated)
    return key


def revoke_key(trust_path: Path, signer: str, key_id: str) -> None:
    """Mark a key revoked in the trust file: events signed with it are refused from then on
    (workers that read this file do so from their next batch: :class:`TrustFile`)."""
    trust = load_trust(trust_path)
    write_trust(trust_path, trust.revoked(signer, key_id, datetime.now(UTC).isoformat(timespec="seconds")))


def ensure_dev_keys(data_dir: Path) -> Path:
    """The local pipeline's dev keys: a key pair per catalogue entity and per member of the
    integration platform outside it (they sign the exchange halves they report:
    schemas/exchange.py), and one for a dev gateway that may vouch for every entity, made
    once under ``<data dir>/keys`` (a signer added to the reference data later gets its key
    on the next start). Returns the trust file. For the embedded broker only: the private
    keys sit beside the data."""
    trust_path = dev_trust_path(data_dir)
    wanted = [*sorted(parties(load_catalogue())), DEV_GATEWAY]
    trust = load_trust_or_empty(trust_path) if trust_path.exists() else Trust()
    missing = [signer for signer in wanted if signer not in trust.signers]
    if trust_path.exists() and not missing:
        return trust_path
    private = dev_private_dir(data_dir)
    private.mkdir(mode=0o700, parents=True, exist_ok=True)
    for signer in missing:
        key = SigningKey.generate(signer, "dev1")
        path = private / f"{signer}{KEY_SUFFIX}"
        path.unlink(missing_ok=True)  # a half-made earlier run
        write_signing_key(path, key)
        trust = trust.with_key(signer, key.key_id, key.public_bytes(), signer == DEV_GATEWAY,
                               [ANY_ENTITY] if signer == DEV_GATEWAY else ())
    write_trust(trust_path, trust)
    return trust_path
