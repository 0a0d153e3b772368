"""The plainly valid batched record, judged by column: the worker's hot path.

A batched record (schemas/batch.py) holds up to 1000 events of one entity, nearly always all
valid. Judging them one by one (schemas/event.py ``parse_fields``) costs about 10 us an event
in Python; here the same checks run once per record over each field's column, mostly inside
C (``map``, ``set``, one regular expression over the joined ids and times, numpy for the
fingerprints' integers), for a few microseconds an event.

This path only ever *accepts*: :func:`plainly_valid_rows` returns the rows of a record whose
every event passes every check of ``schemas.event._plainly_valid`` and gives exactly the
rows the per-event path would give (same event_id normal form, same milliseconds, same
fingerprint); for anything else (one bad event, a control total, an unusual but valid form
such as microseconds in a time) it returns None and the record is judged event by event,
with each event's exact reason. A unit test (tests/unit/test_columnar.py) holds it to that.
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import Sequence
from datetime import UTC, datetime
from itertools import compress, repeat
from operator import and_, eq, ge, is_, is_not, itemgetter, le, methodcaller
from typing import Any, Final

import numpy as np
import orjson

from tahawul.schemas.event import (
    _RFC3339_RE,
    _UUID_RE,
    EARLIEST_OCCURRED_AT,
    FIELD_NAMES,
    FUTURE_TOLERANCE,
    MAX_PAYLOAD_BYTES,
    MAX_QUANTITY,
    REQUIRED,
    SCHEMA_VERSION,
    STATUSES,
)
from tahawul.schemas.reference import Catalogue

# A fraction of a second finer than milliseconds: the per-event path truncates it, which
# this path leaves to it (rare: producers send milliseconds).
_SUB_MS: Final = re.compile(r"\.\d{4}")

_REQUIRED_NAMES: Final = frozenset(REQUIRED)
_REQUIRED: Final = itemgetter(*REQUIRED)
# What each event of the plain kind gives in the first mask: schema_version's value, the type
# of each field in Fields order (satisfaction: int or None), and no field outside the contract.
_TYPES: Final = (SCHEMA_VERSION, int, str, str, str, str, str, str, str, int, bool, True, True)
_SATISFACTION_TYPES: Final = frozenset((int, type(None)))
_ISO_FORM: Final = methodcaller("replace", "Z", "+00:00")
_TIMESTAMP: Final = methodcaller("timestamp")
_SATISFACTIONS: Final = frozenset((None, 1, 2, 3, 4, 5))
_STATUSES: Final = frozenset(STATUSES)
_EARLIEST_MS: Final = int(EARLIEST_OCCURRED_AT.timestamp()) * 1000
_EPOCH: Final = datetime(1970, 1, 1, tzinfo=UTC)


def _layout(*positions: str) -> np.ndarray[Any, np.dtype[np.bool_]]:
    """A fixed-width ASCII form as a table: [position, byte] is True where that byte may
    stand at that position (each position given as the characters it allows)."""
    table = np.zeros((len(positions), 256), dtype=np.bool_)
    for at, allowed in enumerate(positions):
        table[at, list(allowed.encode("ascii"))] = True
    return table


_HEX: Final = "0123456789abcdefABCDEF"
_D: Final = "0123456789"
# The canonical event id (what the contract's pattern admits, without a trailing newline).
_UUID_LAYOUT: Final = _layout(*[_HEX] * 8, "-", *[_HEX] * 4, "-", *[_HEX] * 4, "-", *[_HEX] * 4, "-",
                              *[_HEX] * 12)
# The usual time, upper-cased: 2025-03-04T09:15:22.123+04:00 (milliseconds, a numeric offset).
_TIME_LAYOUT: Final = _layout(_D, _D, _D, _D, "-", _D, _D, "-", _D, _D, "T", _D, _D, ":", _D, _D, ":",
                              _D, _D, ".", _D, _D, _D, "+-", _D, _D, ":", _D, _D)


# entity, service, governorate, channel, mode, and the four codes joined by "|".
Combination = tuple[str, str, str, str, str, str]
# The catalogue's combinations are a few thousand; beyond this the cache starts afresh.
_MAX_COMBINATIONS: Final = 100_000
# The longest codes text (``"entity":..,"channel":".."``) kept by the cache: the catalogue's
# are under 150 characters; a longer one is looked up each time it comes.
_MAX_CODES_TEXT: Final = 512


class ReferenceCache:
    """The catalogue's verdict on each (entity, service, governorate, channel) met so far:
    the channel's mode, or None when the combination breaks a reference rule. A record of
    500 events holds a handful of combinations; each is checked against the catalogue once."""

    __slots__ = ("catalogue", "codes", "modes")

    def __init__(self, catalogue: Catalogue) -> None:
        self.catalogue = catalogue
        self.modes: dict[tuple[str, str, str, str], str | None] = {}
        # The same verdicts by the codes' text as the usual line spells them (see
        # :func:`usual_rows`): (entity, service, governorate, channel, mode, the four codes
        # joined by "|" as the fingerprint joins them), or False when they break a rule.
        self.codes: dict[str, Combination | bool] = {}

    def modes_of(self, entities: list[str], services: list[str], governorates: list[str],
                 channels: list[str]) -> list[str | None]:
        """The mode of each event's channel, None where its codes break a reference rule."""
        combinations = list(zip(entities, services, governorates, channels, strict=True))
        modes = list(map(self.modes.get, combinations))
        if None in modes:  # not met yet, or breaking a rule (looked up again: rare, and cheap)
            for combination in set(compress(combinations, map(is_, modes, repeat(None)))):
                self.mode(combination)
            modes = list(map(self.modes.__getitem__, combinations))
        return modes

    def of_codes(self, codes: list[str]) -> list[Combination | bool]:
        """What each event's codes text (``"entity":"..",..,"channel":".."``) stands for:
        its combination with the channel's mode, or False when it breaks a reference rule."""
        known = self.codes
        found: list[Any] = list(map(known.get, codes))
        if None in found:  # not met yet (rare: a worker meets a few thousand in its life)
            if len(known) >= _MAX_COMBINATIONS:
                known.clear()
            fresh: dict[str, Combination | bool] = {}
            for text in set(compress(codes, map(is_, found, repeat(None)))):
                obj = orjson.loads("{" + text + "}")  # four strings without escapes (_USUAL)
                combination = (obj["entity"], obj["service"], obj["governorate"], obj["channel"])
                mode = self.mode(combination)
                fresh[text] = False if mode is None else (*combination, mode, "|".join(combination))
                if len(text) <= _MAX_CODES_TEXT:  # (made-up codes can be long: not kept)
                    known[text] = fresh[text]
            found = list(map(fresh.get, codes, found))
        return found

    def mode(self, combination: tuple[str, str, str, str]) -> str | None:
        entity, service, governorate, channel = combination
        catalogue = self.catalogue
        ent = catalogue.entities.get(entity)
        svc = catalogue.services.get(service)
        chan = catalogue.channels.get(channel)
        ok = (ent is not None and svc is not None and chan is not None and svc.entity == entity
              and governorate in catalogue.governorates
              and (ent.governorate is None or ent.governorate == governorate))
        mode = chan.mode if ok and chan is not None else None
        if len(self.modes) >= _MAX_COMBINATIONS:  # made-up codes must not grow it for ever
            self.modes.clear()
        self.modes[combination] = mode
        return mode


def _loads(line: bytes) -> Any:
    """A line's JSON value, or None (which no later check accepts) if it is not JSON."""
    try:
        return orjson.loads(line)
    except orjson.JSONDecodeError:
        return None


def _keep(mask: list[Any], index: list[int], *columns: list[Any]) -> list[list[Any]]:
    """``index`` and each column cut to the events whose ``mask`` is true."""
    return [list(compress(column, mask)) for column in (index, *columns)]


_TEXT: Final = r'[^"\\\x00-\x1f]*'  # a JSON string's content without escapes
_HEXES: Final = "[0-9a-fA-F]"
# The usual line: an event as producers write it (the contract's field order, compact JSON,
# no escapes, milliseconds and a numeric offset, the optional fields in order or absent),
# or (the second branch) any other line, which is left to the general path. A line of the
# first form is read by this one expression exactly as orjson reads it: each field is a
# literal, a string without escapes (its text is its value) or digits without a leading
# zero, the keys are the contract's (no other, none twice), and a match is a whole line.
_USUAL: Final = re.compile(
    rf'^(?:\{{"event_id":"({_HEXES}{{8}}-{_HEXES}{{4}}-{_HEXES}{{4}}-{_HEXES}{{4}}-{_HEXES}{{12}})"'
    r',"schema_version":1'
    r',"occurred_at":"([0-9]{4}-[0-9]{2}-[0-9]{2}T[0-9]{2}:[0-9]{2}:[0-9]{2}\.[0-9]{3}[+-][0-9]{2}:[0-9]{2})"'
    rf',("entity":"{_TEXT}","service":"{_TEXT}","governorate":"{_TEXT}","channel":"{_TEXT}")'
    rf',"status":"({"|".join(STATUSES)})"'
    r'(?:,"quantity":([1-9][0-9]{0,5}))?'
    r'(?:,"automated":(true|false))?'
    r'(?:,"satisfaction":([1-5]|null))?\}|.*)$', re.MULTILINE | re.ASCII)
# Optional fields' text -> value, and -> the text the fingerprint gives the value.
_AUTOMATED: Final = {"": False, "false": False, "true": True}
_AUTOMATED_TEXT: Final = {"": "False", "false": "False", "true": "True"}
_SATISFACTION: Final = {"": None, "null": None, "1": 1, "2": 2, "3": 3, "4": 4, "5": 5}
_SATISFACTION_TEXT: Final = {"": "None", "null": "None", "1": "1", "2": "2", "3": "3", "4": "4", "5": "5"}
_FOUND: Final = itemgetter(0)


def usual_rows(value: bytes, lines: Sequence[bytes], offset: int, now_ms: int,
               reference: ReferenceCache) -> tuple[list[int], list[str], list[list[Any]]] | None:
    """:func:`plainly_valid_rows` for the lines of the usual form, read by one regular
    expression over the record instead of a JSON object per line (about half the cost);
    None when fewer than half of the lines have that form (another producer's layout: the
    general columnar path then reads them). The other lines are left to the per-event path."""
    n = len(lines)
    try:
        text = value.decode("utf-8")
    except UnicodeDecodeError:
        return [], [], []
    if max(map(len, lines)) > MAX_PAYLOAD_BYTES:
        return None  # the general path leaves such lines to the per-event path, which says why
    # events_of drops one trailing newline; each line gives exactly one match (either branch).
    found = _USUAL.findall(text, 0, len(text) - 1 if text.endswith("\n") else len(text))
    if len(found) != n:  # (cannot happen: every line start matches one branch or the other)
        return None
    index = list(range(n))
    usual = list(map(bool, map(_FOUND, found)))
    if not all(usual):
        if sum(usual) * 2 < n:
            return None
        index = list(compress(index, usual))
        found = list(compress(found, usual))
        if not found:
            return [], [], []
    ids, times, codes, statuses, quantities, automated, satisfaction = map(list, zip(*found, strict=True))
    combinations = reference.of_codes(codes)
    quantity_of = {q: int(q) if q else 1 for q in set(quantities)}
    numbers = list(map(quantity_of.__getitem__, quantities))
    mask: list[Any] | None = None
    if False in combinations or max(numbers) > MAX_QUANTITY:
        mask = list(map(and_, map(bool, combinations), map(ge, repeat(MAX_QUANTITY), numbers)))
    ok, millis = _usual_millis(times)
    if ok is not None:
        mask = ok if mask is None else list(map(and_, mask, ok))
    in_range = (millis >= _EARLIEST_MS) & (millis <= now_ms)
    if not in_range.all():
        mask = in_range.tolist() if mask is None else list(map(and_, mask, in_range.tolist()))
    if mask is not None and not all(mask):
        (index, ids, combinations, statuses, quantities, numbers, automated,
         satisfaction) = _keep(mask, index, ids, combinations, statuses, quantities, numbers, automated,
                               satisfaction)
        millis = millis[np.array(mask, dtype=bool)]
        if not index:
            return [], [], []
    event_ids = list(map(str.lower, ids))
    entities, services, governorates, channels, modes, joined = map(list, zip(*combinations, strict=True))
    texts = map("|".join, zip(event_ids, utc_isoformat(millis), joined, statuses,
                              [q or "1" for q in quantities], map(_AUTOMATED_TEXT.__getitem__, automated),
                              map(_SATISFACTION_TEXT.__getitem__, satisfaction), strict=True))
    blake2b = hashlib.blake2b
    digests = b"".join([blake2b(text.encode(), digest_size=8).digest() for text in texts])
    fingerprints = (np.frombuffer(digests, dtype=">u8") >> np.uint64(1)).astype(np.int64).tolist()
    columns: list[list[Any]] = [
        [offset] * len(index), event_ids, millis.tolist(), entities, services, governorates, channels,
        modes, statuses, numbers, list(map(_AUTOMATED.__getitem__, automated)),
        list(map(_SATISFACTION.__getitem__, satisfaction)), fingerprints]
    return index, sorted(set(entities)), columns


def _usual_millis(times: list[str]) -> tuple[list[bool] | None, np.ndarray[Any, np.dtype[np.int64]]]:
    """:func:`utc_millis` of times already known to be of the usual form (``_USUAL``): None
    for the first when every one is a real time."""
    raw = np.frombuffer("".join(times).encode("ascii"), dtype=np.uint8).reshape(len(times), 29)
    digits = raw[:, 23:29].astype(np.int64) - 48
    hours = digits[:, 1] * 10 + digits[:, 2]
    minutes = digits[:, 4] * 10 + digits[:, 5]
    if (hours < 24).all() and (minutes < 60).all():
        try:  # numpy refuses a date or time that does not exist, as fromisoformat does
            local = raw.view("S29").ravel().astype("S23").astype("datetime64[ms]").astype(np.int64)
        except ValueError:
            pass
        else:
            sign = np.where(raw[:, 23] == ord("-"), -1, 1)
            return None, local - sign * (hours * 60 + minutes) * 60_000
    ok, millis = utc_millis(times)
    return ok, millis


def plainly_valid_rows(value: bytes, lines: Sequence[bytes], offset: int, now_ms: int,
                       reference: ReferenceCache) -> tuple[list[int], list[str], list[list[Any]]]:
    """The plainly valid events of a batched record (``lines``: its events, ``value``: its
    bytes): their positions in the record, their entities (once each), and their columns in
    :class:`schemas.verdict.OK` order (the record's ``offset`` in the first). The events not
    listed are for the per-event path. ``now_ms``: the latest plausible time (:func:`now_ms`).

    Each check is a mask over the events still in, computed in C; an event failing one is
    dropped from every column before the next, so that later checks (hashing, the
    catalogue) see only values of the right types."""
    usual = usual_rows(value, lines, offset, now_ms, reference)
    if usual is not None:
        return usual
    n = len(lines)
    index = list(range(n))
    try:
        value.decode("utf-8")  # what the per-event path checks first, for every line at once
    except UnicodeDecodeError:
        return [], [], []
    if max(map(len, lines)) <= MAX_PAYLOAD_BYTES:
        try:  # each line alone, as the per-event path reads it (never the lines joined)
            objs = list(map(orjson.loads, lines))
        except orjson.JSONDecodeError:
            objs = list(map(_loads, lines))
    else:  # some line is too large for an event: the per-event path says so
        objs = [_loads(line) if len(line) <= MAX_PAYLOAD_BYTES else None for line in lines]
    mask = list(map(is_, map(type, objs), repeat(dict)))
    if not all(mask):
        index, objs = _keep(mask, index, objs)
    try:
        required = list(zip(*map(_REQUIRED, objs), strict=True))
    except KeyError:  # some event lacks a required field
        mask = list(map(_REQUIRED_NAMES.issubset, objs))
        index, objs = _keep(mask, index, objs)
        required = list(zip(*map(_REQUIRED, objs), strict=True))
    if not objs:
        return [], [], []
    ids, versions, times, entities, services, governorates, channels, statuses = map(list, required)
    quantities = [obj.get("quantity", 1) for obj in objs]
    automated = [obj.get("automated", False) for obj in objs]
    satisfaction = [obj.get("satisfaction") for obj in objs]
    mask = list(map(eq, zip(versions, map(type, versions), map(type, ids), map(type, times),
                            map(type, entities), map(type, services), map(type, governorates),
                            map(type, channels), map(type, statuses), map(type, quantities),
                            map(type, automated), map(_SATISFACTION_TYPES.__contains__,
                                                      map(type, satisfaction)),
                            map(FIELD_NAMES.issuperset, objs), strict=True),
                    repeat(_TYPES)))
    if not all(mask):
        (index, ids, times, entities, services, governorates, channels, statuses, quantities,
         automated, satisfaction) = _keep(mask, index, ids, times, entities, services, governorates,
                                          channels, statuses, quantities, automated, satisfaction)
    # Every value is now of its type: hashable, comparable.
    modes = reference.modes_of(entities, services, governorates, channels)
    mask = list(map(all, zip(modes, map(_STATUSES.__contains__, statuses),
                             map(le, repeat(1), quantities), map(ge, repeat(MAX_QUANTITY), quantities),
                             map(_SATISFACTIONS.__contains__, satisfaction), strict=True)))
    mask = list(map(and_, mask, _uuids(ids)))
    if not all(mask):
        (index, ids, times, entities, services, governorates, channels, modes, statuses, quantities,
         automated, satisfaction) = _keep(mask, index, ids, times, entities, services, governorates,
                                          channels, modes, statuses, quantities, automated,
                                          satisfaction)
    if not index:
        return [], [], []
    # A date that does not exist (30 February), a fraction finer than milliseconds (which the
    # per-event path truncates): left to the per-event path.
    mask, millis = utc_millis(times)
    if not all(mask):
        (index, ids, entities, services, governorates, channels, modes, statuses, quantities,
         automated, satisfaction) = _keep(mask, index, ids, entities, services, governorates,
                                          channels, modes, statuses, quantities, automated,
                                          satisfaction)
        millis = millis[np.array(mask, dtype=bool)]
        if not index:
            return [], [], []
    in_range = (millis >= _EARLIEST_MS) & (millis <= now_ms)
    if not in_range.all():
        mask = in_range.tolist()
        (index, ids, entities, services, governorates, channels, modes, statuses, quantities,
         automated, satisfaction) = _keep(mask, index, ids, entities, services, governorates,
                                          channels, modes, statuses, quantities, automated,
                                          satisfaction)
        millis = millis[in_range]
        if not index:
            return [], [], []
    # The pattern admits only the canonical 8-4-4-4-12 form, so this is str(uuid.UUID(id)).
    event_ids = list(map(str.lower, ids))
    texts = map("|".join, zip(event_ids, utc_isoformat(millis), entities, services, governorates,
                              channels, statuses, map(str, quantities), map(str, automated),
                              map(str, satisfaction), strict=True))
    blake2b = hashlib.blake2b
    digests = b"".join([blake2b(text.encode(), digest_size=8).digest() for text in texts])
    fingerprints = (np.frombuffer(digests, dtype=">u8") >> np.uint64(1)).astype(np.int64).tolist()
    columns: list[list[Any]] = [
        [offset] * len(index), event_ids, millis.tolist(), entities, services, governorates, channels,
        modes, statuses, quantities, automated, satisfaction, fingerprints]
    return index, sorted(set(entities)), columns


def utc_isoformat(millis: np.ndarray[Any, np.dtype[np.int64]]) -> list[str]:
    """``datetime.isoformat()`` of each UTC time (epoch milliseconds), as the fingerprint
    (schemas.event.fingerprint_of) spells it: microseconds, or none when they are 0."""
    times = millis.astype("datetime64[ms]")
    text = np.char.add(np.datetime_as_string(times, unit="us"), "+00:00")
    whole = np.flatnonzero(millis % 1000 == 0)
    if whole.size:
        text[whole] = np.char.add(np.datetime_as_string(times[whole], unit="s"), "+00:00")
    result: list[str] = text.tolist()
    return result


_ALL: Final = [True]


def _fixed(values: list[str], layout: np.ndarray[Any, np.dtype[np.bool_]]
           ) -> tuple[np.ndarray[Any, np.dtype[np.intp]], np.ndarray[Any, np.dtype[np.uint8]]]:
    """The positions of the values that have the fixed ASCII form ``layout`` (:func:`_layout`)
    and those values as rows of bytes: a column checked in a few numpy steps."""
    width = len(layout)
    fits = list(map(eq, map(len, values), repeat(width)))
    rows = values if all(fits) else list(compress(values, fits))
    try:
        raw = np.frombuffer("".join(rows).encode("ascii"), dtype=np.uint8).reshape(len(rows), width)
    except UnicodeEncodeError:  # (rare: any other character, and the values go one by one)
        return np.zeros(0, dtype=np.intp), np.zeros((0, width), dtype=np.uint8)
    good = layout[_COLUMNS[:width], raw].all(axis=1)
    return np.flatnonzero(fits)[good], raw[good]


_COLUMNS: Final = np.arange(64)


def _uuids(ids: list[str]) -> list[bool]:
    """Whether each id (a string) matches the contract's pattern (schemas.event._UUID_RE)."""
    positions, _ = _fixed(ids, _UUID_LAYOUT)
    if len(positions) == len(ids):
        return _ALL * len(ids)
    ok = list(map(is_not, map(_UUID_RE.match, ids), repeat(None)))
    return ok


def utc_millis(times: list[str]) -> tuple[list[bool], np.ndarray[Any, np.dtype[np.int64]]]:
    """Which times (strings) the per-event path takes as they are (the contract's pattern,
    real dates and offsets, at most milliseconds), and each one's instant in epoch
    milliseconds (0 where not). Times of the usual form, ``2025-03-04T09:15:22.123+04:00``,
    are read by numpy together; any other by ``datetime.fromisoformat``, as the per-event
    path reads it."""
    n = len(times)
    millis = np.zeros(n, dtype=np.int64)
    ok = np.zeros(n, dtype=np.bool_)
    positions, raw = _fixed(list(map(str.upper, times)), _TIME_LAYOUT)
    if len(positions):
        digits = raw.astype(np.int64) - 48
        hours = digits[:, 24] * 10 + digits[:, 25]
        minutes = digits[:, 27] * 10 + digits[:, 28]
        real = (hours < 24) & (minutes < 60)
        try:  # numpy refuses a date or time that does not exist, as fromisoformat does
            local = raw[real].view("S29").ravel().astype("S23").astype("datetime64[ms]").astype(np.int64)
        except ValueError:  # (rare: and then each goes by fromisoformat)
            pass
        else:
            sign = np.where(raw[real, 23] == ord("-"), -1, 1)
            millis[positions[real]] = local - sign * (hours[real] * 60 + minutes[real]) * 60_000
            ok[positions[real]] = True
    if not ok.all():
        for position in np.flatnonzero(~ok).tolist():
            moment = _time_or_none(times[position])
            if moment is not None:
                millis[position] = _ms_of(moment)
                ok[position] = True
    return ok.tolist(), millis


def _time_or_none(text: str) -> datetime | None:
    """What the per-event path makes of a time it takes as it is, or None."""
    if _RFC3339_RE.match(text) is None or _SUB_MS.search(text) is not None:
        return None
    try:
        return datetime.fromisoformat(text.upper().replace("Z", "+00:00"))
    except ValueError:
        return None


def _ms_of(moment: datetime) -> int:
    since = moment - _EPOCH
    return (since.days * 86_400 + since.seconds) * 1000 + since.microseconds // 1000


def now_ms(now: datetime) -> int:
    """The latest plausible occurred_at at ``now`` (its future tolerance included), in epoch
    milliseconds, as the per-event path compares it (a time is kept to the millisecond)."""
    return _ms_of(now + FUTURE_TOLERANCE)
