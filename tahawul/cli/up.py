"""`tahawul up`: the whole pipeline on one machine.

Starts (unless TAHAWUL_KAFKA_URL points at a cluster) the embedded broker, creates the
topics, opens the store (recovering any unfinished batch), starts a validating worker
process and the counting writer, feeds the given input, and shows a live view. With
``--exit-when-done`` it waits until every acknowledged input record is applied in the store,
prints the totals and exits.
"""

from __future__ import annotations

import logging
import os
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO, TextIO

from tahawul.cli.console import LiveView, totals_table
from tahawul.kafka_admin import cluster_id, ensure_topics
from tahawul.producers.files import iter_jsonl
from tahawul.producers.kafka_sender import EventSender, entity_key
from tahawul.runtime.broker import EmbeddedBroker
from tahawul.runtime.metrics_server import serve_metrics
from tahawul.runtime.processes import stop_processes
from tahawul.schemas.event import InvalidEvent, parse
from tahawul.schemas.headers import SOURCE_HEADER
from tahawul.schemas.reference import load_catalogue
from tahawul.settings import Settings
from tahawul.sinks.clickhouse.connection import connect
from tahawul.sinks.clickhouse.store import Store
from tahawul.stream_processors.counter import Counter, Prepared, run_counter

log = logging.getLogger(__name__)

# (payload, key, headers) triples to send
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


@dataclass
class Run:
    """Shared state between the feeder, the counter thread and the view."""

    lock: threading.Lock = field(default_factory=threading.Lock)
    progress: dict[tuple[str, int], int] = field(default_factory=dict)
    counted: int = 0
    duplicates: int = 0
    rejected: int = 0
    completed: dict[tuple[str, str], int] = field(default_factory=dict)
    fed: int = 0
    feed_done: bool = False
    feed_error: str | None = None
    acked: dict[int, int] = field(default_factory=dict)

    def on_batch(self, counter: Counter, prepared: Prepared) -> None:
        with self.lock:
            self.progress = dict(counter.progress)
            s = prepared.stats
            self.counted += s.valid
            self.duplicates += s.duplicates
            self.rejected += s.rejected
            for key, n in s.completed.items():
                self.completed[key] = self.completed.get(key, 0) + n

    def caught_up(self, topic: str) -> bool:
        with self.lock:
            return self.feed_done and all(
                self.progress.get((topic, p), -1) >= off for p, off in self.acked.items()
            )


def _feed(sender: EventSender, feed: Feed, run: Run) -> None:
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


def start_worker(settings: Settings, log_file: IO[bytes]) -> subprocess.Popen[bytes]:
    env = {**os.environ, "TAHAWUL_KAFKA_URL": settings.kafka_url or ""}
    if settings.metrics_port is not None:  # the worker's /metrics: the port after ours
        env["TAHAWUL_METRICS_PORT"] = str(settings.metrics_port + 1 if settings.metrics_port else 0)
    return subprocess.Popen([sys.executable, "-m", "tahawul", "worker"], env=env,
                            stdout=log_file, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL)


def up(settings: Settings, feed_factory: Callable[[], Feed] | None, exit_when_done: bool,
       out: TextIO = sys.stdout) -> int:
    settings.data_dir.mkdir(parents=True, exist_ok=True)
    client = connect(settings.clickhouse_dsn())
    serve_metrics(settings)  # the counting writer runs in this process
    broker: EmbeddedBroker | None = None
    if settings.kafka_bootstrap() is None:
        broker = EmbeddedBroker(settings.data_dir / "broker.log").start()
        settings = settings.model_copy(update={"kafka_url": f"kafka://{broker.bootstrap}"})
        print(f"embedded broker on {broker.bootstrap} (log: {broker.log_path})", file=sys.stderr)
    bootstrap = settings.kafka_bootstrap()
    assert bootstrap is not None
    worker_log = (settings.data_dir / "worker.log").open("ab")
    worker: subprocess.Popen[bytes] | None = None
    stop = threading.Event()
    run = Run()
    counter_thread: threading.Thread | None = None
    started = time.monotonic()
    try:
        ensure_topics(bootstrap, settings)
        store = Store(client, cluster_id(bootstrap))
        store.migrate()
        store.recover()
        worker = start_worker(settings, worker_log)
        counter_thread = threading.Thread(
            target=run_counter, args=(settings, store, stop, run.on_batch), name="counter", daemon=True)
        counter_thread.start()
        if feed_factory is not None:
            sender = EventSender(bootstrap, settings.topic_transactions)
            threading.Thread(target=_feed, args=(sender, feed_factory(), run), name="feed",
                             daemon=True).start()
        else:
            run.feed_done = True
        view = LiveView(run, started, out)
        with view:
            while True:
                time.sleep(0.25)
                view.refresh()
                if worker.poll() is not None:
                    print(f"worker exited with {worker.returncode}; restarting "
                          f"(log: {settings.data_dir / 'worker.log'})", file=sys.stderr)
                    worker = start_worker(settings, worker_log)
                if not counter_thread.is_alive():
                    print("the counting writer stopped unexpectedly; see the log", file=sys.stderr)
                    return 3
                if run.feed_error:
                    print(f"could not send input: {run.feed_error}", file=sys.stderr)
                    return 4
                if exit_when_done and run.caught_up(settings.topic_transactions):
                    break
        stop.set()
        counter_thread.join(30)
        elapsed = time.monotonic() - started
        print(f"processed {run.fed} input records in {elapsed:.1f} s: {run.counted} counted, "
              f"{run.duplicates} duplicates, {run.rejected} rejected", file=out)
        print(totals_table(client), file=out)
        return 0
    except KeyboardInterrupt:
        return 130
    finally:
        stop.set()
        if counter_thread is not None:
            counter_thread.join(30)
        if worker is not None:
            stop_processes([worker])
        worker_log.close()
        if broker is not None:
            broker.stop()
