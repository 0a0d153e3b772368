"""Input for the local pipeline: what `tahawul up` sends to the transactions topic.

A feed is an iterator of (payload, key, headers) records; :func:`send_feed` sends one from a
thread and records in a :class:`~tahawul.runtime.local.Run` how far it got and which offsets
the broker acknowledged, which is what "caught up" is measured against.
"""

from __future__ import annotations

import logging
from collections.abc import Iterator
from pathlib import Path
from typing import TextIO

from tahawul.producers.file_send import iter_jsonl
from tahawul.producers.kafka_sender import EventSender, entity_key
from tahawul.runtime.local import Run
from tahawul.schemas.event import InvalidEvent, parse
from tahawul.schemas.headers import SOURCE_HEADER
from tahawul.schemas.reference import load_catalogue

log = logging.getLogger(__name__)

Feed = Iterator[tuple[bytes, bytes | None, list[tuple[str, bytes]] | None]]


def file_feed(path: Path, report: TextIO, max_reported: int = 20) -> Feed:
    """Lines of a JSONL file; invalid ones are reported with their line number here and
    still sent, so the pipeline records them in the dead-letter path with the same reason."""
    catalogue = load_catalogue()
    reported = 0
    for number, payload in iter_jsonl(path):
        try:
            parse(payload, catalogue)
        except InvalidEvent as exc:
            reported += 1
            if reported <= max_reported:
                print(f"{path.name}:{number}: rejected ({exc.code}): {exc.message}", file=report)
            elif reported == max_reported + 1:
                print(f"{path.name}: more rejected lines; see the rejected table", file=report)
        yield payload, entity_key(payload), [(SOURCE_HEADER, f"{path.name}:{number}".encode())]


def simulation_feed(profile: str, scale: float, seed: int, duplicates: float, invalid: float) -> Feed:
    from tahawul.producers.simulator import iter_simulation

    for line in iter_simulation(profile, scale, seed, duplicate_rate=duplicates, invalid_rate=invalid):
        yield line.data, line.entity.encode() if line.entity else entity_key(line.data), None


def send_feed(sender: EventSender, feed: Feed, run: Run) -> None:
    """Send every record of ``feed``, then record the acknowledged offsets in ``run`` (also
    when sending failed, so that a caller never waits for records that were not sent)."""
    try:
        for payload, key, headers in feed:
            sender.send(payload, key, headers)
            run.fed += 1
        sender.flush()
    except Exception as exc:
        run.feed_error = str(exc)
        log.exception("feeding input failed")
    finally:
        sender.close()
        with run.lock:
            run.acked = dict(sender.acked)
            run.feed_done = True
