"""CSV files of transactions (and daily tallies) turned into contract-v1 payloads.

Offices that only keep spreadsheets export one row per transaction, or one row per tally
(``quantity`` = how many). Columns, by header name, in any order:

==============  ========  ================================================================
column          required  meaning
==============  ========  ================================================================
occurred_at     yes       RFC 3339 with offset, or a date ``YYYY-MM-DD`` (a day's tally:
                          stamped 12:00 Oman time, so it counts on that day)
entity          yes       entity code
service         yes       service code of that entity
governorate     yes       ISO 3166-2:OM code
channel         yes       channel code (counter, paper, portal, ...)
status          no        default ``completed``
quantity        no        default 1; a tally row carries its count here
automated       no        true/false (also yes/no, 1/0); default false
satisfaction    no        1-5, empty when not asked
event_id        no        a UUID; when empty, one is derived (see below)
==============  ========  ================================================================

A file whose header names ``day`` and ``completed`` is a file of control totals
(schemas/control_total.py), one row per day, service and channel:

==============  ========  ================================================================
column          required  meaning
==============  ========  ================================================================
day             yes       the Asia/Muscat day, ``YYYY-MM-DD``
entity          yes       entity code (the file must be signed with its key)
service         yes       service code of that entity
channel         yes       channel code
completed       yes       transactions the entity's system completed that day
stated_at       no        when stated, RFC 3339; default: when the file is sent (so a
                          file sent again with corrected figures supersedes the first)
==============  ========  ================================================================

A file whose header names ``exchange_id`` and ``side`` is a file of exchange halves
(schemas/exchange.py), one row per half the file's party reports:

==============  ========  ================================================================
column          required  meaning
==============  ========  ================================================================
exchange_id     yes       the exchange's id (UUID), shared with the other party's half
side            yes       provider or consumer: which party reports (and signs) the row
provider        yes       code of the providing entity
consumer        yes       code of the consuming entity
product         yes       data product code
items           yes       data items exchanged (1 or more)
occurred_at     yes       RFC 3339 with offset
outcome         no        default ``success``; else an error class (schemas/exchange.py)
==============  ========  ================================================================

Any other column is refused for the whole file: events carry no other data, personal data
least of all. Rows without an ``event_id`` get
``uuid5(ROW_NAMESPACE, "<entity>\\n<source>\\n<line>")`` where ``source`` is the file's name
(or ``tahawul send --source``) and ``entity`` the row's: re-sending the same file counts
nothing twice, two entities' files of the same name never share ids (ids are per entity in
any case: docs/security.md), and an edited row re-sent under the same name is refused by the
pipeline as a conflicting reuse of its id rather than counted again.
"""

from __future__ import annotations

import csv
import re
import uuid
from collections.abc import Iterable, Iterator
from datetime import UTC, datetime
from typing import Any, Final

import orjson

from tahawul.schemas import control_total, exchange
from tahawul.schemas.event import SCHEMA_VERSION, InvalidEvent, in_contract_order

ROW_NAMESPACE: Final = uuid.UUID("4f1c8a52-6b0e-5d7a-9a3e-7461686177ff")
COLUMNS: Final = ("event_id", "occurred_at", "entity", "service", "governorate", "channel",
                  "status", "quantity", "automated", "satisfaction")
REQUIRED_COLUMNS: Final = ("occurred_at", "entity", "service", "governorate", "channel")
TALLY_TIME: Final = "T12:00:00+04:00"
_DATE_RE: Final = re.compile(r"^\d{4}-\d{2}-\d{2}$")
_INT_RE: Final = re.compile(r"^[+-]?\d+$")
_TRUE: Final = frozenset({"true", "yes", "1", "y", "t"})
_FALSE: Final = frozenset({"false", "no", "0", "n", "f"})


TOTAL_COLUMNS: Final = ("day", "entity", "service", "channel", "completed", "stated_at")
TOTAL_REQUIRED_COLUMNS: Final = ("day", "entity", "service", "channel", "completed")
EXCHANGE_COLUMNS: Final = ("exchange_id", "side", "provider", "consumer", "product", "items",
                           "occurred_at", "outcome")
EXCHANGE_REQUIRED_COLUMNS: Final = EXCHANGE_COLUMNS[:-1]


class CsvHeaderError(ValueError):
    """The header row makes the whole file unusable; nothing of it is sent."""


def row_event_id(source: str, line: int, entity: str) -> str:
    """The deterministic event_id of a row without one: of its entity, file name and line."""
    return str(uuid.uuid5(ROW_NAMESPACE, f"{entity}\n{source}\n{line}"))


def is_totals_header(names: list[str]) -> bool:
    """A header of control totals names ``day`` and ``completed``, which no event has."""
    return "day" in names and "completed" in names


def is_exchanges_header(names: list[str]) -> bool:
    """A header of exchange halves names ``exchange_id`` and ``side``, which no event has."""
    return "exchange_id" in names and "side" in names


def row_to_exchange(names: list[str], cells: list[str]) -> dict[str, Any]:
    """A row of an exchanges file as an exchange half (checked later by its contract)."""
    obj: dict[str, Any] = {"kind": exchange.KIND, "schema_version": exchange.SCHEMA_VERSION}
    for name, raw in zip(names, cells, strict=False):
        text = raw.strip()
        if text:
            obj[name] = int(text) if name == "items" and _INT_RE.match(text) else text
    if len(cells) > len(names) and any(c.strip() for c in cells[len(names):]):
        raise InvalidEvent("extra_cells", "row has more cells than the header names columns")
    obj.setdefault("outcome", "success")
    return obj


def check_header(header: list[str]) -> list[str]:
    names = [h.strip().lstrip("\ufeff").lower() for h in header]
    allowed: tuple[str, ...] = COLUMNS
    required: tuple[str, ...] = REQUIRED_COLUMNS
    if is_totals_header(names):
        allowed, required = TOTAL_COLUMNS, TOTAL_REQUIRED_COLUMNS
    elif is_exchanges_header(names):
        allowed, required = EXCHANGE_COLUMNS, EXCHANGE_REQUIRED_COLUMNS
    unknown = [n for n in names if n not in allowed]
    if unknown:
        raise CsvHeaderError(
            f"column(s) not in the contract: {', '.join(unknown)[:200]} (allowed: {', '.join(allowed)}; "
            "events and control totals carry no other data, personal data least of all)")
    missing = [c for c in required if c not in names]
    if missing:
        raise CsvHeaderError(f"missing required column(s): {', '.join(missing)}")
    duplicated = sorted({n for n in names if names.count(n) > 1})
    if duplicated:
        raise CsvHeaderError(f"column(s) given twice: {', '.join(duplicated)}")
    return names


def _convert(name: str, text: str) -> Any:
    """A cell as the JSON value the contract expects; left as text when it is not one, so
    the contract's own validator reports it with the pipeline's message."""
    if name in ("quantity", "satisfaction"):
        return int(text) if _INT_RE.match(text) else text
    if name == "automated":
        low = text.lower()
        return True if low in _TRUE else False if low in _FALSE else text
    if name == "occurred_at" and _DATE_RE.match(text):
        return text + TALLY_TIME
    return text


def row_to_event(names: list[str], cells: list[str], source: str, line: int) -> dict[str, Any]:
    obj: dict[str, Any] = {"schema_version": SCHEMA_VERSION}
    for name, raw in zip(names, cells, strict=False):
        text = raw.strip()
        if text:
            obj[name] = _convert(name, text)
    if len(cells) > len(names) and any(c.strip() for c in cells[len(names):]):
        raise InvalidEvent("extra_cells", "row has more cells than the header names columns")
    obj.setdefault("status", "completed")
    entity = obj.get("entity")
    obj.setdefault("event_id", row_event_id(source, line, entity if isinstance(entity, str) else ""))
    return in_contract_order(obj)  # whatever the columns' order (the workers' fast path reads it so)


def row_to_total(names: list[str], cells: list[str], stated_at: str) -> dict[str, Any]:
    """A row of a control-totals file as a control total (checked later by its contract)."""
    obj: dict[str, Any] = {"kind": control_total.KIND, "schema_version": control_total.SCHEMA_VERSION}
    for name, raw in zip(names, cells, strict=False):
        text = raw.strip()
        if text:
            obj[name] = int(text) if name == "completed" and _INT_RE.match(text) else text
    if len(cells) > len(names) and any(c.strip() for c in cells[len(names):]):
        raise InvalidEvent("extra_cells", "row has more cells than the header names columns")
    obj.setdefault("stated_at", stated_at)
    return obj


def iter_csv(lines: Iterable[str], source: str) -> Iterator[tuple[int, bytes | InvalidEvent]]:
    """(line number, JSON payload or why the row cannot be one) per data row of a CSV text;
    blank rows are skipped. The payload still has to pass
    :func:`tahawul.schemas.event.parse`.

    Raises :class:`CsvHeaderError` before yielding anything if the header is unusable."""
    reader = csv.reader(lines)
    header = next(reader, None)
    if header is None:
        raise CsvHeaderError("the file is empty (a header row is required)")
    names = check_header(header)
    totals = is_totals_header(names)
    exchanges = is_exchanges_header(names)
    stated_at = datetime.now(UTC).isoformat(timespec="milliseconds")
    for cells in reader:
        if not any(c.strip() for c in cells):
            continue
        line = reader.line_num
        try:
            if totals:
                yield line, orjson.dumps(row_to_total(names, cells, stated_at))
                continue
            if exchanges:
                yield line, orjson.dumps(row_to_exchange(names, cells))
                continue
            yield line, orjson.dumps(row_to_event(names, cells, source, line))
        except InvalidEvent as exc:
            yield line, exc
