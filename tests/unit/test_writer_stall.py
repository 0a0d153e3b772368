"""A counting writer whose Kafka consumer reads nothing while envelopes wait gets a new one
(stream_processors/writer_stall.py): kafka-python's consumer was once dropped from its group
after the broker stood still, and never rejoined nor fetched again."""

from __future__ import annotations

from tahawul.stream_processors.writer_stall import QuietTimer, delivered_not_applied, stall_message
from tests.unit.factories import FakeClock


def test_polls_that_bring_nothing_are_noticed_after_the_period_then_each_period() -> None:
    clock = FakeClock(50.0)
    quiet = QuietTimer(60.0, clock)
    clock.now += 59.9
    assert not quiet.due()
    clock.now += 0.1
    assert quiet.due()
    clock.now += 30
    assert not quiet.due()
    clock.now += 30
    assert quiet.due()


def test_a_poll_that_brings_envelopes_starts_the_period_again() -> None:
    clock = FakeClock(50.0)
    quiet = QuietTimer(60.0, clock)
    clock.now += 59
    quiet.brought()
    clock.now += 59
    assert not quiet.due()
    clock.now += 1
    assert quiet.due()


def test_records_the_workers_delivered_and_the_writer_did_not_apply() -> None:
    # the worker group's committed offset is the next record to read: 10 means 0..9 delivered
    assert delivered_not_applied({0: 9, 1: 3}, {0: 10, 1: 8, 2: 1}) == {1: (3, 7), 2: (-1, 0)}
    assert delivered_not_applied({0: 9}, {0: 10}) == {}  # caught up: nothing to replace
    assert delivered_not_applied({0: 9}, {}) == {}  # the group has committed nothing
    assert stall_message(60.0, {1: (3, 7)}) == (
        "the counting writer's polls have brought nothing for 60 s while the workers delivered "
        "records it has not applied (partition 1: applied to 3, delivered to 7); replacing its "
        "Kafka consumer")
