"""Control totals (issue 17): the contract and its JSON Schema agree; the workers judge them
like events (validated, signed by their entity, rejected with reasons and dead-lettered);
the writer stores every statement raw and counts none as a transaction; v_completeness takes
the latest statement per cell and names every missing, extra and unstated cell."""

from __future__ import annotations

from datetime import UTC, date, datetime
from pathlib import Path
from typing import Any

import jsonschema
import orjson
import pytest

from tahawul.schemas.control_total import InvalidEvent, muscat_day, validate
from tahawul.schemas.jsonschema import build_control_total, render_control_total
from tahawul.schemas.signing import SigningKey, Trust
from tahawul.sinks.clickhouse.completeness import completeness
from tahawul.sinks.clickhouse.store import Store
from tahawul.stream_processors.counter import CountingWriter
from tahawul.stream_processors.envelope import Envelope, split
from tahawul.stream_processors.validation import judge_records
from tests.unit.factories import CAT, NOW, TOPIC, apply, envelopes, payload

SCHEMA_FILE = Path(__file__).resolve().parents[2] / "schemas" / "control-total-v1.schema.json"
ROP = SigningKey.generate("ROP", "k1")
MOH = SigningKey.generate("MOH", "k1")


def total(**overrides: Any) -> dict[str, Any]:
    base: dict[str, Any] = {
        "kind": "control_total", "schema_version": 1, "entity": "ROP", "day": "2025-03-04",
        "service": "ROP-VEH-FIRST-REG", "channel": "portal", "completed": 3,
        "stated_at": "2025-03-05T00:10:00+04:00",
    }
    base.update(overrides)
    return {k: v for k, v in base.items() if v is not ...}


def total_bytes(**overrides: Any) -> bytes:
    return orjson.dumps(total(**overrides))


def test_committed_schema_is_generated() -> None:
    assert SCHEMA_FILE.read_text("utf-8") == render_control_total(), (
        "run: tahawul schema export --kind control_total --out schemas/control-total-v1.schema.json")


CORPUS = [
    (total(), None),
    (total(completed=0), None),
    (total(kind="event"), "wrong_kind"),
    (total(schema_version=2), "unknown_schema_version"),
    (total(day="2025-3-4"), "bad_day"),
    (total(completed=-1), "bad_completed"),
    (total(completed="3"), "wrong_type"),
    (total(channel="fax"), "unknown_channel"),
    (total(entity="NOPE"), "unknown_entity"),
    (total(national_id="x"), "unknown_field"),
    (total(stated_at="2025-03-05 00:10"), "bad_stated_at"),
    (total(completed=...), "missing_field"),
]


@pytest.mark.parametrize(("obj", "code"), CORPUS)
def test_schema_and_validator_agree(obj: dict[str, Any], code: str | None) -> None:
    schema_ok = jsonschema.Draft202012Validator(build_control_total()).is_valid(obj)
    try:
        validate(obj, CAT, NOW)
        got = None
    except InvalidEvent as exc:
        got = exc.code
    assert got == code
    assert schema_ok == (code is None)


@pytest.mark.parametrize(("overrides", "code"), [
    ({"service": "MOH-PREARRIVAL-MED"}, "service_not_of_entity"),
    ({"day": "2025-02-30"}, "bad_day"),
    ({"day": "1999-12-31", "stated_at": "2000-01-01T00:00:00Z"}, "day_too_old"),
    ({"day": "2026-01-02", "stated_at": "2026-01-01T00:00:00Z"}, "day_in_future"),
    ({"stated_at": "2026-01-01T01:00:00Z"}, "stated_at_in_future"),
    ({"stated_at": "2025-03-03T23:00:00+04:00"}, "stated_before_day"),
])
def test_pipeline_only_rules(overrides: dict[str, Any], code: str) -> None:
    with pytest.raises(InvalidEvent) as exc:
        validate(total(**overrides), CAT, NOW)
    assert exc.value.code == code


def test_muscat_day() -> None:
    assert muscat_day(datetime(2025, 3, 4, 20, 0, tzinfo=UTC)) == date(2025, 3, 5)
    assert muscat_day(datetime(2025, 3, 4, 19, 59, tzinfo=UTC)) == date(2025, 3, 4)


def trust() -> Trust:
    return Trust().with_key("ROP", "k1", ROP.public_bytes()).with_key("MOH", "k1", MOH.public_bytes())


def test_a_total_is_signed_by_its_entity_and_only_then_valid() -> None:
    own = total_bytes()
    records = [
        (0, own, [("tahawul-signature", ROP.sign(own))]),
        (1, own, [("tahawul-signature", MOH.sign(own))]),  # MOH cannot state ROP's totals
        (2, own, None),
    ]
    verdicts, dead = judge_records(records, CAT, NOW, trust())
    assert [v[1] for v in verdicts] == [None, False, False]
    assert verdicts[0][2] == [0, "ROP", "2025-03-04", "ROP-VEH-FIRST-REG", "portal", 3,
                              int(datetime(2025, 3, 4, 20, 10, tzinfo=UTC).timestamp() * 1000)]
    assert [d.code for d in dead] == ["signature_invalid", "signature_missing"]
    assert b"2025-03-04" not in dead[0].redacted  # dead letters redacted like events'


def test_envelope_carries_totals_and_keeps_every_offset() -> None:
    records = [(5, payload(), None), (6, total_bytes(), None), (7, total_bytes(completed=-1), None)]
    verdicts, _ = judge_records(records, CAT, NOW)
    (env,) = split(TOPIC, 1, verdicts)
    back = Envelope.decode(env.encode())
    assert (back.first_offset, back.last_offset) == (5, 7)
    assert (back.n_ok, len(back.bad), len(back.totals)) == (1, 1, 1)
    assert back.bad[0][1] == "bad_completed"


def cells(store: Store) -> list[tuple[Any, ...]]:
    return [(c.entity, c.day.isoformat(), c.service, c.channel, c.control_total, c.counted, c.difference,
             c.status) for c in completeness(store.client).cells]


def test_totals_are_stored_never_counted_and_the_latest_statement_wins(store: Store) -> None:
    counter = CountingWriter(store)
    occurred = "2025-03-04T09:00:00+04:00"
    apply(counter, envelopes(0, 0, [
        payload(occurred_at=occurred), payload(occurred_at=occurred),
        total_bytes(completed=3),  # first statement: 3
        total_bytes(completed=2, stated_at="2025-03-05T08:00:00+04:00"),  # restated: 2
        total_bytes(channel="counter", completed=4),  # nothing counted on the counter
        payload(occurred_at=occurred, channel="mobile_app"),  # counted, no statement
    ]))
    assert store.client.query("SELECT count(), sum(quantity) FROM events").result_rows == [(3, 3)]
    assert store.client.query("SELECT sum(transactions) FROM v_counts_daily").result_rows == [(3,)]
    assert store.client.query("SELECT count() FROM control_totals").result_rows == [(3,)]
    assert cells(store) == [
        ("ROP", "2025-03-04", "ROP-VEH-FIRST-REG", "counter", 4, 0, -4, "missing_events"),
        ("ROP", "2025-03-04", "ROP-VEH-FIRST-REG", "mobile_app", None, 1, None, "no_control_total"),
        ("ROP", "2025-03-04", "ROP-VEH-FIRST-REG", "portal", 2, 2, 0, "complete"),
    ]
    result = completeness(store.client, tolerance=3)
    (summary,) = result.entities
    assert (summary.stated, summary.counted_in_stated, summary.missing, summary.extra,
            summary.counted_without_total, summary.status) == (6, 2, 4, 0, 1, "missing_events")
    assert [c.channel for c in result.beyond_tolerance] == ["counter"]
    assert completeness(store.client, tolerance=4).beyond_tolerance == []
    # A replay of the same records stores nothing twice.
    apply(counter, envelopes(0, 0, [total_bytes(completed=99)] * 6))
    assert store.client.query("SELECT count() FROM control_totals").result_rows == [(3,)]


def test_an_unfinished_batch_of_totals_is_recovered(store: Store) -> None:
    counter = CountingWriter(store)
    prepared = counter.prepare(envelopes(0, 0, [total_bytes()]))
    prepared.batch.progress.clear()  # killed before its progress row
    store.write(prepared.batch)
    assert store.recover() == 1
    assert store.client.query("SELECT count() FROM control_totals").result_rows == [(0,)]


def test_missing_transactions_per_entity_for_the_alert(store: Store) -> None:
    from prometheus_client import generate_latest

    from tahawul.sinks.clickhouse.completeness import missing_by_entity
    from tahawul.stream_processors import metrics

    counter = CountingWriter(store)
    occurred = "2025-03-04T09:00:00+04:00"
    moh = {"entity": "MOH", "service": "MOH-PREARRIVAL-MED", "governorate": "OM-MA"}
    apply(counter, envelopes(0, 0, [
        payload(occurred_at=occurred), total_bytes(completed=3), total_bytes(channel="counter", completed=2),
        payload(occurred_at=occurred, **moh),
        total_bytes(entity="MOH", service="MOH-PREARRIVAL-MED", completed=1),
        total_bytes(entity="MOH", service="MOH-PREARRIVAL-MED", completed=4, channel="kiosk",
                    day="2025-03-03"),
    ]))
    assert missing_by_entity(store.client, 0) == {"ROP": 2 + 2, "MOH": 4}
    assert missing_by_entity(store.client, 3600) == {}  # stored just now: events may be on their way
    metrics.observe_completeness({"ROP": 4, "MOH": 0})
    metrics.observe_completeness({"ROP": 4})
    text = generate_latest().decode()
    assert 'tahawul_completeness_missing_transactions{entity="ROP"} 4.0' in text
    assert 'tahawul_completeness_missing_transactions{entity="MOH"}' not in text


def test_every_rejection_of_a_control_total_has_a_name_in_both_languages() -> None:
    from tahawul.dashboards.texts import REASONS

    source = (Path(__file__).resolve().parents[2] / "schemas" / "control_total.py").read_text("utf-8")
    import re

    codes = set(re.findall(r'InvalidEvent\(\s*"([a-z_]+)"', source))
    assert len(codes) >= 12 and codes <= set(REASONS), codes - set(REASONS)
