"""Sending event files (JSONL or CSV) for `tahawul send`: validate every line, send the valid ones.

A line may also be a control total (schemas/control_total.py) or an exchange half
(schemas/exchange.py, signed with its reporter's key), in JSONL with its ``kind``, or a row
of a CSV file of control totals or of exchange halves (producers/csv_events.py); it is checked with its own
contract and travels like the events, signed by its entity.

Each line is checked with :func:`tahawul.schemas.event.parse`, the function the workers
run, so a rejected line is reported here with the pipeline's code and message (and is not
sent: it would only be rejected again). Valid lines are sent in batched records of up to 1000
events of one entity (schemas/batch.py), each keyed by a batch id so that batches spread over
the partitions (producers/partition_keys.py), each record signed with the entity's
private key (schemas/signing.py); a line of an entity this process holds no key for is
rejected here (``signature_missing``), as the workers would reject it. The file is
streamed, never held in memory (at most one pending batch per entity), so its size does
not matter.
"""

from __future__ import annotations

import csv
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Literal, TextIO

from tahawul.producers.batching import Batcher
from tahawul.producers.csv_events import iter_csv
from tahawul.producers.partition_keys import key_of
from tahawul.schemas.control_total import parse_either
from tahawul.schemas.event import InvalidEvent
from tahawul.schemas.reference import Catalogue
from tahawul.schemas.signing import Signers

Format = Literal["jsonl", "csv"]
Deliver = Callable[[bytes, bytes | None, list[tuple[str, bytes]] | None], None]
REPORT_COLUMNS = ("file", "line", "code", "reason")


def detect_format(path: Path) -> Format:
    return "csv" if path.suffix.lower() in (".csv", ".tsv") else "jsonl"


@dataclass(slots=True)
class FileResult:
    path: Path
    lines: int = 0
    sent: int = 0
    rejected: int = 0
    codes: dict[str, int] = field(default_factory=dict)


class RejectionReport:
    """The CSV of rejected lines (file, line, code, reason), opened on the first one."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self.count = 0
        self._fh: TextIO | None = None
        self._writer: csv.DictWriter[str] | None = None

    def add(self, file: str, line: int, code: str, reason: str) -> None:
        if self._writer is None:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            self._fh = self.path.open("w", newline="", encoding="utf-8")
            self._writer = csv.DictWriter(self._fh, REPORT_COLUMNS, lineterminator="\n")
            self._writer.writeheader()
        self._writer.writerow({"file": file, "line": line, "code": code, "reason": reason})
        self.count += 1

    def close(self) -> None:
        if self._fh is not None:
            self._fh.close()


def _no_progress(n: int) -> None:
    pass


def iter_jsonl(path: Path, on_bytes: Callable[[int], None] = _no_progress) -> Iterator[tuple[int, bytes]]:
    """(line number, payload) for every non-blank line of a JSONL file, streaming in constant
    memory; ``on_bytes`` is told the size of every line read (progress bars)."""
    with path.open("rb") as fh:
        for number, line in enumerate(fh, start=1):
            on_bytes(len(line))
            payload = line.rstrip(b"\r\n")
            if payload.strip():
                yield number, payload


def _iter_text(path: Path, on_bytes: Callable[[int], None]) -> Iterator[str]:
    with path.open("rb") as fh:
        for line in fh:
            on_bytes(len(line))
            yield line.decode("utf-8", "replace")


def iter_file(path: Path, fmt: Format, source: str,
              on_bytes: Callable[[int], None]) -> Iterator[tuple[int, bytes | InvalidEvent]]:
    """(line number, payload or why the line cannot become one), streaming."""
    if fmt == "csv":
        yield from iter_csv(_iter_text(path, on_bytes), source)
    else:
        yield from iter_jsonl(path, on_bytes)


def send_file(path: Path, fmt: Format, source: str, catalogue: Catalogue, signers: Signers,
              deliver: Deliver | None, report: RejectionReport,
              on_bytes: Callable[[int], None] = _no_progress) -> FileResult:
    """Validate every line of one file; hand each valid payload to ``deliver`` (None: check only)."""
    result = FileResult(path)
    now = datetime.now(UTC)
    batcher = None
    if deliver is not None:
        # Valid lines travel in batched records of up to 1000 events of one entity
        # (schemas/batch.py), signed as a whole: the workers count each event on its own,
        # many times faster than one record per line. Each entity's lines stay in order.
        batcher = Batcher(deliver, sign=signers.sign_keyed)
    for number, item in iter_file(path, fmt, source, on_bytes):
        result.lines += 1
        try:
            if isinstance(item, InvalidEvent):
                raise item
            # An event, a control total or an exchange half: all go the same way.
            event = parse_either(item, catalogue, now)
            if batcher is not None and signers.key_for(event.entity) is None:
                raise InvalidEvent("signature_missing", f"no signing key of {event.entity} here "
                                   "(TAHAWUL_SIGNING_KEYS); the pipeline counts signed events only")
        except InvalidEvent as exc:
            result.rejected += 1
            result.codes[exc.code] = result.codes.get(exc.code, 0) + 1
            report.add(path.name, number, exc.code, exc.message)
            continue
        if batcher is not None:
            batcher.add(item, key_of(event))
        result.sent += 1
    if batcher is not None:
        batcher.flush()
    return result
