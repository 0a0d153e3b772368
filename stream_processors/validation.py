"""Turn raw source records into verdicts: the pure step the Faust workers run.

A record carries one event, or (header ``tahawul-batch``, schemas/batch.py) many. Either way
there is one verdict per event, valid or rejected with its own reason, and every verdict
carries the record's offset: the events of a batched record share it, which is why an
envelope never splits a record (stream_processors/envelope.py).
"""

from __future__ import annotations

import operator
import re
import secrets
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from itertools import repeat
from typing import Any, Final

import orjson

from tahawul.schemas import control_total
from tahawul.schemas.batch import events_of
from tahawul.schemas.event import (
    MAX_PAYLOAD_BYTES,
    Fields,
    InvalidEvent,
    decode,
    fingerprint_of,
    parse_fields,
)
from tahawul.schemas.exchange import claimed_reporter
from tahawul.schemas.headers import BATCH_HEADER, ORIGINAL_BYTES_HEADER, SIGNATURE_HEADER, SOURCE_HEADER
from tahawul.schemas.redaction import payload_hmac, redact
from tahawul.schemas.reference import Catalogue
from tahawul.schemas.signing import Trust
from tahawul.schemas.verdict import PARSED
from tahawul.stream_processors.columnar import ReferenceCache, now_ms, plainly_valid_rows
from tahawul.stream_processors.envelope import Columns, bad_row, ok_row, total_row
from tahawul.stream_processors.exchange_verdicts import judge_exchange

Record = tuple[int, bytes | None, Sequence[tuple[str, bytes]] | None]  # offset, value, headers
# offset, valid, envelope row. valid: True for a valid event, False for a rejected one (event
# or control total), None for a valid control total (schemas/control_total.py): not an event,
# never counted, stored apart by the writer. None rather than a fourth field or a row type:
# the branch costs the hot path of valid events nothing.
Verdict = tuple[int, bool | None, Sequence[Any]]


@dataclass(frozen=True, slots=True)
class DeadLetter:
    """A rejected event for the dead-letter topic: its payload's redacted form
    (schemas/redaction.py), never its bytes, and why."""

    offset: int
    index: int | None  # position in a batched record; None for a record of one event
    redacted: bytes
    payload_bytes: int | None  # the payload's true size; None for a record without value
    payload_hmac: str  # HMAC-SHA256 (hex) of the payload under the redaction key
    code: str
    message: str


# What `tahawul send` and `up --input` put in the source header: a file name and a line.
SOURCE_FORM: Final = re.compile(r"^[^\x00-\x1f\x7f]{1,300}:\d{1,12}$")


def source_of(headers: Sequence[tuple[str, bytes]] | None) -> str:
    """Where a record came from (file:line from `tahawul send`/`up --input`), if it says so
    in that form; anything else a producer put there is not kept (it could be anything,
    personal data included)."""
    for name, value in headers or ():
        if name == SOURCE_HEADER and value is not None:  # Kafka allows a header without value
            text = bytes(value).decode("utf-8", "replace")
            return text if SOURCE_FORM.match(text) else ""
    return ""


def header_of(headers: Sequence[tuple[str, bytes]] | None, name: str) -> bytes | None:
    for key, value in headers or ():
        if key == name:
            return value
    return None


def judge(records: Iterable[Record], catalogue: Catalogue, now: datetime | None = None,
          signatures: Trust | None = None, redaction_key: bytes | None = None) -> list[Verdict]:
    """Verdict per event of the (offset, value, headers) records, in the order given. With
    ``signatures`` (the worker always has them), an event is also rejected unless its record
    is signed by its entity, or a gateway trusted for it (schemas/signing.py)."""
    return judge_records(records, catalogue, now, signatures, redaction_key)[0]


def judge_records(records: Iterable[Record], catalogue: Catalogue, now: datetime | None = None,
                  signatures: Trust | None = None, redaction_key: bytes | None = None
                  ) -> tuple[list[Verdict], list[DeadLetter]]:
    """:func:`judge`, plus the dead letters of the rejected events (``redaction_key``: see
    :class:`Judge`)."""
    judging = Judge(catalogue, now or datetime.now(UTC), signatures, redaction_key, grouping=False)
    for record in records:
        judging.record(record)
    return judging.take()


def per_event(verdicts: Iterable[Verdict]) -> list[Verdict]:
    """Verdicts with each Columns verdict (a batched record's valid events) as one verdict
    per event, as the per-event path gives them."""
    out: list[Verdict] = []
    for verdict in verdicts:
        offset, valid, row = verdict
        if type(row) is Columns:
            out += zip(repeat(offset), repeat(valid), row.rows())
        else:
            out.append(verdict)
    return out


# The entity of parsed fields (read for every signed event: an itemgetter of a plain int is
# as fast as indexing, and typed).
_entity_of: Final[Callable[[Fields], str]] = operator.itemgetter(int(PARSED.ENTITY))


class Judge:
    """Judges source records one after the other against the catalogue at ``now``, collecting
    their verdicts (``out``) and the dead letters of the rejected events (``dead``).

    The steps follow the protocol: a :meth:`record` holds one event or a batch of them; each
    :meth:`event` is cut (too large), parsed and checked against the catalogue, and its
    signature checked, giving a valid verdict or a :meth:`reject`. The record being judged is
    held here, so each step takes only what it adds (an event's index and payload), and
    nothing is allocated per record: this runs for every event the workers see."""

    __slots__ = ("catalogue", "dead", "grouped", "grouping", "headers", "now", "now_ms", "offset",
                 "out", "redaction_key", "reference", "signatures", "signed", "value")

    def __init__(self, catalogue: Catalogue, now: datetime, signatures: Trust | None = None,
                 redaction_key: bytes | None = None, grouping: bool = True,
                 reference: ReferenceCache | None = None) -> None:
        self.catalogue = catalogue
        # True: a batched record's plainly valid events may be one Columns verdict (the
        # worker); False: one verdict per event, in the record's order (judge_records).
        self.grouping = grouping
        self.now = now
        self.now_ms = now_ms(now)
        # The catalogue's verdicts on code combinations: kept by the worker across batches.
        self.reference = reference if reference is not None else ReferenceCache(catalogue)
        self.signatures = signatures
        # Rejected payloads are kept only redacted, hashed under this key. Without one (tests,
        # tools) a random key: the hashes cannot be reproduced, and nothing is revealed.
        self.redaction_key = redaction_key or secrets.token_bytes(32)
        self.out: list[Verdict] = []
        self.dead: list[DeadLetter] = []
        self.grouped = 0  # events of Columns verdicts in out beyond one each
        # The record being judged.
        self.offset = -1
        self.value: bytes | None = None  # its whole value: what a signature signs
        self.headers: Sequence[tuple[str, bytes]] | None = None
        # entity -> the record's signature verdict for it (None: accepted); made on first use
        self.signed: dict[str, InvalidEvent | None] | None = None

    def take(self) -> tuple[list[Verdict], list[DeadLetter]]:
        """The verdicts and dead letters so far; the next records' are collected afresh."""
        out, dead = self.out, self.dead
        self.out, self.dead, self.grouped = [], [], 0
        return out, dead

    @property
    def events(self) -> int:
        """Events judged since the last :meth:`take` (a Columns verdict stands for many)."""
        return len(self.out) + self.grouped

    def record(self, record: Record) -> None:
        """Judge one record's event, or each event of a batched record. A record that breaks
        a step in a way no rule foresaw is rejected whole ("unreadable"), never left to stop
        its partition: the worker would fail on it again after every restart."""
        out_at, dead_at = len(self.out), len(self.dead)
        try:
            self._record(record)
        except Exception as exc:
            del self.out[out_at:]
            del self.dead[dead_at:]
            offset, value = record[0], record[1]
            payload = value if isinstance(value, bytes) else None
            message = f"record could not be judged ({type(exc).__name__})"
            self.offset = offset
            self._reject(None, payload, "unreadable", message, "")

    def _record(self, record: Record) -> None:
        self.offset, self.value, headers = record
        self.headers = headers
        self.signed = None
        batch_format = header_of(headers, BATCH_HEADER) if headers else None
        if batch_format is None:
            self.event(None, self.value)
            return
        try:
            _check_cut(headers)
            payloads = events_of(self.value, batch_format)
        except InvalidEvent as exc:  # not a batch at all: one rejection for the record
            self.reject(None, self.value, exc)
            return
        if self.value is not None and self.plainly_valid(payloads):
            return
        for index, payload in enumerate(payloads):
            self.event(index, payload)

    def plainly_valid(self, payloads: list[bytes]) -> bool:
        """Judge a batched record's plainly valid, signed events by column
        (stream_processors/columnar.py) and the others one by one (:meth:`event`, which says
        why), keeping the record's order. False (nothing judged) if a signature is refused:
        then every event goes the per-event way, rejected with its reason."""
        assert self.value is not None
        index, entities, columns = plainly_valid_rows(self.value, payloads, self.offset, self.now_ms,
                                                      self.reference)
        if self.signatures is not None:
            try:
                for entity in entities:
                    self.check_signature(self.signatures, self.value, entity)
            except InvalidEvent:
                return False
        out, offset = self.out, self.offset
        if len(index) == len(payloads) and self.grouping:
            out.append((offset, True, Columns(columns)))
            self.grouped += len(index) - 1
            return True
        # The others one by one. When none of them is valid (the usual case: the per-event
        # path takes few events the columnar one left), the record's valid events stay one
        # Columns verdict (an envelope keeps valid, rejected and control-total verdicts
        # apart, each in the record's order). Otherwise every verdict goes in the order of
        # the record's events: the first copy of an event_id is the one counted.
        start = len(out)
        judged: list[list[Verdict]] = []  # what the per-event path gave each left-out event
        left_out = sorted(set(range(len(payloads))).difference(index))
        for position in left_out:
            before = len(out)
            self.event(position, payloads[position])
            judged.append(out[before:])
        if self.grouping and not any(valid for verdicts in judged for _, valid, _ in verdicts):
            if index:
                out.append((offset, True, Columns(columns)))
                self.grouped += len(index) - 1
            return True
        del out[start:]
        rows = iter(zip(repeat(offset), repeat(True), zip(*columns, strict=True)))
        by_position = dict(zip(left_out, judged, strict=True))
        for position in range(len(payloads)):
            verdicts = by_position.get(position)
            if verdicts is None:
                out.append(next(rows))
            else:
                out += verdicts
        return True

    def event(self, index: int | None, payload: bytes | None) -> None:
        """Judge one event: ``payload`` at ``index`` of a batched record, or (index None) the
        record's only event, whose payload is the whole value."""
        try:
            if index is None:
                _check_cut(self.headers)
            fields = parse_fields(payload, self.catalogue, self.now)
            signatures, value = self.signatures, self.value
            if signatures is not None and value is not None:
                self.check_signature(signatures, value, _entity_of(fields))
        except InvalidEvent as exc:
            # A control total has a field no event has ("kind"): the event contract refuses it
            # as unknown_field, and only then is it looked at as a control total, so valid
            # events pay nothing for the second kind.
            if exc.code != "unknown_field" or not (self.control_total(index, payload)
                                                   or judge_exchange(self, index, payload)):
                self.reject(index, payload, exc)
        else:
            offset = self.offset
            self.out.append((offset, True, ok_row(offset, fields, fingerprint_of(fields))))

    def control_total(self, index: int | None, payload: bytes | None) -> bool:
        """Judge ``payload`` as a control total if it says it is one (False if not): valid
        against its contract and signed by its entity like an event, or rejected with its
        reason and dead-lettered. A valid one becomes a verdict with ``valid`` None."""
        obj = decode(payload)
        if not control_total.is_control_total(obj):
            return False
        try:
            total = control_total.validate(obj, self.catalogue, self.now)
            signatures, value = self.signatures, self.value
            if signatures is not None and value is not None:
                self.check_signature(signatures, value, total.entity)
        except InvalidEvent as exc:
            self.reject(index, payload, exc)
        else:
            self.out.append((self.offset, None, total_row(self.offset, total)))
        return True

    def check_signature(self, signatures: Trust, value: bytes, entity: str) -> None:
        """Raise unless the record is signed for ``entity`` (by it, or by a gateway trusted
        for it). A record has one signature over its whole value, so it is verified once per
        entity and record, not per event: a batched record of 1000 events costs one Ed25519
        verification."""
        signed = self.signed
        if signed is None:
            signed = self.signed = {}
        if entity not in signed:
            try:
                signatures.check(entity, value, header_of(self.headers, SIGNATURE_HEADER))
                signed[entity] = None
            except InvalidEvent as exc:
                signed[entity] = exc
        refused = signed[entity]
        if refused is not None:
            raise refused

    def reject(self, index: int | None, payload: bytes | None, exc: InvalidEvent) -> None:
        """A rejected verdict and its dead letter; ``index`` None rejects the whole record."""
        source = source_of(self.headers)
        if index is not None:
            source = f"{source}#{index}"
        self._reject(index, payload, exc.code, exc.message, source)

    def _reject(self, index: int | None, payload: bytes | None, code: str, message: str,
                source: str) -> None:
        """Record a rejection with the payload redacted: its bytes go no further than here."""
        key, offset = self.redaction_key, self.offset
        digest = payload_hmac(key, payload or b"")  # in the redacted form and the dead letter
        redacted = redact(payload, key, self.catalogue, self.now, digest)
        entity = _claimed_entity(payload, self.catalogue)
        size = len(payload) if payload is not None else 0
        self.out.append((offset, False, bad_row(offset, code, message, redacted, size, source, entity)))
        self.dead.append(DeadLetter(offset, index, redacted, None if payload is None else size,
                                    digest, code, message))


def _claimed_entity(payload: bytes | None, catalogue: Catalogue) -> str:
    """The catalogue entity a rejected payload names (an exchange half's reporter), or ""
    (never a made-up value)."""
    if not payload or len(payload) > MAX_PAYLOAD_BYTES:
        return ""
    try:
        obj = orjson.loads(payload)
    except orjson.JSONDecodeError:
        return ""
    entity = obj.get("entity") if isinstance(obj, dict) else None
    if entity is None:  # an exchange half: the party that reports it (schemas/exchange.py)
        entity = claimed_reporter(obj)
    return entity if isinstance(entity, str) and entity in catalogue.entities else ""


def _check_cut(headers: Sequence[tuple[str, bytes]] | None) -> None:
    """Reject a record a producer had to cut: it is too large, as it would have been whole."""
    cut = header_of(headers, ORIGINAL_BYTES_HEADER) if headers else None
    if cut is not None:
        raise InvalidEvent("too_large", "the producer had to cut this payload (header "
                           f"{ORIGINAL_BYTES_HEADER}); the limit is {MAX_PAYLOAD_BYTES} bytes")
