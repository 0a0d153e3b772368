"""Outages of the store and of the broker: processing pauses or retries, catches up by
itself, and the counts stay exact (0 lost, 0 double counted)."""

from __future__ import annotations

import logging
import socket
import subprocess
import sys
import threading
import time
import urllib.request
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from clickhouse_connect.driver.client import Client
from prometheus_client import REGISTRY

from tahawul.kafka_admin import ensure_topics
from tahawul.producers.simulator import Truth
from tahawul.runtime.broker import EmbeddedBroker, free_port
from tahawul.runtime.local import Workers, WriterThread, child_env
from tahawul.settings import Settings
from tests.integration.conftest import REPO, wait_for
from tests.integration.helpers import assert_exact, feed, wait_applied

pytestmark = pytest.mark.integration


class Outage:
    """Sits between the counting writer and ClickHouse; while on, every call raises, as a
    store that refuses connections would."""

    def __init__(self, client: Client) -> None:
        self._client = client
        self.until = 0.0
        self.refused = 0

    def start(self, seconds: float) -> None:
        self.until = time.monotonic() + seconds

    def _gate(self) -> None:
        if time.monotonic() < self.until:
            self.refused += 1
            raise ConnectionRefusedError("injected outage: ClickHouse refuses connections")

    def __getattr__(self, name: str) -> Any:
        """Every client call (query, insert, command, query_arrow, ...) goes through the gate."""
        attr = getattr(self._client, name)
        if not callable(attr):
            return attr

        def gated(*args: Any, **kwargs: Any) -> Any:
            self._gate()
            return attr(*args, **kwargs)

        return gated


def metric(name: str) -> float:
    return REGISTRY.get_sample_value(name) or 0.0


def test_store_outage_of_30_s_pauses_then_catches_up_exactly(
    settings: Settings, workers: Workers, start_counter: Callable[..., WriterThread],
    caplog: pytest.LogCaptureFixture,
) -> None:
    caplog.set_level(logging.WARNING, logger="tahawul.stream_processors.counter")
    outage: list[Outage] = []
    workers.start()
    ct = start_counter(lambda client: outage.append(Outage(client)) or outage[0])
    errors_before = metric("tahawul_store_write_errors_total")
    result: dict[str, Any] = {}

    def at(n: int) -> None:
        if n == 6_000:
            wait_for(lambda: ct.run.counted > 0, 60, "some events counted before the outage")
            outage[0].start(30)

    sender = threading.Thread(target=lambda: result.update(zip(
        ("truth", "acked"), feed(settings, 0.02, 21, on_sent=at), strict=True)))
    sender.start()
    wait_for(lambda: outage[0].until > 0, 120, "the outage to start")
    wait_for(lambda: metric("tahawul_store_up") == 0.0, 30, "the outage to show in a metric")
    counted_during = ct.run.counted
    sender.join(120)
    truth: Truth = result["truth"]
    wait_applied(ct, settings, result["acked"], 240)
    assert time.monotonic() >= outage[0].until  # caught up only after the store came back
    assert ct.run.counted > counted_during
    assert outage[0].refused >= 3
    assert metric("tahawul_store_write_errors_total") >= errors_before + 3
    assert metric("tahawul_store_up") == 1.0
    messages = [r.getMessage() for r in caplog.records]
    assert any("store write failed, retrying" in m for m in messages)
    assert any("store writes succeed again" in m for m in messages)
    assert_exact(ct, truth)


def test_store_url_that_refuses_connections_keeps_the_counter_waiting(
    settings: Settings, workers: Workers, start_counter: Callable[..., WriterThread],
    tmp_path: Path,
) -> None:
    workers.start()
    refused = free_port()
    env = child_env(settings)
    env["TAHAWUL_CLICKHOUSE_URL"] = f"http://default:pw@127.0.0.1:{refused}/default"
    log_path = tmp_path / "counter.log"
    with log_path.open("wb") as log:
        proc = subprocess.Popen([sys.executable, "-m", "tahawul", "counter"], env=env,
                                stdout=log, stderr=subprocess.STDOUT, cwd=REPO)
        try:
            truth, acked = feed(settings, 0.005, 22)
            wait_for(lambda: log_path.read_text().count("unavailable, retrying") >= 3, 60,
                     "the counter to report the unreachable store repeatedly")
            assert proc.poll() is None, "the counter gave up instead of waiting"
            text = log_path.read_text()
            assert f"http://default:***@127.0.0.1:{refused}/default" in text
            assert ":pw@" not in text
        finally:
            proc.kill()
            proc.wait()
    # Nothing was consumed while the store was away: a counter on a working store
    # (same consumer group) counts everything.
    ct = start_counter()
    wait_applied(ct, settings, acked, 120)
    assert_exact(ct, truth)


# ---- broker crash with durable storage ----------------------------------------------


@pytest.fixture(scope="module")
def s3(tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict[str, str]]:
    """A local S3 (moto) with a bucket for Tansu's durable storage engine."""
    port = free_port()
    log = (tmp_path_factory.mktemp("moto") / "moto.log").open("wb")
    moto = subprocess.Popen([sys.executable, "-m", "moto.server", "-H", "127.0.0.1", "-p", str(port)],
                            stdout=log, stderr=subprocess.STDOUT)
    try:
        def up() -> bool:
            try:
                socket.create_connection(("127.0.0.1", port), 0.2).close()
                return True
            except OSError:
                return False

        wait_for(up, 30, "moto_server to listen")
        urllib.request.urlopen(urllib.request.Request(
            f"http://127.0.0.1:{port}/tansu", method="PUT")).read()
        yield {"AWS_ENDPOINT": f"http://127.0.0.1:{port}", "AWS_ALLOW_HTTP": "true",
               "AWS_ACCESS_KEY_ID": "test", "AWS_SECRET_ACCESS_KEY": "test",
               "AWS_DEFAULT_REGION": "us-east-1"}
    finally:
        moto.terminate()
        moto.wait(10)
        log.close()


def test_broker_killed_and_restarted_on_durable_storage_is_exact(
    s3: dict[str, str], tmp_path: Path, start_counter: Callable[..., WriterThread],
    settings: Settings,
) -> None:
    log = tmp_path / "durable-broker.log"
    broker = EmbeddedBroker(log, storage="s3://tansu/", env=s3).start()
    durable = settings.model_copy(update={"kafka_url": f"kafka://{broker.bootstrap}"})
    ensure_topics(broker.bootstrap, durable)
    workers = Workers(durable, tmp_path)
    restarts = {"broker": 0}
    try:
        workers.start()
        ct = start_counter(using=durable)
        outage_done = threading.Event()

        def crash(n: int) -> None:
            if n == 15_000:
                broker.kill()
                restarts["broker"] += 1
                threading.Timer(3.0, lambda: (broker.start(), outage_done.set())).start()

        truth, acked = feed(durable, 0.03, 23, on_sent=crash)
        assert outage_done.wait(30) and restarts["broker"] == 1
        for proc in workers.exited():  # a worker that lost its broker may have exited
            workers.restart(proc)
        wait_applied(ct, durable, acked, 300)
        assert_exact(ct, truth)
    finally:
        workers.stop_all()
        broker.stop()
