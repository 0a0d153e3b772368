"""The gateway's memory of events it already delivered, to answer "duplicate" to a retry.

Systems behind flaky networks re-post a request whose answer they never got. The gateway
records (entity, event_id, content fingerprint) of every event the broker acknowledged; a
later copy from the same entity with the same content is answered ``duplicate`` and not sent
again, one with other content is ``rejected`` (``event_id_conflict``), as the counting
writer would do. Event ids are per entity: what one entity sent never changes the answer
another gets (docs/security.md, "Event ids are per entity").

This is a courtesy, not what makes counts exact: the counting writer deduplicates by
(entity, event_id) whatever reaches Kafka (docs/exactly-once.md). So a crash between the broker's
acknowledgement and the insert here, or a gateway on another host with its own file, at
worst forwards a copy that is then counted once. Entries older than the retention are
pruned at start-up.
"""

from __future__ import annotations

import sqlite3
import threading
from collections.abc import Iterable, Sequence
from datetime import UTC, datetime, timedelta
from pathlib import Path


class DeliveredIndex:
    """(entity, event_id, fingerprint) of every event this gateway delivered, in SQLite at
    ``path``. Not the counting writer's index of counted events
    (:mod:`tahawul.stream_processors.seen`), which is what keeps counts exact."""

    def __init__(self, path: Path, retention_days: int = 45) -> None:
        self.path = path
        path.parent.mkdir(parents=True, exist_ok=True)
        self._lock = threading.Lock()
        self._conn = sqlite3.connect(path, timeout=10.0, check_same_thread=False)
        self._conn.execute("PRAGMA journal_mode=WAL")
        self._conn.execute("PRAGMA synchronous=NORMAL")
        cutoff = (datetime.now(UTC) - timedelta(days=retention_days)).isoformat()
        with self._lock, self._conn:
            self._conn.execute(
                "CREATE TABLE IF NOT EXISTS delivered (entity TEXT NOT NULL, event_id TEXT NOT NULL, "
                "fingerprint INTEGER NOT NULL, accepted_at TEXT NOT NULL, "
                "PRIMARY KEY (entity, event_id)) WITHOUT ROWID")
            # The table of earlier versions (keyed by event_id alone, before ids were per
            # entity): its rows carried over, then dropped.
            if self._conn.execute("SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = 'seen'"
                                  ).fetchone():
                self._conn.execute("INSERT OR IGNORE INTO delivered SELECT entity, event_id, fingerprint, "
                                   "accepted_at FROM seen")
                self._conn.execute("DROP TABLE seen")
            self._conn.execute("DELETE FROM delivered WHERE accepted_at < ?", (cutoff,))

    def lookup(self, entity: str, event_ids: Sequence[str]) -> dict[str, int]:
        """event_id -> fingerprint of ``entity``'s events already delivered (another entity's
        events with the same ids are not looked at)."""
        found: dict[str, int] = {}
        with self._lock:
            for start in range(0, len(event_ids), 500):
                chunk = list(event_ids[start:start + 500])
                marks = ",".join("?" * len(chunk))
                sql = ("SELECT event_id, fingerprint FROM delivered "
                       f"WHERE entity = ? AND event_id IN ({marks})")
                for eid, fp in self._conn.execute(sql, [entity, *chunk]):
                    found[eid] = int(fp)
        return found

    def remember(self, events: Iterable[tuple[str, int, str]]) -> None:
        """Record (event_id, fingerprint, entity) of events the broker acknowledged."""
        now = datetime.now(UTC).isoformat()
        with self._lock, self._conn:
            self._conn.executemany(
                "INSERT OR IGNORE INTO delivered (entity, event_id, fingerprint, accepted_at) "
                "VALUES (?, ?, ?, ?)",
                [(entity, eid, fp, now) for eid, fp, entity in events])

    def close(self) -> None:
        with self._lock:
            self._conn.close()
