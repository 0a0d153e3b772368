"""The /metrics endpoint and the pipeline-health metrics it serves.

Metrics live in the process-wide default registry, so each test reads values before and
after and asserts the difference."""

from __future__ import annotations

import urllib.request
import uuid
from collections import namedtuple
from datetime import UTC, datetime, timedelta
from pathlib import Path
from types import SimpleNamespace

import pytest
from prometheus_client import REGISTRY

from tahawul.runtime.metrics_server import serve_metrics
from tahawul.settings import Settings
from tahawul.stream_processors import metrics


def value(name: str, **labels: str) -> float:
    return REGISTRY.get_sample_value(name, labels) or 0.0


def settings(**kw: object) -> Settings:
    return Settings(_env_file=None, **kw)  # type: ignore[call-arg, arg-type]


def test_endpoint_is_off_unless_a_port_is_set() -> None:
    assert serve_metrics(settings()) is None


def test_endpoint_serves_the_pipeline_metrics() -> None:
    endpoint = serve_metrics(settings(metrics_port=0))
    assert endpoint is not None
    try:
        body = urllib.request.urlopen(endpoint.url, timeout=5).read().decode()
    finally:
        endpoint.close()
    for name in ("tahawul_worker_events_consumed_total", "tahawul_store_write_seconds_bucket",
                 "tahawul_event_freshness_seconds_bucket", "tahawul_counter_events_total"):
        assert name in body


def test_a_port_in_use_is_a_clear_error() -> None:
    first = serve_metrics(settings(metrics_port=0))
    assert first is not None
    try:
        with pytest.raises(SystemExit, match="cannot serve /metrics"):
            serve_metrics(settings(metrics_port=first.port))
    finally:
        first.close()


def test_verdicts_count_consumed_valid_and_rejections_by_reason() -> None:
    before = (value("tahawul_worker_events_consumed_total"), value("tahawul_worker_events_valid_total"),
              value("tahawul_worker_events_rejected_total", reason="unknown_service"))
    metrics.observe_verdicts([(0, True, ()), (1, False, (1, "unknown_service", "x")), (2, True, ())])
    assert value("tahawul_worker_events_consumed_total") - before[0] == 3
    assert value("tahawul_worker_events_valid_total") - before[1] == 2
    assert value("tahawul_worker_events_rejected_total", reason="unknown_service") - before[2] == 1


def test_written_batch_counts_rows_entities_and_freshness() -> None:
    now = datetime(2026, 1, 1, 12, tzinfo=UTC)
    entity = f"E{uuid.uuid4().hex[:6]}"
    occurred_ms = [int((now - age).timestamp() * 1000) for age in (timedelta(seconds=3), timedelta(hours=2))]
    under_5s = value("tahawul_event_freshness_seconds_bucket", le="5.0")
    under_1h = value("tahawul_event_freshness_seconds_bucket", le="3600.0")
    aggregates = value("tahawul_counter_rows_written_total", table="counts_minute")
    metrics.observe_stored([entity, entity], occurred_ms, aggregates=4, duplicates=0, rejected=1,
                           now_s=now.timestamp())
    assert value("tahawul_counter_entity_events_total", entity=entity) == 2
    assert value("tahawul_event_freshness_seconds_bucket", le="5.0") - under_5s == 1
    assert value("tahawul_event_freshness_seconds_bucket", le="3600.0") - under_1h == 1
    assert value("tahawul_counter_rows_written_total", table="counts_minute") - aggregates == 4
    assert value("tahawul_counter_last_write_timestamp_seconds") == now.timestamp()
    # One more event of the entity, 1.5 s old.
    metrics.observe_stored([entity], [int(now.timestamp() * 1000) - 1500], aggregates=1, duplicates=0,
                           rejected=0, now_s=now.timestamp())
    assert value("tahawul_counter_entity_events_total", entity=entity) == 3
    assert value("tahawul_event_freshness_seconds_bucket", le="5.0") - under_5s == 2


def test_lag_is_clamped_and_forgotten_when_a_partition_moves_away() -> None:
    group, topic = f"g-{uuid.uuid4().hex[:6]}", "tx"
    metrics.observe_lag(group, topic, 0, 120, 100)
    metrics.observe_lag(group, topic, 1, 5, 9)  # a watermark reported too low
    assert value("tahawul_consumer_lag_records", group=group, topic=topic, partition="0") == 20
    assert value("tahawul_consumer_lag_records", group=group, topic=topic, partition="1") == 0

    tp = namedtuple("tp", "topic partition")  # hashable like kafka's TopicPartition
    consumer = SimpleNamespace(
        assignment=lambda: {tp(topic=topic, partition=1)},
        highwater=lambda t: 50, position=lambda t, timeout_ms=None: 40)
    metrics.observe_kafka_lag(consumer, group)
    assert REGISTRY.get_sample_value("tahawul_consumer_lag_records",
                                     {"group": group, "topic": topic, "partition": "0"}) is None
    assert value("tahawul_consumer_lag_records", group=group, topic=topic, partition="1") == 10


def test_up_gives_its_worker_the_next_metrics_port(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    """`tahawul up` serves the counting writer's metrics itself; its worker subprocess must
    not try the same port (it inherits the environment)."""
    import tahawul.runtime.local
    from tahawul.runtime.local import LocalPipeline

    seen: list[dict[str, str]] = []
    monkeypatch.setattr(tahawul.runtime.local.subprocess, "Popen", lambda *a, env, **kw: seen.append(env))
    monkeypatch.setenv("TAHAWUL_METRICS_PORT", "9500")
    remote = {"kafka_url": "kafka://b:9092", "kafka_security_protocol": "PLAINTEXT"}
    LocalPipeline(settings(metrics_port=9500, **remote), log_dir=tmp_path).start_workers(1)
    monkeypatch.delenv("TAHAWUL_METRICS_PORT")
    LocalPipeline(settings(**remote), log_dir=tmp_path).start_workers(1)
    assert seen[0]["TAHAWUL_METRICS_PORT"] == "9501"
    assert "TAHAWUL_METRICS_PORT" not in seen[1]  # no endpoint for up: none for its worker
