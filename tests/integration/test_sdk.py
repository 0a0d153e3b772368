"""The Python SDK against real brokers and the real pipeline: its spool keeps every accepted
event through a broker outage and a SIGKILL of the producing process; it signs every record
with the entity's key, and only events signed by their entity are counted."""

from __future__ import annotations

import os
import select
import subprocess
import sys
import uuid
from collections.abc import Callable
from pathlib import Path

import orjson
import pytest

from tahawul.kafka_admin import ensure_topics
from tahawul.keyring import dev_private_dir, ensure_dev_keys, load_signing_key
from tahawul.producers.kafka_sender import EventSender
from tahawul.producers.sdk import Producer
from tahawul.runtime.broker import EmbeddedBroker, free_port
from tahawul.runtime.local import WriterThread
from tahawul.schemas.batch import events_of
from tahawul.schemas.headers import BATCH_HEADER, SIGNATURE_HEADER
from tahawul.schemas.signing import SigningKey
from tahawul.settings import Settings
from tahawul.sinks.clickhouse.connection import connect
from tests.integration.conftest import REPO, wait_for
from tests.integration.producer_support import (
    counter_on,
    event_days,
    expected_daily,
    published,
    scalar,
    start_worker,
    stop,
    tahawul,
    wait_outcomes,
)

pytestmark = pytest.mark.integration
MOH = {"entity": "MOH", "service": "MOH-PREARRIVAL-MED", "governorate": "OM-MA"}


class Driver:
    """tests/integration/sdk_driver.py as a separate producing process."""

    def __init__(self, bootstrap: str, spool: Path, topic: str, signing_key: Path,
                 batch_events: int = 1000) -> None:
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "tests.integration.sdk_driver", "--bootstrap", bootstrap,
             "--spool", str(spool), "--topic", topic, "--signing-key", str(signing_key),
             "--batch-events", str(batch_events)],
            cwd=REPO, stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL,
            text=True, env={k: v for k, v in os.environ.items() if not k.startswith("TAHAWUL_")})
        self.first = self.read(60)

    def read(self, timeout: float) -> str:
        assert self.proc.stdout is not None
        # poll, not select: a long pytest process may hold more than 1,024 descriptors, and
        # select() refuses any numbered above that ("filedescriptor out of range").
        poller = select.poll()
        poller.register(self.proc.stdout, select.POLLIN)
        ready = poller.poll(timeout * 1000)
        assert ready, f"the producer process did not answer within {timeout} s"
        return self.proc.stdout.readline().strip()

    def ask(self, command: str, timeout: float = 90) -> str:
        assert self.proc.stdin is not None
        self.proc.stdin.write(command + "\n")
        self.proc.stdin.flush()
        return self.read(timeout)

    def kill(self) -> None:
        self.proc.kill()
        self.proc.wait()


def record_events(value: bytes, headers: list[tuple[str, bytes]]) -> list[bytes]:
    """The event payloads of a record: a batched record's events, or the value itself."""
    fmt = dict(headers).get(BATCH_HEADER)
    return [value] if fmt is None else events_of(value, fmt)


def jsonl(path: Path, events: list[dict[str, object]]) -> Path:
    path.write_bytes(b"".join(orjson.dumps(e) + b"\n" for e in events))
    return path


def test_spool_survives_broker_outage_and_producer_restart(tmp_path: Path) -> None:
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
    # One producer signs as one entity (ROP): the three files are ROP's.
    a, b, c = event_days(300), event_days(200, channel="paper"), event_days(100, governorate="OM-MA")
    files = {n: jsonl(tmp_path / f"{n}.jsonl", evs) for n, evs in (("a", a), ("b", b), ("c", c))}
    spool = tmp_path / "spool"
    client = connect(settings.clickhouse_dsn())
    first = EmbeddedBroker(tmp_path / "broker-1.log", port=port).start()
    worker = start_worker(settings, tmp_path / "worker-1.log")
    ct: WriterThread | None = None
    second: EmbeddedBroker | None = None
    try:
        ensure_topics(first.bootstrap, settings)
        ct = counter_on(settings, client)
        producer = Driver(first.bootstrap, spool, settings.topic_transactions, rop_key)
        assert producer.first == "ready pending 0"
        assert producer.ask(f"send {files['a']}") == "spooled 300"
        assert producer.ask("flush 60") == "pending 0"
        wait_outcomes(ct, 300, 0, 0, 120)
        ct.halt()
        stop(worker)

        # The broker dies. The producer still accepts events: they wait in its spool...
        first.kill()
        assert producer.ask(f"send {files['b']}") == "spooled 200"
        # (flush states the control totals of b's 20 days too: spooled, so pending as well)
        assert producer.ask("flush 3") == "pending 220"
        # ...and the producing process itself is killed before the broker is back.
        producer.kill()

        second = EmbeddedBroker(tmp_path / "broker-2.log", port=port).start()  # a new cluster
        ensure_topics(second.bootstrap, settings)
        worker = start_worker(settings, tmp_path / "worker-2.log")
        ct = counter_on(settings, client)
        restarted = Driver(second.bootstrap, spool, settings.topic_transactions, rop_key)
        assert restarted.first == "ready pending 220"  # found again on disk
        assert restarted.ask(f"send {files['c']}") == "spooled 100"
        assert restarted.ask("flush 60") == "pending 0"
        assert restarted.ask("close") == "pending 0"
        wait_outcomes(ct, 300, 0, 0, 120)  # b and c; a was acknowledged and never re-sent
        assert published(client) == expected_daily([*a, *b, *c])
        assert scalar(client, "SELECT count() FROM events") == 600
        # The control totals, stated across the outage and the kill, find nothing missing.
        stated = sum(expected_daily([*a, *b, *c]).values())
        wait_for(lambda: scalar(client, "SELECT countIf(status != 'complete') FROM v_completeness") == 0
                 and scalar(client, "SELECT sum(control_total) FROM v_completeness") == stated,
                 60, "every cell complete")
        assert scalar(client, "SELECT count() FROM duplicates") == 0
    finally:
        if ct is not None:
            ct.stop.set()
            ct.thread.join(30)
        stop(worker)
        for broker in (first, second):
            if broker is not None:
                broker.stop()
        client.close()


def test_in_process_producer_rides_out_an_outage(tmp_path: Path) -> None:
    """Without a restart: flush reports what is pending and the same Producer delivers it
    once the broker is back."""
    port = free_port()
    settings = Settings(kafka_url=f"kafka://127.0.0.1:{port}", _env_file=None)  # type: ignore[call-arg]
    broker = EmbeddedBroker(tmp_path / "b1.log", port=port).start()
    ensure_topics(broker.bootstrap, settings)
    producer = Producer(broker.bootstrap, tmp_path / "spool", signing_key=SigningKey.generate("ROP", "k1"),
                        delivery_timeout=2.0, retry_backoff=0.2, max_retry_backoff=0.5)
    try:
        producer.send_many(event_days(50))
        assert producer.flush(60) == 0
        broker.kill()
        for ev in event_days(30):
            producer.send(ev)
        assert producer.flush(2) == 50  # the 30 events and the control totals of their 20 days
        assert producer.pending == 50
        broker = EmbeddedBroker(tmp_path / "b2.log", port=port).start()
        ensure_topics(broker.bootstrap, settings)
        assert producer.flush(60) == 0
        assert producer.close() == 0
        from kafka import KafkaConsumer

        consumer = KafkaConsumer(settings.topic_transactions, bootstrap_servers=broker.bootstrap,
                                 auto_offset_reset="earliest", consumer_timeout_ms=3000)
        records = list(consumer)
        consumer.close()
        # Batched records by default (schemas/batch.py): fewer records than events.
        received = [orjson.loads(e) for r in records for e in record_events(r.value, r.headers)]
        assert len(records) < len(received)
        assert len(received) == 50 and {r["entity"] for r in received} == {"ROP"}
        assert sum(r.get("kind") == "control_total" for r in received) == 20
    finally:
        producer.close(0)
        broker.stop()


def test_only_events_signed_by_their_entity_are_counted(
    settings: Settings, start_counter: Callable[[], WriterThread], tmp_path: Path
) -> None:
    """ROP gets a new key pair with `tahawul credentials signing-key` (its dev key stays
    valid: a rotation); the SDK signs with it. Unsigned events, and events signed with a key
    the trust file does not hold, are rejected; MOH's events signed with MOH's key count."""
    trust = settings.signing_trust
    assert trust is not None
    made = tahawul(settings, "credentials", "signing-key", "ROP", "--trust", str(trust),
                   "--out", str(tmp_path / "rop.key"))
    assert made.returncode == 0, made.stderr
    rop_key = load_signing_key(tmp_path / "rop.key")
    # ROP's second key (after its dev key "dev1"): both are valid until one is revoked.
    assert (rop_key.signer, rop_key.key_id, made.stdout.strip()) == ("ROP", "k2", str(tmp_path / "rop.key"))
    worker = start_worker(settings, tmp_path / "worker.log")
    try:
        ct = start_counter()
        signed = event_days(50)
        with Producer(settings.kafka_bootstrap() or "", tmp_path / "spool", topic=settings.topic_transactions,
                      signing_key=tmp_path / "rop.key") as producer:
            producer.send_many(signed)
            assert producer.flush(60) == 0
        sender = EventSender(settings.kafka_bootstrap() or "", settings.topic_transactions)
        for ev in event_days(5):  # unsigned
            sender.send(orjson.dumps(ev), b"ROP")
        stranger = SigningKey.generate("ROP", "k9")  # a key pair the trust file does not hold
        for ev in event_days(3):
            data = orjson.dumps(ev)
            sender.send(data, b"ROP", [(SIGNATURE_HEADER, stranger.sign(data))])
        moh = event_days(7, **MOH)
        moh_key = load_signing_key(dev_private_dir(settings.data_dir) / "MOH.key")
        for ev in moh:
            data = orjson.dumps(ev)
            sender.send(data, b"MOH", [(SIGNATURE_HEADER, moh_key.sign(data))])
        sender.flush()
        sender.close()
        wait_outcomes(ct, counted=57, duplicates=0, rejected=8, timeout=120)
        reasons = {str(code): int(n) for code, n in ct.store.client.query(
            "SELECT reason_code, count() FROM rejected GROUP BY reason_code").result_rows}
        assert reasons == {"signature_missing": 5, "signature_invalid": 3}
        assert published(ct.store.client) == expected_daily([*signed, *moh])
    finally:
        stop(worker)
