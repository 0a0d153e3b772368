"""Turn raw source records into verdicts: the pure step the Faust workers run."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from datetime import UTC, datetime
from typing import Any

from schemas.event import MAX_PAYLOAD_BYTES, InvalidEvent, parse
from schemas.headers import ORIGINAL_BYTES_HEADER, SOURCE_HEADER
from schemas.reference import Catalogue
from schemas.signing import SIGNATURE_HEADER, SignaturePolicy
from stream_processors.envelope import bad_row, ok_row


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


def judge(
    records: Iterable[tuple[int, bytes | None, Sequence[tuple[str, bytes]] | None]],
    catalogue: Catalogue,
    now: datetime | None = None,
    signatures: SignaturePolicy | None = None,
) -> list[tuple[int, bool, list[Any]]]:
    """Verdict per (offset, value, headers), in the order given. With ``signatures``, events
    of entities that must sign are also rejected when unsigned or mis-signed."""
    current = now or datetime.now(UTC)
    out: list[tuple[int, bool, list[Any]]] = []
    for offset, value, headers in records:
        try:
            cut = header_of(headers, ORIGINAL_BYTES_HEADER)
            if cut is not None:
                raise InvalidEvent("too_large", f"payload is {cut.decode(errors='replace')[:20]} bytes; "
                                   f"the limit is {MAX_PAYLOAD_BYTES}")
            event = parse(value, catalogue, current)
            if signatures is not None and value is not None:
                signatures.check(event.entity, value, header_of(headers, SIGNATURE_HEADER))
        except InvalidEvent as exc:
            out.append((offset, False, bad_row(offset, exc.code, exc.message, value, source_of(headers))))
        else:
            out.append((offset, True, ok_row(offset, event)))
    return out
