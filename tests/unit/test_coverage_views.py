"""Data coverage: who reported in the last hour and day, and who went silent, against
events placed at known ages before now (the views measure from now())."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from tahawul.sinks.clickhouse.store import EVENT_COLUMNS, Store
from tests.unit.serving_data import event_row, query

DAY, HOUR, MINUTE = timedelta(days=1), timedelta(hours=1), timedelta(minutes=1)


def test_coverage_compares_the_last_hour_and_day_with_the_usual_pattern(store: Store) -> None:
    now = datetime.now(UTC)
    ages: list[tuple[str, str, timedelta]] = []
    fr, ma, pa, pv, mr = ("ROP-VEH-FIRST-REG", "ROP-VEH-MORTGAGE-ADD", "MOH-PREARRIVAL-MED",
                          "MUSCAT-MUN-PARKING-VIOL", "MOH-MED-REPORT")
    ages += [("ROP", fr, 10 * MINUTE), ("ROP", fr, 2 * HOUR)]
    ages += [("ROP", fr, k * DAY + 30 * MINUTE) for k in range(1, 29)]  # usually one a day, this hour
    ages += [("MOH", pa, k * DAY + 5 * HOUR) for k in range(1, 29) for _ in range(2)]  # two a day, not now
    ages += [("MUSCAT-MUN", pv, 3 * HOUR)]
    ages += [("MUSCAT-MUN", pv, k * DAY + 20 * MINUTE) for k in range(1, 29)]
    ages += [("ROP", ma, 5 * HOUR)]
    ages += [("MOH", mr, k * DAY + 6 * HOUR) for k in range(1, 15)]  # every other day: not silent
    ages += [("MOH", mr, 40 * DAY)]  # too old to count
    gov = {"ROP": "OM-MA", "MOH": "OM-BS", "MUSCAT-MUN": "OM-MA"}
    rows = [event_row(n, now - age - MINUTE, gov[ent], ent, svc, "portal", ingested=now - age)
            for n, (ent, svc, age) in enumerate(ages, 1)]
    store.client.insert("events", rows, column_names=list(EVENT_COLUMNS))

    cols = ("service, events_last_hour, events_last_day, usual_events_per_hour, usual_events_per_day, "
            "status, last_reported_at IS NULL")
    got = {r[0]: r[1:] for r in query(store.client, f"SELECT {cols} FROM v_coverage_services")}
    assert got[fr] == (1, 2, 1.0, 1.0, "reporting", False)
    assert got[pa] == (0, 0, 0.0, 2.0, "silent_day", False)
    assert got[pv] == (0, 1, 1.0, 1.0, "silent_hour", False)
    assert got[ma] == (0, 1, 0.0, 0.0, "reported_today", False)
    assert got[mr] == (0, 0, 0.0, 0.5, "idle", False)
    assert got["ROP-VEH-MORTGAGE-REMOVE"] == (0, 0, 0.0, 0.0, "idle", True)  # never reported
    assert len(got) == 178
    last = query(store.client, "SELECT last_reported_at FROM v_coverage_services "
                               "WHERE service = {s:String}", s=fr)
    seen = last[0][0] if last[0][0].tzinfo else last[0][0].replace(tzinfo=UTC)  # UTC comes back naive
    assert abs(seen - (now - 10 * MINUTE)) < timedelta(milliseconds=1)

    cols = ("entity, services_reporting_last_day, events_last_hour, events_last_day, usual_events_per_hour, "
            "usual_events_per_day, status")
    ents = {r[0]: r[1:] for r in query(store.client, f"SELECT {cols} FROM v_coverage_entities")}
    assert ents["ROP"] == (2, 1, 3, 1.0, 1.0, "reporting")
    assert ents["MOH"] == (0, 0, 0, 0.0, 2.5, "silent_day")
    assert ents["MUSCAT-MUN"] == (1, 0, 1, 1.0, 1.0, "silent_hour")
    assert len(ents) == 52
