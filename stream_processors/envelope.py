"""Batches carried from the validating workers to the counting writer.

One Kafka record on the validated topic holds the verdicts for a contiguous run of offsets
of ONE source partition, in offset order. Every source offset appears (valid or rejected),
so the writer can prove it skipped nothing; and because a verdict depends only on the
source record, a batch re-emitted after a worker crash or rebalance is identical record for
record, which is what makes filtering by offset exact.
"""

from __future__ import annotations

import base64
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

import orjson

from tahawul.schemas.control_total import ControlTotal
from tahawul.schemas.event import Fields
from tahawul.schemas.verdict import BAD, OK, OK_FIELDS

# 4: valid control totals (schemas/control_total.py) as rows under "totals"; 3: rejected
# payloads in their redacted form, with the entity they named; 2: valid events
# by column, rejected payloads' first bytes (still read, and redacted by the counting
# writer); 1: by row (still read).
ENVELOPE_VERSION = 4
# Keep each validated record well under Kafka's default 1 MB request size.
MAX_ENVELOPE_BYTES = 512 * 1024

_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)


def ok_row(offset: int, fields: Fields, fingerprint: int) -> list[Any]:
    """The verdict row of a valid event (``fields`` as :func:`schemas.event.parse_fields`), in
    :class:`schemas.verdict.OK` order (a list literal: this runs for every event)."""
    (event_id, occurred_at, entity, service, governorate, channel, mode, status, quantity,
     automated, satisfaction) = fields
    since = occurred_at - _EPOCH
    occurred_ms = (since.days * 86_400 + since.seconds) * 1000 + since.microseconds // 1000
    return [offset, event_id, occurred_ms, entity, service, governorate, channel, mode, status,
            quantity, automated, satisfaction, fingerprint]


def total_row(offset: int, total: ControlTotal) -> list[Any]:
    """The verdict row of a valid control total, in :class:`schemas.verdict.TOTAL` order."""
    since = total.stated_at - _EPOCH
    stated_ms = (since.days * 86_400 + since.seconds) * 1000 + since.microseconds // 1000
    return [offset, total.entity, total.day.isoformat(), total.service, total.channel,
            total.completed, stated_ms]


def bad_row(offset: int, code: str, message: str, redacted: bytes, payload_bytes: int, source: str,
            entity: str) -> list[Any]:
    """The verdict row of a rejected event, in :class:`schemas.verdict.BAD` order: the
    payload only in its redacted form (schemas/redaction.py), never its bytes."""
    return [offset, code, message, base64.b64encode(redacted).decode("ascii"), payload_bytes, source,
            entity]


def decode_payload(row: Sequence[Any]) -> bytes:
    """The kept bytes of a rejected verdict's payload (its redacted form from version 3 on)."""
    return base64.b64decode(row[BAD.PAYLOAD_B64])


class Columns(list[list[Any]]):
    """The valid events of one batched record, by column (:class:`schemas.verdict.OK` order):
    the ``row`` of a verdict that stands for all of them (validation.Judge's columnar path),
    so that they go into an envelope's columns without a row per event in between."""

    __slots__ = ()

    @property
    def events(self) -> int:
        return len(self[0])

    def rows(self) -> list[tuple[Any, ...]]:
        return list(zip(*self, strict=True))


def columns_of(rows: Sequence[Sequence[Any]]) -> list[list[Any]]:
    """Rows in OK_FIELDS order -> one list per field (empty lists for no rows)."""
    if not rows:
        return [[] for _ in OK_FIELDS]
    return [list(column) for column in zip(*rows, strict=True)]


@dataclass(frozen=True, slots=True)
class Envelope:
    """``ok`` holds the valid events by column (one list per :class:`schemas.verdict.OK`
    field: the writer works on columns, and a column decodes faster than as many small
    rows); ``bad`` holds the rejected ones as rows (:class:`schemas.verdict.BAD`)."""

    topic: str
    partition: int
    first_offset: int
    last_offset: int
    ok: list[list[Any]]
    bad: list[list[Any]]
    # False for an envelope of version 1 or 2, whose rejected rows carry the payload's own
    # first bytes and no entity: the counting writer redacts them before storing anything.
    redacted: bool = True
    # Valid control totals as rows (:class:`schemas.verdict.TOTAL`), from version 4 on.
    totals: list[list[Any]] = field(default_factory=list)

    @staticmethod
    def of_rows(topic: str, partition: int, first_offset: int, last_offset: int,
                ok_rows: Sequence[Sequence[Any]], bad: list[list[Any]],
                totals: list[list[Any]] | None = None) -> Envelope:
        return Envelope(topic, partition, first_offset, last_offset, columns_of(ok_rows), bad,
                        totals=totals or [])

    @property
    def n_ok(self) -> int:
        return len(self.ok[OK.OFFSET])

    def encode(self) -> bytes:
        return orjson.dumps({
            "v": ENVELOPE_VERSION, "topic": self.topic, "partition": self.partition,
            "first": self.first_offset, "last": self.last_offset, "ok": self.ok, "bad": self.bad,
            "totals": self.totals,
        })

    @staticmethod
    def decode(data: bytes) -> Envelope:
        obj = orjson.loads(data)
        version = obj.get("v")
        if version in (ENVELOPE_VERSION, 3, 2):
            ok = obj["ok"]
        elif version == 1:  # rows, from workers of before version 2 (still in the topic)
            ok = columns_of(obj["ok"])
        else:
            raise ValueError(f"unsupported envelope version {version!r}")
        if len(ok) != len(OK_FIELDS) or len({len(column) for column in ok}) != 1:
            raise ValueError("malformed envelope: ok columns of unequal length")
        return Envelope(obj["topic"], obj["partition"], obj["first"], obj["last"], ok, obj["bad"],
                        version in (ENVELOPE_VERSION, 3), obj.get("totals") or [])


def split(topic: str, partition: int, rows: Sequence[tuple[int, bool | None, Sequence[Any]]]
          ) -> Iterator[Envelope]:
    """Cut offset-ordered verdicts (offset, valid, row) into envelopes under the size cap;
    ``valid`` is True for a valid event (or, with a :class:`Columns` row, for a record's
    valid events), False for a rejected one and None for a valid control total
    (validation.Verdict).

    Never between two verdicts of one offset: the events of a batched record share their
    record's offset, and the writer skips a record at or below the progress of its
    partition, so a record cut in two would lose its second part. Whole records are packed
    while they fit; one record larger than the cap gets an envelope of its own (a record's
    verdicts are bounded by schemas/batch.py's limits, well under Kafka's message size)."""
    ok: list[Any] = []  # the envelope being filled: its whole records (rows, or Columns)
    bad: list[Any] = []
    totals: list[Any] = []
    size = 0
    first = last = -1
    record_ok: list[Any] = []  # the record being read
    record_bad: list[Any] = []
    record_totals: list[Any] = []
    record_size = 0
    current = -1
    for offset, is_ok, row in rows:
        if offset != current:
            if current >= 0:  # the previous record is complete: place it
                if (ok or bad or totals) and size + record_size > MAX_ENVELOPE_BYTES:
                    yield _envelope(topic, partition, first, last, ok, bad, totals)
                    ok, bad, totals, size = [], [], [], 0
                if not ok and not bad and not totals:
                    first = current
                ok += record_ok
                bad += record_bad
                totals += record_totals
                size += record_size
                last = current
                record_ok, record_bad, record_totals, record_size = [], [], [], 0
            current = offset
        if is_ok:
            record_ok.append(row)
            record_size += 160 * row.events if type(row) is Columns else 160
        elif is_ok is None:
            record_totals.append(row)
            record_size += 240  # (an exchange half's row, ~200 bytes of JSON; a control total's less)
        else:
            record_bad.append(row)
            record_size += 160 + len(row[BAD.PAYLOAD_B64])
    if current >= 0:
        if (ok or bad or totals) and size + record_size > MAX_ENVELOPE_BYTES:
            yield _envelope(topic, partition, first, last, ok, bad, totals)
            ok, bad, totals = [], [], []
        if not ok and not bad and not totals:
            first = current
        yield _envelope(topic, partition, first, current, ok + record_ok, bad + record_bad,
                        totals + record_totals)


def _envelope(topic: str, partition: int, first: int, last: int, ok: list[Any], bad: list[list[Any]],
              totals: list[list[Any]]) -> Envelope:
    """An envelope of valid events given as rows and :class:`Columns`, in that order."""
    if not any(type(piece) is Columns for piece in ok):
        return Envelope.of_rows(topic, partition, first, last, ok, bad, totals)
    columns: list[list[Any]] = [[] for _ in OK_FIELDS]
    rows: list[Any] = []
    for piece in ok:
        if type(piece) is Columns:
            if rows:
                for column, values in zip(columns, columns_of(rows), strict=True):
                    column += values
                rows = []
            for column, values in zip(columns, piece, strict=True):
                column += values
        else:
            rows.append(piece)
    if rows:
        for column, values in zip(columns, columns_of(rows), strict=True):
            column += values
    return Envelope(topic, partition, first, last, columns, bad, totals=totals)
