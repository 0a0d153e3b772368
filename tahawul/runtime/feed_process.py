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
import os
import subprocess
import sys
import threading
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import IO, Any

from tahawul.runtime.feeds import Feed, send_feed, simulation_feed
from tahawul.runtime.local import Run, child_env
from tahawul.runtime.processes import child_options, stop_processes
from tahawul.settings import Settings

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

    def to_json(self) -> str:
        return json.dumps(asdict(self))

    @classmethod
    def from_json(cls, text: str) -> SimulationSpec:
        return cls(**json.loads(text))


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
    from tahawul.producers.kafka_sender import EventSender

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
        sender = EventSender(bootstrap, settings.topic_transactions, batch_events=SIMULATION_BATCH,
                             sign=producer_signers(settings).sign_keyed,
                             security=settings.kafka_security())
        send_feed(sender, spec(), run, stop, max_ahead)
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
