"""Completeness against the real pipeline (issue 17): events lost between the SDK and the
broker, and a whole file never sent, are named by `tahawul audit completeness` with their
entity, day, service, channel and exact difference; a run without loss is complete.

The SDK states its own control totals from what it accepted; its test-only ``lose`` hook drops
chosen records after they were counted, as a record lost on the way would be (the SDK's spool
otherwise re-sends anything unacknowledged, so a lossy network alone loses nothing)."""

from __future__ import annotations

import uuid
from collections import defaultdict
from datetime import datetime
from pathlib import Path
from typing import Any

import orjson
import pytest

from tahawul.keyring import dev_private_dir
from tahawul.producers.sdk import Producer
from tahawul.settings import Settings
from tahawul.sinks.clickhouse.connection import connect
from tests.integration.conftest import wait_for
from tests.integration.producer_support import (
    MUSCAT,
    counter_on,
    event_days,
    scalar,
    start_worker,
    stop,
    tahawul,
    wait_outcomes,
)

pytestmark = pytest.mark.integration
Cell = tuple[str, str, str]  # day, service, channel


def cells_of(events: list[dict[str, Any]]) -> dict[Cell, int]:
    """Completed transactions per Muscat day, service and channel."""
    out: dict[Cell, int] = defaultdict(int)
    for ev in events:
        day = datetime.fromisoformat(ev["occurred_at"]).astimezone(MUSCAT).date().isoformat()
        out[(day, ev["service"], ev["channel"])] += ev["quantity"]
    return dict(out)


def audit_rows(stdout: str) -> dict[Cell, tuple[str, str, str, str]]:
    """The cells table of `audit completeness --format csv`: cell -> (control_total, counted,
    difference, status)."""
    rows = {}
    for line in stdout.splitlines():
        parts = line.split(",")
        if len(parts) == 8 and parts[0] == "ROP":
            rows[(parts[1], parts[2], parts[3])] = (parts[4], parts[5], parts[6], parts[7])
    return rows


def run_sdk(settings: Settings, tmp_path: Path, events: list[dict[str, Any]], lost_ids: set[str]) -> None:
    """Send the events with the SDK (ROP's dev key), losing ``lost_ids`` after the SDK took
    them, through a worker to the counting writer; return once everything that arrived, and
    every control total, is in the store."""
    client = connect(settings.clickhouse_dsn())
    worker = start_worker(settings, tmp_path / "worker.log")
    ct = counter_on(settings, client)
    try:
        producer = Producer(settings.kafka_bootstrap() or "", tmp_path / "spool",
                            topic=settings.topic_transactions,
                            signing_key=dev_private_dir(settings.data_dir) / "ROP.key")
        lost = {i.encode() for i in lost_ids}
        producer.lose = lambda value: any(i in value for i in lost)
        try:
            producer.send_many(events)
            assert producer.flush(60) == 0  # events and control totals all handed over
        finally:
            assert producer.close() == 0
        wait_outcomes(ct, len(events) - len(lost_ids), 0, 0, 180)
        n_cells = len(cells_of(events))
        wait_for(lambda: scalar(client, "SELECT count() FROM control_totals") == n_cells, 120,
                 f"{n_cells} control totals stored")
        # Never counted as transactions: the events table holds the events that arrived, only.
        assert scalar(client, "SELECT count() FROM events") == len(events) - len(lost_ids)
        ct.halt()
    finally:
        ct.stop.set()
        ct.thread.join(30)
        stop(worker)
        client.close()


def test_events_lost_between_the_sdk_and_the_broker_are_named(settings: Settings, tmp_path: Path) -> None:
    events = event_days(200)
    lost = [events[i] for i in (3, 17, 42, 62, 99, 150)]  # 42 and 62 share a cell (day 3, counter)
    run_sdk(settings, tmp_path, events, {ev["event_id"] for ev in lost})
    stated = cells_of(events)
    missing = cells_of(lost)
    done = tahawul(settings, "audit", "completeness", "--format", "csv")
    assert done.returncode == 1, done.stdout + done.stderr
    rows = audit_rows(done.stdout)
    assert rows == {cell: (str(stated[cell]), str(stated[cell] - n), str(-n), "missing_events")
                    for cell, n in missing.items()}, done.stdout
    assert len(missing) == 5
    assert f"ROP: missing_events; stated {sum(stated.values())}" in done.stdout
    assert f"missing {sum(missing.values())}, extra 0" in done.stdout
    assert "5 cell(s) missing more than 0 transaction(s)" in done.stdout
    # The auditor's tolerance: the largest loss of a cell passes, one less does not.
    worst = max(missing.values())
    assert tahawul(settings, "audit", "completeness", "--tolerance", str(worst)).returncode == 0
    assert tahawul(settings, "audit", "completeness", "--tolerance", str(worst - 1)).returncode == 1
    # One day's view names only that day's cells.
    day = lost[0]["occurred_at"][:10]
    only = tahawul(settings, "audit", "completeness", "--from", day, "--to", day, "--entity", "ROP",
                   "--format", "csv")
    assert set(audit_rows(only.stdout)) == {c for c in missing if c[0] == day}


def test_a_run_without_loss_is_complete_in_every_cell(settings: Settings, tmp_path: Path) -> None:
    events = event_days(120)
    run_sdk(settings, tmp_path, events, set())
    done = tahawul(settings, "audit", "completeness", "--all", "--format", "csv")
    assert done.returncode == 0, done.stdout + done.stderr
    rows = audit_rows(done.stdout)
    stated = cells_of(events)
    assert rows == {cell: (str(n), str(n), "0", "complete") for cell, n in stated.items()}
    assert "0 cell(s) missing" in done.stdout


def test_a_file_never_sent_is_named(settings: Settings, tmp_path: Path) -> None:
    """An office states its totals for two files (CSV of control totals, `tahawul send`) but
    only the first file of events is ever sent: every cell of the second is missing whole."""
    a = event_days(60)
    b = [{**ev, "event_id": str(uuid.uuid4()), "channel": "paper"} for ev in event_days(40)]
    sent = tmp_path / "a.jsonl"
    sent.write_bytes(b"".join(orjson.dumps(e) + b"\n" for e in a))
    stated = cells_of([*a, *b])
    totals = tmp_path / "totals.csv"
    totals.write_text("day,entity,service,channel,completed\n" + "".join(
        f"{day},ROP,{service},{channel},{n}\n" for (day, service, channel), n in sorted(stated.items())),
        "utf-8")
    client = connect(settings.clickhouse_dsn())
    worker = start_worker(settings, tmp_path / "worker.log")
    ct = counter_on(settings, client)
    try:
        for path in (totals, sent):
            done = tahawul(settings, "send", str(path), "--no-progress")
            assert done.returncode == 0, done.stdout + done.stderr
        wait_outcomes(ct, len(a), 0, 0, 180)
        wait_for(lambda: scalar(client, "SELECT count() FROM control_totals") == len(stated), 120,
                 "the control totals stored")
        ct.halt()
    finally:
        ct.stop.set()
        ct.thread.join(30)
        stop(worker)
        client.close()
    done = tahawul(settings, "audit", "completeness", "--format", "csv")
    assert done.returncode == 1
    rows = audit_rows(done.stdout)
    assert rows == {cell: (str(n), "0", str(-n), "missing_events")
                    for cell, n in cells_of(b).items()}, done.stdout


def test_up_simulate_with_losses_on_purpose_is_audited_exactly(tmp_path: Path) -> None:
    """`tahawul up --simulate --lose-fraction` loses events between the simulated producers
    and the broker; `simulate` with the same seed says which (--lost), and the audit names
    exactly their cells with their differences."""
    import os
    import subprocess
    import sys

    from tests.integration.conftest import REPO

    def cli(*args: str) -> subprocess.CompletedProcess[str]:
        env = {k: v for k, v in os.environ.items() if not k.startswith("TAHAWUL_")}
        env.update({"TAHAWUL_DATA_DIR": str(tmp_path / "data"), "TAHAWUL_SESSION_TIMEOUT": "3"})
        return subprocess.run([sys.executable, "-m", "tahawul", *args], env=env, cwd=REPO,
                              capture_output=True, text=True, timeout=600)

    common = ("--scale", "0.001", "--seed", "5", "--lose-fraction", "0.02")
    made = cli("simulate", *common, "--out", str(tmp_path / "e.jsonl"), "--truth", str(tmp_path / "t.csv"),
               "--lost", str(tmp_path / "lost.jsonl"))
    assert made.returncode == 0, made.stderr
    lost = [orjson.loads(line) for line in (tmp_path / "lost.jsonl").read_bytes().splitlines()]
    missing: dict[tuple[str, str, str, str], int] = defaultdict(int)
    for ev in lost:
        if ev["status"] == "completed":
            day = datetime.fromisoformat(ev["occurred_at"]).astimezone(MUSCAT).date().isoformat()
            missing[(ev["entity"], day, ev["service"], ev["channel"])] += ev["quantity"]
    assert len(missing) >= 5
    up = cli("up", "--simulate", "oman-2025-h1", *common, "--exit-when-done")
    assert up.returncode == 0, up.stderr[-2000:]
    done = cli("audit", "completeness", "--format", "csv")
    assert done.returncode == 1, done.stdout + done.stderr
    found = {}
    for line in done.stdout.splitlines():
        parts = line.split(",")
        if len(parts) == 8 and parts[7] != "status":
            found[(parts[0], parts[1], parts[2], parts[3])] = (int(parts[6]), parts[7])
    assert found == {cell: (-n, "missing_events") for cell, n in missing.items()}, done.stdout
    # The same run is the auditor guide's worked example: its output, through the real pipeline.
    from tests.unit.test_auditor_guide_completeness import example

    (up_line, audit_line), shown = example()
    assert up_line == f"tahawul up --simulate oman-2025-h1 {' '.join(common)} --exit-when-done"
    guide = cli(*audit_line.split()[1:])
    assert guide.returncode == 1
    assert [line.rstrip() for line in guide.stdout.splitlines()] == shown


def test_gateway_totals_bad_totals_and_simulate_send(settings: Settings, tmp_path: Path) -> None:
    """Through the real gateway (signed by the gateway for its entity) a control total is
    stored and audited like the SDK's; a bad one, or one signed by another entity, reaching
    the topic is rejected with its reason (rejected table, dead letter) and stored nowhere
    else; `simulate --send --control-totals --lose-fraction` is audited to its lost events."""
    import httpx
    from kafka import KafkaConsumer, KafkaProducer

    from tahawul.keyring import producer_signers
    from tahawul.schemas.headers import SIGNATURE_HEADER
    from tests.integration.gateway_support import running_gateway

    client = connect(settings.clickhouse_dsn())
    worker = start_worker(settings, tmp_path / "worker.log")
    ct = counter_on(settings, client)
    try:
        issued = tahawul(settings, "credentials", "issue", "ROP", "--note", "totals test")
        assert issued.returncode == 0, issued.stderr
        total = {"kind": "control_total", "schema_version": 1, "entity": "ROP", "day": "2025-03-04",
                 "service": "ROP-VEH-FIRST-REG", "channel": "kiosk", "completed": 9,
                 "stated_at": "2025-03-05T00:00:00+04:00"}
        with running_gateway(settings, tmp_path) as gw:
            r = httpx.post(gw.url + "/v1/transactions", json=[total], timeout=60,
                           headers={"Authorization": f"Bearer {issued.stdout.strip()}"})
            assert r.status_code == 200, r.text
        # Straight onto the topic: a total in the future (signed by ROP), and ROP's total signed
        # by MOH.
        signers = producer_signers(settings)
        raw = KafkaProducer(bootstrap_servers=settings.kafka_bootstrap(), acks="all")
        future = orjson.dumps({**total, "day": "2999-01-01"})
        raw.send(settings.topic_transactions, future, key=b"ROP",
                 headers=[(SIGNATURE_HEADER, signers.sign("ROP", future) or b"")])
        forged = orjson.dumps({**total, "completed": 1})
        raw.send(settings.topic_transactions, forged, key=b"ROP",
                 headers=[(SIGNATURE_HEADER, signers.sign("MOH", forged) or b"")])
        raw.flush()
        raw.close()
        wait_outcomes(ct, 0, 0, 2, 120)
        wait_for(lambda: scalar(client, "SELECT count() FROM control_totals") == 1, 60, "the gateway's total")
        rejected = client.query("SELECT reason_code, entity FROM rejected ORDER BY reason_code").result_rows
        assert rejected == [("day_in_future", "ROP"), ("signature_invalid", "ROP")]
        dlq = KafkaConsumer(settings.topic_dead_letter, bootstrap_servers=settings.kafka_bootstrap(),
                            auto_offset_reset="earliest", consumer_timeout_ms=5000)
        dead = [r for r in dlq]
        dlq.close()
        assert len(dead) == 2 and not any(b"2999-01-01" in r.value for r in dead)  # redacted

        sent = tahawul(settings, "simulate", "--send", "--scale", "0.0005", "--seed", "9",
                       "--control-totals", "--lose-fraction", "0.05")
        assert sent.returncode == 0, sent.stderr
        made = tahawul(settings, "simulate", "--scale", "0.0005", "--seed", "9", "--lose-fraction", "0.05",
                       "--out", str(tmp_path / "e.jsonl"), "--truth", str(tmp_path / "t.csv"),
                       "--lost", str(tmp_path / "lost.jsonl"))
        assert made.returncode == 0, made.stderr
        lost = [orjson.loads(x) for x in (tmp_path / "lost.jsonl").read_bytes().splitlines()]
        n_events = sum(1 for x in (tmp_path / "e.jsonl").read_bytes().splitlines() if b'"kind"' not in x)
        n_totals = sum(1 for x in (tmp_path / "e.jsonl").read_bytes().splitlines() if b'"kind"' in x)
        wait_outcomes(ct, n_events, 0, 2, 180)
        wait_for(lambda: scalar(client, "SELECT count() FROM control_totals") == 1 + n_totals, 60,
                 "the simulated totals")
        ct.halt()
    finally:
        ct.stop.set()
        ct.thread.join(30)
        stop(worker)
        client.close()
    missing: dict[tuple[str, str, str, str], int] = defaultdict(int)
    for ev in lost:
        if ev["status"] == "completed":
            day = datetime.fromisoformat(ev["occurred_at"]).astimezone(MUSCAT).date().isoformat()
            missing[(ev["entity"], day, ev["service"], ev["channel"])] += ev["quantity"]
    missing[("ROP", "2025-03-04", "ROP-VEH-FIRST-REG", "kiosk")] += 9  # the gateway's total, no events
    done = tahawul(settings, "audit", "completeness", "--format", "csv")
    assert done.returncode == 1
    found = {}
    for line in done.stdout.splitlines():
        parts = line.split(",")
        if len(parts) == 8 and parts[7] != "status":
            found[(parts[0], parts[1], parts[2], parts[3])] = int(parts[6])
    assert found == {cell: -n for cell, n in missing.items()}, done.stdout
