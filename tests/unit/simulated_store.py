"""A store filled by the simulator through the real validation and counting path.

Lines go through ``judge`` and the counting writer exactly as the pipeline would apply
them (no broker: the Kafka partition is chosen by entity, as producers key), so the
dashboards and the report are tested on the same rows production would hold."""

from __future__ import annotations

import zlib
from collections import defaultdict
from datetime import UTC, datetime
from pathlib import Path

from tahawul.producers.simulator import iter_simulation
from tahawul.producers.simulator.control_totals import with_control_totals
from tahawul.schemas.reference import load_catalogue
from tahawul.sinks.clickhouse.connection import connect
from tahawul.sinks.clickhouse.store import Store
from tahawul.stream_processors.counter import CountingWriter
from tahawul.stream_processors.envelope import split
from tahawul.stream_processors.validation import judge

TOPIC = "tahawul.transactions"
PARTITIONS = 4


def fill(store: Store, scale: float = 0.002, seed: int = 7, duplicates: float = 0.01,
         invalid: float = 0.01, chunk: int = 5000, profile: str = "oman-2025-h1",
         control_totals: bool = True, lose_fraction: float = 0.0) -> int:
    """Apply a simulated run (H1 2025 unless told), followed by the entities' control totals
    (consistent with it: every cell complete, unless ``lose_fraction`` of the valid events is
    lost on purpose as `--lose-fraction` does); return the number of event lines sent."""
    catalogue = load_catalogue()
    counter = CountingWriter(store)
    pending: dict[int, list[bytes]] = defaultdict(list)
    offsets: dict[int, int] = defaultdict(int)
    sent = 0

    def flush(partition: int) -> None:
        payloads = pending.pop(partition, [])
        if not payloads:
            return
        first = offsets[partition]
        records = [(first + i, p, None) for i, p in enumerate(payloads)]
        offsets[partition] += len(payloads)
        envelopes = list(split(TOPIC, partition, judge(records, catalogue, datetime.now(UTC))))
        prepared = counter.prepare(envelopes)
        store.write(prepared.batch)
        counter.commit(prepared)

    lines = iter_simulation(profile, scale, seed, duplicate_rate=duplicates, invalid_rate=invalid)
    if control_totals or lose_fraction:
        lines = with_control_totals(lines, seed, lose_fraction)
    for line in lines:
        key = line.entity or ""
        partition = zlib.crc32(key.encode()) % PARTITIONS
        pending[partition].append(line.data)
        sent += line.kind != "control_total"
        if len(pending[partition]) >= chunk:
            flush(partition)
    for partition in list(pending):
        flush(partition)
    return sent


def simulated_store_url(path: Path) -> str:
    """A chDB store at ``path``, migrated and filled by :func:`fill`; its URL."""
    url = f"chdb://{path}"
    client = connect(url)
    try:
        store = Store(client, "simulated")
        store.migrate()
        fill(store)
    finally:
        client.close()
    return url
