"""A Kafka client that cannot reach its broker leaves no thread and no socket behind
(tahawul/kafka_clients.py): the worker's liveness check, the writer's stall check and
`tahawul up` waiting for its broker retry for as long as an outage lasts."""

from __future__ import annotations

import gc
import os
import socket
import threading
from collections.abc import Callable, Iterator

import pytest
from kafka.errors import KafkaError

from tahawul.kafka_admin import KafkaUnavailable, admin, quiet
from tahawul.kafka_clients import KafkaAdminClient, KafkaConsumer

ATTEMPTS = 4


@pytest.fixture
def refusing() -> Iterator[str]:
    """A loopback address that refuses connections: a port bound here, never listened on.
    kafka-python's own logging is held back: pytest keeps every log record of a test, and the
    tracebacks of the connection errors in them hold the sockets they name."""
    with socket.socket() as held, quiet("kafka"):
        held.bind(("127.0.0.1", 0))
        yield f"127.0.0.1:{held.getsockname()[1]}"


def open_files() -> int:
    gc.collect()
    return len(os.listdir("/proc/self/fd"))


def kafka_threads() -> list[threading.Thread]:
    return [t for t in threading.enumerate() if t.name.startswith("kafka-io")]


@pytest.mark.parametrize("build", [
    lambda bootstrap: KafkaConsumer(bootstrap_servers=bootstrap, bootstrap_timeout_ms=300),
    lambda bootstrap: KafkaConsumer("topic", bootstrap_servers=bootstrap, group_id="g",
                                    bootstrap_timeout_ms=300),
    lambda bootstrap: KafkaAdminClient(bootstrap_servers=bootstrap, bootstrap_timeout_ms=300),
], ids=["consumer", "group-consumer", "admin"])
def test_a_client_whose_broker_is_away_raises_and_leaves_nothing_running(
    refusing: str, build: Callable[[str], object],
) -> None:
    threads, files = kafka_threads(), open_files()
    for _ in range(ATTEMPTS):
        with pytest.raises(KafkaError):
            build(refusing)
    assert [t for t in kafka_threads() if t not in threads] == []
    assert open_files() <= files


def test_admin_retrying_an_absent_broker_leaves_nothing_running(refusing: str) -> None:
    threads, files = kafka_threads(), open_files()
    with pytest.raises(KafkaUnavailable, match="cannot reach Kafka"):
        admin(refusing, timeout=1.5)
    assert [t for t in kafka_threads() if t not in threads] == []
    assert open_files() <= files
