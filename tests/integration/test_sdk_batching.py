"""The SDK's batched records (its default) keep the SDK's guarantees on the real pipeline: a
producing process SIGKILLed right after it accepted events loses none of them, and events
delivered again in batches cut differently (other keys, so other partitions) are counted
once each: the counting writer meets their copies whatever partition they came by."""

from __future__ import annotations

import uuid
from pathlib import Path

import pytest
from kafka import KafkaConsumer, TopicPartition

from tahawul.kafka_admin import ensure_topics
from tahawul.keyring import dev_private_dir, ensure_dev_keys
from tahawul.runtime.broker import EmbeddedBroker, free_port
from tahawul.runtime.local import WriterThread
from tahawul.settings import Settings
from tahawul.sinks.clickhouse.connection import connect
from tests.integration.conftest import wait_for
from tests.integration.producer_support import (
    counter_on,
    event_days,
    expected_daily,
    published,
    scalar,
    start_worker,
    stop,
    wait_outcomes,
)
from tests.integration.test_sdk import Driver, jsonl

pytestmark = pytest.mark.integration

EVENTS = 1500


def test_batched_sdk_killed_after_accepting_then_redelivering_counts_each_event_once(
        tmp_path: Path) -> None:
    port = free_port()
    tag = uuid.uuid4().hex[:8]
    rop_key = dev_private_dir(tmp_path / "data") / "ROP.key"
    settings = Settings(
        data_dir=tmp_path / "data", kafka_url=f"kafka://127.0.0.1:{port}",
        signing_trust=ensure_dev_keys(tmp_path / "data"),
        topic_transactions=f"tx-{tag}", topic_validated=f"validated-{tag}", topic_dead_letter=f"dlq-{tag}",
        worker_group=f"worker-{tag}", counter_group=f"counter-{tag}", session_timeout=3.0,
        batch_max=1000, batch_within=0.2, _env_file=None,  # type: ignore[call-arg]
    )
    events = event_days(EVENTS)  # all ROP's: one entity, as the big entity of the real mix
    path = jsonl(tmp_path / "events.jsonl", events)
    spool, snapshot = tmp_path / "spool", tmp_path / "spool-copy"
    client = connect(settings.clickhouse_dsn())
    broker = EmbeddedBroker(tmp_path / "broker.log", port=port).start()
    worker = start_worker(settings, tmp_path / "worker.log")
    ct: WriterThread | None = None
    try:
        ensure_topics(broker.bootstrap, settings)
        ct = counter_on(settings, client)
        # Accepted (in the spool, fsynced), then the process is killed while it delivers.
        first = Driver(broker.bootstrap, spool, settings.topic_transactions, rop_key, batch_events=100)
        assert first.ask(f"send {path}") == f"spooled {EVENTS}"
        first.kill()
        # Reopened on the same spool: whatever was not acknowledged goes out again.
        second = Driver(broker.bootstrap, spool, settings.topic_transactions, rop_key, batch_events=100)
        assert second.first.startswith("ready pending ")
        assert second.ask("flush 90") == "pending 0"
        assert second.ask("close") == "pending 0"
        wait_for(lambda: ct is not None and ct.run.counted >= EVENTS, 120, f"{EVENTS} counted")
        with ct.run.lock:
            counted, resent = ct.run.counted, ct.run.duplicates
        assert counted == EVENTS
        # The same events accepted by another spool whose broker was unreachable, then
        # delivered by a new process in batches of 7 (cut, keyed and so partitioned otherwise
        # than the first time): each is a duplicate of its counted copy.
        offline = Driver(f"127.0.0.1:{free_port()}", snapshot, settings.topic_transactions, rop_key)
        assert offline.ask(f"send {path}") == f"spooled {EVENTS}"
        offline.kill()
        third = Driver(broker.bootstrap, snapshot, settings.topic_transactions, rop_key, batch_events=7)
        assert third.first == f"ready pending {EVENTS}"
        assert third.ask("close") == "pending 0"
        wait_outcomes(ct, EVENTS, resent + EVENTS, 0, 120)
        assert scalar(client, "SELECT count() FROM events") == EVENTS
        assert published(client) == expected_daily(events)
        # One entity's records spread over the partitions (keyed by batch id, not by entity).
        consumer = KafkaConsumer(bootstrap_servers=broker.bootstrap)
        parts = [TopicPartition(settings.topic_transactions, p)
                 for p in consumer.partitions_for_topic(settings.topic_transactions) or ()]
        ends = consumer.end_offsets(parts)
        consumer.close()
        assert sum(1 for n in ends.values() if n > 0) >= 4, ends
    finally:
        if ct is not None:
            ct.stop.set()
            ct.thread.join(30)
        stop(worker)
        broker.stop()
        client.close()
