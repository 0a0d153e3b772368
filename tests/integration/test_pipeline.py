"""The processing path on real parts: broker, worker processes, counting writer, chDB.

Workers are SIGKILLed and restarted, run two at a time with a rebalance in the middle, and
the counting writer itself is SIGKILLed; every time the published view must equal the
simulator's truth exactly.
"""

from __future__ import annotations

import csv
import random
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from kafka import KafkaConsumer

from tahawul.producers.simulator import Truth, iter_simulation
from tahawul.runtime.local import Workers, WriterThread
from tahawul.settings import Settings
from tests.integration.conftest import wait_for
from tests.integration.helpers import (
    assert_exact,
    feed,
    scalar,
    sigkill_after_commits,
    start_counter_process,
    wait_applied,
)

pytestmark = pytest.mark.integration


def test_pipeline_is_exact_with_duplicates_and_invalid_events(
    settings: Settings, workers: Workers, start_counter: Callable[[], WriterThread]
) -> None:
    workers.start()
    ct = start_counter()
    truth, acked = feed(settings, 0.01, 11)
    wait_applied(ct, settings, acked, 120, workers)
    assert_exact(ct, truth)
    assert scalar(ct, "SELECT count() FROM rejected") == truth.invalid
    assert scalar(ct, "SELECT count() FROM duplicates") == truth.duplicate
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
    settings: Settings, workers: Workers, start_counter: Callable[[], WriterThread]
) -> None:
    rng = random.Random(5)
    proc = workers.start()
    ct = start_counter()
    kills = 0
    sent_marks = sorted(rng.sample(range(10_000, 200_000), 5))

    def maybe_kill(n: int) -> None:
        nonlocal proc, kills
        if sent_marks and n >= sent_marks[0]:
            sent_marks.pop(0)
            wait_for(lambda: ct.run.counted + ct.run.rejected > 0 or kills > 0, 60,
                     "the worker to make progress before it is killed")
            workers.kill(proc)
            kills += 1
            proc = workers.start()

    started = time.monotonic()
    truth, acked = feed(settings, 0.18, 12, on_sent=maybe_kill)
    fed = time.monotonic()
    assert truth.lines >= 200_000
    assert kills == 5
    wait_applied(ct, settings, acked, 600, workers)
    print(f"\n{truth.lines} events, {kills} worker SIGKILLs: sent in {fed - started:.1f} s, "
          f"all applied {time.monotonic() - fed:.1f} s after the last was acknowledged")
    assert_exact(ct, truth)
    assert scalar(ct, "SELECT count() FROM rejected") == truth.invalid


def test_two_workers_with_a_rebalance_are_exact(
    settings: Settings, workers: Workers, start_counter: Callable[[], WriterThread]
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
    wait_applied(ct, settings, acked, 180, workers)
    assert_exact(ct, truth)


@pytest.mark.both_brokers
def test_counter_sigkilled_mid_run_recovers_exactly(
    settings: Settings, workers: Workers, start_counter: Callable[[], WriterThread],
    tmp_path: Path,
) -> None:
    workers.start()
    counter_proc, log = start_counter_process(settings, tmp_path / "counter.log")
    truth, acked = feed(settings, 0.02, 14)
    # Let it commit some batches (its consumer-group offsets move), then kill it mid-run.
    sigkill_after_commits(counter_proc, log, settings, 5, 60)
    ct = start_counter()  # recovers the store, then finishes the run
    wait_applied(ct, settings, acked, 180, workers)
    assert_exact(ct, truth)
    assert scalar(ct, "SELECT count() FROM events") == truth.valid
    assert scalar(ct, "SELECT count() FROM rejected") == truth.invalid


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
