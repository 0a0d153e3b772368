"""Integration fixtures: a real Tansu broker per module, real chDB stores, real worker
processes. Nothing is mocked; waits are on conditions with deadlines, never fixed sleeps.
A server that cannot start is an error (the fixture raises), never a skip."""

from __future__ import annotations

import os
import subprocess
import sys
import threading
import time
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import IO, Any

import pytest
from clickhouse_connect.driver.client import Client

from tahawul.cli.up import Run
from tahawul.kafka_admin import cluster_id, ensure_topics
from tahawul.runtime.broker import EmbeddedBroker
from tahawul.runtime.processes import stop_processes
from tahawul.settings import Settings
from tahawul.sinks.clickhouse.connection import connect
from tahawul.sinks.clickhouse.store import Store
from tahawul.stream_processors.counter import run_counter

REPO = Path(__file__).resolve().parents[2]


def wait_for(condition: Callable[[], bool], timeout: float, what: str, every: float = 0.1) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if condition():
            return
        time.sleep(every)
    raise AssertionError(f"timed out after {timeout} s waiting for {what}")


@pytest.fixture(scope="module")
def broker(tmp_path_factory: pytest.TempPathFactory) -> Iterator[EmbeddedBroker]:
    """A fresh broker per module (Faust's internal topics are not namespaced per app)."""
    with EmbeddedBroker(tmp_path_factory.mktemp("broker") / "broker.log") as b:
        yield b


@pytest.fixture
def settings(broker: EmbeddedBroker, tmp_path: Path) -> Settings:
    """Settings for one test: its own topics, groups and data dir on the module's broker."""
    tag = uuid.uuid4().hex[:8]
    s = Settings(
        data_dir=tmp_path / "data",
        kafka_url=f"kafka://{broker.bootstrap}",
        topic_transactions=f"tx-{tag}",
        topic_validated=f"validated-{tag}",
        topic_dead_letter=f"dlq-{tag}",
        worker_group=f"worker-{tag}",
        counter_group=f"counter-{tag}",
        session_timeout=3.0,
        batch_max=1000,
        batch_within=0.2,
        _env_file=None,  # type: ignore[call-arg]
    )
    ensure_topics(broker.bootstrap, s)
    return s


def env_for(settings: Settings) -> dict[str, str]:
    """This environment without its TAHAWUL_* variables, plus the pipeline of ``settings``."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("TAHAWUL_")}
    env.update(settings.pipeline_env())
    return env


class Workers:
    """Validating worker processes that a test can start, SIGKILL and restart."""

    def __init__(self, settings: Settings, log_dir: Path) -> None:
        self.settings = settings
        self.log_dir = log_dir
        self.procs: list[subprocess.Popen[bytes]] = []
        self._logs: list[IO[bytes]] = []

    def start(self) -> subprocess.Popen[bytes]:
        log = (self.log_dir / f"worker-{len(self.procs)}.log").open("wb")
        self._logs.append(log)
        proc = subprocess.Popen([sys.executable, "-m", "tahawul", "worker"], env=env_for(self.settings),
                                stdout=log, stderr=subprocess.STDOUT, cwd=REPO)
        self.procs.append(proc)
        return proc

    def kill(self, proc: subprocess.Popen[bytes]) -> None:
        proc.kill()
        proc.wait()

    def stop_all(self) -> None:
        stop_processes(self.procs)
        for log in self._logs:
            log.close()


@pytest.fixture
def workers(settings: Settings, tmp_path: Path) -> Iterator[Workers]:
    w = Workers(settings, tmp_path)
    yield w
    w.stop_all()


@dataclass
class CounterThread:
    store: Store
    run: Run
    stop: threading.Event
    thread: threading.Thread

    def halt(self) -> None:
        self.stop.set()
        self.thread.join(30)
        assert not self.thread.is_alive()


@pytest.fixture
def start_counter(settings: Settings) -> Iterator[Callable[..., CounterThread]]:
    """The counting writer in this process, on the test's own chDB store."""
    started: list[CounterThread] = []
    clients: list[Client] = []

    def start(wrap: Callable[[Client], Any] | None = None, using: Settings | None = None
              ) -> CounterThread:
        """``wrap`` puts something between the writer and ClickHouse (fault injection);
        ``using`` replaces the test's settings (another broker, same store)."""
        s = using or settings
        # Opened on first use: a test may first run a counter process on the same store.
        if not clients:
            clients.append(connect(settings.clickhouse_dsn()))
        client = wrap(clients[0]) if wrap else clients[0]
        store = Store(client, cluster_id(s.kafka_bootstrap() or ""))
        store.migrate()
        store.recover()
        run = Run()
        stop = threading.Event()
        thread = threading.Thread(target=run_counter, args=(s, store, stop, run.on_batch),
                                  daemon=True)
        thread.start()
        ct = CounterThread(store, run, stop, thread)
        started.append(ct)
        return ct

    yield start
    for ct in started:
        ct.stop.set()
        ct.thread.join(30)
    for client in clients:
        client.close()
