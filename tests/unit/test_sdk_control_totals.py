"""The SDK's own control totals (issue 17): it tallies per Muscat day, service and channel the
completed transactions it accepted, persists them beside the spool (a restart continues the
day's total), and spools statements of the cells sent to since the last one."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path

import orjson

from tahawul.producers.sdk import Producer, SigningKey
from tahawul.producers.sdk.totals import Tallies
from tahawul.schemas.control_total import validate
from tahawul.schemas.event import parse
from tests.unit.factories import CAT, payload

KEY = SigningKey.generate("ROP", "k1")


def test_tallies_count_completed_quantity_by_muscat_day_and_survive_a_restart(tmp_path: Path) -> None:
    tallies = Tallies(tmp_path, "ROP", fsync=False)
    events = [parse(payload(occurred_at="2025-03-04T19:59:00Z"), CAT),  # 23:59 in Muscat
              parse(payload(occurred_at="2025-03-04T20:00:00Z", quantity=5), CAT),  # 00:00 on the 5th
              parse(payload(occurred_at="2025-03-04T20:00:00Z", status="abandoned"), CAT)]
    tallies.add(events)
    assert tallies.completed() == {("2025-03-04", "ROP-VEH-FIRST-REG", "portal"): 1,
                                   ("2025-03-05", "ROP-VEH-FIRST-REG", "portal"): 5}
    now = datetime(2025, 3, 6, tzinfo=UTC)
    statements = tallies.statements(now)
    totals = [validate(orjson.loads(s), CAT, now) for s in statements]
    assert [(t.day.isoformat(), t.completed) for t in totals] == [("2025-03-04", 1), ("2025-03-05", 5)]
    tallies.stated(statements)
    assert tallies.statements(now) == []
    again = Tallies(tmp_path, "ROP", fsync=False)  # a restarted producer
    again.add([parse(payload(occurred_at="2025-03-04T10:00:00Z", quantity=2), CAT)])
    (restated,) = again.statements(now)
    assert orjson.loads(restated)["completed"] == 3  # the day's whole total, not 2


def test_the_producer_spools_its_control_totals_at_flush(tmp_path: Path) -> None:
    # No broker: nothing is delivered, so the spool shows what the producer put in it.
    producer = Producer("127.0.0.1:1", tmp_path / "spool", signing_key=KEY, fsync=False,
                        delivery_timeout=1.0)
    try:
        producer.send_many([payload(), payload(), payload(channel="mobile_app")])
        assert producer.pending == 3
        assert producer.flush(0.1) == 5  # + one control total per cell
        assert producer.emit_control_totals() == 0  # nothing new since
        producer.send(payload())
        assert producer.emit_control_totals() == 1  # only the cell sent to, restated
    finally:
        producer.close(0.1)
    tallies = Tallies(tmp_path / "spool", "ROP", fsync=False).completed()
    assert tallies == {("2025-03-04", "ROP-VEH-FIRST-REG", "portal"): 3,
                       ("2025-03-04", "ROP-VEH-FIRST-REG", "mobile_app"): 1}


def test_control_totals_can_be_turned_off(tmp_path: Path) -> None:
    producer = Producer("127.0.0.1:1", tmp_path / "spool", signing_key=KEY, fsync=False,
                        delivery_timeout=1.0, control_totals=False)
    try:
        producer.send(payload())
        assert producer.flush(0.1) == 1
    finally:
        producer.close(0.1)
    assert not (tmp_path / "spool" / "control-totals.json").exists()


def sent_to(into: list[tuple[bytes, bytes | None, object]]) -> Callable[..., None]:
    return lambda v, k, h: into.append((v, k, h))


def test_send_takes_control_totals_in_jsonl_and_csv_and_checks_them(tmp_path: Path) -> None:
    from tahawul.producers.file_send import RejectionReport, send_file
    from tahawul.schemas.batch import events_of
    from tahawul.schemas.headers import BATCH_HEADER
    from tahawul.schemas.signing import Signers

    good = {"kind": "control_total", "schema_version": 1, "entity": "ROP", "day": "2025-03-04",
            "service": "ROP-VEH-FIRST-REG", "channel": "portal", "completed": 7,
            "stated_at": "2025-03-05T00:00:00+04:00"}
    jsonl = tmp_path / "totals.jsonl"
    jsonl.write_bytes(orjson.dumps(good) + b"\n" + orjson.dumps({**good, "completed": -2}) + b"\n"
                      + payload() + b"\n")
    csv_file = tmp_path / "totals.csv"
    csv_file.write_text("day,entity,service,channel,completed\n"
                        "2025-03-04,ROP,ROP-VEH-FIRST-REG,counter,12\n"
                        "2025-03-04,ROP,MOH-PREARRIVAL-MED,counter,1\n", "utf-8")
    signers = Signers.of([KEY])
    for path, fmt, codes, n_sent in ((jsonl, "jsonl", {"bad_completed": 1}, 2),
                                     (csv_file, "csv", {"service_not_of_entity": 1}, 1)):
        sent: list[tuple[bytes, bytes | None, object]] = []
        report = RejectionReport(tmp_path / f"{fmt}.csv")
        result = send_file(path, fmt, path.name, CAT, signers,  # type: ignore[arg-type]
                           sent_to(sent), report)
        report.close()
        assert (result.sent, result.codes) == (n_sent, codes)
        (value, _, headers) = sent[0]
        batch = dict(headers or []).get(BATCH_HEADER)  # type: ignore[call-overload]
        sent_payloads = [value] if batch is None else events_of(value, batch)
        assert len(sent_payloads) == n_sent
    csv_total = orjson.loads(sent_payloads[0])
    assert (csv_total["kind"], csv_total["channel"], csv_total["completed"]) == (
        "control_total", "counter", 12)
    validate(csv_total, CAT)
