"""Reconciliation: recompute the published counts from the raw event store and compare.

`events` holds every counted event once, with its source partition and offset; the
published view `v_counts_daily` is built from the minute buckets the counting writer wrote
beside them. If the write protocol ever broke (a bucket written twice, an event without its
bucket, a batch half-recovered), the two disagree somewhere. This module finds every such
cell, per day (Asia/Muscat), governorate, entity, service and channel, and also checks that
no entity's event_id appears twice in `events` (ids are per entity: two entities may each
have an event with one id, and both count).
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
