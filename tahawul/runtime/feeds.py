"""Input for the local pipeline: what `tahawul up` sends to the transactions topic.

A feed is an iterator of (payload, key, headers) records; :func:`send_feed` sends one from a
thread and records in a :class:`~tahawul.runtime.local.Run` how far it got and which offsets
the broker acknowledged, which is what "caught up" is measured against.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import TextIO

from tahawul.producers.file_send import detect_format, iter_file
from tahawul.producers.kafka_sender import EventSender
from tahawul.producers.partition_keys import payload_key
from tahawul.runtime.local import Run
from tahawul.schemas.control_total import parse_either
from tahawul.schemas.event import InvalidEvent
from tahawul.schemas.headers import SOURCE_HEADER
from tahawul.schemas.reference import load_catalogue

log = logging.getLogger(__name__)

Feed = Iterator[tuple[bytes, bytes | None, list[tuple[str, bytes]] | None]]


class FileFeed:
    """The lines of a JSONL file or of a CSV tally file (the same formats as `tahawul send`,
    told apart the same way). Invalid lines are reported here with their line number and
    counted in ``rejected``; invalid JSONL lines are still sent, so the pipeline records
    them in the dead-letter path with the same reason (a CSV row that cannot become an
    event has no payload to send)."""

    def __init__(self, path: Path, report: TextIO, max_reported: int = 20) -> None:
        self.path = path
        self.report = report
        self.max_reported = max_reported
        self.rejected = 0

    def _reject(self, number: int, exc: InvalidEvent) -> None:
        self.rejected += 1
        if self.rejected <= self.max_reported:
            print(f"{self.path.name}:{number}: rejected ({exc.code}): {exc.message}", file=self.report)
        elif self.rejected == self.max_reported + 1:
            print(f"{self.path.name}: more rejected lines; see the rejected table", file=self.report)

    def __iter__(self) -> Feed:
        catalogue = load_catalogue()
        for number, item in iter_file(self.path, detect_format(self.path), self.path.name, _no_progress):
            if isinstance(item, InvalidEvent):
                self._reject(number, item)
                continue
            try:
                parse_either(item, catalogue)  # an event or a control total
            except InvalidEvent as exc:
                self._reject(number, exc)
            yield item, payload_key(item), [(SOURCE_HEADER, f"{self.path.name}:{number}".encode())]


def _no_progress(_: int) -> None:
    pass


def simulation_feed(profile: str, scale: float, seed: int, duplicates: float, invalid: float,
                    control_totals: bool = False, lose_fraction: float = 0.0) -> Feed:
    from tahawul.producers.simulator import iter_simulation
    from tahawul.producers.simulator.control_totals import with_control_totals

    lines = iter_simulation(profile, scale, seed, duplicate_rate=duplicates, invalid_rate=invalid)
    if control_totals or lose_fraction:  # the entities' own totals after the events
        lines = with_control_totals(lines, seed, lose_fraction)
    for line in lines:
        # Keyed ENTITY/<event_id> (producers/partition_keys.py): one entity's events spread
        # over the partitions, copies of one event share one.
        yield line.data, payload_key(line.data), None


# How often (in events fed) the feed looks at how far ahead of the pipeline it is.
LAG_CHECK_EVERY = 1000
LAG_POLL_S = 0.005


def records_ahead(sender: EventSender, run: Run) -> int:
    """Records the feed has sent that the pipeline has not applied yet: those the broker has
    not acknowledged (in the producer's buffer or on the wire) and those it has, beyond the
    source offsets the counting writer applied (dead-lettered records move those offsets too,
    so this always drains)."""
    unacknowledged = sender.records_sent - sender.acked_count - sender.unconfirmed - len(sender.errors)
    acked = dict(sender.acked)
    with run.lock:
        applied = {p: off for (topic, p), off in run.progress.items() if topic == sender.topic}
    return max(0, unacknowledged) + sum(max(0, off - applied.get(p, -1)) for p, off in acked.items())


def wait_for_room(sender: EventSender, run: Run, max_ahead: int,
                  stop: threading.Event | None = None) -> None:
    """Block while more than ``max_ahead`` records are sent but not applied (see
    :func:`records_ahead`): the backpressure that keeps a fast feed from filling the
    producer's buffer (whose records then expire unsent) and the broker's log (in memory for
    the embedded broker) faster than the pipeline counts them."""
    while records_ahead(sender, run) > max_ahead and not sender.errors \
            and not (stop is not None and stop.is_set()):
        time.sleep(LAG_POLL_S)


def close_feed(sender: EventSender, run: Run) -> None:
    """End a feed: close ``sender`` (waiting for the broker's acknowledgements), then record
    the acknowledged offsets in ``run`` and mark the feed done, also after a failure, so
    that a caller never waits for records that were not sent."""
    sender.close()
    with run.lock:
        run.acked = dict(sender.acked)
        run.feed_done = True


def send_feed(sender: EventSender, feed: Feed, run: Run, stop: threading.Event | None = None,
              max_ahead: int | None = None) -> None:
    """Send every record of ``feed`` (until ``stop`` is set; records without headers in
    batched records when ``sender`` batches), wait for the broker's acknowledgements, then
    record the acknowledged offsets in ``run`` (also when sending failed, so that a caller
    never waits for records that were not sent). ``max_ahead``: at most about that many
    records sent and not yet applied by the counting writer (:func:`wait_for_room`)."""
    try:
        for payload, key, headers in feed:
            if stop is not None and stop.is_set():
                break
            if max_ahead is not None and run.fed % LAG_CHECK_EVERY == 0:
                wait_for_room(sender, run, max_ahead, stop)
            if headers is None:  # batched with others of its key when the sender batches
                sender.add(payload, key)
            else:  # a record that says where it came from travels on its own
                sender.send(payload, key, headers)
            run.fed += 1
        sender.flush()
    except Exception as exc:
        run.feed_error = str(exc)
        log.exception("feeding input failed")
    finally:
        close_feed(sender, run)
