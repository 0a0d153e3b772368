"""The verdict layout (schemas/verdict.py) names the positions the worker writes and the
writer and the store read: the names must match what is actually at each position."""

from __future__ import annotations

import base64
import dataclasses
from datetime import UTC, datetime, timedelta

from tahawul.schemas.event import Event, fingerprint_of, parse_fields
from tahawul.schemas.verdict import BAD, BAD_FIELDS, CELL, COUNT, COUNT_COLUMNS, OK, OK_FIELDS, PARSED
from tahawul.stream_processors.envelope import Envelope, bad_row, ok_row
from tahawul.stream_processors.validation import judge
from tests.unit.factories import CAT, NOW, TOPIC, payload


def test_parsed_positions_are_the_event_fields_in_declaration_order() -> None:
    assert [p.name.lower() for p in PARSED] == [f.name for f in dataclasses.fields(Event)]


def test_a_valid_verdict_is_the_offset_the_parsed_event_and_its_fingerprint() -> None:
    parsed = ["occurred_ms" if p is PARSED.OCCURRED_AT else p.name.lower() for p in PARSED]
    assert list(OK_FIELDS) == ["offset", *parsed, "fingerprint"]
    fields = parse_fields(payload(entity="ROP", service="ROP-VEH-FIRST-REG", quantity=3), CAT, NOW)
    row = ok_row(41, fields, fingerprint_of(fields))
    assert len(row) == len(OK)
    assert row[OK.OFFSET] == 41
    assert row[OK.FINGERPRINT] == fingerprint_of(fields)
    since = fields[PARSED.OCCURRED_AT] - datetime(1970, 1, 1, tzinfo=UTC)
    assert row[OK.OCCURRED_MS] == since // timedelta(milliseconds=1)
    for p in PARSED:
        if p is not PARSED.OCCURRED_AT:
            assert row[OK[p.name]] == fields[p], p.name


def test_a_rejected_verdict_has_its_fields_at_their_names() -> None:
    assert BAD_FIELDS == ("offset", "code", "message", "payload_b64", "payload_bytes", "source", "entity")
    row = bad_row(7, "not_json", "not JSON", b'{"redacted":1}', 2, "events.jsonl:3", "ROP")
    assert len(row) == len(BAD)
    assert (row[BAD.OFFSET], row[BAD.CODE], row[BAD.MESSAGE], row[BAD.PAYLOAD_BYTES],
            row[BAD.SOURCE], row[BAD.ENTITY]) == (7, "not_json", "not JSON", 2, "events.jsonl:3", "ROP")
    assert base64.b64decode(row[BAD.PAYLOAD_B64]) == b'{"redacted":1}'


def test_envelopes_keep_their_wire_form() -> None:
    """Envelopes already in the validated topic must still decode: the layout is the JSON's."""
    verdicts = judge([(0, payload(), None), (1, b"{", None)], CAT, NOW)
    env = Envelope.of_rows(TOPIC, 0, 0, 1, [r for _, ok, r in verdicts if ok],
                           [r for _, ok, r in verdicts if not ok])
    assert Envelope.decode(env.encode()) == env
    assert env.ok[OK.OFFSET] == [0] and env.bad[0][BAD.OFFSET] == 1


def test_a_count_row_starts_with_its_cell() -> None:
    assert COUNT_COLUMNS == ("minute", "governorate", "entity", "service", "channel", "mode", "status",
                             "transactions", "events", "src_cluster", "src_topic", "src_partition",
                             "src_offset")
    assert list(CELL) == list(COUNT)[:len(CELL)]
    assert COUNT.STATUS in CELL and COUNT.EVENTS not in CELL
