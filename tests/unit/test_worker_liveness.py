"""A worker that owns partitions with records waiting and reads none of them ends itself
(stream_processors/liveness.py): Faust can hold partitions it never fetches after a
rebalance, and `tahawul up --broker kafka`'s stop then waited for ever (issue 14)."""

from __future__ import annotations

import threading
from typing import Any

from tahawul.stream_processors.liveness import IdleRule, Offsets, watch_idle
from tests.unit.factories import FakeClock


def offsets(committed: dict[int, int], end: dict[int, int]) -> Offsets:
    return Offsets(committed, {p: 0 for p in end}, end)


def test_an_owned_partition_with_records_waiting_and_nothing_read_is_stalled_after_the_period() -> None:
    clock = FakeClock(1000.0)
    rule = IdleRule(120.0, clock)
    stuck = offsets({0: 40, 1: 10}, {0: 40, 1: 57})  # partition 1: 47 records waiting
    for _ in range(12):
        assert rule.check({0, 1}, stuck, busy=False) == []
        clock.now += 10
    assert rule.check({0, 1}, stuck, busy=False) == [1]


def test_progress_nothing_waiting_or_not_owning_is_never_a_stall() -> None:
    clock = FakeClock(1000.0)
    rule = IdleRule(120.0, clock)
    committed = 10
    for _ in range(30):  # reading slowly: the committed offset moves
        committed += 1
        assert rule.check({0}, offsets({0: committed}, {0: 500}), busy=False) == []
        clock.now += 10
    for _ in range(30):  # caught up
        assert rule.check({0}, offsets({0: 500}, {0: 500}), busy=False) == []
        clock.now += 10
    for _ in range(30):  # records waiting on a partition another worker owns
        assert rule.check({1}, offsets({0: 500}, {0: 900}), busy=False) == []
        clock.now += 10
    # nothing committed yet, and the log's start is past what is waiting: nothing to read
    assert rule.check({2}, Offsets({}, {2: 70}, {2: 70}), busy=False) == []
    clock.now += 500
    assert rule.check({2}, Offsets({}, {2: 70}, {2: 70}), busy=False) == []


def test_only_time_between_batches_counts() -> None:
    clock = FakeClock(1000.0)
    rule = IdleRule(120.0, clock)
    stuck = offsets({0: 10}, {0: 57})
    rule.check({0}, stuck, busy=False)
    for _ in range(20):  # a long batch: its offsets are committed only when it ends
        clock.now += 10
        assert rule.check({0}, stuck, busy=True) == []
    for _ in range(11):
        clock.now += 10
        assert rule.check({0}, stuck, busy=False) == []
    clock.now += 10
    assert rule.check({0}, stuck, busy=False) == [0]


def test_a_partition_left_behind_while_others_flow_is_found() -> None:
    clock = FakeClock(1000.0)
    rule = IdleRule(120.0, clock)
    flowing = 0
    found: list[int] = []
    for i in range(100):  # batches of partition 0 half of the time; partition 1 never read
        flowing += 5
        clock.now += 5
        found = rule.check({0, 1}, offsets({0: flowing, 1: 3}, {0: 10_000, 1: 90}), busy=i % 2 == 0)
        if found:
            break
    assert found == [1]
    assert 230 <= clock.now - 1000 <= 250  # 120 s between batches, in 240 s


def test_offsets_not_read_decide_nothing_and_restart_the_clock() -> None:
    clock = FakeClock(1000.0)
    rule = IdleRule(120.0, clock)
    stuck = offsets({0: 10}, {0: 57})
    rule.check({0}, stuck, busy=False)
    clock.now += 100
    assert rule.check({0}, None, busy=False) == []  # the broker away
    clock.now += 100
    assert rule.check({0}, stuck, busy=False) == []
    clock.now += 119
    assert rule.check({0}, stuck, busy=False) == []
    clock.now += 1
    assert rule.check({0}, stuck, busy=False) == [0]


def test_the_watch_exits_with_the_code_and_says_which_partitions() -> None:
    class Reader:
        topic = "tx"

        def read(self) -> Offsets:
            return offsets({3: 12}, {3: 40})

    exited = threading.Event()
    calls: list[tuple[int, str]] = []

    def exit(code: int, why: str) -> Any:
        calls.append((code, why))
        exited.set()

    watch_idle(IdleRule(0.05), lambda: {3}, Reader(), lambda: False, exit, 75, 0.02)  # type: ignore[arg-type]
    assert exited.wait(10)
    code, why = calls[0]
    assert code == 75
    assert "3 (committed 12, end 40)" in why and "TAHAWUL_WORKER_IDLE_SECONDS" in why
