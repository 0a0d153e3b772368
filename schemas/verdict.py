"""The verdict layout: the contract between the validating worker, the counting writer and
the store.

A worker judges every event of a source record. A valid event's verdict is a row of the
:class:`OK` fields, a rejected one's a row of the :class:`BAD` fields; envelopes on the
validated topic (stream_processors/envelope.py) carry the valid verdicts by column, one
list per OK field, and the rejected ones as rows. Both are JSON arrays, so these positions
are part of that topic's wire format: envelopes already in the topic must still decode,
so a field is never moved or removed, and a new one needs a new envelope version.

The counting writer aggregates valid verdicts into ``counts_minute`` rows, built by column
in :class:`COUNT` order, which is the column list the store inserts them with
(sinks/clickhouse/store.py).

Positions are named here once; code that reads a verdict or a count row uses the names.
IntEnum members are ints, so ``row[OK.ENTITY]`` indexes directly; in a loop run per event,
bind the position to a local or module-level name first (an enum attribute lookup costs
about 80 ns on Python 3.11, more than the indexing).
"""

from __future__ import annotations

from enum import IntEnum
from typing import Final


class PARSED(IntEnum):
    """Positions in a parsed event, ``schemas.event.Fields`` (what ``parse_fields`` returns,
    in the declaration order of ``schemas.event.Event``); a valid verdict carries these
    after its offset."""

    EVENT_ID = 0
    OCCURRED_AT = 1  # a timezone-aware datetime (UTC)
    ENTITY = 2
    SERVICE = 3
    GOVERNORATE = 4
    CHANNEL = 5
    MODE = 6
    STATUS = 7
    QUANTITY = 8
    AUTOMATED = 9
    SATISFACTION = 10


class OK(IntEnum):
    """Positions in a valid event's verdict (a row in the worker, a column in an envelope)."""

    OFFSET = 0  # the source record's offset (shared by the events of a batched record)
    EVENT_ID = 1
    OCCURRED_MS = 2  # occurred_at, milliseconds since the epoch
    ENTITY = 3
    SERVICE = 4
    GOVERNORATE = 5
    CHANNEL = 6
    MODE = 7  # digital or manual, from the channel's reference data
    STATUS = 8
    QUANTITY = 9
    AUTOMATED = 10
    SATISFACTION = 11
    FINGERPRINT = 12  # 63-bit digest of the content (schemas.event.fingerprint_of)


class BAD(IntEnum):
    """Positions in a rejected event's verdict (a row in the worker and in an envelope)."""

    OFFSET = 0  # the source record's offset
    CODE = 1  # the stable reason code, e.g. unknown_service
    MESSAGE = 2  # the reason, for people
    # base64 of the payload's redacted form (schemas/redaction.py); in envelopes of versions
    # 1 and 2, of the payload's first bytes (the counting writer redacts those itself)
    PAYLOAD_B64 = 3
    PAYLOAD_BYTES = 4  # the payload's whole size
    SOURCE = 5  # where the record came from (file:line, #index in a batched record), or ""
    # The catalogue entity the payload named, or "" (from envelope version 3 on).
    ENTITY = 6


class TOTAL(IntEnum):
    """Positions in a valid control total's verdict (schemas/control_total.py; a row in the
    worker and in an envelope of version 4, under ``totals``). Never an event: the writer
    stores it in ``control_totals`` and counts nothing."""

    OFFSET = 0  # the source record's offset
    ENTITY = 1
    DAY = 2  # the Asia/Muscat day, ISO YYYY-MM-DD
    SERVICE = 3
    CHANNEL = 4
    COMPLETED = 5
    STATED_MS = 6  # stated_at, milliseconds since the epoch


class EXCHANGE(IntEnum):
    """Positions in a valid exchange half's verdict (schemas/exchange.py). It travels in an
    envelope's ``totals`` beside the control totals (a row of its own length, which is how
    the writer tells them apart: stream_processors/exchange_verdicts.py) and is counted by
    stream_processors/exchange_counter.py, never as a transaction."""

    OFFSET = 0  # the source record's offset
    EXCHANGE_ID = 1
    SIDE = 2  # provider | consumer: the reporter
    PROVIDER = 3
    CONSUMER = 4
    PRODUCT = 5
    ITEMS = 6
    OUTCOME = 7
    OCCURRED_MS = 8  # occurred_at, milliseconds since the epoch
    FINGERPRINT = 9  # 63-bit digest of the half (schemas.exchange.Exchange.fingerprint)
    KIND = 10  # always "exchange"


class COUNT(IntEnum):
    """Positions in a ``counts_minute`` row: the cell (minute to status), its totals, and the
    source partition with the progress the row was written at."""

    MINUTE = 0  # seconds since the epoch, a multiple of 60
    GOVERNORATE = 1
    ENTITY = 2
    SERVICE = 3
    CHANNEL = 4
    MODE = 5
    STATUS = 6
    TRANSACTIONS = 7  # sum of quantity
    EVENTS = 8
    SRC_CLUSTER = 9
    SRC_TOPIC = 10
    SRC_PARTITION = 11
    SRC_OFFSET = 12


OK_FIELDS: Final = tuple(field.name.lower() for field in OK)
BAD_FIELDS: Final = tuple(field.name.lower() for field in BAD)
TOTAL_FIELDS: Final = tuple(field.name.lower() for field in TOTAL)
COUNT_COLUMNS: Final = tuple(column.name.lower() for column in COUNT)
# The cell of a counts_minute row (what it counts by): the columns before its totals.
CELL: Final = tuple(column for column in COUNT if column < COUNT.TRANSACTIONS)
