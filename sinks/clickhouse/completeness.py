"""Completeness: is this all of it? The entities' own control totals beside what was counted.

`tahawul audit reconcile` proves the published counts agree with the stored events; both are
written by one writer, so it cannot see an event that never arrived. Control totals
(schemas/control_total.py) come from the entities' systems: per day (Asia/Muscat), service
and channel, how many transactions each completed. The view ``v_completeness`` (migration
016) sets the statement in force beside the counted completed transactions of the cell; this
module reads it for a period and entity, and sums it per entity for the audit and report.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date

from clickhouse_connect.driver.client import Client

from tahawul.sinks.clickhouse.reconcile import EARLIEST, LATEST

STATUSES = ("complete", "missing_events", "extra_events", "no_control_total")

CELLS_SQL = """
SELECT day, entity, service, channel, control_total, counted, difference, status, statements
FROM v_completeness
WHERE day BETWEEN {lo:Date} AND {hi:Date}
  AND ({entity:String} = '' OR entity = {entity:String})
ORDER BY entity, day, service, channel
"""


# Per entity, transactions its control totals state and the counts lack, over the cells whose
# statement in force was stored more than {grace} seconds ago: an entity's events travel
# before its totals (the SDK spools them first, on the same partition), so what is still
# missing after the grace was lost, not late.
MISSING_SQL = """
SELECT t.entity, sum(toUInt64(greatest(toInt64(t.completed) - toInt64(coalesce(c.counted, 0)), 0)))
FROM
(
    SELECT entity, day, service, channel,
           argMax(completed, (stated_at, ingested_at, src_offset)) AS completed,
           max(ingested_at) AS stored_at
    FROM control_totals
    GROUP BY entity, day, service, channel
    HAVING stored_at < now64(3) - toIntervalSecond({grace:UInt32})
) AS t
LEFT JOIN
(
    SELECT day, entity, service, channel, sum(transactions) AS counted
    FROM v_counts_daily
    WHERE day IN (SELECT DISTINCT day FROM control_totals)  -- (runs every minute: only the days stated)
    GROUP BY day, entity, service, channel
) AS c ON c.day = t.day AND c.entity = t.entity AND c.service = t.service AND c.channel = t.channel
GROUP BY t.entity
"""


def missing_by_entity(client: Client, grace_seconds: int) -> dict[str, int]:
    """Transactions missing per entity (only entities with control totals), for the alert
    metric the counting writer exports."""
    rows = client.query(MISSING_SQL, parameters={"grace": grace_seconds},
                        settings={"join_use_nulls": 1}).result_rows
    return {str(entity): int(n) for entity, n in rows}


@dataclass(frozen=True, slots=True)
class Cell:
    """One entity, day, service and channel: the control total in force (None: none stated),
    the completed transactions counted, counted minus stated, and the status."""

    day: date
    entity: str
    service: str
    channel: str
    control_total: int | None
    counted: int
    difference: int | None
    status: str
    statements: int


@dataclass(slots=True)
class EntitySummary:
    """Per entity: cells by status, and the transactions stated, counted in stated cells,
    missing (stated but not counted) and extra (counted beyond the statement)."""

    entity: str
    cells: dict[str, int] = field(default_factory=lambda: dict.fromkeys(STATUSES, 0))
    stated: int = 0
    counted_in_stated: int = 0
    missing: int = 0
    extra: int = 0
    counted_without_total: int = 0

    @property
    def status(self) -> str:
        if self.missing:
            return "missing_events"
        if self.extra:
            return "extra_events"
        if self.cells["no_control_total"] and not self.cells["complete"]:
            return "no_control_total"
        return "complete"


@dataclass(frozen=True, slots=True)
class Completeness:
    first_day: date
    last_day: date
    entity: str
    tolerance: int
    cells: list[Cell]
    entities: list[EntitySummary]

    @property
    def missing(self) -> int:
        return sum(s.missing for s in self.entities)

    @property
    def beyond_tolerance(self) -> list[Cell]:
        """Cells whose missing transactions exceed the tolerance (what makes the audit fail)."""
        return [c for c in self.cells
                if c.difference is not None and -c.difference > self.tolerance]


def summarise(cells: list[Cell]) -> list[EntitySummary]:
    by_entity: dict[str, EntitySummary] = {}
    for cell in cells:
        s = by_entity.setdefault(cell.entity, EntitySummary(cell.entity))
        s.cells[cell.status] += 1
        if cell.control_total is None:
            s.counted_without_total += cell.counted
            continue
        s.stated += cell.control_total
        s.counted_in_stated += cell.counted
        if cell.difference is not None and cell.difference < 0:
            s.missing += -cell.difference
        elif cell.difference:
            s.extra += cell.difference
    return [by_entity[e] for e in sorted(by_entity)]


def completeness(client: Client, first_day: date | None = None, last_day: date | None = None,
                 entity: str = "", tolerance: int = 0) -> Completeness:
    """Every cell of the period (and entity, if given) and the summary per entity."""
    lo, hi = first_day or EARLIEST, last_day or LATEST
    params = {"lo": lo, "hi": hi, "entity": entity}
    cells = [
        Cell(d, e, s, c, None if t is None else int(t), int(n), None if diff is None else int(diff),
             str(status), int(k))
        for d, e, s, c, t, n, diff, status, k in client.query(CELLS_SQL, parameters=params).result_rows
    ]
    return Completeness(lo, hi, entity, tolerance, cells, summarise(cells))
