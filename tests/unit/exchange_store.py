"""A store holding a simulated exchange run as the counting writer leaves it.

The aggregates of migration 017 are filled from the run's halves by the pairing rule of
docs/exchanges.md (each exchange once, at its provider half's minute when that half came,
else its consumer's; halves without a partner and pairs that disagree in the quality
table), so view, dashboard and report tests see realistic rows without the pipeline.
"""

from __future__ import annotations

from collections import defaultdict
from datetime import datetime
from typing import Any

import orjson

from tahawul.producers.simulator.exchanges import iter_exchanges
from tahawul.sinks.clickhouse.store import Store

COUNT_COLUMNS = ["minute", "provider", "consumer", "product", "outcome", "basis", "exchanges",
                 "items", "src_cluster", "src_topic", "src_partition", "src_offset"]
QUALITY_COLUMNS = ["minute", "provider", "consumer", "product", "status", "halves", "items",
                   "src_cluster", "src_topic", "src_partition", "src_offset"]


def _minute(occurred_at: str) -> datetime:
    return datetime.fromisoformat(occurred_at).replace(second=0, microsecond=0)


def fill_exchanges(store: Store, scale: float = 0.0005, seed: int = 7) -> int:
    """Apply a run of the exchanges-2024 profile; return the number of halves."""
    halves: dict[str, dict[str, dict[str, Any]]] = defaultdict(dict)
    n = 0
    for half in iter_exchanges("exchanges-2024", scale, seed):
        record = orjson.loads(half.data)
        halves[record["exchange_id"]][record["side"]] = record
        n += 1
    counts: dict[tuple[Any, ...], list[int]] = defaultdict(lambda: [0, 0])
    quality: dict[tuple[Any, ...], list[int]] = defaultdict(lambda: [0, 0])
    for sides in halves.values():
        basis = "provider" if "provider" in sides else "consumer"
        r = sides[basis]
        cell = counts[(_minute(r["occurred_at"]), r["provider"], r["consumer"], r["product"], r["outcome"],
                       basis)]
        cell[0] += 1
        cell[1] += r["items"]
        if len(sides) == 1:
            q = quality[(_minute(r["occurred_at"]), r["provider"], r["consumer"], r["product"],
                         f"unmatched_{basis}")]
            q[0] += 1
            q[1] += r["items"]
        elif sides["provider"]["items"] != sides["consumer"]["items"]:
            q = quality[(_minute(r["occurred_at"]), r["provider"], r["consumer"], r["product"], "mismatched")]
            q[0] += 1
            q[1] += sides["provider"]["items"] - sides["consumer"]["items"]
    tag = ("simulated", "tahawul.exchanges", 0)
    store.client.insert("exchange_counts_minute",
                        [[*k, *v, *tag, i] for i, (k, v) in enumerate(counts.items())],
                        column_names=COUNT_COLUMNS)
    store.client.insert("exchange_quality_minute",
                        [[*k, *v, *tag, i] for i, (k, v) in enumerate(quality.items())],
                        column_names=QUALITY_COLUMNS)
    return n


def fill_exchanges_through_the_writer(store: Store, scale: float = 0.0005, seed: int = 7,
                                      chunk: int = 500) -> int:
    """The same run through the worker's judging and the counting writer, as the pipeline
    applies it (no broker: halves partitioned by their reporter, in batches of ``chunk``, so
    a consumer's half and its provider's often land in different batches)."""
    import zlib
    from datetime import UTC

    from tahawul.schemas.reference import load_catalogue
    from tahawul.stream_processors.counter import CountingWriter
    from tahawul.stream_processors.envelope import split
    from tahawul.stream_processors.validation import judge

    catalogue, counter = load_catalogue(), CountingWriter(store)
    pending: dict[int, list[bytes]] = defaultdict(list)
    offsets: dict[int, int] = defaultdict(int)

    def flush(partition: int) -> None:
        payloads = pending.pop(partition, [])
        first = offsets[partition]
        offsets[partition] += len(payloads)
        records = [(first + i, p, None) for i, p in enumerate(payloads)]
        envelopes = list(split("tahawul.transactions", partition,
                               judge(records, catalogue, datetime.now(UTC))))
        prepared = counter.prepare(envelopes)
        store.write(prepared.batch)
        counter.commit(prepared)

    n = 0
    for half in iter_exchanges("exchanges-2024", scale, seed):
        partition = zlib.crc32(half.signer.encode()) % 4
        pending[partition].append(half.data)
        n += 1
        if len(pending[partition]) >= chunk:
            flush(partition)
    for partition in list(pending):
        flush(partition)
    return n
