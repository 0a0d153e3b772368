"""The Python SDK for integrating teams: validate, spool, deliver to Kafka, report what is pending.

Usable from plain synchronous code::

    from tahawul.sdk import Producer

    with Producer("kafka-1:9092,kafka-2:9092", spool_dir="/var/lib/myapp/tahawul",
                  signing_key="/etc/myapp/tahawul-ROP.key") as producer:
        producer.send(event)             # raises InvalidEvent with the pipeline's own message
        pending = producer.flush(10.0)   # 0 once the broker acknowledged everything

How it keeps every accepted event:

1. ``send``/``send_many`` validate against contract v1 with
   :func:`tahawul.schemas.event.parse` (the very function the workers run, so the error
   codes and messages are the pipeline's);
2. they append the events to the on-disk spool and fsync it, then return: from here on the
   event survives a broker outage, a crash or a restart (:mod:`tahawul.producers.sdk.spool`);
3. one delivery thread reads spooled events, oldest first, packs them into batched records
   (schemas/batch.py: up to ``batch_events`` events, or what ``batch_linger_ms`` gathered,
   one Ed25519 signature over each record's exact bytes), hands them to an idempotent
   kafka-python producer (``acks=all``, retries) and, once a record is acknowledged, marks
   every event in it acknowledged in the spool. ``batch_events=1`` sends one record per
   event (the SDK's only mode before batching). Records are keyed for spread, not by entity alone
   (producers/partition_keys.py): a batched record by a batch id, a lone event by
   ``ENTITY/<event_id>``;
4. when delivery fails (broker down longer than ``delivery_timeout``), it drops that
   producer, waits, and re-delivers every unacknowledged event from the oldest, in order.
   A re-delivered event that had in fact arrived is counted once by the pipeline (it
   deduplicates by (entity, event_id) over all partitions), also when it travels in a
   batch cut differently the second time.

Control totals (schemas/control_total.py): the SDK tallies, per day (Asia/Muscat),
service and channel, the completed transactions it accepted (:mod:`tahawul.producers.sdk.totals`)
and states them itself: at ``flush``/``close``, when the day changes, and on
``emit_control_totals()``. They travel in the spool like events, so an integrating team gets
`tahawul audit completeness` for free: an event lost after ``send`` returned shows up as
missing in its cell. ``control_totals=False`` turns this off (a system that states its
totals another way, e.g. with ``send`` of its own control totals or `tahawul send`).

Exchange halves (schemas/exchange.py): a system on the integration platform reports its side
of each data exchange with ``send_exchange(...)`` (or ``send`` of the half in contract form).
The half must be the producer's own: its provider for ``side="provider"``, its consumer for
``side="consumer"`` (the pipeline refuses a half signed by the other party). Halves travel
in the spool and batched records like events; the pipeline pairs the two halves of an
exchange and counts it once (docs/exchanges.md).
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from types import TracebackType
from typing import Any

import orjson
from kafka import KafkaProducer

from tahawul.kafka_security import PLAINTEXT, KafkaSecurity
from tahawul.producers.kafka_config import UnconfirmedWrite, producer_config, stored
from tahawul.producers.partition_keys import batch_key, key_of, payload_key
from tahawul.producers.sdk.spool import Cursor, Entry, Spool, SpoolError, SpoolFull
from tahawul.producers.sdk.totals import Tallies
from tahawul.schemas import topics
from tahawul.schemas.batch import BATCH_FORMAT, MAX_BATCH_BYTES, MAX_BATCH_EVENTS, batchable
from tahawul.schemas.batch import encode as encode_batch
from tahawul.schemas.control_total import ControlTotal, muscat_day, parse_either
from tahawul.schemas.event import Event, InvalidEvent, in_contract_order
from tahawul.schemas.exchange import KIND as EXCHANGE_KIND
from tahawul.schemas.exchange import SCHEMA_VERSION as EXCHANGE_VERSION
from tahawul.schemas.exchange import Exchange
from tahawul.schemas.headers import BATCH_HEADER, SIGNATURE_HEADER
from tahawul.schemas.reference import Catalogue, load_catalogue
from tahawul.schemas.signing import SigningKey, parse_signing_key

log = logging.getLogger(__name__)


class ProducerClosed(RuntimeError):
    """``send`` after ``close``."""


@dataclass(frozen=True, slots=True)
class Rejection:
    """Why event number ``index`` of a ``send_many`` call breaks the contract."""

    index: int
    code: str
    message: str


class BatchRejected(InvalidEvent):
    """Some events of a ``send_many`` call are invalid; none of the call was sent."""

    def __init__(self, rejections: list[Rejection]) -> None:
        first = rejections[0]
        super().__init__(
            first.code,
            f"{len(rejections)} event(s) break contract v1 and nothing was sent; "
            f"event {first.index}: {first.message}",
        )
        self.rejections = rejections


Parsed = Event | ControlTotal | Exchange  # what a payload producers accept is


def encode(event: Mapping[str, Any] | bytes, catalogue: Catalogue) -> tuple[bytes, Parsed]:
    """Validate one event or control total (a dict in contract form, or its JSON bytes);
    return (payload, what it is)."""
    if isinstance(event, bytes | bytearray):
        payload = bytes(event)  # the caller's bytes are what it signs and sends
    else:  # an event's members in the contract's order: the workers' fast path reads them so
        payload = orjson.dumps(event if "kind" in event else in_contract_order(event))
    return payload, parse_either(payload, catalogue)


class Producer:
    """Sends contract-v1 events to the pipeline's Kafka topic, never losing an accepted one.

    ``signing_key`` (required): the entity's private key file from ``tahawul credentials
    signing-key`` (or a loaded :class:`~tahawul.schemas.signing.SigningKey`). Every record
    is signed with it (Ed25519, one signature per record) and the workers count only
    events signed by their entity, so an event of another entity is refused here, at
    ``send``, with ``signature_invalid``. ``spool_max_bytes`` bounds the
    spool; a full spool makes ``send`` raise :class:`~tahawul.producers.sdk.spool.SpoolFull`.
    ``fsync=False`` trades the crash guarantee of each ``send`` for speed (a process crash
    still loses nothing; a machine crash may lose the last events). ``security``: how to
    reach a secured cluster, e.g. ``KafkaSecurity("SASL_SSL", username="entity-rop",
    password=..., ca_file=Path("ca.pem"))`` (SCRAM-SHA-512, certificate verified); None:
    plaintext, for a broker on this machine.

    ``batch_events`` (default 1000, the most a batched record may hold): how many spooled
    events one record carries; a record goes out when it is full, or ``batch_linger_ms``
    after its first event was read from the spool, whichever is first (``flush`` and
    ``close`` wait for both). ``batch_events=1`` sends one record per event. Batching
    changes nothing of what is kept: an event is in the spool before ``send`` returns and
    leaves it only when the record that carried it was acknowledged.
    """

    def __init__(
        self,
        bootstrap: str,
        spool_dir: str | Path,
        *,
        topic: str = topics.TRANSACTIONS,
        signing_key: str | Path | SigningKey,
        spool_max_bytes: int = 1 << 30,
        spool_segment_bytes: int = 16 << 20,
        fsync: bool = True,
        delivery_timeout: float = 30.0,
        retry_backoff: float = 1.0,
        max_retry_backoff: float = 30.0,
        linger_ms: int = 10,
        client_id: str = "tahawul-sdk",
        security: KafkaSecurity | None = None,
        control_totals: bool = True,
        batch_events: int = MAX_BATCH_EVENTS,
        batch_linger_ms: float = 20.0,
    ) -> None:
        if not 1 <= batch_events <= MAX_BATCH_EVENTS:
            raise ValueError(f"batch_events must be 1..{MAX_BATCH_EVENTS}, not {batch_events}")
        if not 0 <= batch_linger_ms <= 60_000:
            raise ValueError(f"batch_linger_ms must be 0..60000, not {batch_linger_ms}")
        self.batch_events = batch_events
        self.batch_linger = batch_linger_ms / 1000.0
        self.bootstrap = bootstrap
        self.topic = topic
        self._signing_key = (signing_key if isinstance(signing_key, SigningKey)
                             else _load_key(Path(signing_key)))
        self._catalogue = load_catalogue()
        self._spool = Spool(Path(spool_dir), spool_max_bytes, spool_segment_bytes, fsync)
        self._tallies = (Tallies(Path(spool_dir), self._signing_key.signer, fsync)
                         if control_totals else None)
        self._today = muscat_day(datetime.now(UTC))
        # Fault injection for tests only (the completeness loss tests): a record for which this
        # returns True is dropped after the SDK counted it and marked delivered without
        # reaching the broker, as a record lost on its way would be. Never set it otherwise.
        self.lose: Callable[[bytes], bool] | None = None
        # A failed delivery is retried from the spool, so the producer gives up on a record
        # after delivery_timeout; it never blocks the delivery thread for more than 10 s, and
        # a connection attempt takes at most 5 s, so that close() is never kept waiting long.
        timeout_ms = int(delivery_timeout * 1000)
        self._config = producer_config(
            bootstrap,
            client_id=client_id,
            linger_ms=linger_ms,
            delivery_timeout_ms=timeout_ms,
            request_timeout_ms=min(30_000, max(1000, timeout_ms - 100)),
            max_block_ms=int(max(1.0, min(delivery_timeout, 10.0)) * 1000),
            bootstrap_timeout_ms=5000,
            security=security or PLAINTEXT,
        )
        self._backoff = retry_backoff
        self._max_backoff = max_retry_backoff
        self._cond = threading.Condition()
        self._failed = False
        self._generation = 0
        self._stopping = False
        self._closed = False
        self.last_error: str | None = None
        self._thread = threading.Thread(target=self._deliver, name="tahawul-sdk-delivery", daemon=True)
        self._thread.start()

    # -- public API --------------------------------------------------------------------------

    def send(self, event: Mapping[str, Any] | bytes) -> None:
        """Validate one event and spool it durably; it is delivered in the background.

        Raises :class:`~tahawul.schemas.event.InvalidEvent` (``.code``, ``.message``) if it
        breaks the contract, :class:`~tahawul.producers.sdk.spool.SpoolFull` if the spool has
        no room."""
        payload, parsed = self._encode(event)
        self._append([(key_of(parsed), payload)], [parsed])

    def send_exchange(self, exchange_id: str, side: str, provider: str, consumer: str, product: str,
                      items: int, occurred_at: datetime | str, outcome: str = "success") -> None:
        """Validate one exchange half (schemas/exchange.py) reported by this producer's entity
        and spool it durably, as :meth:`send`. ``occurred_at``: an aware datetime or RFC 3339
        text. Raises :class:`~tahawul.schemas.event.InvalidEvent` as :meth:`send` does."""
        when = (occurred_at.isoformat(timespec="milliseconds") if isinstance(occurred_at, datetime)
                else occurred_at)
        self.send({"kind": EXCHANGE_KIND, "schema_version": EXCHANGE_VERSION, "exchange_id": exchange_id,
                   "side": side, "provider": provider, "consumer": consumer, "product": product,
                   "items": items, "occurred_at": when, "outcome": outcome})

    def send_many(self, events: Iterable[Mapping[str, Any] | bytes]) -> int:
        """Validate all events, then spool them with one fsync; all or nothing.

        Raises :class:`BatchRejected` listing every invalid event (index, code, message)
        and sends none of them. Returns how many were spooled."""
        records: list[tuple[bytes, bytes]] = []
        parsed: list[Parsed] = []
        rejections: list[Rejection] = []
        for index, event in enumerate(events):
            try:
                payload, item = self._encode(event)
            except InvalidEvent as exc:
                rejections.append(Rejection(index, exc.code, exc.message))
            else:
                records.append((key_of(item), payload))
                parsed.append(item)
        if rejections:
            raise BatchRejected(rejections)
        self._append(records, parsed)
        return len(records)

    @property
    def pending(self) -> int:
        """Records in the spool the broker has not acknowledged yet: events accepted by
        ``send`` and the control totals the producer stated."""
        return self._spool.pending()

    def flush(self, timeout: float | None = None) -> int:
        """Wait until the broker acknowledged every spooled event, or ``timeout`` seconds.

        Returns how many are still pending (0: all delivered). Pending events stay in the
        spool and are delivered later, also after a restart. States the control totals of
        the cells sent to since their last statement first."""
        if not (self._closed or self._stopping):
            self._emit_if_room()
        deadline = None if timeout is None else time.monotonic() + timeout
        with self._cond:
            self._cond.notify_all()
            while self._spool.pending() > 0:
                left = None if deadline is None else deadline - time.monotonic()
                if left is not None and left <= 0:
                    break
                self._cond.wait(0.2 if left is None else min(0.2, left))
        return self._spool.pending()

    def close(self, timeout: float | None = 30.0) -> int:
        """Flush for up to ``timeout`` seconds, stop, and return how many are still pending
        (they stay in the spool for the next Producer on the same ``spool_dir``)."""
        if self._closed:
            return self._spool.pending()
        pending = self.flush(timeout)
        with self._cond:
            self._stopping = True
            self._cond.notify_all()
        self._thread.join(15.0)  # at most one connection attempt (bootstrap_timeout_ms) away
        if self._thread.is_alive():
            log.warning("the delivery thread is still connecting; closing the spool anyway")
        self._closed = True
        pending = self._spool.pending()
        self._spool.close()
        if pending:
            log.warning("closing with %d events not acknowledged; they stay in %s",
                        pending, self._spool.directory)
        return pending

    def emit_control_totals(self) -> int:
        """Spool a control total for every day, service and channel sent to since its last
        statement (the day's whole completed total so far, stated now); returns how many.
        The next statement of a cell supersedes this one in `tahawul audit completeness`."""
        tallies = self._tallies
        if tallies is None:
            return 0
        statements = tallies.statements()
        if statements:
            entity = self._signing_key.signer.encode()
            self._append_raw([(payload_key(st) or entity, st) for st in statements])
            tallies.stated(statements)
        return len(statements)

    def _emit_if_room(self) -> None:
        """State the control totals unless the spool is full: the events were accepted, and
        their cells stay due, stated once the spool has room again."""
        try:
            self.emit_control_totals()
        except SpoolFull as exc:
            log.warning("control totals not stated yet: %s", exc)

    def __enter__(self) -> Producer:
        return self

    def __exit__(self, exc_type: type[BaseException] | None, exc: BaseException | None,
                 tb: TracebackType | None) -> None:
        self.close()

    # -- internals ---------------------------------------------------------------------------

    def _append(self, records: list[tuple[bytes, bytes]], parsed: list[Parsed]) -> None:
        """Spool, then count the events in the control totals (after the spool: what is
        counted there was accepted); at a new day in Muscat, state the totals."""
        self._append_raw(records)
        if self._tallies is not None:
            self._tallies.add([p for p in parsed if isinstance(p, Event)])
            today = muscat_day(datetime.now(UTC))
            if today != self._today:
                self._today = today
                self._emit_if_room()

    def _append_raw(self, records: list[tuple[bytes, bytes]]) -> None:
        if self._closed or self._stopping:
            raise ProducerClosed("this Producer is closed")
        self._spool.append(records)
        with self._cond:
            self._cond.notify_all()

    def _encode(self, event: Mapping[str, Any] | bytes) -> tuple[bytes, Parsed]:
        payload, parsed = encode(event, self._catalogue)
        entity = parsed.entity
        signer = self._signing_key.signer
        if entity != signer:
            raise InvalidEvent("signature_invalid", f"this producer signs as {signer}; the pipeline "
                               f"would refuse an event of {entity} signed by it")
        return payload, parsed

    def _headers(self, value: bytes) -> list[tuple[str, bytes]]:
        """One signature per record, over the exact value sent."""
        return [(SIGNATURE_HEADER, self._signing_key.sign(value))]

    def _on_ack(self, seqs: list[int], generation: int) -> Any:
        def callback(meta: Any) -> None:
            if not stored(meta):  # acknowledged without an offset: not proof (kafka_config)
                self._on_error(generation)(UnconfirmedWrite(f"spool entries {seqs[0]}.."))
                return
            for seq in seqs:  # every event the record carried
                self._spool.ack(seq)
            with self._cond:
                self._cond.notify_all()
        return callback

    def _on_error(self, generation: int) -> Any:
        def errback(exc: BaseException) -> None:
            with self._cond:
                if generation == self._generation and not self._failed:
                    self._failed = True
                    self.last_error = f"{type(exc).__name__}: {exc}"
                    log.warning("delivery to Kafka failed (%s); events stay in the spool and "
                                "will be re-sent", self.last_error)
                self._cond.notify_all()
        return errback

    def _wait(self, seconds: float) -> None:
        with self._cond:
            if not self._stopping:
                self._cond.wait(seconds)

    def _deliver(self) -> None:
        producer: KafkaProducer | None = None
        cursor: Cursor | None = None
        held: list[Entry] = []  # read from the spool, not yet sent: the next record's events
        held_since = 0.0  # when the first of them was read (the linger runs from there)
        backoff = self._backoff
        try:
            while True:
                with self._cond:
                    stopping, failed = self._stopping, self._failed
                if stopping:
                    return
                if failed and producer is not None:
                    _close_quietly(producer, 0)
                    producer = None
                if producer is None:
                    if failed:
                        self._wait(backoff)
                        backoff = min(backoff * 2, self._max_backoff)
                    try:
                        producer = KafkaProducer(**self._config)
                    except Exception as exc:
                        self.last_error = f"{type(exc).__name__}: {exc}"
                        log.warning("cannot reach Kafka at %s (%s); retrying", self.bootstrap,
                                    self.last_error)
                        with self._cond:
                            self._failed = True
                        continue
                    with self._cond:
                        self._generation += 1
                        self._failed = False
                    cursor = self._spool.start()  # (re)deliver everything unacknowledged, in order
                    held = []
                assert cursor is not None
                try:
                    entries, cursor = self._spool.read(cursor, max(500, 2 * self.batch_events))
                except SpoolError:
                    return
                if entries and not held:
                    held_since = time.monotonic()
                held += self._not_lost(entries)
                generation = self._generation
                try:
                    full, partial = self._cut(held)
                    for record in full:
                        self._send_record(producer, record, generation)
                    # The last, unfilled record waits up to batch_linger for more events.
                    if partial and time.monotonic() - held_since >= self.batch_linger:
                        self._send_record(producer, partial, generation)
                        partial = []
                    held = partial
                except Exception as exc:
                    self._on_error(generation)(exc)
                    continue
                if not entries:
                    if self._spool.pending() == 0:
                        backoff = self._backoff
                    wait = 0.5
                    if held:
                        wait = max(0.001, self.batch_linger - (time.monotonic() - held_since))
                    with self._cond:
                        if not (self._stopping or self._failed):
                            self._cond.wait(wait)
        finally:
            if producer is not None:
                _close_quietly(producer, 5)

    def _not_lost(self, entries: list[Entry]) -> list[Entry]:
        """The entries to send: all, unless a test's loss hook drops some (acknowledged in
        the spool without reaching the broker, as a record lost on its way would be)."""
        lose = self.lose
        if lose is None:
            return entries
        kept = []
        for entry in entries:
            if lose(entry.value):
                self._spool.ack(entry.seq)
            else:
                kept.append(entry)
        return kept

    def _cut(self, held: list[Entry]) -> tuple[list[list[Entry]], list[Entry]]:
        """Pack ``held`` into records, in order: the full ones (``batch_events`` events, or
        MAX_BATCH_BYTES reached, or an event that travels alone) and the events of a last
        record that is not full yet (which may wait for more)."""
        records: list[list[Entry]] = []
        current: list[Entry] = []
        size = 0
        for entry in held:
            value = entry.value
            if self.batch_events == 1 or not batchable(value):
                if current:
                    records.append(current)
                    current, size = [], 0
                records.append([entry])
                continue
            if current and size + 1 + len(value) > MAX_BATCH_BYTES:
                records.append(current)
                current, size = [], 0
            current.append(entry)
            size += len(value) + (1 if len(current) > 1 else 0)
            if len(current) >= self.batch_events:
                records.append(current)
                current, size = [], 0
        return records, current

    def _send_record(self, producer: KafkaProducer, entries: list[Entry], generation: int) -> None:
        """One record: a lone event as it is (its own key), or a batched record keyed by a
        batch id; signed over its exact value; acknowledged for every event it carries."""
        key: bytes | None
        if len(entries) == 1:
            value, key = entries[0].value, entries[0].key
            headers = self._headers(value)
        else:
            value = encode_batch([e.value for e in entries])
            key = batch_key(self._signing_key.signer.encode())
            headers = [(BATCH_HEADER, BATCH_FORMAT), *self._headers(value)]
        future = producer.send(self.topic, value=value, key=key, headers=headers)
        future.add_callback(self._on_ack([e.seq for e in entries], generation))
        future.add_errback(self._on_error(generation))


def _load_key(path: Path) -> SigningKey:
    """The entity's private key file; a missing or malformed one fails the constructor."""
    try:
        return parse_signing_key(path.read_text(encoding="utf-8"))
    except OSError as exc:
        raise ValueError(f"cannot read the signing key file {path}: {exc.strerror}") from None
    except ValueError as exc:
        raise ValueError(f"{path}: {exc}") from None


def _close_quietly(producer: KafkaProducer, timeout: float) -> None:
    """Close a producer whose unacknowledged records are all still in the spool."""
    try:
        producer.close(timeout=timeout)
    except Exception as exc:
        log.debug("closing the Kafka producer: %s", exc)
