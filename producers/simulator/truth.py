"""The truth of a run: what a correct pipeline must count, accumulated from the lines.

It is computed from the emitted bytes (not from the generator's internals), so it states
exactly what a consumer of the stream is owed: completed valid events, summed by quantity,
per Muscat day, governorate, entity, service and channel; duplicates and invalid lines are
counted separately and owed nothing.
"""

from __future__ import annotations

import csv
from datetime import date, datetime, timedelta, timezone
from pathlib import Path
from typing import NamedTuple

import orjson

from tahawul.producers.simulator.generate import SimulatedLine
from tahawul.schemas.reference import Catalogue, Mode, load_catalogue

# Asia/Muscat is UTC+04:00 all year (no DST), so a fixed offset needs no tz database.
MUSCAT = timezone(timedelta(hours=4))
_MUSCAT_SUFFIX = "+04:00"

TRUTH_HEADER = ("day", "governorate", "entity", "service", "channel", "mode", "transactions")


class TruthRow(NamedTuple):
    day: date
    governorate: str
    entity: str
    service: str
    channel: str
    mode: Mode
    transactions: int


def muscat_day(occurred_at: str) -> date:
    """The Asia/Muscat calendar day of an RFC 3339 timestamp."""
    if occurred_at.endswith(_MUSCAT_SUFFIX):
        return date.fromisoformat(occurred_at[:10])
    return datetime.fromisoformat(occurred_at).astimezone(MUSCAT).date()


class Truth:
    """Accumulates expected counts; feed it every line of a run with :meth:`add`."""

    def __init__(self, catalogue: Catalogue | None = None) -> None:
        channels = (catalogue or load_catalogue()).channels
        self._modes: dict[str, Mode] = {code: c.mode for code, c in channels.items()}
        self._counts: dict[tuple[date, str, str, str, str], int] = {}
        self._digital: dict[str, int] = {}
        self.valid = 0
        self.duplicate = 0
        self.invalid = 0

    @property
    def lines(self) -> int:
        return self.valid + self.duplicate + self.invalid

    def add(self, line: SimulatedLine) -> None:
        if line.kind == "duplicate":
            self.duplicate += 1
            return
        if line.kind == "invalid":
            self.invalid += 1
            return
        if line.kind == "control_total":  # a statement, not an event: owed nothing
            return
        if line.kind == "exchange":  # an exchange half: owed in exchanges.ExchangeTruth
            self.valid += 1
            return
        self.valid += 1
        event = orjson.loads(line.data)
        if event["status"] != "completed":
            return
        governorate, channel, quantity = event["governorate"], event["channel"], event["quantity"]
        key = (
            muscat_day(event["occurred_at"]),
            governorate,
            event["entity"],
            event["service"],
            channel,
        )
        self._counts[key] = self._counts.get(key, 0) + quantity
        if self._modes[channel] == "digital":
            self._digital[governorate] = self._digital.get(governorate, 0) + quantity

    def rows(self) -> list[TruthRow]:
        modes = self._modes
        return sorted(
            TruthRow(day, gov, entity, service, channel, modes[channel], count)
            for (day, gov, entity, service, channel), count in self._counts.items()
        )

    def digital_by_governorate(self) -> dict[str, int]:
        """Completed digital transactions per governorate code (governorates seen only)."""
        return dict(sorted(self._digital.items()))

    def write_csv(self, path: Path) -> None:
        with path.open("w", encoding="utf-8", newline="") as handle:
            writer = csv.writer(handle, lineterminator="\n")
            writer.writerow(TRUTH_HEADER)
            for row in self.rows():
                writer.writerow((row.day.isoformat(), *row[1:]))
