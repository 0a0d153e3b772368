"""A stop of `tahawul up` that counts nothing for a while says why, instead of a silent wait
(tahawul.runtime.stall)."""

from __future__ import annotations

from pathlib import Path

from tahawul.runtime.local import Run
from tahawul.runtime.stall import StallWatch, stall_report
from tests.unit.factories import FakeClock


def test_a_count_unchanged_for_the_period_is_reported_then_again_each_period() -> None:
    clock = FakeClock(100.0)
    watch = StallWatch(30.0, clock)
    assert not watch.due(40)  # first seen
    clock.now += 29.9
    assert not watch.due(40)
    clock.now += 0.1
    assert watch.due(40)
    clock.now += 10
    assert not watch.due(40)  # said once; again only after another period
    clock.now += 20
    assert watch.due(40)


def test_progress_restarts_the_period_and_zero_or_unknown_is_never_a_stall() -> None:
    clock = FakeClock(100.0)
    watch = StallWatch(30.0, clock)
    watch.due(40)
    clock.now += 25
    assert not watch.due(12)  # something was counted
    clock.now += 25
    assert not watch.due(12)
    clock.now += 5
    assert watch.due(12)
    for left in (0, None):
        watch = StallWatch(30.0, clock)
        watch.due(left)
        clock.now += 100
        assert not watch.due(left)


def test_the_report_names_each_partition_behind_and_where_the_worker_group_stands() -> None:
    run = Run()
    run.progress = {("tx", 0): 9, ("tx", 1): 3, ("other", 2): 50}
    line = stall_report(30.0, run, "tx", {0: 9, 1: 7, 2: 4}, ("Stable with 1 member(s)", {0: 10, 1: 4}),
                        None, True)
    assert line == ("stopping: nothing counted for 30 s; 9 record(s) not counted, "
                    "partition 1: 4 (counted to offset 3 of 7, the workers committed to 3); "
                    "partition 2: 5 (counted to offset -1 of 4, the workers committed none); "
                    "worker group Stable with 1 member(s); counting writer running")


def test_the_report_says_why_the_group_is_not_known_and_how_the_workers_are(tmp_path: Path) -> None:
    class Proc:
        pid = 4242

        def __init__(self, code: int | None) -> None:
            self.returncode = code

        def poll(self) -> int | None:
            return self.returncode

    class Workers:
        def __init__(self) -> None:
            self.log_dir = tmp_path
            self.procs = [Proc(None), Proc(75)]

    run = Run()
    line = stall_report(60.0, run, "tx", {0: 1}, "KafkaUnavailable: cannot reach Kafka", Workers(),  # type: ignore[arg-type]
                        False)
    assert line == ("stopping: nothing counted for 60 s; 2 record(s) not counted, "
                    "partition 0: 2 (counted to offset -1 of 1); "
                    "worker group not described (KafkaUnavailable: cannot reach Kafka); "
                    "worker 0 running (pid 4242), worker 1 exited with 75 (pid 4242); "
                    f"counting writer stopped (logs: {tmp_path})")

