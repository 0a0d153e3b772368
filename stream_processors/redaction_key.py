"""The pipeline's redaction key: what workers hash rejected payloads under.

TAHAWUL_REDACTION_KEY when set. Unset, and only with a broker on this machine (the embedded
default, tests), a key generated once into ``<data dir>/redaction.key`` (mode 600), which
every worker of the data directory shares. Any other broker needs the setting: workers on
several hosts must hash alike, and a key made up per host would make the hashes useless to
support. A secure default, not an option: no mode keeps payloads or plain hashes.
"""

from __future__ import annotations

import os
import secrets
import time
from pathlib import Path

from tahawul.errors import UsageError
from tahawul.settings import Settings

KEY_FILE = "redaction.key"
MIN_KEY_CHARS = 32


def redaction_key(settings: Settings) -> bytes:
    """The key (bytes) for :func:`tahawul.schemas.redaction.redact`; UsageError (exit 2)
    when it must be set and is not, or is too short to be a key."""
    if settings.redaction_key is not None:
        key = settings.redaction_key.get_secret_value()
        if len(key) < MIN_KEY_CHARS:
            raise UsageError(f"TAHAWUL_REDACTION_KEY must be at least {MIN_KEY_CHARS} characters")
        return key.encode()
    if not settings.broker_is_local():
        raise UsageError("TAHAWUL_REDACTION_KEY is required with a broker on another host (every "
                         "worker must hash rejected payloads under the same key); see docs/security.md")
    return _local_key(settings.data_dir / KEY_FILE)


def _local_key(path: Path) -> bytes:
    """The key in ``path``, created (exclusively, mode 600) by the first process to need it."""
    path.parent.mkdir(parents=True, exist_ok=True)
    try:
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    except FileExistsError:
        pass
    else:
        with os.fdopen(fd, "w") as out:
            out.write(secrets.token_urlsafe(32) + "\n")
            out.flush()
            os.fsync(out.fileno())
    for _ in range(50):  # another process may be writing it this very moment
        key = path.read_text("ascii").strip()
        if len(key) >= MIN_KEY_CHARS:
            return key.encode()
        time.sleep(0.05)
    raise UsageError(f"{path} does not hold a redaction key; delete it to have one generated")
