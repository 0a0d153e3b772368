"""`tahawul send FILE...` and `tahawul simulate --send` as a user runs them, into the real
pipeline: exact counts, an exact report of rejected lines, and a re-sent file (JSONL, and
CSV tallies without event ids) counts nothing twice."""

from __future__ import annotations

import csv
import re
from collections.abc import Callable
from pathlib import Path

import orjson
import pytest

from tahawul.producers.csv_events import TALLY_TIME, row_event_id
from tahawul.runtime.local import Workers, WriterThread
from tahawul.settings import Settings
from tests.integration.producer_support import (
    event_days,
    expected_daily,
    published,
    scalar,
    tahawul,
    wait_outcomes,
)

pytestmark = pytest.mark.integration

TALLY_HEADER = "occurred_at,entity,service,governorate,channel,quantity\n"
TALLIES = [  # a daily tally file of a service counter office: (day, channel, quantity)
    ("2025-03-02", "counter", 14), ("2025-03-02", "paper", 3), ("2025-03-03", "counter", 14),
    ("2025-03-03", "counter", 14),  # the same tally twice on one day: two rows, both count
    ("2025-03-04", "counter", 9),
]


def write_files(tmp_path: Path) -> tuple[Path, Path, list[dict[str, object]], list[dict[str, object]]]:
    events = event_days(500)
    lines = [orjson.dumps(e) for e in events]
    lines.insert(100, b'{"event_id": "broken json"')
    lines.insert(300, orjson.dumps({**events[0], "event_id": "0f1e2d3c-0000-4000-8000-000000000001",
                                    "beneficiary_name": "someone"}))
    jsonl = tmp_path / "backfill.jsonl"
    jsonl.write_bytes(b"\n".join(lines) + b"\n")
    tally = tmp_path / "office-tallies.csv"
    rows = [f"{d},ROP,ROP-VEH-FIRST-REG,OM-BS,{ch},{q}" for d, ch, q in TALLIES]
    rows.insert(2, "2025-03-02,ROP,ROP-VEH-FIRST-REG,OM-BS,counter,lots")
    tally.write_text(TALLY_HEADER + "\n".join(rows) + "\n")
    tally_events: list[dict[str, object]] = [
        {"event_id": row_event_id(tally.name, line, "ROP"), "schema_version": 1,
         "occurred_at": d + TALLY_TIME,
         "entity": "ROP", "service": "ROP-VEH-FIRST-REG", "governorate": "OM-BS", "channel": ch,
         "status": "completed", "quantity": q}
        for line, (d, ch, q) in zip((2, 3, 5, 6, 7), TALLIES, strict=True)
    ]
    return jsonl, tally, events, tally_events


def test_send_files_counts_exactly_reports_rejections_and_resending_counts_nothing_twice(
    settings: Settings, workers: Workers, start_counter: Callable[[], WriterThread], tmp_path: Path
) -> None:
    workers.start()
    ct = start_counter()
    jsonl, tally, events, tally_events = write_files(tmp_path)
    report = tmp_path / "rejected.csv"
    done = tahawul(settings, "send", str(jsonl), str(tally), "--report", str(report), "--no-progress")
    assert done.returncode == 1, done.stderr
    assert "508 lines" in done.stdout and "505 acknowledged by Kafka, 3 rejected" in done.stdout
    with report.open() as fh:
        rejected = [(r["file"], int(r["line"]), r["code"]) for r in csv.DictReader(fh)]
    assert rejected == [("backfill.jsonl", 101, "not_json"), ("backfill.jsonl", 301, "unknown_field"),
                        ("office-tallies.csv", 4, "wrong_type")]
    wait_outcomes(ct, counted=505, duplicates=0, rejected=0, timeout=120)
    assert published(ct.store.client) == expected_daily([*events, *tally_events])
    counter_total = scalar(
        ct.store.client, "SELECT sum(transactions) FROM v_counts_daily WHERE channel = 'counter'")
    assert counter_total == sum(q for _, ch, q in TALLIES if ch == "counter") + sum(
        int(e["quantity"]) for e in events if e["channel"] == "counter")  # type: ignore[call-overload]

    # The same files again: nothing is counted twice (all 505 are duplicates).
    again = tahawul(settings, "send", str(jsonl), str(tally), "--report", str(report), "--no-progress")
    assert again.returncode == 1
    wait_outcomes(ct, counted=505, duplicates=505, rejected=0, timeout=120)
    assert published(ct.store.client) == expected_daily([*events, *tally_events])
    assert scalar(ct.store.client, "SELECT count() FROM events") == 505


def test_send_refuses_a_csv_with_columns_outside_the_contract(settings: Settings, tmp_path: Path) -> None:
    bad = tmp_path / "with-names.csv"
    bad.write_text("occurred_at,entity,service,governorate,channel,citizen_name\n"
                   "2025-03-02,ROP,ROP-VEH-FIRST-REG,OM-BS,counter,Someone\n")
    done = tahawul(settings, "send", str(bad), "--no-progress")
    assert done.returncode == 2
    assert "citizen_name" in done.stderr and "nothing of this file was sent" in done.stderr


def test_simulate_send_streams_a_run_that_is_counted_exactly(
    settings: Settings, workers: Workers, start_counter: Callable[[], WriterThread], tmp_path: Path
) -> None:
    workers.start()
    ct = start_counter()
    truth = tmp_path / "truth.csv"
    done = tahawul(settings, "simulate", "--send", "--scale", "0.002", "--seed", "5", "--duplicates", "0.02",
                   "--invalid", "0.02", "--rate", "20000", "--truth", str(truth))
    assert done.returncode == 0, done.stderr
    found = re.search(r"sent (\d+) events .* \((\d+) valid, (\d+) duplicates, (\d+) invalid\)", done.stdout)
    assert found is not None, done.stdout
    sent, valid, dup, bad = (int(x) for x in found.groups())
    assert sent == valid + dup + bad and valid > 1000
    wait_outcomes(ct, counted=valid, duplicates=dup, rejected=bad, timeout=180)
    with truth.open() as fh:
        expected = {(r["day"], r["governorate"], r["entity"], r["service"], r["channel"], r["mode"]):
                    int(r["transactions"]) for r in csv.DictReader(fh)}
    assert published(ct.store.client) == {k: v for k, v in expected.items() if v}
    # --out/--truth still write files, and --send takes no --out.
    files = tahawul(settings, "simulate", "--scale", "0.001", "--out", str(tmp_path / "e.jsonl"),
                    "--truth", str(tmp_path / "t.csv"))
    assert files.returncode == 0 and (tmp_path / "e.jsonl").stat().st_size > 0
    assert tahawul(settings, "simulate", "--send", "--out", str(tmp_path / "x")).returncode == 2
