"""Batched records (one Kafka record carrying many events, as the gateway and `tahawul send`
make them) through the real pipeline: exact counts, per-event rejections and dead letters,
through repeated worker SIGKILLs and a SIGKILL of the counting writer.

The events of a batched record share its offset, so these are the cases where a record cut
across two envelopes, or a worker re-sending part of one, would lose or double events."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pytest

from tahawul.runtime.local import Workers, WriterThread
from tahawul.schemas.headers import BATCH_HEADER, SOURCE_INDEX_HEADER
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
from tests.integration.test_pipeline import consume_all

pytestmark = pytest.mark.integration


def test_batched_records_are_exact_through_repeated_worker_sigkills(
    settings: Settings, workers: Workers, start_counter: Callable[[], WriterThread]
) -> None:
    # Small batches (about 60 events a record over the run's 8 partitions) so that the run
    # lasts long enough to kill the worker five times while it works.
    truth, acked = feed(settings, 0.2, 41, dup=0.02, bad=0.02, batch=60)
    assert truth.lines >= 200_000
    proc = workers.start()
    ct = start_counter()
    total = truth.valid + truth.duplicate + truth.invalid
    ct.run.acked, ct.run.feed_done = acked, True  # everything was sent before the worker started
    for kill in range(5):
        # Kill k once k/12 of the events are applied. The marks are absolute: the writer
        # applies up to 50,000 events a write, so marks relative to the last kill could let
        # the run end before the fifth (and then wait in vain).
        mark = (kill + 1) * total // 12
        wait_for(lambda mark=mark: ct.run.counted + ct.run.duplicates + ct.run.rejected >= mark
                 or ct.run.caught_up(settings.topic_transactions), 120,
                 f"the worker to make progress before kill {kill + 1}")
        workers.kill(proc)  # mid-run: some envelopes sent, their source offsets not committed
        proc = workers.start()
    assert not ct.run.caught_up(settings.topic_transactions), "the run ended before the kills"
    wait_applied(ct, settings, acked, 600, workers)
    assert_exact(ct, truth)
    assert scalar(ct, "SELECT count() FROM rejected") == truth.invalid
    assert scalar(ct, "SELECT count() FROM duplicates") == truth.duplicate


def test_batched_records_are_exact_through_a_counter_sigkill(
    settings: Settings, workers: Workers, start_counter: Callable[[], WriterThread],
    tmp_path: Path,
) -> None:
    workers.start()
    counter_proc, log = start_counter_process(settings, tmp_path / "counter.log")
    truth, acked = feed(settings, 0.05, 42, dup=0.03, bad=0.03, batch=200)
    sigkill_after_commits(counter_proc, log, settings, 3, 120)
    ct = start_counter()  # recovers the store, then finishes the run
    wait_applied(ct, settings, acked, 300, workers)
    assert_exact(ct, truth)
    assert scalar(ct, "SELECT count() FROM rejected") == truth.invalid
    assert scalar(ct, "SELECT count() FROM duplicates") == truth.duplicate
    # The worker was never killed: every rejected event is in the dead-letter topic exactly
    # once, as its own redacted form, with its place in the batched record it came in.
    dead = consume_all(settings, settings.topic_dead_letter, truth.invalid)
    assert len(dead) == truth.invalid
    indexed = [r for r in dead if SOURCE_INDEX_HEADER in dict(r.headers)]
    assert len(indexed) >= truth.invalid * 0.9
    assert all(b"\n" not in r.value for r in indexed)
    assert all(BATCH_HEADER not in dict(r.headers) for r in dead)
