"""The record of the simulated runs that filled a store (table ``runs``, migration 014).

`tahawul up --simulate` writes a run's profile, scale and seed when it starts and again,
with the time it finished, once everything it sent is counted. `tahawul audit published`
reads the scale from here, so that a simulated store is compared with the published figures
scaled as the simulator scaled them without the auditor having to remember it; a store of
real data has no run and is audited at scale 1.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime
from decimal import Decimal

from clickhouse_connect.driver.client import Client

COLUMNS = ("run_id", "profile", "scale", "seed", "duplicate_rate", "invalid_rate", "started_at",
           "finished_at", "input_records", "written_at")


class ScaleUnknown(ValueError):
    """The store's runs do not name one scale (several runs at different scales)."""


def _now() -> datetime:
    return datetime.now(UTC)


@dataclass(frozen=True, slots=True)
class RunRecord:
    """One simulated run: what produced the store's events, and when."""

    profile: str
    scale: Decimal
    seed: int
    duplicate_rate: float = 0.0
    invalid_rate: float = 0.0
    run_id: uuid.UUID = field(default_factory=uuid.uuid4)
    started_at: datetime = field(default_factory=_now)
    finished_at: datetime | None = None
    input_records: int = 0

    def finished(self, input_records: int) -> RunRecord:
        return replace(self, finished_at=_now(), input_records=input_records)


def record_run(client: Client, run: RunRecord) -> None:
    """Write (or, for a run already written, replace) the run's row."""
    row = [run.run_id, run.profile, run.scale, run.seed, run.duplicate_rate, run.invalid_rate,
           run.started_at, run.finished_at, run.input_records, _now()]
    client.insert("runs", [row], column_names=list(COLUMNS))


def recorded_runs(client: Client) -> list[RunRecord]:
    """Every run the store records, oldest first (the latest row of each)."""
    rows = client.query(
        "SELECT run_id, profile, scale, seed, duplicate_rate, invalid_rate, started_at, "
        "finished_at, input_records FROM runs FINAL ORDER BY started_at, run_id").result_rows
    return [RunRecord(profile=p, scale=Decimal(s).normalize(), seed=int(seed), duplicate_rate=d,
                      invalid_rate=i, run_id=rid, started_at=st, finished_at=fin,
                      input_records=int(n))
            for rid, p, s, seed, d, i, st, fin, n in rows]


def stored_scale(client: Client) -> Decimal:
    """The scale the store's events were simulated at: 1 when no run is recorded (real data),
    the runs' scale when they agree; :class:`ScaleUnknown` when they do not (a store filled by
    runs at different scales matches no single scaling of the published figures)."""
    scales = sorted({r.scale for r in recorded_runs(client)})
    if not scales:
        return Decimal(1)
    if len(scales) > 1:
        raise ScaleUnknown("the store holds simulated runs at several scales ("
                           + ", ".join(f"{s:f}" for s in scales) + "); give --scale")
    return scales[0]
