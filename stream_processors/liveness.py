"""A worker that owns partitions with records waiting and reads none of them ends itself.

Faust can hold partitions and never fetch some of them after a join or a rebalance
(a known faust-streaming bug: "Aiokafka has not sent fetch request for TP ... since
start"). Such a worker heartbeats, so the group never gives its partitions to anyone else:
nothing of them is counted, for good, while every process looks healthy (`tahawul up`'s stop
then waits for ever). Its own fetcher cannot tell, so the rule looks from outside it, with
clients of its own: the broker's end offsets of the transactions topic and the worker
group's committed offsets. A partition this worker owns whose committed offset is below its
end and has not moved for TAHAWUL_WORKER_IDLE_SECONDS, while no batch is in progress, makes
the worker exit with STUCK_EXIT (75): `tahawul up`, systemd or Kubernetes restart it, and
the new consumer fetches from the committed offsets. Nothing is lost or doubled: what was
not committed is read again and the counting writer skips what it applied
(docs/exactly-once.md).

A batch in progress is the stuck-batch watchdog's business (TAHAWUL_WORKER_STUCK_SECONDS):
while one runs, this rule decides nothing. Whatever it cannot read (the broker away) it
does not judge, and the clock of a partition starts again once it can."""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable, Collection, Mapping
from dataclasses import dataclass
from typing import Any

from kafka import TopicPartition

from tahawul.kafka_admin import admin, committed_offsets
from tahawul.kafka_clients import KafkaConsumer
from tahawul.kafka_security import KafkaSecurity
from tahawul.settings import Settings

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class Offsets:
    """Where the partitions of the transactions topic stand at the broker."""

    committed: Mapping[int, int]  # the worker group's next offset to read (absent: none committed)
    beginning: Mapping[int, int]  # the first offset the log still holds
    end: Mapping[int, int]  # the offset the next record will get


class IdleRule:
    """Which owned partitions have had records waiting, and the same committed offset, for
    ``seconds`` of time with no batch in progress (see the module). Fed by :meth:`check`
    every few seconds.

    Only time between batches counts: a long batch is the stuck-batch watchdog's business,
    and its offsets are committed just after it ends. A partition left behind while others
    flow still adds up its idle time between their batches."""

    def __init__(self, seconds: float, clock: Callable[[], float] = time.monotonic) -> None:
        self.seconds = seconds
        self.clock = clock
        self._idle: dict[int, tuple[int, float]] = {}  # partition -> (read from, idle seconds)
        self._last: float | None = None

    def check(self, owned: Collection[int], offsets: Offsets | None, busy: bool) -> list[int]:
        """The partitions stalled for ``seconds``; when ``offsets`` could not be read, none
        (and every partition's idle time starts again)."""
        now = self.clock()
        elapsed = 0.0 if self._last is None or busy else now - self._last
        self._last = now
        if offsets is None:
            self._idle.clear()
            return []
        idle: dict[int, tuple[int, float]] = {}
        for p in sorted(owned):
            read_from = max(offsets.committed.get(p, 0), offsets.beginning.get(p, 0))
            if offsets.end.get(p, 0) <= read_from:
                continue  # nothing waiting
            previous = self._idle.get(p)
            idle[p] = (read_from, previous[1] + elapsed if previous and previous[0] == read_from else 0.0)
        self._idle = idle
        return [p for p, (_, seconds) in idle.items() if seconds >= self.seconds]


class OffsetReader:
    """Reads :class:`Offsets` with kafka-python clients of its own, independent of the
    worker's Faust consumer (whose fetcher is what may be stalled)."""

    def __init__(self, bootstrap: str, group: str, topic: str, partitions: int,
                 security: KafkaSecurity) -> None:
        self.bootstrap = bootstrap
        self.group = group
        self.topic = topic
        self.partitions = [TopicPartition(topic, p) for p in range(partitions)]
        self.security = security
        self._admin: Any = None
        self._consumer: KafkaConsumer | None = None

    def read(self) -> Offsets | None:
        """The offsets now, or None if the broker did not answer (logged at INFO)."""
        try:
            if self._admin is None:
                self._admin = admin(self.bootstrap, timeout=5.0, security=self.security)
            if self._consumer is None:
                self._consumer = KafkaConsumer(bootstrap_servers=self.bootstrap, group_id=None,
                                               enable_auto_commit=False, request_timeout_ms=10_000,
                                               **self.security.client_options())
            committed = committed_offsets(self._admin, self.group, self.topic)
            beginning = self._consumer.beginning_offsets(self.partitions)
            end = self._consumer.end_offsets(self.partitions)
            return Offsets(committed, {tp.partition: o for tp, o in beginning.items()},
                           {tp.partition: o for tp, o in end.items()})
        except Exception as exc:  # the broker away, a timeout: not a reason to exit
            log.info("liveness: offsets of %s not read (%s)", self.topic, exc)
            self.close()
            return None

    def close(self) -> None:
        for client in (self._admin, self._consumer):
            try:
                if client is not None:
                    client.close()
            except Exception:  # closing a client whose broker is gone
                pass
        self._admin = self._consumer = None


def watch_idle(rule: IdleRule, owned: Callable[[], Collection[int]], reader: OffsetReader,
               busy: Callable[[], bool], exit: Callable[[int, str], Any], code: int,
               interval: float) -> threading.Thread:
    """Apply ``rule`` every ``interval`` seconds from a daemon thread (it must act while the
    event loop waits on a fetch that never comes); ``exit(code, why)`` on a stall."""

    def watch() -> None:
        while True:
            time.sleep(interval)
            mine = owned()
            offsets = reader.read() if mine else None
            stalled = rule.check(mine, offsets, busy())
            if stalled and offsets is not None:
                waiting = ", ".join(
                    f"{p} (committed {offsets.committed.get(p, 'none')}, end {offsets.end.get(p)})"
                    for p in stalled)
                exit(code, f"partitions of {reader.topic} this worker owns have had records waiting "
                     f"and nothing read for {rule.seconds:g} s (TAHAWUL_WORKER_IDLE_SECONDS): "
                     f"{waiting}; exiting so that a new consumer fetches them (nothing uncommitted "
                     "is lost: it is read again)")
                return  # the exit did not end the process (a test's): the watch is over

    thread = threading.Thread(target=watch, name="worker-liveness", daemon=True)
    thread.start()
    return thread


def start_idle_watch(settings: Settings, assignment: Callable[[], Collection[Any]],
                     busy: Callable[[], bool], exit: Callable[[int, str], Any],
                     code: int) -> threading.Thread | None:
    """The rule for a worker of ``settings``: ``assignment()`` gives the consumer's topic
    partitions (it may raise while the consumer starts: owning nothing then). None when the
    settings name no broker."""
    bootstrap = settings.kafka_bootstrap()
    if bootstrap is None:
        return None
    topic = settings.topic_transactions

    def owned() -> set[int]:
        try:
            return {tp.partition for tp in assignment() if tp.topic == topic}
        except Exception:  # the consumer not started yet, or stopping
            return set()

    reader = OffsetReader(bootstrap, settings.worker_group, topic, settings.partitions,
                          settings.kafka_security())
    interval = max(0.5, min(10.0, settings.worker_idle_seconds / 6))
    return watch_idle(IdleRule(settings.worker_idle_seconds), owned, reader, busy, exit, code, interval)
