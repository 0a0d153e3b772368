"""The validating Faust worker: transactions topic -> validated batches + dead letters.

Workers scale out in one consumer group: each owns some source partitions and, for each
batch it takes, sends one envelope per source partition to the same partition number of the
validated topic, waits for the broker's acknowledgement, and only then lets Faust commit the
source offsets (``handle`` acks a batch's records after ``forward`` returned; batch_drain.py
hands the consumer's records over in batches). A crash therefore re-sends, never skips; the
counting writer drops what it has already applied by source offset.

Faust tables, Kafka transactions and compaction are deliberately not used: on our broker
they are not reliable (shared/docs/platform-notes.md), and the truth lives in ClickHouse.
"""

from __future__ import annotations

import asyncio
import base64
import ctypes
import ctypes.util
import logging
import os
import signal
import sys
import threading
import time
from collections import defaultdict
from collections.abc import Callable, Collection, Mapping, Sequence
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, Final, NoReturn

import faust
import orjson
from aiokafka.errors import (
    InvalidTopicError,
    KafkaError,
    MessageSizeTooLargeError,
    RecordListTooLargeError,
    RecordTooLargeError,
    TopicAuthorizationFailedError,
)
from faust.types.auth import CredentialsT

from tahawul.kafka_security import KafkaSecurity
from tahawul.keyring import worker_trust_file
from tahawul.logs import dict_config
from tahawul.schemas.headers import (
    CARRIED_HEADERS,
    CONNECT_EXCEPTION_CLASS_HEADER,
    CONNECT_EXCEPTION_MESSAGE_HEADER,
    CONNECT_OFFSET_HEADER,
    CONNECT_PARTITION_HEADER,
    CONNECT_TOPIC_HEADER,
    MESSAGE_HEADER,
    ORIGINAL_BYTES_HEADER,
    PAYLOAD_BYTES_HEADER,
    PAYLOAD_HMAC_HEADER,
    REASON_HEADER,
    SOURCE_INDEX_HEADER,
    SOURCE_OFFSET_HEADER,
    SOURCE_PARTITION_HEADER,
)
from tahawul.schemas.reference import load_catalogue
from tahawul.settings import Settings
from tahawul.stream_processors import metrics
from tahawul.stream_processors.batch_drain import Drain, install
from tahawul.stream_processors.columnar import ReferenceCache
from tahawul.stream_processors.envelope import split
from tahawul.stream_processors.group_join import exit_when_refused
from tahawul.stream_processors.linger import Linger
from tahawul.stream_processors.liveness import start_idle_watch
from tahawul.stream_processors.redaction_key import redaction_key
from tahawul.stream_processors.validation import SOURCE_FORM, DeadLetter, Judge, Verdict

log = logging.getLogger(__name__)


# topic, key, value, partition, headers, timestamp (seconds; None: the producer's clock)
Message = tuple[str, bytes | None, bytes | None, int | None, list[tuple[str, bytes]] | None,
                float | None]
# What a dead letter keeps of its source record besides the payload: key, timestamp
# (seconds) and headers.
Original = tuple[bytes | None, float | None, Sequence[tuple[str, bytes]] | None]
# Events judged before their envelopes are sent (a batch of batched records can hold a
# million): bounds the verdicts held in memory, and lets the broker work while we judge.
CHUNK_EVENTS = 10_000
# Batches a worker may have judged and not yet seen delivered: it judges the next batch
# while the broker acknowledges the previous one's envelopes (with one, it waited idle for
# every acknowledgement: about a fifth of its time in a replay).
PIPELINED_BATCHES = 2
# The most a worker's view of the cluster (topics, partitions, leaders) may age: see
# consumer_options.
METADATA_MAX_AGE_MS: Final = 15_000
# Exit codes of a worker that ends itself without finishing its batch (nothing of it is
# committed; the next owner of its partitions re-sends it): stuck too long (EX_TEMPFAIL:
# "try again", a supervisor restarts it), and still running after SIGTERM's grace period
# (128 + SIGTERM, as if the signal had killed it).
STUCK_EXIT: Final = 75
TERM_EXIT: Final = 128 + signal.SIGTERM
# Errors a resend cannot cure: a dead letter failing so is quarantined at once.
PERMANENT_SEND_ERRORS: Final = (MessageSizeTooLargeError, RecordTooLargeError,
                                RecordListTooLargeError, InvalidTopicError,
                                TopicAuthorizationFailedError)


def hard_exit(code: int, why: str) -> NoReturn:
    """End the process now, from any thread, without running Faust's shutdown.

    Faust's shutdown waits for the batch in progress, which waits for the broker for as long
    as that takes, and a fault inside a batch leaves Faust's state unknown: the only way out
    of a batch whose verdicts are not all acknowledged that can never commit them is not to
    run any more of the event loop, exactly as a SIGKILL would."""
    log.critical(why)
    for handler in logging.getLogger().handlers:
        handler.flush()
    sys.stdout.flush()
    sys.stderr.flush()
    os._exit(code)


class Watchdog:
    """Watches the batch in progress from a thread of its own, so that a worker that cannot
    deliver is visible (``tahawul_worker_batch_in_progress_seconds``) and, after
    ``stuck_seconds``, ends itself rather than keep its partitions while it heartbeats; and
    bounds how long a SIGTERM may take (``stop_seconds``). A thread, not a task: it must act
    even when the event loop is the thing that is stuck."""

    def __init__(self, stuck_seconds: float, stop_seconds: float,
                 exit: Callable[[int, str], Any] = hard_exit) -> None:
        self.stuck_seconds = stuck_seconds
        self.stop_seconds = stop_seconds
        self.exit = exit
        self.started: float | None = None  # monotonic start of the batch in progress
        self.stopping_since: float | None = None
        self._thread: threading.Thread | None = None
        metrics.WORKER_BATCH_SECONDS.set_function(self.batch_seconds)

    def begin(self, started: float | None = None) -> None:
        """A batch is in progress since ``started`` (monotonic; now by default)."""
        self.started = time.monotonic() if started is None else started

    def end(self) -> None:
        self.started = None
        metrics.WORKER_LAST_BATCH.set(time.time())

    def batch_seconds(self) -> float:
        started = self.started
        return 0.0 if started is None else time.monotonic() - started

    def stopping(self) -> None:
        """A stop was asked for (SIGTERM, SIGINT): from now on the process has
        ``stop_seconds`` to end by itself."""
        if self.stopping_since is None:
            self.stopping_since = time.monotonic()

    def check(self) -> None:
        """End the process if its batch is stuck or its stop takes too long."""
        if self.stopping_since is not None and time.monotonic() - self.stopping_since >= self.stop_seconds:
            self.exit(TERM_EXIT, f"worker did not stop within {self.stop_seconds} s of the signal; "
                      "exiting without committing the batch in progress (it will be re-sent)")
        elif self.batch_seconds() >= self.stuck_seconds:
            self.exit(STUCK_EXIT, f"batch not delivered after {self.stuck_seconds} s; exiting so "
                      "that another worker takes these partitions (nothing of the batch was "
                      "committed: it will be re-sent)")

    def start(self) -> Watchdog:
        interval = max(0.05, min(0.5, self.stuck_seconds / 20, self.stop_seconds / 20))

        def watch() -> None:
            while True:
                time.sleep(interval)
                self.check()

        self._thread = threading.Thread(target=watch, name="worker-watchdog", daemon=True)
        self._thread.start()
        return self


def _carried(name: str, value: bytes | None) -> bool:
    """Whether a dead letter carries a source record's header on: the tahawul headers whose
    value has the form the contract gives it (a size, file:line), never free text. Neither
    the signature (it signs bytes a dead letter does not keep) nor the batch header (a dead
    letter holds one event) is carried."""
    if value is None or name not in CARRIED_HEADERS:
        return False
    if name == ORIGINAL_BYTES_HEADER:
        return bytes(value).isdigit() and len(value) <= 12
    return bool(SOURCE_FORM.match(bytes(value).decode("utf-8", "replace")))


def dead_letter_message(topic: str, source_topic: str, partition: int, letter: DeadLetter,
                        max_bytes: int, original: Original | None = None,
                        entities: Collection[str] = ()) -> Message:
    """A rejected event as a dead letter, laid out as Kafka Connect's dead-letter queue lays
    out its records: the source record's timestamp, its key's entity when it is one of
    ``entities`` (the catalogue's codes), its tahawul headers of the contract's form (see _carried; a
    producer's other headers are outside the contract and not copied), and the
    ``__connect.errors.*`` context headers
    (source topic, partition, offset, reason code as exception class, reason as message),
    plus tahawul's own. The value is the payload's redacted form (schemas/redaction.py),
    never its bytes, so it is small whatever size the source broker accepted; cut at
    ``max_bytes`` all the same. A record without value gets the redacted form of nothing,
    without a size header."""
    key, timestamp, source_headers = original if original is not None else (None, None, None)
    message = letter.message.encode()[:1000]
    headers = [(name, bytes(value)) for name, value in source_headers or () if _carried(name, value)]
    if key is not None:  # an entity code, or ENTITY/<event id or batch> (producers/partition_keys.py)
        entity = key.partition(b"/")[0]
        # Only the entity is kept: the rest of a key could be anything.
        key = entity if entity.decode("utf-8", "replace") in entities else None
    headers += [
        (CONNECT_TOPIC_HEADER, source_topic.encode()),
        (CONNECT_PARTITION_HEADER, str(partition).encode()),
        (CONNECT_OFFSET_HEADER, str(letter.offset).encode()),
        (CONNECT_EXCEPTION_CLASS_HEADER, letter.code.encode()),
        (CONNECT_EXCEPTION_MESSAGE_HEADER, message),
        (REASON_HEADER, letter.code.encode()),
        (MESSAGE_HEADER, message),
        (SOURCE_PARTITION_HEADER, str(partition).encode()),
        (SOURCE_OFFSET_HEADER, str(letter.offset).encode()),
        (PAYLOAD_HMAC_HEADER, letter.payload_hmac.encode()),
    ]
    if letter.index is not None:  # an event of a batched record
        headers.append((SOURCE_INDEX_HEADER, str(letter.index).encode()))
    if letter.payload_bytes is not None:
        headers.append((PAYLOAD_BYTES_HEADER, str(letter.payload_bytes).encode()))
    value = letter.redacted
    if len(value) > max_bytes:
        value = value[:max_bytes]
        metrics.DEAD_LETTERS_CUT.inc()
    return (topic, key, value, None, headers, timestamp)


class Quarantine:
    """Dead letters the broker would not take, kept in a local JSONL file (one object per
    line: the dead letter's topic, value in base64, headers, and why it was not delivered),
    fsynced before the batch may finish. Appended with one write per batch, so that workers
    sharing a data directory never interleave lines."""

    def __init__(self, path: Path) -> None:
        self.path = path

    def add(self, letters: list[tuple[Message, str]]) -> None:
        lines = []
        now = datetime.now(UTC).isoformat()
        for (topic, _key, value, _partition, headers, _timestamp), error in letters:
            lines.append(orjson.dumps({
                "quarantined_at": now, "topic": topic, "error": error[:1000],
                "headers": {name: data.decode("utf-8", "replace") for name, data in headers or ()},
                "value_b64": None if value is None else base64.b64encode(value).decode("ascii"),
            }) + b"\n")
        self.path.parent.mkdir(parents=True, exist_ok=True)
        fd = os.open(self.path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o640)
        try:
            data = b"".join(lines)
            while data:
                data = data[os.write(fd, data):]
            os.fsync(fd)
        finally:
            os.close(fd)
        metrics.DEAD_LETTERS_QUARANTINED.inc(len(letters))
        log.error("%d dead letters not acknowledged by the broker; kept in %s", len(letters),
                  self.path)


def _permanent(exc: BaseException) -> bool:
    """True for a send error that no resend can cure: a refusal by the broker or the client
    that names the record itself, or anything but a Kafka, network or timeout error (the
    client refusing the record's shape). Faust wraps aiokafka's errors in its own."""
    cause = exc.__cause__ if exc.__cause__ is not None else exc
    if isinstance(cause, PERMANENT_SEND_ERRORS):
        return True
    return not isinstance(cause, (KafkaError, OSError, asyncio.TimeoutError, TimeoutError))


def _describe(exc: BaseException) -> str:
    """An error and its cause, for a person reading the quarantine file."""
    return repr(exc) if exc.__cause__ is None else f"{exc!r} from {exc.__cause__!r}"


async def deliver_bounded(app: faust.App, messages: list[Message], seconds: float,
                          kind: str = "dead_letter") -> list[tuple[Message, str]]:
    """Send and wait for acknowledgements, resending what failed, for at most ``seconds``.
    Returns the messages still not acknowledged then, or refused for good (too large, a
    topic that cannot exist), each with its last error."""
    loop = asyncio.get_running_loop()
    deadline = loop.time() + seconds
    delay = 0.2
    given_up: list[tuple[Message, str]] = []
    pending = messages
    while pending:
        failed: list[tuple[Message, str]] = []
        futures: list[tuple[Message, asyncio.Future[Any]]] = []
        for message in pending:
            topic, key, value, partition, headers, timestamp = message
            try:
                future = await asyncio.wait_for(
                    app.producer.send(topic, key, value, partition, timestamp, headers),
                    max(0.01, deadline - loop.time()))
                futures.append((message, asyncio.ensure_future(future)))
            except Exception as exc:  # TimeoutError included: metadata never came
                (given_up if _permanent(exc) else failed).append((message, _describe(exc)))
        if futures:
            await asyncio.wait([f for _, f in futures], timeout=max(0.01, deadline - loop.time()))
        for message, future in futures:
            if not future.done():
                failed.append((message, "not acknowledged in time"))
            elif future.cancelled():
                failed.append((message, "cancelled"))
            elif (error := future.exception()) is not None:
                (given_up if _permanent(error) else failed).append((message, _describe(error)))
        if failed:
            metrics.DELIVERY_FAILURES.labels(kind).inc(len(failed))
            if loop.time() + delay >= deadline:
                given_up += failed
                break
            log.warning("%d %s messages not acknowledged; resending in %.1f s", len(failed), kind,
                        delay)
            await asyncio.sleep(delay)
            delay = min(5.0, delay * 2)
        pending = [message for message, _ in failed]
    return given_up


async def deliver_all(app: faust.App, messages: list[Message], max_delay: float = 5.0) -> None:
    """Send and wait until the broker acknowledged every message, resending what failed.

    This never gives up: a broker that is away for a while (restarted, failing over) is
    waited for with the partitions kept, rather than a worker ending and its group
    rebalancing; the watchdog bounds the wait (``TAHAWUL_WORKER_STUCK_SECONDS``). Nothing
    of the batch is acked before all of it was acknowledged. (With Faust's ``take_events``,
    which acks when its loop body exits even by an exception, records of a batch that failed
    when the broker was killed mid-run were lost: that is why acks are ours.)
    """
    delay = 0.2
    pending = messages
    while pending:
        failed: list[Message] = []
        futures = []
        for message in pending:
            topic, key, value, partition, headers, timestamp = message
            try:
                futures.append((message, await app.producer.send(topic, key, value, partition,
                                                                 timestamp, headers)))
            except Exception as exc:
                log.warning("send to %s failed: %s", message[0], exc)
                failed.append(message)
        for message, future in futures:
            try:
                await future
            except Exception as exc:
                log.warning("send to %s not acknowledged: %s", message[0], exc)
                failed.append(message)
        if failed:
            metrics.DELIVERY_FAILURES.labels("envelope").inc(len(failed))
            log.warning("%d messages not acknowledged; resending in %.1f s", len(failed), delay)
            await asyncio.sleep(delay)
            delay = min(max_delay, delay * 2)
        pending = failed


async def deliver_in_order(app: faust.App, messages: list[Message]) -> None:
    """Deliver messages one after the other, each acknowledged before the next is sent."""
    for message in messages:
        await deliver_all(app, [message])


def consumer_options(settings: Settings) -> dict[str, Any]:
    """How a Faust app of the worker's group reads the transactions topic: the broker, raw
    bytes, the group's session and commit settings. The worker adds its producer settings;
    the bare Faust baseline of the benchmarks (benchmarks/faust_bare.py) uses these as they
    are, so that it reads exactly as the worker does."""
    bootstrap = settings.kafka_bootstrap()
    if bootstrap is None:
        raise ValueError("TAHAWUL_KAFKA_URL is not set: the worker needs a Kafka cluster")
    return dict(
        broker=",".join(f"kafka://{hp}" for hp in bootstrap.split(",")),
        store="memory://",
        value_serializer="raw",
        key_serializer="raw",
        topic_partitions=settings.partitions,
        topic_allow_declare=False,
        consumer_auto_offset_reset="earliest",
        broker_session_timeout=settings.session_timeout,
        broker_heartbeat_interval=settings.session_timeout / 4,
        broker_commit_every=settings.batch_max,
        broker_commit_interval=1.0,
        # How stale the consumer's view of the topics may get (Faust's default: 5 minutes).
        # A group that rebalances while a restarted broker does not list the topic yet
        # gives its members no partition of it ("Ignoring missing topic"), and rejoins only
        # once a metadata refresh shows the topic: nothing was read for up to 5 minutes.
        consumer_metadata_max_age_ms=METADATA_MAX_AGE_MS,
        web_enabled=False,
        loghandlers=[],
        broker_credentials=faust_credentials(settings.kafka_security()),
    )


def faust_credentials(security: KafkaSecurity) -> CredentialsT | None:
    """Faust's form of the Kafka security every tahawul client uses (tahawul.kafka_security):
    SCRAM over TLS, or TLS alone, with the same verifying TLS context; None for PLAINTEXT."""
    context = security.ssl_context()
    if security.protocol == "SASL_SSL":
        return faust.SASLCredentials(username=security.username, password=security.password,
                                     ssl_context=context, mechanism=security.mechanism)
    if context is not None:
        return faust.SSLCredentials(context)
    return None


def source_topic(app: faust.App, settings: Settings) -> faust.TopicT:
    """The transactions topic, as raw bytes."""
    return app.topic(settings.topic_transactions, value_type=bytes, key_type=bytes,
                     value_serializer="raw", key_serializer="raw", partitions=settings.partitions)


def create_app(settings: Settings, watchdog: Watchdog | None = None) -> faust.App:
    """The validating worker's Faust app. ``watchdog`` (the worker process's) is told when
    each batch starts and ends."""
    options = consumer_options(settings)
    datadir = settings.data_dir / "faust"  # Faust's own files (none with memory tables)
    datadir.mkdir(parents=True, exist_ok=True)
    app = faust.App(
        settings.worker_group,
        **options,
        broker_request_timeout=max(30.0, settings.session_timeout * 2),
        broker_max_poll_records=settings.batch_max,
        producer_acks=-1,
        producer_max_request_size=2 * 1024 * 1024,
        datadir=str(datadir),
        table_cleanup_interval=3600.0,
    )
    catalogue = load_catalogue()
    trust = worker_trust_file(settings)  # public keys only; no unsigned mode
    source = source_topic(app, settings)
    quarantine = Quarantine(settings.data_dir / "quarantine" / "dead-letters.jsonl")
    key_for_redaction = redaction_key(settings)
    reference = ReferenceCache(catalogue)  # the catalogue's verdicts on code combinations

    # Per partition, across batches: the last envelope delivery started. A batch's first
    # delivery to a partition starts after the previous batch's last one to it ended, so
    # that a partition's envelopes land in offset order while the next batch is judged.
    chains: dict[int, asyncio.Future[None]] = {}

    async def deliver_after(before: asyncio.Future[None] | None, envelopes: list[Message]) -> None:
        if before is not None:
            await before
        await deliver_in_order(app, envelopes)

    async def forward(messages: list[faust.types.Message]) -> asyncio.Future[Any]:
        """Judge a batch and start delivering its envelopes and dead letters; the future
        returned ends when all of them were acknowledged (then ``handle`` acks the records,
        and Faust may commit their offsets).

        A partition's records are judged in chunks of about CHUNK_EVENTS events; a chunk's
        envelopes go out while the next chunk is judged (the broker works meanwhile), and
        at most one chunk per partition of a batch is in flight, which bounds the memory a
        batch of batched records takes. Within a partition, envelopes are delivered one
        after the other, so they land in offset order even when one must be re-sent;
        partitions go in parallel."""
        by_partition: dict[int, list[Any]] = defaultdict(list)
        originals: dict[tuple[int, int], Original] = {}  # what a dead letter carries on
        for msg in messages:
            by_partition[msg.partition].append((msg.offset, msg.value, msg.headers))
            headers = msg.headers
            originals[(msg.partition, msg.offset)] = (
                msg.key, msg.timestamp, list(headers.items()) if isinstance(headers, Mapping) else headers)
        now = datetime.now(UTC)
        in_flight: list[asyncio.Future[None]] = []
        latest: dict[int, asyncio.Future[None]] = {}  # per partition: the last envelope delivery

        async def send(partition: int, verdicts: list[Verdict], dead: list[DeadLetter]) -> None:
            # Outcomes and lag for Prometheus (the pipeline-health dashboard and alerts).
            metrics.observe_worker_batch(app, settings.worker_group, settings.topic_transactions,
                                         partition, verdicts)
            if dead:
                in_flight.append(asyncio.ensure_future(deliver_dead_letters(partition, dead, originals)))
            key = str(partition).encode()
            envelopes: list[Message] = [
                (settings.topic_validated, key, envelope.encode(), partition, None, None)
                for envelope in split(settings.topic_transactions, partition, verdicts)]
            previous = latest.get(partition)
            if previous is not None:
                await previous  # one chunk per partition of the batch in flight
            delivery = asyncio.ensure_future(deliver_after(chains.get(partition), envelopes))
            latest[partition] = chains[partition] = delivery
            in_flight.append(delivery)
            await asyncio.sleep(0)  # let the sends go out before judging on

        judge = Judge(catalogue, now, trust.current(), key_for_redaction, reference=reference)
        for partition, records in by_partition.items():
            records.sort(key=lambda r: r[0])
            for record in records:
                judge.record(record)
                if judge.events >= CHUNK_EVENTS:
                    await send(partition, *judge.take())
            if judge.out:
                await send(partition, *judge.take())
        return asyncio.gather(*in_flight)

    async def deliver_dead_letters(partition: int, dead: list[DeadLetter],
                                   originals: dict[tuple[int, int], Original]) -> None:
        """Dead letters are a copy (the rejection travels in the envelope, which is delivered
        until acknowledged): retried for a bounded time, then quarantined, so that no record
        the dead-letter topic cannot take can hold its partition."""
        messages = [dead_letter_message(settings.topic_dead_letter, settings.topic_transactions,
                                        partition, letter, settings.dead_letter_max_bytes,
                                        originals.get((partition, letter.offset)), catalogue.entities)
                    for letter in dead]
        undelivered = await deliver_bounded(app, messages, settings.dead_letter_retry_seconds)
        if undelivered:
            quarantine.add(undelivered)

    window = Linger(settings.batch_window_ratio, settings.batch_within)
    # Batches judged whose envelopes are not all acknowledged yet: when each started.
    undelivered: dict[asyncio.Future[None], float] = {}

    def abandon(batch: list[faust.types.Message], exc: BaseException) -> NoReturn:
        # Nothing of the batch is acked: the next owner of these partitions re-sends it, and
        # the counter drops what it already applied. A stop that abandons a batch says so
        # by its exit code.
        hard_exit(TERM_EXIT if isinstance(exc, asyncio.CancelledError) else 70,
                  f"batch of {len(batch)} records interrupted before all was delivered "
                  f"({exc!r}); exiting without committing it (it will be re-sent)")

    async def finish(batch: list[faust.types.Message], delivered: asyncio.Future[Any],
                     started: float) -> None:
        """Ack a batch's records once all its envelopes were acknowledged."""
        try:
            await delivered
        except BaseException as exc:
            abandon(batch, exc)
        consumer.ack_all(batch)
        window.wrote(time.monotonic() - started)

    def finished(task: asyncio.Future[None]) -> None:
        undelivered.pop(task, None)
        if watchdog is not None:  # it watches the oldest batch not yet delivered
            if undelivered:
                watchdog.begin(min(undelivered.values()))
            else:
                watchdog.end()

    async def handle(batch: list[faust.types.Message]) -> None:
        """Judge a batch and start delivering it; its records are acked once it is
        delivered (Faust may then commit them), while the next batches are judged. At most
        PIPELINED_BATCHES batches are undelivered at a time: this waits for a slot."""
        started = time.monotonic()
        try:
            if watchdog is not None and not undelivered:
                watchdog.begin(started)
            delivered = await forward(batch)
            task = asyncio.ensure_future(finish(batch, delivered, started))
            undelivered[task] = started
            task.add_done_callback(finished)
            while len(undelivered) >= PIPELINED_BATCHES:
                await asyncio.wait(list(undelivered), return_when=asyncio.FIRST_COMPLETED)
        except BaseException as exc:  # cancelled by a stop, or a fault: not delivered
            abandon(batch, exc)

    # Each batch stays open after its first record as long as the previous one took to
    # handle (times the ratio, at most batch_within), less once nothing more comes for
    # batch_quiet: batching.py. Records reach `handle` in batches, not one by one through a
    # Faust stream: batch_drain.py.
    consumer = install(app, source, Drain(handle, settings.batch_max, window, settings.batch_quiet))
    return app


def release_large_blocks() -> None:
    """Have glibc return every block of 128 KiB or more to the system when it is freed.

    Batched records arrive as values of 100-256 KiB. By default glibc raises its mmap
    threshold each time such a block is freed, after which blocks of that size come from the
    heap, where freed space is fragmented and never returned: the worker's resident memory
    then grows for millions of events before it levels off (50% over the first ten million
    in benchmarks/memory.py). A fixed threshold keeps it at what is in use."""
    try:
        libc = ctypes.CDLL(ctypes.util.find_library("c") or "libc.so.6")
        libc.mallopt(-3, 128 * 1024)  # M_MMAP_THRESHOLD
    except (OSError, AttributeError):  # not glibc: nothing to tune
        pass


class _Worker(faust.Worker):
    """Faust's worker, with a bound on how long a stop may take: Faust's own shutdown waits
    for the batch in progress, which waits for the broker, for as long as that takes."""

    watchdog: Watchdog
    settings: Settings

    def _schedule_shutdown(self, signal: signal.Signals) -> None:
        self.watchdog.stopping()
        super()._schedule_shutdown(signal)

    def on_setup_root_logger(self, logger: logging.Logger, level: int) -> None:
        super().on_setup_root_logger(logger, level)
        # A group the broker will not let it join (a refused session timeout) would leave
        # the worker idle forever: exit with the reason instead (group_join.py). Installed
        # here, after Faust's dictConfig, which clears the handlers of aiokafka's loggers.
        exit_when_refused(self.settings.worker_group, self.settings.session_timeout, hard_exit)


def run_worker(settings: Settings) -> None:
    """Run a worker until SIGINT/SIGTERM (Faust installs the handlers; the watchdog bounds
    how long they may take, and how long a batch may stay undelivered)."""
    release_large_blocks()
    watchdog = Watchdog(settings.worker_stuck_seconds, settings.worker_stop_seconds).start()
    app = create_app(settings, watchdog)
    # Partitions owned and never fetched (a Faust bug after a rebalance) end the worker too.
    start_idle_watch(settings, lambda: app.consumer.assignment(), lambda: watchdog.started is not None,
                     hard_exit, STUCK_EXIT)
    worker = _Worker(app, loglevel=settings.log_level.lower(), quiet=True, redirect_stdouts=False,
                     logging_config=dict_config(settings.log_level, settings.log_format))
    worker.watchdog = watchdog
    worker.settings = settings
    worker.execute_from_commandline()
