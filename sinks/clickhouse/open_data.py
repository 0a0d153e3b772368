"""Open data: the published aggregates for a date range, small cells suppressed.

Every dataset is a query over the published views (never raw events), so the open data
agrees with the dashboards. A count from 1 to ``min_cell - 1`` could single out a person
in a small governorate or a rarely used service, so it is written as empty (null), and so
is every ratio computed from a suppressed count; each row says whether it lost anything in
``suppressed``. Zero is published: it identifies no one. Counts of services (services
digitised) are not about people and are never suppressed. Primary suppression only: a
suppressed cell can sometimes be recovered by subtracting published totals of other
datasets; docs/serving-model.md discusses it.
"""

from __future__ import annotations

import csv
import json
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime
from decimal import Decimal
from pathlib import Path
from typing import Any

from clickhouse_connect.driver.client import Client

FORMATS = ("csv", "parquet", "json")


@dataclass(frozen=True, slots=True)
class Column:
    name: str
    type: str  # date | string | integer | number | boolean
    description: str
    # For a ratio: the count columns it is computed from (suppressed with them).
    from_counts: tuple[str, ...] = ()
    count: bool = False  # a count of transactions or people, subject to suppression


@dataclass(frozen=True, slots=True)
class Dataset:
    name: str
    title: str
    source: str
    sql: str
    columns: tuple[Column, ...]


def _c(name: str, type_: str, text: str) -> Column:
    return Column(name, type_, text)


def _n(name: str, text: str) -> Column:
    return Column(name, "integer", text, count=True)


def _r(name: str, text: str, *counts: str) -> Column:
    return Column(name, "number", text, from_counts=counts)


RANGE = "period BETWEEN {first:Date} AND {last:Date}"
GOV = _c("governorate", "string", "ISO 3166-2:OM code of the governorate")
MONTH = _c("month", "date", "first day of the month (Asia/Muscat calendar)")
DATASETS: tuple[Dataset, ...] = (
    Dataset(
        "transactions_daily_governorate", "Completed transactions per day, governorate and mode",
        "v_transactions_daily",
        "SELECT period AS day, governorate, mode, sum(transactions) AS transactions "
        f"FROM v_transactions_daily WHERE {RANGE} GROUP BY day, governorate, mode "
        "ORDER BY day, governorate, mode",
        (_c("day", "date", "the day (Asia/Muscat)"), GOV,
         _c("mode", "string", "digital or manual channel"),
         _n("transactions", "completed transactions (sum of quantity of completed events)")),
    ),
    Dataset(
        "transactions_monthly_service", "Completed transactions per month, service and channel",
        "v_transactions_daily",
        "SELECT toStartOfMonth(period) AS month, entity, service, channel, mode, "
        f"sum(transactions) AS transactions FROM v_transactions_daily WHERE {RANGE} "
        "GROUP BY month, entity, service, channel, mode ORDER BY month, entity, service, channel",
        (MONTH, _c("entity", "string", "code of the government entity"),
         _c("service", "string", "code of the service"), _c("channel", "string", "delivery channel code"),
         _c("mode", "string", "digital or manual"), _n("transactions", "completed transactions")),
    ),
    Dataset(
        "digital_takeup_monthly_governorate", "Digital take-up per month and governorate",
        "v_digital_takeup_governorate_daily",
        "SELECT toStartOfMonth(period) AS month, governorate, sum(completed_digital) AS completed_digital, "
        "sum(completed_all) AS completed_all, completed_digital / completed_all AS digital_takeup "
        f"FROM v_digital_takeup_governorate_daily WHERE {RANGE} GROUP BY month, governorate "
        "ORDER BY month, governorate",
        (MONTH, GOV, _n("completed_digital", "completed transactions on digital channels"),
         _n("completed_all", "completed transactions on all channels"),
         _r("digital_takeup", "completed_digital / completed_all", "completed_digital", "completed_all")),
    ),
    Dataset(
        "services_digitised", "Services with a completed digital transaction in the range",
        "v_services_digitised_between",
        "SELECT governorate, entity, catalogue_services, services_digitised, share_digitised "
        "FROM v_services_digitised_between(first_day = {first:Date}, last_day = {last:Date}) "
        "ORDER BY governorate, entity",
        (GOV, _c("entity", "string", "code of the government entity"),
         _c("catalogue_services", "integer", "services of the entity in the catalogue"),
         _c("services_digitised", "integer", "of them, used digitally at least once in the range"),
         _c("share_digitised", "number", "services_digitised / catalogue_services")),
    ),
    Dataset(
        "completion_rate_monthly", "Completion rate per month, service and channel",
        "v_completion_rate_monthly",
        "SELECT period AS month, entity, service, channel, mode, completed, abandoned, rejected, "
        f"completion_rate FROM v_completion_rate_monthly WHERE {RANGE} "
        "AND completed + abandoned + rejected > 0 ORDER BY month, entity, service, channel",
        (MONTH, _c("entity", "string", "entity code"), _c("service", "string", "service code"),
         _c("channel", "string", "channel code"), _c("mode", "string", "digital or manual"),
         _n("completed", "completed transactions"), _n("abandoned", "abandoned by the applicant"),
         _n("rejected", "rejected by the entity"),
         _r("completion_rate", "completed / (completed + abandoned + rejected)",
            "completed", "abandoned", "rejected")),
    ),
    Dataset(
        "satisfaction_monthly_service", "Beneficiary satisfaction per month and service",
        "v_satisfaction_monthly",
        "SELECT period AS month, entity, service, mode, responses, satisfaction_pct "
        f"FROM v_satisfaction_monthly WHERE {RANGE} ORDER BY month, entity, service, mode",
        (MONTH, _c("entity", "string", "entity code"), _c("service", "string", "service code"),
         _c("mode", "string", "digital or manual"), _n("responses", "ratings given (1-5)"),
         _r("satisfaction_pct", "mean of (rating - 1) / 4 * 100", "responses")),
    ),
)


def suppress(row: dict[str, Any], columns: Sequence[Column], min_cell: int) -> dict[str, Any]:
    """The row with small counts and ratios built on them set to None, plus ``suppressed``."""
    out = dict(row)
    hidden = {c.name for c in columns if c.count and 0 < (row[c.name] or 0) < min_cell}
    for c in columns:
        if c.name in hidden or (c.from_counts and hidden.intersection(c.from_counts)):
            out[c.name] = None
    out["suppressed"] = bool(hidden)
    return out


def _plain(value: Any) -> Any:
    if isinstance(value, Decimal):
        return float(value)
    if isinstance(value, float) and value != value:  # NaN: 0 / 0
        return None
    return value


def _write(path: Path, fmt: str, dataset: Dataset, rows: list[dict[str, Any]]) -> None:
    names = [c.name for c in dataset.columns] + ["suppressed"]
    if fmt == "csv":
        with path.open("w", newline="", encoding="utf-8") as handle:
            writer = csv.writer(handle)
            writer.writerow(names)
            writer.writerows([["" if r[n] is None else r[n] for n in names] for r in rows])
    elif fmt == "json":
        text = json.dumps(rows, ensure_ascii=False, indent=1, default=lambda v: v.isoformat())
        path.write_text(text + "\n", "utf-8")
    else:
        import pyarrow as pa
        import pyarrow.parquet as pq

        kinds = {"date": pa.date32(), "string": pa.string(), "integer": pa.int64(), "number": pa.float64()}
        schema = pa.schema([(c.name, kinds[c.type]) for c in dataset.columns] + [("suppressed", pa.bool_())])
        pq.write_table(pa.Table.from_pylist(rows, schema=schema), path)


def dictionary(first: date, last: date, min_cell: int) -> dict[str, Any]:
    return {
        "title": "Tahawul: government transactions, digital and manual (open data)",
        "period": {"from": first.isoformat(), "to": last.isoformat(), "calendar": "Asia/Muscat"},
        "generated_at": datetime.now(UTC).isoformat(timespec="seconds"),
        "suppression": (f"counts from 1 to {min_cell - 1} are empty (null), as is every ratio computed "
                        "from one; `suppressed` is true on such rows"),
        "definitions": "docs/serving-model.md of the tahawul repository",
        "datasets": [
            {"name": d.name, "title": d.title, "source_view": d.source,
             "columns": [{"name": c.name, "type": c.type, "description": c.description} for c in d.columns]
             + [{"name": "suppressed", "type": "boolean",
                 "description": "true if a value of this row was suppressed"}]}
            for d in DATASETS
        ],
    }


def export(client: Client, first: date, last: date, fmt: str, out: Path, min_cell: int) -> list[Path]:
    """Write every dataset and the data dictionary into ``out``; return the files written."""
    if fmt not in FORMATS:
        raise ValueError(f"format must be one of {', '.join(FORMATS)}")
    out.mkdir(parents=True, exist_ok=True)
    written = []
    for dataset in DATASETS:
        result = client.query(dataset.sql, parameters={"first": first, "last": last})
        rows = [suppress({k: _plain(v) for k, v in zip(result.column_names, r, strict=True)},
                         dataset.columns, min_cell) for r in result.result_rows]
        path = out / f"{dataset.name}.{fmt}"
        _write(path, fmt, dataset, rows)
        written.append(path)
    meta = dictionary(first, last, min_cell)
    path = out / "data-dictionary.json"
    path.write_text(json.dumps(meta, ensure_ascii=False, indent=1) + "\n", "utf-8")
    written.append(path)
    return written
