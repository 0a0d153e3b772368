"""The SDK's control totals: what the entity's system completed and handed to the SDK, per day
(Asia/Muscat), service and channel, stated to the pipeline by the SDK itself.

Counted at ``send``, once an event is validated and in the spool, i.e. before anything could
lose it on its way: an event lost after that (a spool deleted, a record dropped between here
and the broker, a broker that lost an acknowledged write) is then missing from the counts
but not from the totals, and `tahawul audit completeness` names its cell. Counting what the
broker acknowledged instead would hide exactly those losses.

The tallies are kept in ``<spool_dir>/control-totals.json``, written (atomically) with
every change, so that a restarted producer states the day's whole total, not what it sent
since its restart (a lower restatement would supersede the true one). Cells touched since
their last statement are "dirty": :meth:`Tallies.statements` states them and the SDK spools
the statements like events. Stated days more than ``KEEP_DAYS`` before the latest are
forgotten.
"""

from __future__ import annotations

import os
import threading
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any, Final

import orjson

from tahawul.schemas.control_total import KIND, SCHEMA_VERSION, muscat_day
from tahawul.schemas.event import Event

FILE_NAME: Final = "control-totals.json"
KEEP_DAYS: Final = 62  # late events up to two months back still restate their day

Cell = tuple[str, str, str]  # (day ISO, service, channel)


@dataclass(slots=True)
class _State:
    completed: dict[Cell, int]
    dirty: set[Cell]


class Tallies:
    """Completed transactions per cell of one entity, persisted beside the spool."""

    def __init__(self, directory: Path, entity: str, fsync: bool = True) -> None:
        self.path = directory / FILE_NAME
        self.entity = entity
        self.fsync = fsync
        self._lock = threading.Lock()
        self._state = self._load()

    def _load(self) -> _State:
        try:
            raw: Any = orjson.loads(self.path.read_bytes())
        except FileNotFoundError:
            return _State({}, set())
        except (OSError, orjson.JSONDecodeError) as exc:
            raise ValueError(f"{self.path} is unreadable ({exc}); move it away to start the "
                             "control totals afresh (their next statement will then be low)") from None
        completed = {(d, s, c): int(n) for d, s, c, n in raw.get("completed", [])}
        dirty = {(d, s, c) for d, s, c in raw.get("dirty", [])}
        return _State(completed, dirty)

    def _save(self) -> None:
        state = self._state
        data = orjson.dumps({
            "entity": self.entity,
            "completed": [[*cell, n] for cell, n in sorted(state.completed.items())],
            "dirty": sorted(state.dirty),
        })
        tmp = self.path.with_suffix(".tmp")
        with tmp.open("wb") as fh:
            fh.write(data)
            if self.fsync:
                fh.flush()
                os.fsync(fh.fileno())
        os.replace(tmp, self.path)

    def add(self, events: list[Event]) -> None:
        """Count events just spooled: the completed ones add their quantity to their cell;
        any event marks its cell for a statement (a day with none completed states 0)."""
        with self._lock:
            state = self._state
            for event in events:
                cell = (muscat_day(event.occurred_at).isoformat(), event.service, event.channel)
                done = event.quantity if event.status == "completed" else 0
                state.completed[cell] = state.completed.get(cell, 0) + done
                state.dirty.add(cell)
            self._save()

    def statements(self, now: datetime | None = None) -> list[bytes]:
        """Control totals (contract form, JSON) of every dirty cell up to today, stated now.
        They stay dirty until :meth:`stated` says they were spooled."""
        current = now or datetime.now(UTC)
        today = muscat_day(current)
        stated_at = current.astimezone(UTC).isoformat(timespec="milliseconds")
        with self._lock:
            state = self._state
            return [orjson.dumps({
                "kind": KIND, "schema_version": SCHEMA_VERSION, "entity": self.entity, "day": day,
                "service": service, "channel": channel, "completed": state.completed[(day, service, channel)],
                "stated_at": stated_at,
            }) for day, service, channel in sorted(state.dirty) if date.fromisoformat(day) <= today]

    def stated(self, statements: list[bytes]) -> None:
        """Mark the cells of these spooled statements clean (unless touched since), and
        forget stated days more than KEEP_DAYS before the latest day tallied (not before
        today: a system re-sending last year's events keeps its tallies)."""
        with self._lock:
            state = self._state
            latest = max((c[0] for c in state.completed), default="0000-01-01")
            oldest = (date.fromisoformat(latest) - timedelta(days=KEEP_DAYS)).isoformat() \
                if state.completed else latest
            for raw in statements:
                obj = orjson.loads(raw)
                cell = (obj["day"], obj["service"], obj["channel"])
                if state.completed.get(cell) == obj["completed"]:
                    state.dirty.discard(cell)
            for cell in [c for c in state.completed if c[0] < oldest and c not in state.dirty]:
                del state.completed[cell]
                state.dirty.discard(cell)
            self._save()

    def days(self) -> set[str]:
        with self._lock:
            return {cell[0] for cell in self._state.dirty}

    def completed(self) -> dict[Cell, int]:
        """A copy of the tallies (for tests and diagnostics)."""
        with self._lock:
            return dict(self._state.completed)
