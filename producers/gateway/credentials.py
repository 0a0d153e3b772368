"""Per-entity API keys of the HTTP gateway, kept hashed in their own SQLite file.

A key is ``thw_<key id>_<secret>``: the key id (public, shown by `tahawul credentials
list`) finds the row, and only the SHA-256 of the 256-bit random secret is stored, so a
copy of the file does not let anyone send. A fast hash is right here (unlike for
passwords): the secret is random, not guessable, and every request checks one.

SQLite rather than the ClickHouse store: the embedded chDB store can be opened by one
process only (the counting writer), while the gateway and the `tahawul credentials`
command must use the credentials at the same time; SQLite in WAL mode allows exactly that,
and a revocation is seen by the gateway's next request.
"""

from __future__ import annotations

import hashlib
import hmac
import re
import secrets
import sqlite3
import threading
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Final

PREFIX: Final = "thw_"
_TOKEN_RE: Final = re.compile(r"^thw_([0-9a-f]{16})_([A-Za-z0-9_-]{43})$")

_SCHEMA: Final = """
CREATE TABLE IF NOT EXISTS api_keys (
    key_id        TEXT PRIMARY KEY,
    entity        TEXT NOT NULL,
    secret_sha256 TEXT NOT NULL,
    created_at    TEXT NOT NULL,
    revoked_at    TEXT,
    note          TEXT NOT NULL DEFAULT ''
);
CREATE INDEX IF NOT EXISTS api_keys_entity ON api_keys (entity);
"""


class AuthError(Exception):
    """Why a request is not authenticated; ``reason`` is a stable metric label."""

    def __init__(self, reason: str, message: str) -> None:
        super().__init__(message)
        self.reason = reason
        self.message = message


@dataclass(frozen=True, slots=True)
class Credential:
    key_id: str
    entity: str
    created_at: str
    revoked_at: str | None
    note: str


def _sha256(secret: str) -> str:
    return hashlib.sha256(secret.encode("ascii")).hexdigest()


def _now() -> str:
    return datetime.now(UTC).isoformat(timespec="seconds")


class CredentialStore:
    def __init__(self, path: Path) -> None:
        self.path = path
        path.parent.mkdir(parents=True, exist_ok=True)
        self._local = threading.local()
        with self._conn() as conn:
            conn.executescript(_SCHEMA)
        path.chmod(0o600)

    def _conn(self) -> sqlite3.Connection:
        conn: sqlite3.Connection | None = getattr(self._local, "conn", None)
        if conn is None:
            conn = sqlite3.connect(self.path, timeout=10.0)
            conn.execute("PRAGMA journal_mode=WAL")
            conn.execute("PRAGMA busy_timeout=10000")
            self._local.conn = conn
        return conn

    def issue(self, entity: str, note: str = "") -> tuple[str, str]:
        """Create a key for ``entity``; return (key id, the full key, shown only now)."""
        key_id = secrets.token_hex(8)
        secret = secrets.token_urlsafe(32)
        with self._conn() as conn:
            conn.execute(
                "INSERT INTO api_keys (key_id, entity, secret_sha256, created_at, note) "
                "VALUES (?, ?, ?, ?, ?)", (key_id, entity, _sha256(secret), _now(), note))
        return key_id, f"{PREFIX}{key_id}_{secret}"

    def revoke(self, key_id: str) -> bool:
        """Revoke a key (kept, marked); False if no such active key."""
        with self._conn() as conn:
            cur = conn.execute("UPDATE api_keys SET revoked_at = ? WHERE key_id = ? AND revoked_at IS NULL",
                               (_now(), key_id))
        return cur.rowcount == 1

    def list(self, entity: str | None = None, include_revoked: bool = False) -> list[Credential]:
        sql = "SELECT key_id, entity, created_at, revoked_at, note FROM api_keys WHERE 1=1"
        params: list[str] = []
        if entity is not None:
            sql += " AND entity = ?"
            params.append(entity)
        if not include_revoked:
            sql += " AND revoked_at IS NULL"
        rows = self._conn().execute(sql + " ORDER BY entity, created_at", params).fetchall()
        return [Credential(*row) for row in rows]

    def authenticate(self, token: str | None) -> tuple[str, str]:
        """(entity, key id) of a valid, unrevoked key; raises :class:`AuthError` otherwise."""
        if not token:
            raise AuthError("missing", "no API key: send the header 'Authorization: Bearer <key>'")
        match = _TOKEN_RE.match(token)
        if match is None:
            raise AuthError("malformed", "the API key is not valid")
        key_id, secret = match.groups()
        row = self._conn().execute(
            "SELECT entity, secret_sha256, revoked_at FROM api_keys WHERE key_id = ?", (key_id,)
        ).fetchone()
        if row is None or not hmac.compare_digest(row[1], _sha256(secret)):
            raise AuthError("unknown", "the API key is not valid")
        if row[2] is not None:
            raise AuthError("revoked", f"the API key was revoked at {row[2]}")
        return str(row[0]), key_id

    def close(self) -> None:
        conn = getattr(self._local, "conn", None)
        if conn is not None:
            conn.close()
            self._local.conn = None


def credentials_path(data_dir: Path, configured: Path | None) -> Path:
    """TAHAWUL_CREDENTIALS_PATH, defaulting to credentials.sqlite in the data dir."""
    return configured if configured is not None else data_dir / "credentials.sqlite"
