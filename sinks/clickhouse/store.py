"""The store of record: batch writes with progress, and recovery of an unfinished batch.

Write protocol (the argument is in docs/exactly-once.md):
1. insert the batch's rows into events, rejected, duplicates, counts_minute and
   control_totals, every row
   tagged with its source (cluster, topic, partition, offset);
2. then insert one ingest_progress row per source partition with the batch's last offset.
A batch is applied exactly when its progress row exists. :meth:`Store.recover` deletes every
row whose source offset is beyond the recorded progress of its partition, i.e. the remains
of a batch that failed or was killed between steps 1 and 2, so it can be redone from Kafka.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

import numpy as np
import pyarrow as pa
from clickhouse_connect.driver.client import Client

from tahawul.schemas.verdict import COUNT, COUNT_COLUMNS, OK
from tahawul.sinks.clickhouse.exchanges import EXCHANGE_TABLES
from tahawul.sinks.clickhouse.migrations import migrate

log = logging.getLogger(__name__)

EVENT_COLUMNS = (
    "event_id", "occurred_at", "entity", "service", "governorate", "channel", "mode", "status",
    "quantity", "automated", "satisfaction", "fingerprint",
    "src_cluster", "src_topic", "src_partition", "src_offset", "ingested_at",
)
# payload: the redacted form only (schemas/redaction.py); entity: the catalogue entity the
# rejected event named, or ""; expires_at: when the row's TTL removes it (migration 013).
REJECTED_COLUMNS = (
    "rejected_at", "reason_code", "reason", "payload", "payload_bytes", "source", "event_id",
    "src_cluster", "src_topic", "src_partition", "src_offset", "entity", "expires_at",
)
DUPLICATE_COLUMNS = ("event_id", "seen_at", "src_cluster", "src_topic", "src_partition", "src_offset",
                     "entity")
# control totals (schemas/control_total.py), one row per statement received; never counted.
CONTROL_TOTAL_COLUMNS = ("entity", "day", "service", "channel", "completed", "stated_at", "ingested_at",
                         "src_cluster", "src_topic", "src_partition", "src_offset")
# counts_minute's columns are those of the writer's count rows: schemas.verdict.COUNT_COLUMNS.
PROGRESS_COLUMNS = ("src_cluster", "src_topic", "src_partition", "last_offset", "committed_at")
# Tables whose rows are tagged with the source offset they came from.
# The exchange tables too (migration 017, sinks/clickhouse/exchanges.py).
TAGGED_TABLES = ("events", "rejected", "duplicates", "counts_minute", "control_totals", *EXCHANGE_TABLES)

SourceKey = tuple[str, int]  # (topic, partition) within one cluster


@dataclass(slots=True)
class NewEvents:
    """New events of a batch by column, as the counting writer received them: one array per
    field of a valid verdict (:class:`schemas.verdict.OK`: offset, event_id, occurred_ms,
    entity, ..., fingerprint; pyarrow arrays, numpy arrays or lists), and per source
    partition how many consecutive events came from it. No per-event Python object is ever
    built for them: they go to ClickHouse as Arrow columns."""

    columns: list[Any] = field(default_factory=lambda: [[] for _ in OK])
    sources: list[tuple[str, int, int]] = field(default_factory=list)  # (topic, partition, events)
    ingested_ms: int = 0

    def __len__(self) -> int:
        return len(self.columns[OK.OFFSET])

    def insert_columns(self, cluster: str) -> dict[str, Any]:
        """Columns by EVENT_COLUMNS name (times as milliseconds since the epoch); the source
        topic and partition per event from ``sources``, made with numpy, not per event."""
        new = self.columns
        n = len(self)
        counts = np.array([count for _, _, count in self.sources], dtype=np.int64)
        at = np.repeat(np.arange(len(self.sources), dtype=np.int32), counts)
        topic_at: dict[str, int] = {}  # an Arrow dictionary holds each value once
        of_source = np.array([topic_at.setdefault(topic, len(topic_at)) for topic, _, _ in self.sources],
                             dtype=np.int32)
        topics = pa.array(list(topic_at), pa.string())
        partitions = np.array([partition for _, partition, _ in self.sources], dtype=np.uint32)
        by_column: dict[str, Any] = {
            "event_id": new[OK.EVENT_ID], "occurred_at": new[OK.OCCURRED_MS],
            "entity": new[OK.ENTITY], "service": new[OK.SERVICE],
            "governorate": new[OK.GOVERNORATE], "channel": new[OK.CHANNEL], "mode": new[OK.MODE],
            "status": new[OK.STATUS], "quantity": new[OK.QUANTITY],
            "automated": new[OK.AUTOMATED], "satisfaction": new[OK.SATISFACTION],
            "fingerprint": new[OK.FINGERPRINT], "src_cluster": _repeat(cluster, n),
            "src_topic": pa.DictionaryArray.from_arrays(pa.array(of_source[at], pa.int32()), topics),
            "src_partition": partitions[at], "src_offset": new[OK.OFFSET],
            "ingested_at": np.full(n, self.ingested_ms, dtype=np.int64),
        }
        return {name: by_column[name] for name in EVENT_COLUMNS}


def _repeat(value: str, n: int) -> pa.Array:
    """``n`` times one string, as a dictionary column (one copy of the string)."""
    return pa.DictionaryArray.from_arrays(pa.array(np.zeros(n, dtype=np.int32)), pa.array([value]))


# ClickHouse type -> the Arrow type its column is sent as. ClickHouse reads Arrow natively
# (embedded chDB and a server alike: FORMAT Arrow) and converts each column to the table's
# type in C++: UUIDs go as their text, LowCardinality as Arrow dictionaries, times as
# timestamps of the table's unit.
_ARROW_TYPES: dict[str, pa.DataType] = {
    "UUID": pa.string(), "String": pa.string(),
    "LowCardinality(String)": pa.dictionary(pa.int32(), pa.string()),
    "DateTime64(3, 'UTC')": pa.timestamp("ms", tz="UTC"), "DateTime('UTC')": pa.timestamp("s", tz="UTC"),
    "UInt8": pa.uint8(), "UInt16": pa.uint16(), "UInt32": pa.uint32(), "UInt64": pa.uint64(),
    "Int64": pa.int64(), "Nullable(UInt8)": pa.uint8(), "Bool": pa.bool_(),
}
_TIMESTAMP_BASE = {"DateTime64(3, 'UTC')": pa.int64(), "DateTime('UTC')": pa.int64()}


def arrow_column(values: Any, clickhouse_type: str) -> pa.Array:
    """One insert column as Arrow, typed for its ClickHouse column: lists and numpy arrays
    are converted in C (no Python object per value); arrays already in Arrow are cast."""
    target = _ARROW_TYPES[clickhouse_type]
    if pa.types.is_dictionary(target):
        if isinstance(values, pa.DictionaryArray):
            return values
        array = values if isinstance(values, pa.Array) else pa.array(values, pa.string())
        return array.dictionary_encode()
    base = _TIMESTAMP_BASE.get(clickhouse_type, target)
    array = values if isinstance(values, pa.Array) else pa.array(values, base)
    return array if array.type == target else array.cast(target)


@dataclass(slots=True)
class WriteBatch:
    """Rows for one write, plus the progress it completes: new events as :class:`NewEvents`,
    minute counts by column (COUNT_COLUMNS order; lists, numpy or Arrow arrays, all empty for
    none), the other tables as rows in the column orders above (a few rows a batch)."""

    events: NewEvents = field(default_factory=NewEvents)
    rejected: list[Sequence[Any]] = field(default_factory=list)
    duplicates: list[Sequence[Any]] = field(default_factory=list)
    counts: list[Sequence[Any]] = field(default_factory=lambda: [[] for _ in COUNT_COLUMNS])
    control_totals: list[Sequence[Any]] = field(default_factory=list)  # CONTROL_TOTAL_COLUMNS rows
    # (table, columns, rows) of the exchange tables (stream_processors/exchange_counter.py)
    tables: list[tuple[str, Sequence[str], list[Sequence[Any]]]] = field(default_factory=list)
    progress: dict[SourceKey, int] = field(default_factory=dict)


class Store:
    """ClickHouse tables of one deployment; ``cluster`` names the Kafka cluster fed from."""

    def __init__(self, client: Client, cluster: str) -> None:
        self.client = client
        self.cluster = cluster
        self._column_types: dict[str, dict[str, str]] = {}

    def migrate(self) -> None:
        self._column_types.clear()
        for m in migrate(self.client):
            log.info("applied migration %03d_%s", m.version, m.name)

    def progress(self) -> dict[SourceKey, int]:
        rows = self.client.query(
            "SELECT src_topic, src_partition, max(last_offset) FROM ingest_progress "
            "WHERE src_cluster = {c:String} GROUP BY src_topic, src_partition",
            parameters={"c": self.cluster},
        ).result_rows
        return {(topic, int(part)): int(off) for topic, part, off in rows}

    def seen_arrays(self, tag_of: Callable[[str], int]) -> tuple[Any, Any, Any, Any]:
        """(hi, lo, entity tag, fingerprint) uint64 numpy arrays of every event counted so far
        (all clusters): the event_id's 128 bits in two halves, and ``tag_of`` its entity
        (event ids are per entity). Read as Arrow, no Python object per event, so millions
        of events load in seconds: the entity comes as its position in the list of the
        store's entity codes, mapped to tags with one numpy take."""
        codes = [row[0] for row in self.client.query("SELECT DISTINCT entity FROM events").result_rows]
        sql = ("SELECT toUInt64(bitShiftRight(toUInt128(event_id), 64)) AS hi, "
               "toUInt64(bitAnd(toUInt128(event_id), toUInt128('18446744073709551615'))) AS lo, "
               "toUInt64(indexOf({codes:Array(String)}, entity)) AS e, fingerprint FROM events")
        params = {"codes": codes}
        if hasattr(self.client, "query_arrow"):
            table = self.client.query_arrow(sql, parameters=params)
            hi, lo, at, fp = (table.column(i).to_numpy().astype(np.uint64) for i in range(4))
        else:  # a client with only query() (test doubles)
            columns = self.client.query(sql, parameters=params).result_columns or [[], [], [], []]
            hi, lo, at, fp = (np.array(c, dtype=np.uint64) for c in columns)
        tags = np.array([0] + [tag_of(code) for code in codes], dtype=np.uint64)
        return hi, lo, tags[at.astype(np.intp)], fp

    def recover(self) -> int:
        """Delete rows of unfinished batches (beyond recorded progress); return rows deleted."""
        progress = self.progress()
        deleted = 0
        for table in TAGGED_TABLES:
            rows = self.client.query(
                f"SELECT src_topic, src_partition, max(src_offset), count() FROM {table} "
                "WHERE src_cluster = {c:String} GROUP BY src_topic, src_partition",
                parameters={"c": self.cluster},
            ).result_rows
            for topic, part, max_offset, _ in rows:
                done = progress.get((topic, int(part)), -1)
                if max_offset <= done:
                    continue
                stale = self.client.query(
                    f"SELECT count() FROM {table} WHERE src_cluster = {{c:String}} AND "
                    "src_topic = {t:String} AND src_partition = {p:UInt32} AND src_offset > {o:Int64}",
                    parameters={"c": self.cluster, "t": topic, "p": part, "o": done},
                ).result_rows[0][0]
                self.client.command(
                    f"DELETE FROM {table} WHERE src_cluster = {{c:String}} AND src_topic = {{t:String}} "
                    "AND src_partition = {p:UInt32} AND src_offset > {o:Int64}",
                    parameters={"c": self.cluster, "t": topic, "p": part, "o": done},
                )
                log.warning("recovery: removed %d rows of an unfinished batch from %s "
                            "(%s[%s] beyond offset %s)", stale, table, topic, part, done)
                deleted += int(stale)
        return deleted

    def _types(self, table: str, columns: Sequence[str]) -> list[str]:
        """The ClickHouse type of each column, read once per table and process: otherwise
        every insert first asks the server for them (half the cost of a small insert)."""
        known = self._column_types.get(table)
        if known is None:
            rows = self.client.query(f"SELECT name, type FROM system.columns WHERE database = "
                                     f"currentDatabase() AND table = '{table}'").result_rows
            known = self._column_types[table] = {name: type_ for name, type_ in rows}
        return [known[c] for c in columns]

    def _insert(self, table: str, columns: Sequence[str], data: Sequence[Sequence[Any]]) -> None:
        """Rows (a few a batch: rejected, duplicates, totals, progress) the usual way."""
        self.client.insert(table, data, column_names=list(columns),
                           column_type_names=self._types(table, columns))

    def _insert_arrow(self, table: str, columns: dict[str, Any]) -> None:
        """Columns (the bulk of a batch: events, minute counts) as one Arrow table: built in C
        from lists and numpy arrays and parsed by ClickHouse in C++, where clickhouse-connect's
        native insert builds LowCardinality dictionaries and UUIDs in Python (the writer's
        largest cost, docs/performance.md). One code path for chDB and a server."""
        types = self._types(table, list(columns))
        arrays = [arrow_column(values, type_) for values, type_ in zip(columns.values(), types, strict=True)]
        self.client.insert_arrow(table, pa.Table.from_arrays(arrays, names=list(columns)))

    def write(self, batch: WriteBatch) -> None:
        """Insert a batch, progress last. On error the caller must :meth:`recover` first."""
        if batch.events:
            self._insert_arrow("events", batch.events.insert_columns(self.cluster))
        for table, columns, rows in (
            ("rejected", REJECTED_COLUMNS, batch.rejected),
            ("duplicates", DUPLICATE_COLUMNS, batch.duplicates),
            ("control_totals", CONTROL_TOTAL_COLUMNS, batch.control_totals),
        ):
            if rows:
                self._insert(table, columns, rows)
        if len(batch.counts[COUNT.MINUTE]):
            self._insert_arrow("counts_minute", dict(zip(COUNT_COLUMNS, batch.counts, strict=True)))
        for table, names, rows in batch.tables:
            if rows:
                self._insert(table, names, rows)
        if batch.progress:
            now = datetime.now(UTC)
            rows = [(self.cluster, topic, part, off, now) for (topic, part), off in batch.progress.items()]
            self._insert("ingest_progress", PROGRESS_COLUMNS, rows)
