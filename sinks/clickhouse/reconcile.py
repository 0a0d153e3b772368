"""Reconciliation: recompute the published counts from the raw event store and compare.

`events` holds every counted event once, with its source partition and offset; the
published view `v_counts_daily` is built from the minute buckets the counting writer wrote
beside them. If the write protocol ever broke (a bucket written twice, an event without its
bucket, a batch half-recovered), the two disagree somewhere. This module finds every such
cell, per day (Asia/Muscat), governorate, entity, service and channel, and also checks that
no entity's event_id appears twice in `events` (ids are per entity: two entities may each
have an event with one id, and both count).

Exchanges likewise (:func:`reconcile_exchanges`): the counted exchanges recomputed from the raw
halves in `exchanges` by the pairing rule, per day (Asia/Muscat), provider, consumer, data
product and outcome, against `exchange_counts_minute`; no half stored twice; and the halves
without a partner counted from the raw table and from `exchange_quality_minute`.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date

from clickhouse_connect.driver.client import Client

DIFF_SQL = """
SELECT day, governorate, entity, service, channel, mode,
       raw_transactions, published_transactions
FROM
(
    SELECT toDate(occurred_at, 'Asia/Muscat') AS day, governorate, entity, service, channel, mode,
           sum(toUInt64(quantity)) AS raw_transactions
    FROM events
    WHERE status = 'completed' AND day BETWEEN {lo:Date} AND {hi:Date}
    GROUP BY day, governorate, entity, service, channel, mode
) AS r
FULL OUTER JOIN
(
    SELECT day, governorate, entity, service, channel, mode,
           sum(transactions) AS published_transactions
    FROM v_counts_daily
    WHERE day BETWEEN {lo:Date} AND {hi:Date}
    GROUP BY day, governorate, entity, service, channel, mode
) AS p
USING (day, governorate, entity, service, channel, mode)
WHERE raw_transactions != published_transactions
ORDER BY day, governorate, entity, service, channel
"""

TOTALS_SQL = """
SELECT
    (SELECT sum(toUInt64(quantity)) FROM events
      WHERE status = 'completed'
        AND toDate(occurred_at, 'Asia/Muscat') BETWEEN {lo:Date} AND {hi:Date}) AS raw,
    (SELECT sum(transactions) FROM v_counts_daily WHERE day BETWEEN {lo:Date} AND {hi:Date}) AS published,
    (SELECT count() FROM v_counts_daily WHERE day BETWEEN {lo:Date} AND {hi:Date}) AS cells,
    (SELECT count() - uniqExact(entity, event_id) FROM events) AS repeated_ids
"""

EARLIEST = date(2000, 1, 1)
LATEST = date(2199, 12, 31)


@dataclass(frozen=True, slots=True)
class Difference:
    day: date
    governorate: str
    entity: str
    service: str
    channel: str
    mode: str
    raw: int
    published: int


@dataclass(frozen=True, slots=True)
class Reconciliation:
    first_day: date
    last_day: date
    raw_total: int
    published_total: int
    cells: int
    repeated_event_ids: int
    differences: list[Difference] = field(default_factory=list)

    @property
    def drift(self) -> bool:
        return bool(self.differences) or self.repeated_event_ids > 0 or (
            self.raw_total != self.published_total)


def reconcile(client: Client, first_day: date | None = None, last_day: date | None = None) -> Reconciliation:
    params = {"lo": first_day or EARLIEST, "hi": last_day or LATEST}
    raw, published, cells, repeated = client.query(TOTALS_SQL, parameters=params).result_rows[0]
    diffs = [
        Difference(d, g, e, s, c, m, int(r), int(p))
        for d, g, e, s, c, m, r, p in client.query(DIFF_SQL, parameters=params).result_rows
    ]
    return Reconciliation(params["lo"], params["hi"], int(raw or 0), int(published or 0),
                          int(cells), int(repeated), diffs)


# Exchanges (migration 017, docs/exchanges.md): the counted figures recomputed from the raw
# halves by the pairing rule (per provider, consumer and exchange_id, the provider's half
# when there is one, else the consumer's), beside the published minute cells' sums.
EXCHANGE_RAW_SQL = """
SELECT toDate(h.1, 'Asia/Muscat') AS day, provider, consumer, h.2 AS product, h.3 AS outcome,
       count() AS exchanges, sum(toInt64(h.4)) AS items
FROM
(
    SELECT provider, consumer, exchange_id,
           argMax((occurred_at, product, outcome, items), side = 'provider') AS h
    FROM exchanges
    GROUP BY provider, consumer, exchange_id
)
WHERE day BETWEEN {lo:Date} AND {hi:Date}
GROUP BY day, provider, consumer, product, outcome
"""

EXCHANGE_DIFF_SQL = f"""
SELECT day, provider, consumer, product, outcome, r.exchanges, r.items, p.exchanges, p.items
FROM ({EXCHANGE_RAW_SQL}) AS r
FULL OUTER JOIN
(
    SELECT toDate(minute, 'Asia/Muscat') AS day, provider, consumer, product, outcome,
           sum(exchanges) AS exchanges, sum(items) AS items
    FROM exchange_counts_minute
    WHERE day BETWEEN {{lo:Date}} AND {{hi:Date}}
    GROUP BY day, provider, consumer, product, outcome
) AS p
USING (day, provider, consumer, product, outcome)
WHERE r.exchanges != p.exchanges OR r.items != p.items
ORDER BY day, provider, consumer, product, outcome
"""

EXCHANGE_TOTALS_SQL = """
SELECT
    (SELECT sum(exchanges) FROM exchange_counts_minute
      WHERE toDate(minute, 'Asia/Muscat') BETWEEN {lo:Date} AND {hi:Date}),
    (SELECT count() - uniqExact(provider, consumer, exchange_id, side) FROM exchanges),
    (SELECT count() FROM (SELECT 1 FROM exchanges GROUP BY provider, consumer, exchange_id
                          HAVING count() = 1)),
    (SELECT sum(halves) FROM exchange_quality_minute WHERE status LIKE 'unmatched_%')
"""


@dataclass(frozen=True, slots=True)
class ExchangeDifference:
    day: date
    provider: str
    consumer: str
    product: str
    outcome: str
    raw_exchanges: int
    raw_items: int
    published_exchanges: int
    published_items: int


@dataclass(frozen=True, slots=True)
class ExchangeReconciliation:
    """Raw halves against the published exchange counts. ``unmatched_*``: exchanges with one
    half, counted from the raw halves and as the quality table's running sum (all days)."""

    raw_exchanges: int
    published_exchanges: int
    repeated_halves: int
    unmatched_raw: int
    unmatched_published: int
    differences: list[ExchangeDifference] = field(default_factory=list)

    @property
    def drift(self) -> bool:
        return bool(self.differences) or self.repeated_halves > 0 or (
            self.raw_exchanges != self.published_exchanges) or self.unmatched_raw != self.unmatched_published


def reconcile_exchanges(client: Client, first_day: date | None = None, last_day: date | None = None
                        ) -> ExchangeReconciliation:
    """Recompute the counted exchanges from the raw halves and compare (every cell of the
    days; the totals; no half stored twice; the unmatched halves)."""
    params = {"lo": first_day or EARLIEST, "hi": last_day or LATEST}
    diffs = [ExchangeDifference(d, p, c, pr, o, int(re or 0), int(ri or 0), int(pe or 0), int(pi or 0))
             for d, p, c, pr, o, re, ri, pe, pi
             in client.query(EXCHANGE_DIFF_SQL, parameters=params).result_rows]
    rows = client.query(EXCHANGE_RAW_SQL, parameters=params).result_rows
    raw = sum(int(r[5]) for r in rows)
    published, repeated, unmatched_raw, unmatched_published = client.query(
        EXCHANGE_TOTALS_SQL, parameters=params).result_rows[0]
    return ExchangeReconciliation(raw, int(published or 0), int(repeated), int(unmatched_raw),
                                  int(unmatched_published or 0), diffs)
