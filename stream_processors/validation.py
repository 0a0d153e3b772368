"""Turn raw source records into verdicts: the pure step the Faust workers run.

A record carries one event, or (header ``tahawul-batch``, schemas/batch.py) many. Either way
there is one verdict per event, valid or rejected with its own reason, and every verdict
carries the record's offset: the events of a batched record share it, which is why an
envelope never splits a record (stream_processors/envelope.py).
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from tahawul.schemas.batch import BATCH_HEADER, events_of
from tahawul.schemas.event import MAX_PAYLOAD_BYTES, InvalidEvent, fingerprint_of, parse_fields
from tahawul.schemas.headers import ORIGINAL_BYTES_HEADER, SOURCE_HEADER
from tahawul.schemas.reference import Catalogue
from tahawul.schemas.signing import SIGNATURE_HEADER, SignaturePolicy
from tahawul.stream_processors.envelope import bad_row, ok_row

Record = tuple[int, bytes | None, Sequence[tuple[str, bytes]] | None]  # offset, value, headers
Verdict = tuple[int, bool, list[Any]]  # offset, valid, envelope row


@dataclass(frozen=True, slots=True)
class DeadLetter:
    """A rejected event for the dead-letter topic: its own bytes and why."""

    offset: int
    index: int | None  # position in a batched record; None for a record of one event
    payload: bytes | None
    code: str
    message: str


def source_of(headers: Sequence[tuple[str, bytes]] | None) -> str:
    """Where a record came from (file:line from `tahawul send`/`up --input`), if it says."""
    for name, value in headers or ():
        if name == SOURCE_HEADER:
            return value.decode("utf-8", "replace")[:500]
    return ""


def header_of(headers: Sequence[tuple[str, bytes]] | None, name: str) -> bytes | None:
    for key, value in headers or ():
        if key == name:
            return value
    return None


def judge(records: Iterable[Record], catalogue: Catalogue, now: datetime | None = None,
          signatures: SignaturePolicy | None = None) -> list[Verdict]:
    """Verdict per event of the (offset, value, headers) records, in the order given. With
    ``signatures``, events of entities that must sign are also rejected when unsigned or
    mis-signed."""
    return judge_records(records, catalogue, now, signatures)[0]


def judge_records(records: Iterable[Record], catalogue: Catalogue, now: datetime | None = None,
                  signatures: SignaturePolicy | None = None) -> tuple[list[Verdict], list[DeadLetter]]:
    """:func:`judge`, plus the dead letters of the rejected events."""
    current = now or datetime.now(UTC)
    out: list[Verdict] = []
    dead: list[DeadLetter] = []
    for record in records:
        judge_record(record, catalogue, current, signatures, out, dead)
    return out, dead


def judge_record(record: Record, catalogue: Catalogue, current: datetime,
                 signatures: SignaturePolicy | None, out: list[Verdict], dead: list[DeadLetter]) -> None:
    """Append the verdicts (and dead letters) of one record's event or events."""
    offset, value, headers = record
    batch_format = header_of(headers, BATCH_HEADER) if headers else None
    if batch_format is None:
        _judge_one(offset, None, value, value, headers, catalogue, current, signatures, out, dead, {})
        return
    try:
        _check_cut(headers)
        payloads = events_of(value, batch_format)
    except InvalidEvent as exc:  # not a batch at all: one rejection for the record
        out.append((offset, False, bad_row(offset, exc.code, exc.message, value, source_of(headers))))
        dead.append(DeadLetter(offset, None, value, exc.code, exc.message))
        return
    signed: dict[str, InvalidEvent | None] = {}  # entity -> signature verdict of this record
    for index, payload in enumerate(payloads):
        _judge_one(offset, index, payload, value, headers, catalogue, current, signatures, out, dead, signed)


def _check_cut(headers: Sequence[tuple[str, bytes]] | None) -> None:
    cut = header_of(headers, ORIGINAL_BYTES_HEADER) if headers else None
    if cut is not None:
        raise InvalidEvent("too_large", f"payload is {cut.decode(errors='replace')[:20]} bytes; "
                           f"the limit is {MAX_PAYLOAD_BYTES}")


def _judge_one(offset: int, index: int | None, payload: bytes | None, value: bytes | None,
               headers: Sequence[tuple[str, bytes]] | None, catalogue: Catalogue, current: datetime,
               signatures: SignaturePolicy | None, out: list[Verdict], dead: list[DeadLetter],
               signed: dict[str, InvalidEvent | None]) -> None:
    """Judge one event (``payload``) of the record whose whole value is ``value``."""
    try:
        if index is None:
            _check_cut(headers)
        fields = parse_fields(payload, catalogue, current)
        if signatures is not None and value is not None:
            entity = fields[2]
            if entity not in signed:  # one HMAC per entity and record, not per event
                try:
                    signatures.check(entity, value, header_of(headers, SIGNATURE_HEADER))
                    signed[entity] = None
                except InvalidEvent as exc:
                    signed[entity] = exc
            refused = signed[entity]
            if refused is not None:
                raise refused
    except InvalidEvent as exc:
        source = source_of(headers)
        if index is not None:
            source = f"{source}#{index}"
        out.append((offset, False, bad_row(offset, exc.code, exc.message, payload, source)))
        dead.append(DeadLetter(offset, index, payload, exc.code, exc.message))
    else:
        out.append((offset, True, ok_row(offset, fields, fingerprint_of(fields))))
