"""The figures of the report: the overview panels' queries, run for one period."""

from __future__ import annotations

import math
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta, timezone
from typing import Any

from clickhouse_connect.driver.client import Client

from tahawul.dashboards import indicators as panels
from tahawul.dashboards.macros import QueryContext, render
from tahawul.dashboards.texts import Lang

MUSCAT = timezone(timedelta(hours=4))


@dataclass(frozen=True)
class Overview:
    first_day: date
    last_day: date
    digital_today: int
    digital_month: int
    digital_ytd: int
    takeup: float | None
    automated: float | None
    satisfaction: float | None
    governorates: list[tuple[str, float, float, int, int, float]]  # name, lat, lon, dig, all, takeup
    entities: list[tuple[str, int, int]]  # name, digital, manual
    services: list[tuple[str, int, float]]  # name, completed, takeup
    trend: list[tuple[datetime, str, int]]  # day, mode label, transactions


def latest_day(client: Client) -> date | None:
    """The last Muscat day with completed transactions (the report's default end)."""
    row = client.query("SELECT max(period), count() FROM v_transactions_daily").result_rows[0]
    return row[0] if row[1] else None


def context(first_day: date, last_day: date) -> QueryContext:
    start = datetime.combine(first_day, time(0), MUSCAT)
    end = datetime.combine(last_day, time(23, 59, 59), MUSCAT)
    return QueryContext(start, end, 86400)


def _scalar(client: Client, sql: str, ctx: QueryContext) -> Any:
    rows = client.query(render(sql, ctx)).result_rows
    value = rows[0][0] if rows else None
    return None if isinstance(value, float) and math.isnan(value) else value  # 0/0: no data


def _rows(client: Client, sql: str, ctx: QueryContext) -> list[tuple[Any, ...]]:
    return [tuple(r) for r in client.query(render(sql, ctx)).result_rows]


def overview(client: Client, lang: Lang, first_day: date, last_day: date) -> Overview:
    ctx = context(first_day, last_day)
    return Overview(
        first_day=first_day,
        last_day=last_day,
        digital_today=int(_scalar(client, panels.DIGITAL_TODAY, ctx) or 0),
        digital_month=int(_scalar(client, panels.DIGITAL_MONTH, ctx) or 0),
        digital_ytd=int(_scalar(client, panels.DIGITAL_YTD, ctx) or 0),
        takeup=_scalar(client, panels.TAKEUP, ctx),
        automated=_scalar(client, panels.AUTOMATED, ctx),
        satisfaction=_scalar(client, panels.SATISFACTION, ctx),
        governorates=_rows(client, panels.takeup_map(lang), ctx),
        entities=_rows(client, panels.top_entities(lang), ctx),
        services=_rows(client, panels.top_services(lang), ctx),
        trend=_rows(client, panels.trend(lang), ctx),
    )
