"""The auditor guide's example queries run as written, and give the documented answers,
against the small hand-checked store of tests/unit/serving_data.py."""

from __future__ import annotations

import re
from datetime import date
from pathlib import Path

from tahawul.schemas.reference import load_catalogue
from tahawul.sinks.clickhouse.store import Store
from tests.unit.serving_data import load, query

GUIDE = Path(__file__).resolve().parents[2] / "docs" / "auditor-guide.md"


def examples() -> list[str]:
    return re.findall(r"```sql\n(.*?)```", GUIDE.read_text("utf-8"), flags=re.S)


def test_every_example_query_runs_and_answers_as_documented(store: Store) -> None:
    load(store.client)
    # What the counting writer would have written beside these events (minute sums).
    store.client.command(
        "INSERT INTO counts_minute SELECT toStartOfMinute(occurred_at), governorate, entity, service, "
        "channel, mode, status, sum(quantity), count(), src_cluster, src_topic, src_partition, "
        "max(src_offset) FROM events GROUP BY ALL")
    sql = examples()
    assert len(sql) == 9
    results = [query(store.client, s) for s in sql]
    half_year, monthly, digitised, satisfaction, published, trace, restated, silent, reconcile = results
    assert half_year == [("OM-MA", 3)]
    assert monthly == [(date(2025, 1, 1), 1, 1, 100.0), (date(2025, 2, 1), 2, 9, 22.2)]
    cat = load_catalogue()
    in_muscat = sum(len(cat.services_by_entity[c]) for c, e in cat.entities.items()
                    if e.governorate in (None, "OM-MA"))
    assert digitised == [("OM-MA", 2, in_muscat)]
    assert satisfaction == [(4, 56.2)]
    assert published == [(7,)]
    assert [(r[2], r[5], r[6]) for r in trace] == [(7, 0, 3)]  # quantity, partition, offset
    assert sum(r[2] for r in trace) == published[0][0]
    assert [r[:6] for r in restated] == [(date(2025, 4, 2), "OM-BS", 2, 2, 4, 2)]
    assert silent == []  # every event in the example store is months old: nothing is usual now
    assert reconcile == []
    store.client.command("DELETE FROM counts_minute WHERE service = 'ROP-VEH-FIRST-REG' "
                         "AND channel = 'counter'")
    assert query(store.client, sql[-1]) == [(date(2025, 2, 1), "OM-MA", 8, 1)]  # a difference shows
