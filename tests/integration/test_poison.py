"""Records no tahawul producer would write, straight from a plain kafka-python producer: sizes
around every limit on the path (the broker's, the worker's fetch, the dead-letter producer's
2 MiB), odd headers, null keys and values, compressed batches. None may stop a partition:
each run ends with every partition caught up and exact counts. Also: a worker that cannot
deliver gives up its partitions and answers SIGTERM in bounded time, and the counting
writer's gap alarm tells offsets the broker left empty from records never applied."""

from __future__ import annotations

import asyncio
import hmac
import logging
import signal
import subprocess
import time
import urllib.request
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import orjson
import pytest
from aiokafka.client import AIOKafkaClient
from aiokafka.protocol.produce import ProduceRequest
from aiokafka.record.default_records import DefaultRecordBatchBuilder
from kafka import KafkaProducer, TopicPartition
from prometheus_client import REGISTRY

from tahawul.kafka_admin import admin, ensure_topics
from tahawul.producers.simulator import Truth, iter_simulation
from tahawul.runtime.broker import EmbeddedBroker, free_port
from tahawul.runtime.local import Workers, WriterThread
from tahawul.schemas.headers import (
    PAYLOAD_BYTES_HEADER,
    PAYLOAD_HMAC_HEADER,
    SIGNATURE_HEADER,
    SOURCE_OFFSET_HEADER,
    SOURCE_PARTITION_HEADER,
)
from tahawul.settings import Settings
from tahawul.stream_processors.envelope import Envelope, split
from tahawul.stream_processors.redaction_key import redaction_key
from tahawul.stream_processors.validation import judge
from tests.integration import test_outages
from tests.integration.conftest import wait_for
from tests.integration.helpers import assert_exact, feed, scalar, sign_for, wait_applied
from tests.integration.test_pipeline import consume_all
from tests.unit.factories import CAT, payload

pytestmark = pytest.mark.integration
s3 = test_outages.s3  # the fixture of a local S3 for a durable broker

MiB = 1024 * 1024
REFUSING = Path(__file__).parent / "refusing"
# Sizes around each limit a record meets: 1 MiB (the worker's fetch size per partition, a
# broker's default message.max.bytes), the worker producer's 2 MiB on either side, the
# 2 MB record of the chaos run, and a record of several MB as production brokers accept.
SIZES = (MiB, 2 * MiB - 1, 2 * MiB + 1, 2_000_000, 5_000_000)
# On Apache Kafka the module's broker accepts such records, as a broker configured for
# large records does (its default message.max.bytes, 1 MiB, refuses them at the producer,
# so they would never reach the worker whose limits these tests prove).
KAFKA_PROPERTIES = {"message.max.bytes": str(16 * MiB)}


def metric(name: str) -> float:
    return REGISTRY.get_sample_value(name) or 0.0


def raw_producer(settings: Settings, **config: Any) -> KafkaProducer:
    """A producer as any system outside tahawul might use: records up to 16 MiB."""
    return KafkaProducer(bootstrap_servers=settings.kafka_bootstrap(), acks="all",
                         max_request_size=16 * MiB, **config)


def big_event(size: int) -> bytes:
    """A contract-shaped event padded to ``size`` bytes."""
    head = payload(entity="ROP", service="ROP-VEH-FIRST-REG")[:-1] + b',"note":"'
    return head + b"x" * (size - len(head) - 2) + b'"}'


class RawStream:
    """Sends records and keeps what a test needs to judge the outcome: the highest acked
    offset of each partition and the truth of the simulated events among them."""

    def __init__(self, settings: Settings) -> None:
        self.settings = settings
        self.sign = sign_for(settings)  # valid events are signed, as any producer signs
        self.truth = Truth()
        self.acked: dict[int, int] = {}

    def send(self, producer: KafkaProducer, value: bytes | None, key: bytes | None = None,
             headers: list[tuple[str, Any]] | None = None, partition: int | None = None
             ) -> tuple[int, int]:
        signature = self.sign(key, value) if value is not None else None
        signed = [*(headers or []), *([(SIGNATURE_HEADER, signature)] if signature else [])]
        md = producer.send(self.settings.topic_transactions, value, key, signed, partition).get(60)
        assert md.offset >= 0
        self.acked[md.partition] = max(self.acked.get(md.partition, -1), md.offset)
        return md.partition, md.offset

    def simulated(self, producer: KafkaProducer, scale: float, seed: int) -> None:
        """A simulated run (valid, duplicate and invalid events), sent as they come."""
        futures = []
        for line in iter_simulation("oman-2025-h1", scale, seed, 0.02, 0.02):
            key = line.entity.encode() if line.entity else None
            signature = self.sign(key, line.data)
            futures.append(producer.send(self.settings.topic_transactions, line.data, key,
                                         [(SIGNATURE_HEADER, signature)] if signature else []))
            self.truth.add(line)
        producer.flush()
        for future in futures:
            md = future.get(60)
            assert md.offset >= 0
            self.acked[md.partition] = max(self.acked.get(md.partition, -1), md.offset)


@pytest.fixture
def stream(settings: Settings) -> Iterator[tuple[RawStream, KafkaProducer]]:
    producer = raw_producer(settings, linger_ms=5)
    try:
        yield RawStream(settings), producer
    finally:
        producer.close()


def test_raw_records_at_every_limit_odd_headers_and_nulls_never_stop_a_partition(
    settings: Settings, workers: Workers, start_counter: Callable[..., WriterThread],
    stream: tuple[RawStream, KafkaProducer],
) -> None:
    raw, producer = stream
    worker = workers.start()
    ct = start_counter()
    raw.simulated(producer, 0.002, 41)
    # Every partition meets poison in the middle of its stream, between valid events.
    extra_valid = 0
    big: dict[tuple[int, int], bytes] = {}  # (partition, offset) -> value
    for partition in range(settings.partitions):
        for size in SIZES:
            value = big_event(size)
            big[raw.send(producer, value, b"ROP", partition=partition)] = value
        raw.send(producer, None, b"ROP", partition=partition)
        raw.send(
            producer, b"{}", None, [("tahawul-batch", b"jsonl-v1"), ("tahawul-batch", b"\xff\x00")],
            partition=partition)
        # Valid events with odd headers and no key: counted like any other.
        for headers in ([("x-huge", b"h" * MiB)], [("x-binary", bytes(range(256)))],
                        [("tahawul-source", b"a"), ("tahawul-source", b"\xff\xfe")]):
            raw.send(producer, payload(), None, headers, partition=partition)
            extra_valid += 1
        # Headers without a value (kafka-python cannot send them; the protocol can), and a
        # record with neither key nor value.
        base = produce_batch(settings, partition, raw_batch([
            (0, None, payload(), [("tahawul-source", None), ("x-null", None)]),
            (1, None, None, [("x-null", None)])], settings))
        raw.acked[partition] = max(raw.acked[partition], base + 1)
        extra_valid += 1
    raw.simulated(producer, 0.002, 42)
    for seed, codec in ((43, "gzip"), (44, "lz4")):  # compressed batches, as Java producers send
        compressed = raw_producer(settings, compression_type=codec, linger_ms=20)
        try:
            raw.simulated(compressed, 0.002, seed)
        finally:
            compressed.close()
    wait_applied(ct, settings, raw.acked, 240)

    assert worker.poll() is None and len(workers.procs) == 1, "the worker crashed"
    n = settings.partitions
    poison = (len(SIZES) + 3) * n  # each size, two null values, the duplicated batch headers
    assert scalar(ct, "SELECT count() FROM events") == raw.truth.valid + extra_valid
    assert scalar(ct, "SELECT count() FROM rejected") == raw.truth.invalid + poison
    assert scalar(ct, "SELECT count() FROM duplicates") == raw.truth.duplicate
    assert scalar(ct, "SELECT countIf(reason_code = 'too_large') FROM rejected") >= len(SIZES) * n
    assert scalar(ct, "SELECT max(payload_bytes) FROM rejected") == 5_000_000
    # The big records reach the dead-letter topic in their bounded form: the redacted form
    # (never the bytes), the true size and the keyed hash (the workers' redaction key).
    key = redaction_key(settings)
    dead = consume_all(settings, settings.topic_dead_letter, raw.truth.invalid + poison)
    assert not (settings.data_dir / "quarantine").exists()
    assert len(dead) == raw.truth.invalid + poison
    cut = {}
    for record in dead:
        headers = dict(record.headers)
        source = (int(headers[SOURCE_PARTITION_HEADER]), int(headers[SOURCE_OFFSET_HEADER]))
        if source in big:
            value = big[source]
            cut[source] = int(headers[PAYLOAD_BYTES_HEADER])
            assert cut[source] == len(value)
            assert headers[PAYLOAD_HMAC_HEADER].decode() == hmac.new(key, value, "sha256").hexdigest()
            assert orjson.loads(record.value)["bytes"] == len(value) and len(record.value) < 1000
    assert cut.keys() == big.keys()


def test_undeliverable_dead_letters_go_to_quarantine_and_the_partition_moves_on(
    settings: Settings, workers: Workers, start_counter: Callable[..., WriterThread],
    stream: tuple[RawStream, KafkaProducer],
) -> None:
    raw, producer = stream
    refusing_worker(workers, "TAHAWUL_TOPIC_DEAD_LETTER", TAHAWUL_DEAD_LETTER_RETRY_SECONDS="2")
    ct = start_counter()
    raw.simulated(producer, 0.002, 44)
    raw.send(producer, big_event(2_000_000), b"ROP", partition=0)
    raw.simulated(producer, 0.002, 45)
    wait_applied(ct, settings, raw.acked, 240)
    assert_exact(ct, raw.truth)
    invalid = raw.truth.invalid + 1
    assert scalar(ct, "SELECT count() FROM rejected") == invalid
    # The last batch's dead letters may still be in their retries when its envelope is applied.
    quarantine = settings.data_dir / "quarantine" / "dead-letters.jsonl"
    wait_for(lambda: quarantine.exists() and len(quarantine.read_bytes().splitlines()) >= invalid,
             60, "every dead letter to be quarantined")
    lines = [orjson.loads(line) for line in quarantine.read_bytes().splitlines()]
    assert len(lines) == invalid
    big = [q for q in lines if q["headers"].get(PAYLOAD_BYTES_HEADER) == "2000000"]
    assert len(big) == 1 and len(big[0]["value_b64"]) < 2 * settings.dead_letter_max_bytes
    assert all(q["topic"].startswith("refused-") and "injected" in q["error"] for q in lines)
    assert workers.exited() == []


def committed_offsets(settings: Settings) -> dict[int, int]:
    client = admin(settings.kafka_bootstrap() or "")
    try:
        offsets = client.list_group_offsets(settings.worker_group)
    finally:
        client.close()
    metas = offsets.get(settings.worker_group, offsets)
    return {tp.partition: meta.offset for tp, meta in metas.items() if meta.offset >= 0}


def worker_metric(port: int, name: str) -> float | None:
    """A sample of the worker's /metrics, or None while it does not serve it (yet)."""
    try:
        text = urllib.request.urlopen(f"http://127.0.0.1:{port}/metrics", timeout=2).read().decode()
    except OSError:
        return None
    for line in text.splitlines():
        if line.startswith(name + " "):
            return float(line.split()[1])
    return None


def refusing_worker(workers: Workers, variable: str, **extra: str
                    ) -> tuple[subprocess.Popen[bytes], int]:
    """A worker none of whose sends to its ``variable`` topic is ever acknowledged (fault
    injection: tests/integration/refusing/sitecustomize.py), serving its metrics on the port
    returned."""
    port = free_port()
    topic = f"refused-{uuid.uuid4().hex[:8]}"
    proc = workers.start(**{variable: topic}, TAHAWUL_METRICS_PORT=str(port),
                         REFUSED_TOPIC=topic, PYTHONPATH=str(REFUSING), **extra)
    return proc, port


def stuck_worker(workers: Workers, **extra: str) -> subprocess.Popen[bytes]:
    """A worker whose envelopes can never be delivered, once its batch has been stuck for a
    second (as its metric shows)."""
    proc, port = refusing_worker(workers, "TAHAWUL_TOPIC_VALIDATED", **extra)
    wait_for(lambda: proc.poll() is not None
             or (worker_metric(port, "tahawul_worker_batch_in_progress_seconds") or 0) >= 1,
             60, "the worker to be stuck delivering its batch")
    return proc


def test_a_stuck_worker_answers_sigterm_within_10_s_and_commits_nothing(
    settings: Settings, workers: Workers, start_counter: Callable[..., WriterThread],
    stream: tuple[RawStream, KafkaProducer], tmp_path: Path,
) -> None:
    raw, producer = stream
    raw.simulated(producer, 0.002, 46)
    proc = stuck_worker(workers)
    assert proc.poll() is None
    started = time.monotonic()
    proc.send_signal(signal.SIGTERM)
    code = proc.wait(30)
    took = time.monotonic() - started
    assert took < 10, f"SIGTERM took {took:.1f} s"
    assert code != 0
    assert committed_offsets(settings) == {}
    # A worker that can deliver re-sends all of it: nothing was skipped.
    workers.start()
    ct = start_counter()
    wait_applied(ct, settings, raw.acked, 240)
    assert_exact(ct, raw.truth)


def test_a_stuck_worker_gives_up_its_partitions(
    settings: Settings, workers: Workers, start_counter: Callable[..., WriterThread],
    stream: tuple[RawStream, KafkaProducer], tmp_path: Path,
) -> None:
    raw, producer = stream
    raw.simulated(producer, 0.002, 47)
    proc = stuck_worker(workers, TAHAWUL_WORKER_STUCK_SECONDS="3")
    assert proc.wait(60) == 75
    assert "batch not delivered after 3.0 s" in (tmp_path / "worker-0.log").read_text()
    assert committed_offsets(settings) == {}
    workers.start()
    ct = start_counter()
    wait_applied(ct, settings, raw.acked, 240)
    assert_exact(ct, raw.truth)


# ---- the counting writer's gap alarm -----------------------------------------------------


def raw_batch(records: list[tuple[int, bytes | None, bytes | None, list[tuple[str, bytes | None]]]],
              settings: Settings) -> bytes:
    """One record batch of (offset delta, key, value, headers) records, as the protocol allows
    them: headers without a value, and offsets between records (and before the first) at
    which no record is stored, as a broker may leave them."""
    builder = DefaultRecordBatchBuilder(magic=2, compression_type=0, is_transactional=0,
                                        producer_id=-1, producer_epoch=-1, base_sequence=-1,
                                        batch_size=16 * MiB)
    sign = sign_for(settings)
    for delta, key, value, headers in records:
        signature = sign(key, value) if value is not None else None
        signed = [*headers, *([(SIGNATURE_HEADER, signature)] if signature else [])]
        builder.append(delta, timestamp=None, key=key, value=value, headers=signed)
    return bytes(builder.build())


def holey_batch(values: list[tuple[int, bytes]], settings: Settings) -> bytes:
    return raw_batch([(delta, b"ROP", value, []) for delta, value in values], settings)


def produce_batch(settings: Settings, partition: int, batch: bytes) -> int:
    """Write a prepared record batch as it is (no client re-packs it); its base offset."""

    async def send() -> int:
        client = AIOKafkaClient(bootstrap_servers=settings.kafka_bootstrap() or "")
        await client.bootstrap()
        try:
            tp = TopicPartition(settings.topic_transactions, partition)
            leader = client.cluster.leader_for_partition(tp)
            if leader is None:
                await client.force_metadata_update()
                leader = client.cluster.leader_for_partition(tp)
            answer = await client.send(leader, ProduceRequest(
                None, -1, 10_000, [(settings.topic_transactions, [(partition, batch)])]))
            (_topic, ((_partition, error, offset, *_rest),)), = answer.topics
            assert error == 0, answer
            return int(offset)
        finally:
            await client.close()

    return asyncio.run(send())


@pytest.mark.tansu_only("Apache Kafka refuses a produced batch whose offset deltas skip "
                        "(INVALID_RECORD); its holes come from compaction and transaction markers")
def test_holes_the_broker_left_are_not_gaps(
    settings: Settings, workers: Workers, start_counter: Callable[..., WriterThread],
    stream: tuple[RawStream, KafkaProducer], caplog: pytest.LogCaptureFixture,
) -> None:
    caplog.set_level(logging.INFO, logger="tahawul.stream_processors.counter")
    raw, producer = stream
    workers.start()
    ct = start_counter()
    gaps, holes = metric("tahawul_counter_offset_gaps_total"), metric("tahawul_counter_offset_holes_total")
    valid = 0
    for round_ in range(3):
        # Applied up to here, then a batch whose first 4 offsets (and 2 inside) hold nothing:
        # the worker's next envelope starts 4 past the counter's progress.
        raw.send(producer, payload(), b"ROP", partition=0)
        valid += 1
        wait_applied(ct, settings, raw.acked, 60)
        holey = holey_batch([(4, payload()), (5, payload()), (8, payload())], settings)
        base = produce_batch(settings, 0, holey)
        valid += 3
        raw.acked[0] = base + 8
        wait_applied(ct, settings, raw.acked, 60)
        assert ct.run.progress[(settings.topic_transactions, 0)] == base + 8, round_
    raw.send(producer, payload(), b"ROP", partition=0)  # the offsets go on after the holes
    valid += 1
    wait_applied(ct, settings, raw.acked, 60)
    assert scalar(ct, "SELECT count() FROM events") == valid
    assert metric("tahawul_counter_offset_gaps_total") == gaps
    assert metric("tahawul_counter_offset_holes_total") == holes + 3 * 4
    messages = [r.getMessage() for r in caplog.records]
    assert not any("never reached the counter" in m for m in messages)
    assert sum("hold no record" in m for m in messages) == 3


def test_a_record_whose_envelope_never_came_raises_the_gap_alarm(
    settings: Settings, start_counter: Callable[..., WriterThread],
    stream: tuple[RawStream, KafkaProducer], caplog: pytest.LogCaptureFixture,
) -> None:
    caplog.set_level(logging.INFO, logger="tahawul.stream_processors.counter")
    raw, producer = stream
    values = [payload() for _ in range(4)]
    offsets = [raw.send(producer, value, b"ROP", partition=0)[1] for value in values]
    assert offsets == [0, 1, 2, 3]
    ct = start_counter()
    gaps = metric("tahawul_counter_offset_gaps_total")
    # As a worker would send them, but without the envelope of offsets 1..2.
    verdicts = judge(list(zip(offsets, values, [None] * 4, strict=True)), CAT)
    envelopes: list[Envelope] = [
        *split(settings.topic_transactions, 0, [v for v in verdicts if v[0] == 0]),
        *split(settings.topic_transactions, 0, [v for v in verdicts if v[0] == 3])]
    for env in envelopes:
        producer.send(settings.topic_validated, env.encode(), b"0", partition=0).get(30)
    wait_applied(ct, settings, {0: 3}, 60)
    assert metric("tahawul_counter_offset_gaps_total") == gaps + 1
    messages = [r.getMessage() for r in caplog.records]
    assert any(f"offsets 1..2 of {settings.topic_transactions}[0] never reached the counter "
               "(the source topic holds a record at 1)" in m for m in messages), messages
    assert scalar(ct, "SELECT count() FROM events") == 2


def test_no_gap_alarm_through_a_broker_restart_on_durable_storage(
    s3: dict[str, str], tmp_path: Path, start_counter: Callable[..., WriterThread],
    settings: Settings, caplog: pytest.LogCaptureFixture,
) -> None:
    """The restart that leaves holes in the chaos runs (acknowledged produce requests Tansu did
    not keep): whether or not this run leaves any, the counts are exact and the alarm quiet."""
    caplog.set_level(logging.INFO, logger="tahawul.stream_processors.counter")
    broker = EmbeddedBroker(tmp_path / "durable-broker.log", storage="s3://tansu/", env=s3).start()
    durable = settings.model_copy(update={"kafka_url": f"kafka://{broker.bootstrap}"})
    ensure_topics(broker.bootstrap, durable)
    workers = Workers(durable, tmp_path)
    gaps = metric("tahawul_counter_offset_gaps_total")
    try:
        workers.start()
        ct = start_counter(using=durable)
        restarts = []

        def crash(n: int) -> None:
            # Restarted from this (the main) thread: a child that tahawul starts dies with the
            # thread that started it (PR_SET_PDEATHSIG), so a timer thread would not do.
            if n == 15_000:
                broker.kill()
                time.sleep(3)
                broker.start()
                restarts.append(n)

        truth, acked = feed(durable, 0.03, 48, on_sent=crash)
        assert restarts == [15_000]
        for proc in workers.exited():  # a worker that lost its broker may have exited
            workers.restart(proc)
        wait_applied(ct, durable, acked, 300)
        assert_exact(ct, truth)
    finally:
        workers.stop_all()
        broker.stop()
    assert metric("tahawul_counter_offset_gaps_total") == gaps
    assert not any("never reached the counter" in r.getMessage() for r in caplog.records)
