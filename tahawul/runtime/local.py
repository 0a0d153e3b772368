"""The one local pipeline: broker, topics, store, validating workers and the counting writer
on this machine.

`tahawul up`, the integration tests and the benchmarks all run the pipeline through this
module, so that what the tests prove exact and what the benchmarks measure is the pipeline
a user runs: the same worker command line, the same child environment (built from
:class:`~tahawul.settings.Settings`, never copied), the same store start-up (migrate, then
recover any unfinished batch) and the same counting loop.

The counting writer runs as a thread of the calling process (chDB lets one process open a
store); workers are child processes, so that a test can SIGKILL one as a crash would.
"""

from __future__ import annotations

import os
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO, TYPE_CHECKING, Self

from tahawul.kafka_admin import cluster_id, ensure_topics
from tahawul.kafka_security import PLAINTEXT, KafkaSecurity
from tahawul.keyring import dev_private_dir, ensure_dev_keys, worker_trust
from tahawul.runtime.apache_kafka import ApacheKafka
from tahawul.runtime.broker import EmbeddedBroker
from tahawul.runtime.metrics_server import MetricsEndpoint, serve_metrics
from tahawul.runtime.processes import child_options, stop_processes
from tahawul.settings import Settings
from tahawul.sinks.clickhouse.connection import connect
from tahawul.sinks.clickhouse.store import Store
from tahawul.stream_processors.counter import CountingWriter, Prepared, prepare_store, run_counter

if TYPE_CHECKING:
    from clickhouse_connect.driver.client import Client

OnBatch = Callable[[CountingWriter, Prepared], None]


def child_env(settings: Settings, **extra: str) -> dict[str, str]:
    """The environment of a child process of this pipeline: this process's environment
    without its own ``TAHAWUL_*`` variables, plus the pipeline of ``settings``
    (:meth:`Settings.pipeline_env`) and ``extra``. Dropping the inherited variables first
    means a child never runs on a setting its parent had overridden in code (a test's
    topics, `tahawul up`'s embedded broker)."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("TAHAWUL_")}
    env.update(settings.pipeline_env())
    env.update(extra)
    return env


def worker_command() -> list[str]:
    """How a validating worker process is started, here and in the deploy files."""
    return [sys.executable, "-m", "tahawul", "worker"]


@dataclass
class Run:
    """What the counting writer has applied so far, shared between the writer thread, the
    feeder and whoever watches (the live view, a test, a benchmark)."""

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

    def on_batch(self, writer: CountingWriter, prepared: Prepared) -> None:
        with self.lock:
            self.progress = dict(writer.progress)
            s = prepared.stats
            self.counted += s.valid
            self.duplicates += s.duplicates
            self.rejected += s.rejected
            for key, n in s.completed.items():
                self.completed[key] = self.completed.get(key, 0) + n

    @property
    def applied(self) -> int:
        """Events the writer has dealt with: counted, duplicate or rejected."""
        return self.counted + self.duplicates + self.rejected

    def caught_up(self, topic: str) -> bool:
        """True once the input is all sent and every acknowledged source offset is applied."""
        with self.lock:
            return self.feed_done and all(
                self.progress.get((topic, p), -1) >= off for p, off in self.acked.items()
            )


def open_store(client: Client, bootstrap: str, security: KafkaSecurity = PLAINTEXT) -> Store:
    """The store of the cluster at ``bootstrap``, ready to count in (prepare_store)."""
    return prepare_store(client, cluster_id(bootstrap, security))


@dataclass
class WriterThread:
    """The counting writer running in this process, with what it applied so far."""

    store: Store
    run: Run
    stop: threading.Event
    thread: threading.Thread

    def halt(self, timeout: float = 30.0) -> None:
        """Stop after the write in progress (a write is all or nothing)."""
        self.stop.set()
        self.thread.join(timeout)
        if self.thread.is_alive():
            raise RuntimeError(f"the counting writer did not stop within {timeout} s")


def start_writer(settings: Settings, store: Store, on_batch: OnBatch | None = None,
                 run: Run | None = None) -> WriterThread:
    """Start the counting loop on ``store`` in a daemon thread; ``on_batch`` sees every
    write after ``run`` has recorded it."""
    run = run or Run()
    # What the store already holds counts as applied: a writer restarted after everything
    # was applied gets no batch, and a watcher waiting for its first batch (exit-when-done,
    # a test after a writer crash) would wait forever.
    recovered = store.progress()
    with run.lock:
        for key, offset in recovered.items():
            if offset > run.progress.get(key, -1):
                run.progress[key] = offset

    def hook(writer: CountingWriter, prepared: Prepared) -> None:
        run.on_batch(writer, prepared)
        if on_batch is not None:
            on_batch(writer, prepared)

    stop = threading.Event()
    thread = threading.Thread(target=run_counter, args=(settings, store, stop, hook),
                              name="counting-writer", daemon=True)
    thread.start()
    return WriterThread(store, run, stop, thread)


class Workers:
    """Validating worker processes of one pipeline, which the caller can start, SIGKILL (as a
    crash would) and restart. Each writes its output to its own log file in ``log_dir``."""

    def __init__(self, settings: Settings, log_dir: Path, cwd: Path | None = None,
                 env: Mapping[str, str] | None = None) -> None:
        self.settings = settings
        self.log_dir = log_dir
        self.cwd = cwd
        self.env = dict(env or {})
        self.procs: list[subprocess.Popen[bytes]] = []
        self._logs: list[IO[bytes]] = []

    def start(self, **extra: str) -> subprocess.Popen[bytes]:
        """One more worker; ``extra`` adds to (or overrides) its environment."""
        proc = self._spawn(len(self.procs), **extra)
        self.procs.append(proc)
        return proc

    def _spawn(self, index: int, **extra: str) -> subprocess.Popen[bytes]:
        self.log_dir.mkdir(parents=True, exist_ok=True)
        log = (self.log_dir / f"worker-{index}.log").open("ab")
        self._logs.append(log)
        return subprocess.Popen(worker_command(), env=child_env(self.settings, **{**self.env, **extra}),
                                stdout=log, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL,
                                cwd=self.cwd, **child_options())

    def restart(self, proc: subprocess.Popen[bytes]) -> subprocess.Popen[bytes]:
        """Replace a worker that exited (its log is appended to, not replaced)."""
        index = self.procs.index(proc)
        self.procs[index] = self._spawn(index)
        return self.procs[index]

    @staticmethod
    def kill(proc: subprocess.Popen[bytes]) -> None:
        """SIGKILL and reap: a crash, for the exactness tests."""
        proc.kill()
        proc.wait()

    def exited(self) -> list[subprocess.Popen[bytes]]:
        """The workers started here that are no longer running."""
        return [p for p in self.procs if p.poll() is not None]

    def stop_all(self) -> None:
        stop_processes(self.procs)
        for log in self._logs:
            log.close()
        self._logs.clear()


def local_broker(settings: Settings, log_dir: Path) -> EmbeddedBroker | ApacheKafka:
    """The broker `tahawul up` starts when the settings name no cluster (TAHAWUL_LOCAL_BROKER,
    `up --broker`): Tansu with its log in memory, or Apache Kafka with its log on disk in
    ``<data dir>/kafka``, where a restarted `up` finds what the last one was sent and did not
    count (same cluster id, so the store's progress carries on where it stopped)."""
    if settings.local_broker == "kafka":
        return ApacheKafka(settings.data_dir / "kafka")
    return EmbeddedBroker(log_dir / "broker.log")


class LocalPipeline:
    """The whole pipeline on this machine: the embedded broker unless ``settings`` name one,
    the topics, the store, ``workers`` validating workers and the counting writer.

    With TAHAWUL_METRICS_PORT set, the writer's metrics are served by this process and the
    first worker's on the next port (0: each on a free port), so that two processes never
    ask for one port."""

    def __init__(self, settings: Settings, log_dir: Path | None = None,
                 worker_cwd: Path | None = None, worker_env: Mapping[str, str] | None = None) -> None:
        self.settings = settings
        self.log_dir = log_dir or settings.data_dir
        self.worker_cwd = worker_cwd
        self.worker_env = dict(worker_env or {})
        self.broker: EmbeddedBroker | ApacheKafka | None = None
        self.workers: Workers | None = None
        self.writer: WriterThread | None = None
        self.metrics: MetricsEndpoint | None = None
        self._client: Client | None = None

    @property
    def bootstrap(self) -> str:
        bootstrap = self.settings.kafka_bootstrap()
        if bootstrap is None:
            raise RuntimeError("the pipeline has no broker yet: call start_broker() first")
        return bootstrap

    def start_broker(self) -> None:
        """Start the embedded broker when the settings name no Kafka cluster, and point the
        settings (and so every child) at it; then create the topics.

        With the embedded broker, events are signed and verified with dev keys made under
        ``<data dir>/keys`` (unless TAHAWUL_SIGNING_TRUST / TAHAWUL_SIGNING_KEYS name
        others), so that it works out of the box and attribution is still checked. A
        broker named in the settings gets no dev keys: its workers need a real trust file."""
        if self.settings.kafka_bootstrap() is None:
            self.broker = local_broker(self.settings, self.log_dir).start()
            update: dict[str, object] = {"kafka_url": f"kafka://{self.broker.bootstrap}"}
            if self.settings.signing_trust is None:
                update["signing_trust"] = ensure_dev_keys(self.settings.data_dir)
                if self.settings.signing_keys is None:
                    update["signing_keys"] = dev_private_dir(self.settings.data_dir)
            self.settings = self.settings.model_copy(update=update)
        worker_trust(self.settings)  # no trust file for a named broker: stop before starting anything
        ensure_topics(self.bootstrap, self.settings)

    def open_store(self, wrap: Callable[[Client], Client] | None = None) -> Store:
        """The pipeline's store, ready to count in (``wrap`` puts something between the
        writer and ClickHouse: the tests' fault injection)."""
        if self._client is None:
            self._client = connect(self.settings.clickhouse_dsn())
        return open_store(wrap(self._client) if wrap else self._client, self.bootstrap,
                          self.settings.kafka_security())

    def start_writer(self, on_batch: OnBatch | None = None, run: Run | None = None,
                     wrap: Callable[[Client], Client] | None = None) -> WriterThread:
        if self.metrics is None:
            self.metrics = serve_metrics(self.settings)  # the writer runs in this process
        self.writer = start_writer(self.settings, self.open_store(wrap), on_batch, run)
        return self.writer

    def start_workers(self, count: int = 1) -> Workers:
        if self.workers is None:
            env = dict(self.worker_env)
            port = self.settings.metrics_port
            if port is not None:  # the worker's /metrics: the port after the writer's
                env.setdefault("TAHAWUL_METRICS_PORT", str(port + 1 if port else 0))
                env.setdefault("TAHAWUL_METRICS_HOST", self.settings.metrics_host)
            self.workers = Workers(self.settings, self.log_dir, self.worker_cwd, env)
        for _ in range(count):
            self.workers.start()
        return self.workers

    def start(self, workers: int = 1, on_batch: OnBatch | None = None, run: Run | None = None
              ) -> Self:
        """Broker (if embedded), topics, store, writer, then workers: the writer is ready
        before the first verdict arrives."""
        self.log_dir.mkdir(parents=True, exist_ok=True)
        self.start_broker()
        self.start_writer(on_batch, run)
        self.start_workers(workers)
        return self

    def wait_caught_up(self, timeout: float, poll: float = 0.05) -> None:
        """Wait until every acknowledged source record (``writer.run.acked``) is applied.
        A worker that exits or a writer that stops is an error, not a longer wait."""
        assert self.writer is not None
        run = self.writer.run
        deadline = time.monotonic() + timeout
        while not run.caught_up(self.settings.topic_transactions):
            if time.monotonic() > deadline:
                raise TimeoutError(f"pipeline not caught up after {timeout} s ({run.applied} applied)")
            if self.workers is not None and self.workers.exited():
                code = self.workers.exited()[0].returncode
                raise RuntimeError(f"a worker exited with {code}; see {self.log_dir}")
            if not self.writer.thread.is_alive():
                raise RuntimeError("the counting writer stopped")
            time.sleep(poll)

    def close(self) -> None:
        """Stop the writer (after its write in progress), the workers, then the broker."""
        if self.writer is not None:
            self.writer.stop.set()
            self.writer.thread.join(60)
        if self.workers is not None:
            self.workers.stop_all()
        if self._client is not None:
            self._client.close()
            self._client = None
        if self.metrics is not None:
            self.metrics.close()
            self.metrics = None
        if self.broker is not None:
            self.broker.stop()

    def __enter__(self) -> Self:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()
