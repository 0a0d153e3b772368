"""A small, hand-checked set of raw events for the serving-model tests.

Rows go straight into ``events`` (as the counting writer would leave them) so each test
controls arrival times too. Times are Asia/Muscat (+04:00). The expected values in the
tests are worked out by hand from this table; keep both in step.
"""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta
from typing import Any

from clickhouse_connect.driver.client import Client

from tahawul.sinks.clickhouse.store import EVENT_COLUMNS

MCT = "+04:00"
FR, MR, PA = "ROP-VEH-FIRST-REG", "ROP-VEH-MORTGAGE-ADD", "MOH-PREARRIVAL-MED"
PV, MED, MR2 = "MUSCAT-MUN-PARKING-VIOL", "MOH-MED-REPORT", "ROP-VEH-MORTGAGE-REMOVE"
CLUSTER = "unit-cluster"
TOPIC = "tahawul.transactions"

# (n, occurred local, governorate, entity, service, channel, status, quantity, automated,
#  satisfaction, ingested local or None for one minute after occurring)
ROWS: tuple[tuple[Any, ...], ...] = (
    (1, "2025-01-31T23:30:00", "OM-MA", "ROP", FR, "portal", "completed", 1, False, 5, None),
    (2, "2025-02-01T00:30:00", "OM-MA", "ROP", FR, "mobile_app", "completed", 1, True, 3, None),
    (3, "2025-02-01T10:00:00", "OM-MA", "ROP", FR, "counter", "completed", 7, False, None, None),
    (4, "2025-02-01T10:05:00", "OM-MA", "ROP", FR, "portal", "abandoned", 1, False, None, None),
    (5, "2025-02-01T10:10:00", "OM-MA", "ROP", FR, "counter", "rejected", 1, False, None, None),
    (6, "2025-02-01T10:15:00", "OM-MA", "ROP", FR, "portal", "submitted", 1, False, None, None),
    (7, "2025-02-02T09:00:00", "OM-MA", "MUSCAT-MUN", PV, "api", "completed", 1, True, 4,
     None),
    (8, "2025-02-02T09:00:00", "OM-BS", "MOH", PA, "paper", "completed", 2, False, 5, None),
    (9, "2025-04-02T11:00:00", "OM-BS", "MOH", PA, "portal", "completed", 1, False, 1, None),
    (10, "2025-04-02T11:00:00", "OM-BS", "ROP", MR, "portal", "completed", 1, True, None,
     "2025-04-05T10:20:00"),
    (11, "2024-12-31T23:59:00", "OM-BS", "MOH", MED, "counter", "completed", 3, False, None, None),
    (12, "2025-05-10T10:00:00", "OM-MA", "ROP", MR2, "kiosk", "submitted", 1, False, None,
     None),
    (13, "2025-04-02T23:50:00", "OM-BS", "ROP", MR, "portal", "completed", 1, False, None,
     "2025-04-03T00:59:00"),
    (14, "2025-04-02T12:00:00", "OM-BS", "ROP", MR, "portal", "completed", 1, False, None,
     "2025-04-03T01:00:00"),
)
MODES = {"portal": "digital", "mobile_app": "digital", "api": "digital", "kiosk": "digital",
         "counter": "manual", "paper": "manual"}


def local(text: str) -> datetime:
    return datetime.fromisoformat(text + MCT).astimezone(UTC)


def event_row(n: int, occurred: datetime, gov: str, entity: str, service: str, channel: str,
              status: str = "completed", quantity: int = 1, automated: bool = False,
              satisfaction: int | None = None, ingested: datetime | None = None,
              partition: int = 0) -> tuple[Any, ...]:
    """One events row in EVENT_COLUMNS order; offset n, event_id derived from n."""
    return (
        uuid.UUID(int=n), occurred, entity, service, gov, channel, MODES[channel], status, quantity,
        automated, satisfaction, n, CLUSTER, TOPIC, partition, n,
        ingested if ingested is not None else occurred + timedelta(minutes=1),
    )


def rows() -> list[tuple[Any, ...]]:
    return [
        event_row(n, local(at), gov, ent, svc, ch, st, q, auto, sat, local(ing) if ing else None)
        for n, at, gov, ent, svc, ch, st, q, auto, sat, ing in ROWS
    ]


def load(client: Client) -> None:
    client.insert("events", rows(), column_names=list(EVENT_COLUMNS))


def query(client: Client, sql: str, **params: Any) -> list[tuple[Any, ...]]:
    return [tuple(r) for r in client.query(sql, parameters=params or None).result_rows]
