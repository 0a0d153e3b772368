"""The counting writer's part for exchange halves: exactly once, and paired.

The writer (stream_processors/counter.py) hands over the valid halves of a batch that lie
beyond its progress (its source-offset replay skip has already dropped what was applied);
this module decides, in order, for each half:

- first sight of (provider, consumer, exchange_id, side): counted, its row kept in
  ``exchanges``; the same again with the same fingerprint: a resend (``exchange_duplicates``);
  with another: a conflicting reuse of the id, rejected (``exchange_id_conflict``);
- pairing (docs/exchanges.md, "Pairing rule"): an exchange is counted once, with the figures
  of its provider's half when there is one, else its consumer's. A half whose partner has not
  arrived is counted on its own and listed as unmatched; when the partner arrives the
  unmatched entry is withdrawn and, if the partner is the provider's half, the consumer's
  figures are replaced by the provider's with signed delta rows. Two halves that disagree on
  product, items or outcome are listed as mismatched.

State: the index of counted halves, (exchange id, tag of provider>consumer:side) ->
fingerprint (stream_processors/seen.py's CountedIndex, 32 bytes a half), rebuilt from the
store at start-up like the events' index. The figures of a partner counted in an earlier
batch are read back from ``exchanges`` (one query per batch, only when the index says a
partner exists). Nothing changes before the store confirmed the write (:meth:`commit`).
"""

from __future__ import annotations

from collections import OrderedDict
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any, Final

import numpy as np
from clickhouse_connect.driver.client import Client

from tahawul.schemas.verdict import EXCHANGE
from tahawul.sinks.clickhouse.exchanges import (
    EXCHANGE_COLUMNS,
    EXCHANGE_COUNT_COLUMNS,
    EXCHANGE_DUPLICATE_COLUMNS,
    EXCHANGE_QUALITY_COLUMNS,
    Half,
    earlier_halves,
    pair_tag_key,
    seen_halves,
)
from tahawul.stream_processors.seen import CountedIndex, entity_tag, uuid_halves

OTHER: Final = {"provider": "consumer", "consumer": "provider"}
WAITING_CACHE: Final = 200_000  # halves (about 300 bytes each with their keys)
CONFLICT_REASON: Final = ("this party already reported this exchange_id for this provider and "
                          "consumer with different content; a half is reported once")
Key = tuple[str, str, str, str]  # exchange_id, provider, consumer, side
Source = tuple[str, int, int]  # topic, partition, offset
Incoming = tuple[str, int, Sequence[Any]]  # topic, partition, verdict row (schemas.verdict.EXCHANGE)


@dataclass(slots=True)
class ExchangeBatch:
    """What one batch does to the exchange tables, and the index entries it adds."""

    tables: list[tuple[str, Sequence[str], list[Sequence[Any]]]] = field(default_factory=list)
    rejected: list[Sequence[Any]] = field(default_factory=list)  # store.REJECTED_COLUMNS rows
    counted: int = 0  # new halves
    duplicates: int = 0
    conflicts: int = 0
    new_ids: tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray] | None = None
    waiting: dict[Key, Half] = field(default_factory=dict)  # new halves without a partner
    paired: list[Key] = field(default_factory=list)  # earlier halves this batch paired


def _half(row: Sequence[Any]) -> Half:
    return (row[EXCHANGE.SIDE], row[EXCHANGE.PROVIDER], row[EXCHANGE.CONSUMER],
            row[EXCHANGE.PRODUCT], int(row[EXCHANGE.ITEMS]), row[EXCHANGE.OUTCOME],
            int(row[EXCHANGE.OCCURRED_MS]))


class _Deltas:
    """Signed delta rows, summed per cell and source partition (rows netting to zero, e.g. a
    pair that arrived within one batch, are not written)."""

    def __init__(self) -> None:
        self.counts: dict[tuple[Any, ...], list[int]] = {}
        self.quality: dict[tuple[Any, ...], list[int]] = {}

    @staticmethod
    def _add(into: dict[tuple[Any, ...], list[int]], key: tuple[Any, ...], n: int, items: int,
             offset: int) -> None:
        cell = into.get(key)
        if cell is None:
            into[key] = [n, items, offset]
        else:
            cell[0] += n
            cell[1] += items
            cell[2] = max(cell[2], offset)

    def count(self, src: Source, half: Half, sign: int) -> None:
        side, provider, consumer, product, items, outcome, occurred_ms = half
        key = (src[0], src[1], occurred_ms // 60_000 * 60, provider, consumer, product, outcome, side)
        self._add(self.counts, key, sign, sign * items, src[2])

    def quality_row(self, src: Source, half: Half, status: str, n: int, items: int) -> None:
        _side, provider, consumer, product, _items, _outcome, occurred_ms = half
        key = (src[0], src[1], occurred_ms // 60_000 * 60, provider, consumer, product, status)
        self._add(self.quality, key, n, items, src[2])

    def rows(self, cluster: str) -> tuple[list[Sequence[Any]], list[Sequence[Any]]]:
        counts: list[Sequence[Any]] = [
            (minute, provider, consumer, product, outcome, basis, n, items, cluster, topic,
             partition, offset)
            for (topic, partition, minute, provider, consumer, product, outcome, basis),
            (n, items, offset) in self.counts.items() if n or items]
        quality: list[Sequence[Any]] = [
            (minute, provider, consumer, product, status, n, items, cluster, topic, partition, offset)
            for (topic, partition, minute, provider, consumer, product, status),
            (n, items, offset) in self.quality.items() if n or items]
        return counts, quality


def pair(deltas: _Deltas, src: Source, new: Half, partner: Half | None) -> None:
    """The delta rows of a newly counted half ``new`` whose partner (the other side's half of
    the same exchange, counted before it) is ``partner`` or None: the pairing rule."""
    if partner is None:
        deltas.count(src, new, 1)
        deltas.quality_row(src, new, f"unmatched_{new[0]}", 1, new[4])
        return
    deltas.quality_row(src, partner, f"unmatched_{partner[0]}", -1, -partner[4])
    provider, consumer = (new, partner) if new[0] == "provider" else (partner, new)
    if new[0] == "provider":  # the provider's figures replace the consumer's
        deltas.count(src, partner, -1)
        deltas.count(src, new, 1)
    if (provider[3], provider[4], provider[5]) != (consumer[3], consumer[4], consumer[5]):
        deltas.quality_row(src, provider, "mismatched", 1, provider[4] - consumer[4])


class ExchangeCounting:
    """The index of counted halves and how a batch of halves changes the exchange tables."""

    def __init__(self, client: Client, cluster: str) -> None:
        self.client = client
        self.cluster = cluster
        self.index = CountedIndex()
        self.index.add(*seen_halves(client, entity_tag))
        # Committed halves still waiting for their partner, the most recent WAITING_CACHE of
        # them: a partner that arrives in a later batch (the live case: the provider's half
        # a few milliseconds after the consumer's) is found here, not read back from the
        # store. Paired halves leave it (a key pairs once); a miss reads the store.
        self.waiting: OrderedDict[Key, Half] = OrderedDict()

    def prepare(self, incoming: Sequence[Incoming], now_ms: int, expires_ms: int) -> ExchangeBatch:
        """The rows for these halves (in source order), without changing any state."""
        out = ExchangeBatch()
        if not incoming:
            return out
        rows = [row for _, _, row in incoming]
        hi, lo = uuid_halves([row[EXCHANGE.EXCHANGE_ID] for row in rows])
        own = np.array([entity_tag(pair_tag_key(r[EXCHANGE.PROVIDER], r[EXCHANGE.CONSUMER],
                                                r[EXCHANGE.SIDE])) for r in rows], dtype=np.uint64)
        other = np.array([entity_tag(pair_tag_key(r[EXCHANGE.PROVIDER], r[EXCHANGE.CONSUMER],
                                                  OTHER[r[EXCHANGE.SIDE]])) for r in rows], dtype=np.uint64)
        found_own, fps_own = self.index.lookup(hi, lo, own)
        found_other, _ = self.index.lookup(hi, lo, other)
        found_own_l, fps_l, found_other_l = found_own.tolist(), fps_own.tolist(), found_other.tolist()
        cluster = self.cluster
        in_batch: dict[Key, Sequence[Any]] = {}
        new_at: list[int] = []
        # (source, the new half's key, the new half, the key to read its partner from the
        # store by, or None, and its partner when known here)
        decided: list[tuple[Source, Key, Half, Key | None, Half | None]] = []
        from_store: list[Key] = []
        raw: list[Sequence[Any]] = []
        duplicates: list[Sequence[Any]] = []
        for i, (topic, partition, row) in enumerate(incoming):
            exchange_id, side = row[EXCHANGE.EXCHANGE_ID], row[EXCHANGE.SIDE]
            provider, consumer = row[EXCHANGE.PROVIDER], row[EXCHANGE.CONSUMER]
            offset, fingerprint = row[EXCHANGE.OFFSET], row[EXCHANGE.FINGERPRINT]
            key = (exchange_id, provider, consumer, side)
            earlier = in_batch.get(key)
            previous = fps_l[i] if found_own_l[i] else (
                None if earlier is None else earlier[EXCHANGE.FINGERPRINT])
            if previous is None:
                in_batch[key] = row
                new_at.append(i)
                partner_key = (exchange_id, provider, consumer, OTHER[side])
                partner_row = in_batch.get(partner_key)
                src = (topic, partition, offset)
                if found_other_l[i]:
                    cached = self.waiting.get(partner_key)
                    if cached is None:
                        from_store.append(partner_key)
                    decided.append((src, key, _half(row), None if cached else partner_key, cached))
                    out.paired.append(partner_key)
                else:
                    decided.append((src, key, _half(row), None,
                                    None if partner_row is None else _half(partner_row)))
                raw.append((exchange_id, side, provider, consumer, row[EXCHANGE.PRODUCT],
                            row[EXCHANGE.ITEMS], row[EXCHANGE.OUTCOME], row[EXCHANGE.OCCURRED_MS],
                            fingerprint, cluster, topic, partition, offset, now_ms))
            elif previous == fingerprint:
                duplicates.append((exchange_id, side, provider, consumer, now_ms, cluster, topic,
                                   partition, offset))
            else:
                out.rejected.append((now_ms, "exchange_id_conflict", CONFLICT_REASON, b"", 0, "",
                                     exchange_id, cluster, topic, partition, offset,
                                     provider if side == "provider" else consumer, expires_ms))
        stored = earlier_halves(self.client, from_store)
        deltas = _Deltas()
        for src, key, new, stored_key, known_partner in decided:
            partner = known_partner
            if stored_key is not None:
                partner = stored.get(stored_key)
                if partner is None:  # the index and the store disagree: never count on regardless
                    raise RuntimeError("a counted exchange half is missing from the store's "
                                       "exchanges table; refusing to count its partner")
            pair(deltas, src, new, partner)
            if partner is None:
                out.waiting[key] = new
            else:
                out.waiting.pop((*key[:3], OTHER[key[3]]), None)  # (paired within the batch)
        counts, quality = deltas.rows(cluster)
        out.tables = [("exchanges", EXCHANGE_COLUMNS, raw),
                      ("exchange_counts_minute", EXCHANGE_COUNT_COLUMNS, counts),
                      ("exchange_quality_minute", EXCHANGE_QUALITY_COLUMNS, quality),
                      ("exchange_duplicates", EXCHANGE_DUPLICATE_COLUMNS, duplicates)]
        out.counted, out.duplicates, out.conflicts = len(raw), len(duplicates), len(out.rejected)
        at = np.array(new_at, dtype=np.intp)
        fps = np.array([rows[i][EXCHANGE.FINGERPRINT] for i in new_at], dtype=np.uint64)
        out.new_ids = (hi[at], lo[at], own[at], fps)
        return out

    def commit(self, batch: ExchangeBatch) -> None:
        """Adopt the index entries of a batch the store has confirmed."""
        if batch.new_ids is not None and len(batch.new_ids[0]):
            self.index.add(*batch.new_ids)
        waiting = self.waiting
        for key in batch.paired:
            waiting.pop(key, None)
        waiting.update(batch.waiting)
        while len(waiting) > WAITING_CACHE:
            waiting.popitem(last=False)
