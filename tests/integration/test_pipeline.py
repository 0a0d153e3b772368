"""The processing path on real parts: broker, worker processes, counting writer, chDB.

Workers are SIGKILLed and restarted, run two at a time with a rebalance in the middle, and
the counting writer itself is SIGKILLed; every time the published view must equal the
simulator's truth exactly.
"""

from __future__ import annotations

import csv
import random
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from kafka import KafkaConsumer

from producers.kafka_sender import EventSender
from producers.simulator import Truth, iter_simulation
from tahawul.kafka_admin import admin
from tahawul.settings import Settings
from tests.integration.conftest import REPO, CounterThread, Workers, env_for, wait_for

pytestmark = pytest.mark.integration


def feed(settings: Settings, scale: float, seed: int, dup: float = 0.02, bad: float = 0.02,
         on_sent: Callable[[int], None] | None = None) -> tuple[Truth, dict[int, int]]:
    """Send a simulated run; return its truth and the highest acked offset per partition."""
    truth = Truth()
    sender = EventSender(settings.kafka_bootstrap() or "", settings.topic_transactions)
    try:
        for n, line in enumerate(iter_simulation("oman-2025-h1", scale, seed, dup, bad), start=1):
            sender.send(line.data, line.entity.encode() if line.entity else None)
            truth.add(line)
            if on_sent is not None:
                on_sent(n)
        sender.flush()
        return truth, dict(sender.acked)
    finally:
        sender.close()


def published(ct: CounterThread) -> dict[tuple[str, ...], int]:
    rows = ct.store.client.query(
        "SELECT toString(day), governorate, entity, service, channel, mode, transactions "
        "FROM v_counts_daily WHERE transactions > 0"
    ).result_rows
    return {tuple(r[:6]): int(r[6]) for r in rows}


def expected(truth: Truth) -> dict[tuple[str, ...], int]:
    return {(r[0].isoformat(), *r[1:6]): int(r[6]) for r in truth.rows()}


def wait_applied(ct: CounterThread, settings: Settings, acked: dict[int, int], timeout: float) -> None:
    ct.run.acked = acked
    ct.run.feed_done = True
    wait_for(lambda: ct.run.caught_up(settings.topic_transactions), timeout,
             "the counter to apply every acknowledged record")


def scalar(ct: CounterThread, sql: str) -> int:
    return int(ct.store.client.query(sql).result_rows[0][0])


def test_pipeline_is_exact_with_duplicates_and_invalid_events(
    settings: Settings, workers: Workers, start_counter: Callable[[], CounterThread]
) -> None:
    workers.start()
    ct = start_counter()
    truth, acked = feed(settings, 0.01, 11)
    wait_applied(ct, settings, acked, 120)
    assert published(ct) == expected(truth)
    assert scalar(ct, "SELECT count() FROM rejected") == truth.invalid
    assert scalar(ct, "SELECT count() FROM duplicates") == truth.duplicate
    assert scalar(ct, "SELECT count() FROM events") == truth.valid
    # The dead-letter topic holds every rejected payload with its reason (no crash here,
    # so its at-least-once delivery is exactly once).
    dead = consume_all(settings, settings.topic_dead_letter, truth.invalid)
    assert len(dead) == truth.invalid
    reasons = {dict(r.headers)["tahawul-reason"].decode() for r in dead}
    assert {"not_json", "unknown_entity"} <= reasons


def consume_all(settings: Settings, topic: str, expected: int) -> list[Any]:
    consumer = KafkaConsumer(topic, bootstrap_servers=settings.kafka_bootstrap(),
                             auto_offset_reset="earliest", enable_auto_commit=False,
                             consumer_timeout_ms=3000)
    try:
        records: list[Any] = []
        for record in consumer:
            records.append(record)
            if len(records) >= expected:
                break
        return records
    finally:
        consumer.close()


def test_worker_sigkilled_repeatedly_still_exact(
    settings: Settings, workers: Workers, start_counter: Callable[[], CounterThread]
) -> None:
    rng = random.Random(5)
    proc = workers.start()
    ct = start_counter()
    kills = 0
    sent_marks = sorted(rng.sample(range(2_000, 40_000), 4))

    def maybe_kill(n: int) -> None:
        nonlocal proc, kills
        if sent_marks and n >= sent_marks[0]:
            sent_marks.pop(0)
            wait_for(lambda: ct.run.counted + ct.run.rejected > 0 or kills > 0, 60,
                     "the worker to make progress before it is killed")
            workers.kill(proc)
            kills += 1
            proc = workers.start()

    truth, acked = feed(settings, 0.04, 12, on_sent=maybe_kill)
    assert kills == 4
    wait_applied(ct, settings, acked, 240)
    assert published(ct) == expected(truth)
    assert scalar(ct, "SELECT count() FROM rejected") == truth.invalid
    assert scalar(ct, "SELECT count() FROM events") == truth.valid


def test_two_workers_with_a_rebalance_are_exact(
    settings: Settings, workers: Workers, start_counter: Callable[[], CounterThread]
) -> None:
    workers.start()
    ct = start_counter()
    second_started = False

    def add_worker(n: int) -> None:
        nonlocal second_started
        if n == 8_000 and not second_started:
            workers.start()
            second_started = True

    truth, acked = feed(settings, 0.02, 13, on_sent=add_worker)
    assert second_started
    wait_applied(ct, settings, acked, 180)
    assert published(ct) == expected(truth)


def test_counter_sigkilled_mid_run_recovers_exactly(
    settings: Settings, workers: Workers, start_counter: Callable[[], CounterThread],
    tmp_path: Path,
) -> None:
    workers.start()
    log = (tmp_path / "counter.log").open("wb")
    counter_proc = subprocess.Popen([sys.executable, "-m", "tahawul", "counter"],
                                    env=env_for(settings), stdout=log, stderr=subprocess.STDOUT,
                                    cwd=REPO)
    truth, acked = feed(settings, 0.02, 14)
    # Let it commit some batches (its consumer-group offsets move), then kill it mid-run.
    wait_for(lambda: counter_proc.poll() is not None or _committed(settings) >= 5, 60,
             "the counter to commit some batches")
    assert counter_proc.poll() is None, "the counter exited by itself"
    counter_proc.kill()
    counter_proc.wait()
    log.close()
    ct = start_counter()  # recovers the store, then finishes the run
    wait_applied(ct, settings, acked, 180)
    assert published(ct) == expected(truth)
    assert scalar(ct, "SELECT count() FROM events") == truth.valid
    assert scalar(ct, "SELECT count() FROM rejected") == truth.invalid


def _committed(settings: Settings) -> int:
    """Validated-topic records the counter group has committed (its applied batches)."""
    client = admin(settings.kafka_bootstrap() or "")
    try:
        offsets = client.list_group_offsets(settings.counter_group)
    finally:
        client.close()
    metas = offsets.get(settings.counter_group, offsets)  # {group: {tp: meta}} in kafka-python 3
    return sum(meta.offset for meta in metas.values() if meta.offset > 0)


def test_truth_file_matches_published_view_format(tmp_path: Path) -> None:
    """The truth CSV the CLI writes is what the comparisons above use."""
    truth = Truth()
    for line in iter_simulation("oman-2025-h1", 0.001, 1):
        truth.add(line)
    path = tmp_path / "truth.csv"
    truth.write_csv(path)
    with path.open() as fh:
        rows = list(csv.DictReader(fh))
    assert list(rows[0]) == ["day", "governorate", "entity", "service", "channel", "mode", "transactions"]
    assert sum(int(r["transactions"]) for r in rows) == sum(r[6] for r in truth.rows())
