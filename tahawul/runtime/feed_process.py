"""The simulation feed of `tahawul up --simulate` in a process of its own.

Why a process: generating, encoding, signing and producing the national year is about 10 us
of CPU an event, and in the `up` process it shared one GIL with the counting writer (its
consumer, its batch preparation, chDB's inserts), the read front and the live view, so the
two could never use the machine's two cores side by side (docs/performance.md, "National
scale"). In a child process the feed runs beside the writer instead of between its batches.

What stays the same: the feed is :func:`tahawul.runtime.feeds.send_feed` with the same
batched, signed records and the same backpressure (:func:`~tahawul.runtime.feeds.wait_for_room`),
which needs the offsets the counting writer has applied: the parent sends them down the
child's stdin every :data:`PROGRESS_EVERY_S`. The child reports how many records it fed, and
at the end what the broker acknowledged (or why it failed), on its stdout as JSON lines; the
parent's :class:`~tahawul.runtime.local.Run` then reads exactly as with the feed thread, so
exit-when-done and a stop (no more input, count what the broker holds) behave as before.
The child's own log goes to ``feed.log`` in the log dir; it dies with `up` (child_options).
"""

from __future__ import annotations

import json
import logging
import os
import subprocess
import sys
import threading
from collections.abc import Iterable, Iterator
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import IO, Any

from tahawul.producers.kafka_sender import EventSender
from tahawul.producers.partition_keys import batch_key, entity_of, payload_key
from tahawul.producers.simulator import SimulatedLine
from tahawul.runtime.feeds import LAG_CHECK_EVERY, Feed, close_feed, simulation_feed, wait_for_room
from tahawul.runtime.local import Run, child_env
from tahawul.runtime.processes import child_options, stop_processes
from tahawul.schemas.batch import BATCH_FORMAT, MAX_BATCH_BYTES, encode
from tahawul.schemas.headers import BATCH_HEADER
from tahawul.settings import Settings

log = logging.getLogger(__name__)

# How often the parent tells the child what is applied, and the child says how far it got.
PROGRESS_EVERY_S = 0.05
REPORT_EVERY_S = 0.25
# Events in one batched record (schemas/batch.py allows up to 1,000).
SIMULATION_BATCH = 500


@dataclass(frozen=True)
class SimulationSpec:
    """What to simulate: the arguments of :func:`~tahawul.runtime.feeds.simulation_feed`.
    Calling it gives the feed (so it is a feed factory like any other); as JSON it is the
    feed process's command line."""

    profile: str
    scale: float
    seed: int
    duplicates: float = 0.0
    invalid: float = 0.0
    control_totals: bool = False
    lose_fraction: float = 0.0

    def __call__(self) -> Feed:
        return simulation_feed(self.profile, self.scale, self.seed, self.duplicates, self.invalid,
                               self.control_totals, self.lose_fraction)

    def lines(self) -> Iterator[SimulatedLine]:
        """The simulated lines themselves, with what each is and its entity (what
        :meth:`__call__` turns into keyed records), for :func:`send_batched`."""
        from tahawul.producers.simulator import iter_simulation
        from tahawul.producers.simulator.control_totals import with_control_totals

        lines = iter_simulation(self.profile, self.scale, self.seed, duplicate_rate=self.duplicates,
                                invalid_rate=self.invalid)
        if self.control_totals or self.lose_fraction:
            lines = with_control_totals(lines, self.seed, self.lose_fraction)
        return lines

    def to_json(self) -> str:
        return json.dumps(asdict(self))

    @classmethod
    def from_json(cls, text: str) -> SimulationSpec:
        return cls(**json.loads(text))


# Lines the simulator built whose entity is the one their payload names (an exchange half: its
# reporter, exchange_lines.py).
_GENERATED = frozenset({"valid", "duplicate", "exchange"})


def send_batched(sender: EventSender, lines: Iterable[SimulatedLine], run: Run,
                 stop: threading.Event | None = None, max_ahead: int | None = None,
                 max_events: int = SIMULATION_BATCH) -> None:
    """Send a simulation's lines in batched records, as :func:`~tahawul.runtime.feeds.send_feed`
    with a batching :class:`EventSender` would, with the batching done here, inline: lines
    are grouped per entity (which the simulator knows for the events it built) into batched records of up to
    ``max_events`` events and MAX_BATCH_BYTES, each keyed ``batch_key(entity)`` and sent, so
    signed, once; a group of one travels alone under its own key (``payload_key``), and so
    does a line that cannot be batched, after its entity's pending lines: the keys are
    producers/partition_keys.py's, computed once a record rather than once an event.
    Per event this is a list append and a few comparisons instead of a key parsed from the
    payload and three calls (docs/performance.md, "National scale"). ``run.fed`` counts
    lines, as send_feed counts records of one event; the end (flush, close, ``acked``,
    ``feed_done``, ``feed_error``) is send_feed's."""
    pending: dict[bytes | None, list[bytes]] = {}
    sizes: dict[bytes | None, int] = {}
    codes: dict[str, bytes] = {}
    batch_headers = [(BATCH_HEADER, BATCH_FORMAT)]
    send = sender.send
    max_bytes = MAX_BATCH_BYTES
    fed = 0

    def emit(entity: bytes | None) -> None:
        payloads = pending.pop(entity, None)
        sizes.pop(entity, None)
        if payloads:
            if len(payloads) == 1:
                send(payloads[0], payload_key(payloads[0]))
            else:
                send(encode(payloads), batch_key(entity), list(batch_headers))

    try:
        for line in lines:
            if fed % LAG_CHECK_EVERY == 0:
                run.fed = fed
                if stop is not None and stop.is_set():
                    break
                if max_ahead is not None:
                    wait_for_room(sender, run, max_ahead, stop)
            fed += 1
            payload = line.data
            if line.kind in _GENERATED and line.entity is not None:
                entity = codes.get(line.entity)
                if entity is None:
                    entity = codes[line.entity] = line.entity.encode()
            else:  # an invalid line or a control total: the entity its payload names, if any
                entity = entity_of(payload_key(payload))
            if b"\n" in payload or len(payload) >= max_bytes:
                emit(entity)  # alone, after its entity's pending lines
                send(payload, payload_key(payload))
                continue
            group = pending.get(entity)
            if group is None:
                pending[entity] = [payload]
                sizes[entity] = len(payload)
                continue
            size = sizes[entity] + 1 + len(payload)
            if size > max_bytes:
                emit(entity)
                pending[entity] = [payload]
                sizes[entity] = len(payload)
                continue
            group.append(payload)
            sizes[entity] = size
            if len(group) >= max_events:
                emit(entity)
        for entity in list(pending):  # also after a stop: these were fed
            emit(entity)
        run.fed = fed
        sender.flush()
    except Exception as exc:
        run.fed = fed
        run.feed_error = str(exc)
        log.exception("feeding input failed")
    finally:
        close_feed(sender, run)


def feed_command(spec: SimulationSpec, max_ahead: int | None) -> list[str]:
    return [sys.executable, "-m", "tahawul.runtime.feed_process", spec.to_json(), str(max_ahead or 0)]


class FeedProcess:
    """The parent's side: starts the child, forwards the writer's applied offsets and a stop
    request to it, and records what it reports in ``run`` (``fed``; at the end ``acked``,
    ``feed_done`` and any ``feed_error``)."""

    def __init__(self, settings: Settings, spec: SimulationSpec, run: Run, stop: threading.Event,
                 max_ahead: int | None, log_dir: Path) -> None:
        self.settings = settings
        self.spec = spec
        self.run = run
        self.stop = stop
        self.max_ahead = max_ahead
        self.log_dir = log_dir
        self.proc: subprocess.Popen[bytes] | None = None
        self._log: IO[bytes] | None = None
        self._closed = threading.Event()

    def start(self) -> FeedProcess:
        self.log_dir.mkdir(parents=True, exist_ok=True)
        self._log = (self.log_dir / "feed.log").open("ab")
        self.proc = subprocess.Popen(feed_command(self.spec, self.max_ahead), env=child_env(self.settings),
                                     stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=self._log,
                                     **child_options())
        threading.Thread(target=self._read, name="feed-reports", daemon=True).start()
        threading.Thread(target=self._push, name="feed-progress", daemon=True).start()
        return self

    def _push(self) -> None:
        """Every PROGRESS_EVERY_S: the applied offsets of the source topic, and a stop once
        requested; until the child is done or gone."""
        assert self.proc is not None and self.proc.stdin is not None
        topic = self.settings.topic_transactions
        stdin = self.proc.stdin
        stop_sent = False
        try:
            while not self._closed.is_set():
                with self.run.lock:
                    applied = {p: off for (t, p), off in self.run.progress.items() if t == topic}
                message: dict[str, Any] = {"applied": applied}
                if self.stop.is_set() and not stop_sent:
                    message["stop"] = stop_sent = True
                stdin.write(json.dumps(message).encode() + b"\n")
                stdin.flush()
                self._closed.wait(PROGRESS_EVERY_S)
        except (BrokenPipeError, OSError, ValueError):
            pass  # the child is gone; _read says how it ended

    def _read(self) -> None:
        assert self.proc is not None and self.proc.stdout is not None
        done = False
        for line in self.proc.stdout:
            report = json.loads(line)
            with self.run.lock:
                self.run.fed = report["fed"]
                if report.get("done"):
                    self.run.acked = {int(p): off for p, off in report["acked"].items()}
                    self.run.feed_error = report.get("error")
                    self.run.feed_done = done = True
        code = self.proc.wait()
        self._closed.set()
        if not done:
            with self.run.lock:
                self.run.feed_error = (f"the feed process exited with {code} before it was done; "
                                       f"see {self.log_dir / 'feed.log'}")
                self.run.feed_done = True

    def close(self) -> None:
        """Stop the child if it still runs (a second Ctrl-C, a failed writer)."""
        self._closed.set()
        if self.proc is not None:
            stop_processes([self.proc])
        if self._log is not None:
            self._log.close()


def _child_reports(run: Run, out: IO[bytes], finished: threading.Event) -> None:
    while not finished.wait(REPORT_EVERY_S):
        out.write(json.dumps({"fed": run.fed}).encode() + b"\n")
        out.flush()


def _child_listens(run: Run, topic: str, stop: threading.Event) -> None:
    """The parent's messages; its stdin closing (the parent gone) is a stop too."""
    for line in sys.stdin.buffer:
        message = json.loads(line)
        progress = {(topic, int(p)): off for p, off in message["applied"].items()}
        with run.lock:
            run.progress = progress
        if message.get("stop"):
            stop.set()
    stop.set()


def main(argv: list[str]) -> int:
    """The child: ``python -m tahawul.runtime.feed_process SPEC_JSON MAX_AHEAD``, the pipeline
    from its environment (child_env). Exit 0 when its last report is written, whatever the
    feed's outcome (the report carries the error)."""
    from tahawul.keyring import producer_signers
    from tahawul.logs import configure

    spec = SimulationSpec.from_json(argv[0])
    max_ahead = int(argv[1]) or None
    settings = Settings()
    configure(settings.log_level, settings.log_format)
    bootstrap = settings.kafka_bootstrap()
    if bootstrap is None:
        raise SystemExit("the feed process needs TAHAWUL_KAFKA_URL")
    # The reports own the real stdout; anything else printed goes to the log (stderr).
    out = os.fdopen(os.dup(1), "wb")
    os.dup2(2, 1)
    run = Run()
    stop = threading.Event()
    finished = threading.Event()
    threading.Thread(target=_child_listens, args=(run, settings.topic_transactions, stop),
                     name="feed-listens", daemon=True).start()
    reporter = threading.Thread(target=_child_reports, args=(run, out, finished), name="feed-reports",
                                daemon=True)
    reporter.start()
    try:
        sender = EventSender(bootstrap, settings.topic_transactions,
                             sign=producer_signers(settings).sign_keyed,
                             security=settings.kafka_security())
        send_batched(sender, spec.lines(), run, stop, max_ahead)
    except Exception as exc:  # reported to the parent, which prints it
        run.feed_error = str(exc)
    finished.set()
    reporter.join()
    out.write(json.dumps({"fed": run.fed, "done": True, "acked": run.acked, "error": run.feed_error}).encode()
              + b"\n")
    out.flush()
    return 0


if __name__ == "__main__":
    code = main(sys.argv[1:])
    # At once: the listening thread is blocked reading stdin, which the interpreter's
    # shutdown would otherwise trip over (everything is sent, flushed and reported by now).
    sys.stderr.flush()
    os._exit(code)
