"""The counting writer on columns: numpy grouping gives exactly the per-cell tallies a Python
Counter would, minute counts in the store match the events stored cell for cell, and the
linger adapts to how long writes take."""

from __future__ import annotations

import collections
import random
from collections.abc import Sequence
from typing import Any

import numpy as np
import pytest

from tahawul.sinks.clickhouse.store import Store
from tahawul.stream_processors.counter import CountingWriter, Linger
from tahawul.stream_processors.grouping import group, repeated
from tests.unit.factories import apply, envelopes, payload


def test_group_agrees_with_a_counter_of_tuples() -> None:
    rng = np.random.default_rng(3)
    for sizes in ([3, 50, 7, 2], [2**40, 2**40, 5]):  # the second overflows one int64: rows path
        codes = [rng.integers(0, min(size, 9), 2_000) for size in sizes]
        first, inverse = group(codes, sizes)
        rows = list(zip(*(c.tolist() for c in codes), strict=True))
        expected = collections.Counter(rows)
        assert len(first) == len(expected)
        got = collections.Counter(rows[int(first[g])] for g in inverse.tolist())
        assert got == expected
        for g, at in enumerate(first.tolist()):  # first is the group's first row
            assert rows.index(rows[at]) == at
            assert inverse[at] == g


def test_repeated_marks_every_copy_and_only_copies() -> None:
    keys = np.array([5, 1, 5, 9, 1, 7, 5], dtype=np.uint64)
    assert repeated(keys).tolist() == [True, True, True, False, True, False, True]
    assert repeated(np.array([], dtype=np.uint64)).tolist() == []


def test_linger_writes_a_quiet_stream_at_once_and_waits_longer_under_load() -> None:
    linger = Linger(ratio=3.0, most=0.5)
    assert linger.seconds() == 0.0  # nothing written yet: at once
    linger.wrote(0.004)  # a few events: milliseconds
    assert linger.seconds() == pytest.approx(0.012)
    linger.wrote(0.1)  # a large write
    assert linger.seconds() == pytest.approx(0.3)
    linger.wrote(2.0)  # a slow store or a backlog: bounded
    assert linger.seconds() == 0.5
    assert Linger(ratio=0.0, most=0.5).seconds() == 0.0


def test_minute_counts_match_the_stored_events_cell_for_cell(store: Store) -> None:
    rng = random.Random(7)
    counter = CountingWriter(store)
    batch: list[bytes] = []
    for _ in range(400):
        minute = rng.randrange(0, 5)
        batch.append(payload(
            occurred_at=f"2025-03-04T09:{10 + minute:02d}:{rng.randrange(60):02d}.000+04:00",
            channel=rng.choice(["portal", "counter"]), status=rng.choice(["completed", "abandoned"]),
            governorate=rng.choice(["OM-BS", "OM-MA"]), quantity=rng.choice([1, 1, 1, 3, 250])))
    resent = batch[:20]  # resends inside the batch and in the next one
    apply(counter, envelopes(0, 0, batch[:250] + resent) + envelopes(1, 0, batch[250:]))
    apply(counter, envelopes(0, 270, resent))
    rows = store.client.query(
        "SELECT minute, governorate, entity, service, channel, mode, status, sum(transactions), "
        "sum(events) FROM counts_minute GROUP BY ALL").result_rows
    expected = store.client.query(
        "SELECT toStartOfMinute(occurred_at), governorate, entity, service, channel, mode, status, "
        "sum(quantity), count() FROM events GROUP BY ALL").result_rows
    assert sorted(map(_plain, rows)) == sorted(map(_plain, expected))
    assert sum(r[8] for r in rows) == 400
    assert store.client.query("SELECT count() FROM duplicates").result_rows[0][0] == 40


def _plain(row: Sequence[Any]) -> tuple[Any, ...]:
    return (row[0].replace(tzinfo=None), *row[1:7], int(row[7]), int(row[8]))
