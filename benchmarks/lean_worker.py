"""The validating worker's work under a lean consumer: what the worker would cost without
Faust's per-message path (``python -m benchmarks.replay --lean``).

Not a second worker: a measurement. An aiokafka consumer in a group of its own reads the
filled topic with ``getmany``, judges each batch with the worker's ``Judge`` (every record's
signature verified against the pipeline's trust file), sends the envelopes and dead letters
as the worker lays them out, waits until the broker acknowledged them all and only then
commits the source offsets, as the worker does. What the worker has beside this and the
measurement leaves out: the watchdog, the chunking of large batches, in-order resending
after a failed send, the quarantine and the lag metrics (none of them per record).
docs/performance.md has the figures and what a worker built this way would need.
"""

from __future__ import annotations

import asyncio
import time
from dataclasses import dataclass
from datetime import UTC, datetime

from tahawul.keyring import worker_trust_file
from tahawul.schemas.reference import load_catalogue
from tahawul.settings import Settings
from tahawul.stream_processors.app import dead_letter_message
from tahawul.stream_processors.columnar import ReferenceCache
from tahawul.stream_processors.envelope import Columns, split
from tahawul.stream_processors.redaction_key import redaction_key
from tahawul.stream_processors.validation import Judge


@dataclass
class LeanRun:
    seconds: float  # from the first batch's envelopes acknowledged to the last
    cpu_us: float  # CPU of this process an event over the same span
    counted: int  # events judged over the same span
    valid: int  # valid events judged (resent copies included), all records
    rejected: int


def lean_worker(settings: Settings, records: int, timeout: float = 600) -> LeanRun:
    """Judge and deliver ``records`` records of the transactions topic as the worker would,
    in this process (which must be otherwise idle: its CPU time is the figure)."""
    return asyncio.run(_run(settings, records, timeout))


async def _run(settings: Settings, records: int, timeout: float) -> LeanRun:
    from aiokafka import AIOKafkaConsumer, AIOKafkaProducer

    catalogue = load_catalogue()
    trust = worker_trust_file(settings).current()
    reference = ReferenceCache(catalogue)
    key = redaction_key(settings)
    consumer = AIOKafkaConsumer(settings.topic_transactions, bootstrap_servers=settings.kafka_bootstrap(),
                                group_id=f"{settings.worker_group}-lean", enable_auto_commit=False,
                                auto_offset_reset="earliest", max_poll_records=settings.batch_max)
    producer = AIOKafkaProducer(bootstrap_servers=settings.kafka_bootstrap(), acks="all",
                                max_request_size=2 * 1024 * 1024)
    await consumer.start()
    await producer.start()
    try:
        total = counted = valid = rejected = 0
        first_cpu = first = 0.0
        deadline = time.monotonic() + timeout
        while total < records:
            if time.monotonic() > deadline:
                raise TimeoutError(f"the lean consumer judged {total} of {records} records")
            polled = await consumer.getmany(timeout_ms=200, max_records=settings.batch_max)
            now = datetime.now(UTC)
            acks = []
            commit = {}
            judged = 0  # events
            for tp, batch in polled.items():
                judge = Judge(catalogue, now, trust, key, reference=reference)
                for record in batch:
                    judge.record((record.offset, record.value, record.headers))
                verdicts, dead = judge.take()
                for envelope in split(settings.topic_transactions, tp.partition, verdicts):
                    acks.append(await producer.send(settings.topic_validated, envelope.encode(),
                                                    key=str(tp.partition).encode(), partition=tp.partition))
                originals = {r.offset: (r.key, r.timestamp / 1000, r.headers) for r in batch}
                for letter in dead:
                    topic, k, value, _, headers, stamp = dead_letter_message(
                        settings.topic_dead_letter, settings.topic_transactions, tp.partition, letter,
                        settings.dead_letter_max_bytes, originals.get(letter.offset), catalogue.entities)
                    stamp_ms = None if stamp is None else int(stamp * 1000)
                    acks.append(await producer.send(topic, value, key=k, headers=headers,
                                                    timestamp_ms=stamp_ms))
                ok = sum(row.events if type(row) is Columns else 1 for _, valid_, row in verdicts if valid_)
                valid += ok
                rejected += len(dead)
                judged += ok + len(dead)
                commit[tp] = batch[-1].offset + 1
            if not acks:
                continue
            await asyncio.gather(*acks)
            await consumer.commit(commit)
            read = sum(map(len, polled.values()))
            total += read
            if first:
                counted += judged
            else:  # start-up excluded, as the other rates exclude it
                first, first_cpu = time.perf_counter(), time.process_time()
        return LeanRun(time.perf_counter() - first, (time.process_time() - first_cpu) / max(1, counted) * 1e6,
                       counted, valid, rejected)
    finally:
        await consumer.stop()
        await producer.stop()
