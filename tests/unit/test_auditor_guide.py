"""The auditor guide's worked examples run as written and give the results the guide states:
on a store holding the programme's 2025 simulation (scale 0.001, the figures published ones
scaled half up), and, for what a simulation cannot show (a day restated by late data, a
reconciliation difference), on the small hand-checked store of tests/unit/serving_data.py."""

from __future__ import annotations

import re
from collections.abc import Iterator
from datetime import date
from decimal import ROUND_HALF_UP, Decimal
from pathlib import Path

import pytest
from clickhouse_connect.driver.client import Client

from tahawul.schemas.reference import load_catalogue
from tahawul.sinks.clickhouse.connection import connect
from tahawul.sinks.clickhouse.store import Store
from tests.unit.serving_data import load, query
from tests.unit.simulated_store import fill

GUIDE = Path(__file__).resolve().parents[2] / "docs" / "auditor-guide.md"
SCALE = 0.001


def text() -> str:
    return GUIDE.read_text("utf-8")


def examples() -> list[str]:
    return re.findall(r"```sql\n(.*?)```", text(), flags=re.S)


def scaled(published: int) -> int:
    return int((Decimal(published) * Decimal(str(SCALE))).quantize(Decimal(1), ROUND_HALF_UP))


def test_late_data_and_a_reconciliation_difference_show(store: Store) -> None:
    """What the simulation cannot show, on the hand-checked store: one day restated by an
    event stored three days late, and a difference between the events and the minute counts.
    (First in the file: chDB opens one store per process, and the programme store below stays
    open for the module.)"""
    load(store.client)
    # What the counting writer would have written beside these events (minute sums).
    store.client.command(
        "INSERT INTO counts_minute SELECT toStartOfMinute(occurred_at), governorate, entity, service, "
        "channel, mode, status, sum(quantity), count(), src_cluster, src_topic, src_partition, "
        "max(src_offset) FROM events GROUP BY ALL")
    sql = examples()
    restated = query(store.client, sql[6])
    assert [r[:6] for r in restated] == [(date(2025, 4, 2), "OM-BS", 2, 2, 4, 2)]
    assert query(store.client, sql[-1]) == []
    store.client.command("DELETE FROM counts_minute WHERE service = 'ROP-VEH-FIRST-REG' "
                         "AND channel = 'counter'")
    assert query(store.client, sql[-1]) == [(date(2025, 2, 1), "OM-MA", 8, 1)]  # a difference shows


@pytest.fixture(scope="module")
def programme(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Client]:
    client = connect(f"chdb://{tmp_path_factory.mktemp('guide') / 'store'}")
    try:
        store = Store(client, "simulated")
        store.migrate()
        fill(store, scale=SCALE, profile="oman-2025")
        yield client
    finally:
        client.close()


def test_the_guide_states_the_store_and_the_scale_its_results_hold_for() -> None:
    guide = text()
    assert "--simulate oman-2025 --scale S" in guide and "S = 0.001" in guide
    assert len(examples()) == 9


def test_every_example_gives_the_stated_result_on_the_programme_store(programme: Client) -> None:
    sql = examples()
    results = [query(programme, s) for s in sql]
    admin, takeup, digitised, satisfaction, published, trace, restated, silent, reconcile = results
    guide = text()
    # North Al Batinah's administration: 96,478 published, 96 at S = 0.001.
    assert "96,478 at full scale (96 at S = 0.001)" in guide
    assert admin == [(scaled(96_478),)] == [(96,)]
    ad_dhahirah = query(programme, sql[0].replace("'admin:OM-BS'", "'admin:OM-ZA'"))
    assert "13,931 (14 at S = 0.001)" in guide and ad_dhahirah == [(scaled(13_931),)] == [(14,)]
    # The whole governorate, month by month: six months, more than the administration's own.
    assert [r[0] for r in takeup] == [date(2025, m, 1) for m in range(1, 7)]
    assert sum(r[1] for r in takeup) > admin[0][0]
    assert all(0 < r[1] <= r[2] and r[3] == round(r[1] / r[2] * 100, 1) for r in takeup)
    # Ad Dhahirah's nine services digitised in H1 2025, listed with the catalogue's dates.
    assert "Result: 9." in guide and digitised == [(9,)]
    cat = load_catalogue()
    dated = {(s.code, s.digitised_on.isoformat()) for s in cat.services.values()
             if cat.entities[s.entity].governorate == "OM-ZA" and s.digitised_on is not None
             and date(2025, 1, 1) <= s.digitised_on <= date(2025, 6, 30)}
    assert set(re.findall(r"'([A-Z0-9-]+)', '(2025-\d\d-\d\d)'", sql[2])) == dated and len(dated) == 9
    # Satisfaction with digital services, 2025: the programme's 77 %.
    assert "satisfaction 77.0" in guide
    assert len(satisfaction) == 1 and satisfaction[0][0] > 0 and satisfaction[0][1] == 77.0
    # The trace: a working day with counter transactions, whose events add up.
    assert "Monday 3 February 2025" in guide and date(2025, 2, 3).isoweekday() == 1
    assert len(published) == 1 and published[0][0] > 0
    assert trace and sum(r[2] for r in trace) == published[0][0]
    assert all(r[3] == "simulated" and r[4] == "tahawul.transactions" for r in trace)
    # Loaded after the fact: every April day of every governorate with traffic is restated
    # from nothing.
    days = query(programme, "SELECT uniqExact(toDate(occurred_at, 'Asia/Muscat'), governorate) FROM events "
                            "WHERE status = 'completed' AND toDate(occurred_at, 'Asia/Muscat') "
                            "BETWEEN '2025-04-01' AND '2025-04-30'")[0][0]
    assert len(restated) == days > 250
    assert all(r[2] == 0 and r[3] == r[4] > 0 for r in restated)
    assert silent == []  # months-old events: nothing is usual any more
    assert reconcile == []
