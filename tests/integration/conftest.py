"""Integration fixtures: a real Tansu broker per module, real chDB stores, real worker
processes, run through the same local pipeline as `tahawul up` (tahawul.runtime.local).
Nothing is mocked; waits are on conditions with deadlines, never fixed sleeps. A server
that cannot start is an error (the fixture raises), never a skip."""

from __future__ import annotations

import shutil
import time
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from clickhouse_connect.driver.client import Client

from tahawul.kafka_admin import ensure_topics
from tahawul.keyring import dev_trust_path, ensure_dev_keys, keys_dir
from tahawul.runtime.apache_kafka import ApacheKafka
from tahawul.runtime.broker import EmbeddedBroker
from tahawul.runtime.local import Workers, WriterThread, open_store, start_writer
from tahawul.settings import Settings
from tahawul.sinks.clickhouse.connection import connect
from tests.conftest import brokers_for

REPO = Path(__file__).resolve().parents[2]


def wait_for(condition: Callable[[], bool], timeout: float, what: str, every: float = 0.1) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if condition():
            return
        time.sleep(every)
    raise AssertionError(f"timed out after {timeout} s waiting for {what}")


Broker = EmbeddedBroker | ApacheKafka


def pytest_generate_tests(metafunc: pytest.Metafunc) -> None:
    """Every test on a broker runs on the broker(s) --broker names, and a test marked
    both_brokers on Tansu and on Apache Kafka (ids ``[tansu]``/``[kafka]``)."""
    if "broker_kind" in metafunc.fixturenames:
        marked = metafunc.definition.get_closest_marker("both_brokers") is not None
        kinds = brokers_for(metafunc.config, marked)
        if metafunc.definition.get_closest_marker("tansu_only") is not None:
            kinds = ["tansu"]
        metafunc.parametrize("broker_kind", kinds, indirect=True, scope="module")


@pytest.fixture(scope="module")
def broker_kind(request: pytest.FixtureRequest) -> str:
    """"tansu" or "kafka": which broker this test's module runs on."""
    return str(request.param)


@pytest.fixture(scope="module")
def broker(broker_kind: str, tmp_path_factory: pytest.TempPathFactory,
           request: pytest.FixtureRequest) -> Iterator[Broker]:
    """A fresh broker per module (Faust's internal topics are not namespaced per app):
    Tansu in memory, or a single Apache Kafka node with its log in the module's temp dir
    (server.properties added from the module's ``KAFKA_PROPERTIES``, if it has any)."""
    if broker_kind == "kafka":
        properties = getattr(request.module, "KAFKA_PROPERTIES", {})
        with ApacheKafka(tmp_path_factory.mktemp("kafka"), properties=properties) as kafka:
            yield kafka
        return
    with EmbeddedBroker(tmp_path_factory.mktemp("broker") / "broker.log") as b:
        yield b


@pytest.fixture(scope="session")
def dev_keys(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Signing keys of every entity and a dev gateway, as `tahawul up` makes them, made once
    (a data dir whose ``keys`` folder holds them)."""
    data = tmp_path_factory.mktemp("dev-keys")
    ensure_dev_keys(data)
    return data


@pytest.fixture
def settings(broker: Broker, tmp_path: Path, dev_keys: Path) -> Settings:
    """Settings for one test: its own topics, groups and data dir on the module's broker.
    The data dir holds the dev signing keys: workers verify with their trust file, and
    producers (`tahawul send`, the gateway, the tests' senders) sign with them."""
    tag = uuid.uuid4().hex[:8]
    shutil.copytree(keys_dir(dev_keys), keys_dir(tmp_path / "data"))
    s = Settings(
        data_dir=tmp_path / "data",
        signing_trust=dev_trust_path(tmp_path / "data"),
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


@pytest.fixture
def workers(settings: Settings, tmp_path: Path) -> Iterator[Workers]:
    """Validating worker processes that a test can start, SIGKILL and restart."""
    w = Workers(settings, tmp_path, cwd=REPO)
    yield w
    w.stop_all()


@pytest.fixture
def start_counter(settings: Settings) -> Iterator[Callable[..., WriterThread]]:
    """The counting writer in this process, on the test's own chDB store."""
    started: list[WriterThread] = []
    clients: list[Client] = []

    def start(wrap: Callable[[Client], Any] | None = None, using: Settings | None = None
              ) -> WriterThread:
        """``wrap`` puts something between the writer and ClickHouse (fault injection);
        ``using`` replaces the test's settings (another broker, same store)."""
        s = using or settings
        # Opened on first use: a test may first run a counter process on the same store.
        if not clients:
            clients.append(connect(settings.clickhouse_dsn()))
        client = wrap(clients[0]) if wrap else clients[0]
        writer = start_writer(s, open_store(client, s.kafka_bootstrap() or ""))
        started.append(writer)
        return writer

    yield start
    for writer in started:
        writer.stop.set()
        writer.thread.join(30)
    for client in clients:
        client.close()
