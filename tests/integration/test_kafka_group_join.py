"""A worker or counting writer whose consumer group the broker will not let it join exits
with the reason.

Apache Kafka refuses a session timeout outside group.min/max.session.timeout.ms
(``InvalidSessionTimeoutError``); aiokafka logs it and leaves the consumer idle, and the
worker used to sit there forever, alive and counting nothing (docs/brokers.md). Tansu
accepts any session timeout, so this runs on Apache Kafka whatever --broker says."""

from __future__ import annotations

import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from tahawul.runtime.apache_kafka import ApacheKafka
from tahawul.runtime.local import Workers
from tahawul.settings import Settings
from tahawul.stream_processors.group_join import CONFIG_EXIT
from tests.integration.producer_support import tahawul

pytestmark = pytest.mark.integration


@pytest.fixture(scope="module")
def broker(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ApacheKafka]:
    """Apache Kafka as the fixture starts it (group.min.session.timeout.ms 1000), not
    parametrized: the refusal is Apache Kafka's."""
    with ApacheKafka(tmp_path_factory.mktemp("kafka")) as kafka:
        yield kafka


def test_a_refused_session_timeout_ends_the_worker_with_the_reason(
    settings: Settings, workers: Workers, tmp_path: Path
) -> None:
    started = time.monotonic()
    proc = workers.start(TAHAWUL_SESSION_TIMEOUT="0.5")  # under the broker's 1 s minimum
    code = proc.wait(timeout=120)
    took = time.monotonic() - started
    log = (tmp_path / "worker-0.log").read_text()
    assert code == CONFIG_EXIT, log[-2000:]
    assert "TAHAWUL_SESSION_TIMEOUT=0.5 s, is outside the broker's group.min.session.timeout.ms" in log
    assert "InvalidSessionTimeoutError" in log
    assert took < 60, f"the worker took {took:.0f} s to give up"


def test_a_refused_session_timeout_ends_the_counter_with_the_reason(settings: Settings) -> None:
    """The counting writer, refused the same way, exits 2 (a setting to change) with the
    same line, instead of retrying its poll once a second forever."""
    started = time.monotonic()
    done = tahawul(settings, "counter", timeout=120, TAHAWUL_SESSION_TIMEOUT="0.5")
    took = time.monotonic() - started
    assert done.returncode == 2, done.stderr[-2000:]
    assert "TAHAWUL_SESSION_TIMEOUT=0.5 s, is outside the broker's group.min.session.timeout.ms" \
        in done.stderr
    assert "InvalidSessionTimeoutError" in done.stderr
    assert took < 60, f"the counter took {took:.0f} s to give up"
