"""The exchange tables of the store (migration 017) as the counting writer uses them.

Column orders of the rows the writer inserts, the tables its recovery must clean (every row
is tagged with its source record), the read-back of the index of counted halves at start-up,
and the point lookup of earlier halves when their partner arrives (docs/exchanges.md).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any, Final

import numpy as np
from clickhouse_connect.driver.client import Client

EXCHANGE_COLUMNS: Final = (
    "exchange_id", "side", "provider", "consumer", "product", "items", "outcome", "occurred_at",
    "fingerprint", "src_cluster", "src_topic", "src_partition", "src_offset", "ingested_at",
)
EXCHANGE_COUNT_COLUMNS: Final = (
    "minute", "provider", "consumer", "product", "outcome", "basis", "exchanges", "items",
    "src_cluster", "src_topic", "src_partition", "src_offset",
)
EXCHANGE_QUALITY_COLUMNS: Final = (
    "minute", "provider", "consumer", "product", "status", "halves", "items",
    "src_cluster", "src_topic", "src_partition", "src_offset",
)
EXCHANGE_DUPLICATE_COLUMNS: Final = (
    "exchange_id", "side", "provider", "consumer", "seen_at",
    "src_cluster", "src_topic", "src_partition", "src_offset",
)
# Tables whose rows carry their source record (cleaned by Store.recover like events).
EXCHANGE_TABLES: Final = ("exchanges", "exchange_counts_minute", "exchange_quality_minute",
                          "exchange_duplicates")

# A half as the writer needs it to pair: side, provider, consumer, product, items, outcome,
# occurred_ms (for the cell its figures were counted in).
Half = tuple[str, str, str, str, int, str, int]


def pair_tag_key(provider: str, consumer: str, side: str) -> str:
    """The string whose tag keys a half in the writer's index, beside its exchange id: a half
    is one (provider, consumer, exchange_id, side)."""
    return f"{provider}>{consumer}:{side}"


def seen_halves(client: Client, tag_of: Callable[[str], int]) -> tuple[Any, Any, Any, Any]:
    """(hi, lo, tag, fingerprint) uint64 arrays of every counted half (all clusters): the
    exchange id's 128 bits in two halves and ``tag_of`` its pairing key and side."""
    keys = [row[0] for row in client.query(
        "SELECT DISTINCT concat(provider, '>', consumer, ':', side) FROM exchanges").result_rows]
    sql = ("SELECT toUInt64(bitShiftRight(toUInt128(exchange_id), 64)) AS hi, "
           "toUInt64(bitAnd(toUInt128(exchange_id), toUInt128('18446744073709551615'))) AS lo, "
           "toUInt64(indexOf({keys:Array(String)}, concat(provider, '>', consumer, ':', side))) AS k, "
           "fingerprint FROM exchanges")
    columns = client.query(sql, parameters={"keys": keys}).result_columns or [[], [], [], []]
    hi, lo, at, fp = (np.array(c, dtype=np.uint64) for c in columns)
    tags = np.array([0] + [tag_of(key) for key in keys], dtype=np.uint64)
    return hi, lo, tags[at.astype(np.intp)], fp


def earlier_halves(client: Client, wanted: Sequence[tuple[str, str, str, str]]
                   ) -> dict[tuple[str, str, str, str], Half]:
    """The stored halves (exchange_id, provider, consumer, side) -> :data:`Half`, of the
    ``wanted`` keys: one query, reading the few granules of each id (the table is sorted by
    exchange_id)."""
    if not wanted:
        return {}
    ids = sorted({key[0] for key in wanted})
    rows = client.query(
        "SELECT toString(exchange_id), provider, consumer, side, product, items, outcome, "
        "toUnixTimestamp64Milli(occurred_at) FROM exchanges WHERE exchange_id IN {ids:Array(UUID)}",
        parameters={"ids": ids},
    ).result_rows
    want = set(wanted)
    out: dict[tuple[str, str, str, str], Half] = {}
    for exchange_id, provider, consumer, side, product, items, outcome, occurred_ms in rows:
        key = (exchange_id, provider, consumer, side)
        if key in want:
            out[key] = (side, provider, consumer, product, int(items), outcome, int(occurred_ms))
    return out


def exchange_summary(client: Client) -> str | None:
    """One line on the exchanges counted (for `tahawul up`'s closing summary, whose counts
    before it are of transaction events), or None when the store holds none: the halves
    stored and resent, the exchanges (each once, by the pairing rule), the items of the
    successful ones, and the halves still waiting for their partner."""
    halves, resent, exchanges, items, unmatched = client.query(
        "SELECT (SELECT count() FROM exchanges), (SELECT count() FROM exchange_duplicates), "
        "(SELECT sum(exchanges) FROM exchange_counts_minute), "
        "(SELECT sumIf(items, outcome = 'success') FROM exchange_counts_minute), "
        "(SELECT sum(halves) FROM exchange_quality_minute WHERE status LIKE 'unmatched_%')"
    ).result_rows[0]
    if not halves:
        return None
    return (f"exchange halves: {int(halves):,} counted, {int(resent):,} resends; exchanges (each "
            f"once, by the pairing rule): {int(exchanges or 0):,}; items of successful exchanges: "
            f"{int(items or 0):,}; halves without their partner: {int(unmatched or 0):,}")
