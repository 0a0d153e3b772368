"""Every indicator view against hand-computed values on tests/unit/serving_data.py."""

from __future__ import annotations

from datetime import date, datetime
from decimal import Decimal
from zoneinfo import ZoneInfo

import pytest
from clickhouse_connect.driver.client import Client

from tahawul.schemas.reference import load_catalogue
from tahawul.sinks.clickhouse.store import Store
from tests.unit.serving_data import load, query

MCT = ZoneInfo("Asia/Muscat")
D = date.fromisoformat
FR, MR = "ROP-VEH-FIRST-REG", "ROP-VEH-MORTGAGE-ADD"
PA, PV, MR2 = "MOH-PREARRIVAL-MED", "MUSCAT-MUN-PARKING-VIOL", "ROP-VEH-MORTGAGE-REMOVE"


@pytest.fixture
def client(store: Store) -> Client:
    load(store.client)
    return store.client


def by_key(rows: list[tuple], width: int) -> dict[tuple, tuple]:
    return {r[:width]: r[width:] for r in rows}


def test_transactions_by_period_follow_the_muscat_calendar(client: Client) -> None:
    cols = "period, governorate, entity, service, channel, mode, transactions, events"
    daily = by_key(query(client, f"SELECT {cols} FROM v_transactions_daily"), 6)
    assert daily == {
        (D("2025-01-31"), "OM-MA", "ROP", FR, "portal", "digital"): (1, 1),
        (D("2025-02-01"), "OM-MA", "ROP", FR, "mobile_app", "digital"): (1, 1),  # 00:30 Muscat
        (D("2025-02-01"), "OM-MA", "ROP", FR, "counter", "manual"): (7, 1),
        (D("2025-02-02"), "OM-MA", "MUSCAT-MUN", PV, "api", "digital"): (1, 1),
        (D("2025-02-02"), "OM-BS", "MOH", PA, "paper", "manual"): (2, 1),
        (D("2025-04-02"), "OM-BS", "MOH", PA, "portal", "digital"): (1, 1),
        (D("2025-04-02"), "OM-BS", "ROP", MR, "portal", "digital"): (3, 3),
        (D("2024-12-31"), "OM-BS", "MOH", "MOH-MED-REPORT", "counter", "manual"): (3, 1),
    }
    hourly = query(client, "SELECT period, transactions FROM v_transactions_hourly "
                           "WHERE service = {s:String} ORDER BY period", s=FR)
    assert [(p.astimezone(MCT).replace(tzinfo=None), t) for p, t in hourly] == [
        (datetime(2025, 1, 31, 23), 1), (datetime(2025, 2, 1, 0), 1), (datetime(2025, 2, 1, 10), 7)]

    def totals(view: str) -> dict[date, int]:
        return dict(query(client, f"SELECT period, sum(transactions) FROM {view} GROUP BY period"))

    assert totals("v_transactions_weekly") == {  # weeks start on Sunday
        D("2025-01-26"): 9, D("2025-02-02"): 3, D("2025-03-30"): 4, D("2024-12-29"): 3}
    assert totals("v_transactions_monthly") == {
        D("2025-01-01"): 1, D("2025-02-01"): 11, D("2025-04-01"): 4, D("2024-12-01"): 3}
    assert totals("v_transactions_quarterly") == {D("2025-01-01"): 12, D("2025-04-01"): 4, D("2024-10-01"): 3}
    assert totals("v_transactions_yearly") == {D("2025-01-01"): 16, D("2024-01-01"): 3}


def test_digital_takeup_is_digital_over_all_completed(client: Client) -> None:
    cols = "period, governorate, completed_digital, completed_all, digital_takeup"
    assert by_key(query(client, f"SELECT {cols} FROM v_digital_takeup_governorate_daily"), 2) == {
        (D("2025-01-31"), "OM-MA"): (1, 1, 1.0),
        (D("2025-02-01"), "OM-MA"): (1, 8, 0.125),
        (D("2025-02-02"), "OM-MA"): (1, 1, 1.0),
        (D("2025-02-02"), "OM-BS"): (0, 2, 0.0),
        (D("2025-04-02"), "OM-BS"): (4, 4, 1.0),
        (D("2024-12-31"), "OM-BS"): (0, 3, 0.0),
    }
    assert by_key(query(client, f"SELECT {cols} FROM v_digital_takeup_governorate_monthly"), 2) == {
        (D("2025-01-01"), "OM-MA"): (1, 1, 1.0),
        (D("2025-02-01"), "OM-MA"): (2, 9, 2 / 9),
        (D("2025-02-01"), "OM-BS"): (0, 2, 0.0),
        (D("2025-04-01"), "OM-BS"): (4, 4, 1.0),
        (D("2024-12-01"), "OM-BS"): (0, 3, 0.0),
    }
    for grain, period in (("weekly", "2025-01-26"), ("quarterly", "2025-01-01"), ("yearly", "2025-01-01")):
        got = query(client, "SELECT completed_digital, completed_all FROM "
                            f"v_digital_takeup_governorate_{grain} "
                            "WHERE governorate = 'OM-MA' AND period = {p:Date}", p=period)
        assert got == {"weekly": [(2, 9)], "quarterly": [(3, 10)], "yearly": [(3, 10)]}[grain]
    detail = "period, governorate, entity, service, completed_digital, completed_all, digital_takeup"
    assert by_key(query(client, f"SELECT {detail} FROM v_digital_takeup_yearly "
                                "WHERE period = '2025-01-01'"), 4) == {
        (D("2025-01-01"), "OM-MA", "ROP", FR): (2, 9, 2 / 9),
        (D("2025-01-01"), "OM-MA", "MUSCAT-MUN", PV): (1, 1, 1.0),
        (D("2025-01-01"), "OM-BS", "MOH", PA): (1, 3, 1 / 3),
        (D("2025-01-01"), "OM-BS", "ROP", MR): (3, 3, 1.0),
    }
    for grain, rows in (("daily", 7), ("weekly", 6), ("monthly", 7), ("quarterly", 6)):
        assert query(client, f"SELECT count() FROM v_digital_takeup_{grain}") == [(rows,)]


def test_completion_rate_leaves_open_submissions_out(client: Client) -> None:
    cols = "entity, service, channel, mode, completed, abandoned, rejected, submitted, completion_rate"
    got = by_key(query(client, f"SELECT {cols} FROM v_completion_rate_yearly WHERE period = '2025-01-01'"), 4)
    assert got == {
        ("ROP", FR, "portal", "digital"): (1, 1, 0, 1, 0.5),
        ("ROP", FR, "mobile_app", "digital"): (1, 0, 0, 0, 1.0),
        ("ROP", FR, "counter", "manual"): (7, 0, 1, 0, 0.875),
        ("MUSCAT-MUN", PV, "api", "digital"): (1, 0, 0, 0, 1.0),
        ("MOH", PA, "paper", "manual"): (2, 0, 0, 0, 1.0),
        ("MOH", PA, "portal", "digital"): (1, 0, 0, 0, 1.0),
        ("ROP", MR, "portal", "digital"): (3, 0, 0, 0, 1.0),
        ("ROP", MR2, "kiosk", "digital"): (0, 0, 0, 1, None),
    }
    assert query(client, "SELECT completed, abandoned, submitted, completion_rate "
                         "FROM v_completion_rate_monthly "
                         "WHERE period = '2025-02-01' AND channel = 'portal'") == [(0, 1, 1, 0.0)]


def test_automated_share_of_completed(client: Client) -> None:
    cols = "period, governorate, entity, service, completed_automated, completed, automated_share"
    assert by_key(query(client, f"SELECT {cols} FROM v_automated_share_yearly"), 4) == {
        (D("2025-01-01"), "OM-MA", "ROP", FR): (1, 9, 1 / 9),
        (D("2025-01-01"), "OM-MA", "MUSCAT-MUN", PV): (1, 1, 1.0),
        (D("2025-01-01"), "OM-BS", "MOH", PA): (0, 3, 0.0),
        (D("2025-01-01"), "OM-BS", "ROP", MR): (1, 3, 1 / 3),
        (D("2024-01-01"), "OM-BS", "MOH", "MOH-MED-REPORT"): (0, 3, 0.0),
    }
    assert query(client, "SELECT period, completed_automated, completed FROM v_automated_share_monthly "
                         "WHERE service = {s:String} ORDER BY period", s=FR) == [
        (D("2025-01-01"), 0, 1), (D("2025-02-01"), 1, 8)]


def test_satisfaction_maps_one_to_five_onto_percent(client: Client) -> None:
    cols = "period, entity, service, mode, responses, average_score, satisfaction_pct"
    assert by_key(query(client, f"SELECT {cols} FROM v_satisfaction_yearly"), 4) == {
        (D("2025-01-01"), "ROP", FR, "digital"): (2, 4.0, 75.0),
        (D("2025-01-01"), "MUSCAT-MUN", PV, "digital"): (1, 4.0, 75.0),
        (D("2025-01-01"), "MOH", PA, "digital"): (1, 1.0, 0.0),
        (D("2025-01-01"), "MOH", PA, "manual"): (1, 5.0, 100.0),
    }
    national = "period, mode, responses, average_score, satisfaction_pct"
    assert by_key(query(client, f"SELECT {national} FROM v_satisfaction_national_yearly"), 2) == {
        (D("2025-01-01"), "digital"): (4, 3.25, 56.25),
        (D("2025-01-01"), "manual"): (1, 5.0, 100.0),
    }
    assert by_key(query(client, f"SELECT {national} FROM v_satisfaction_national_monthly"), 2) == {
        (D("2025-01-01"), "digital"): (1, 5.0, 100.0),
        (D("2025-02-01"), "digital"): (2, 3.5, 62.5),
        (D("2025-02-01"), "manual"): (1, 5.0, 100.0),
        (D("2025-04-01"), "digital"): (1, 1.0, 0.0),
    }
    assert query(client, "SELECT count() FROM v_satisfaction_monthly") == [(5,)]


def test_service_indicators_table(client: Client) -> None:
    cols = ("service, entity, service_name_en, transactions, completed_digital, digital_takeup, "
            "completion_rate, automated_share, responses, satisfaction_pct")
    sql = f"SELECT {cols} FROM v_service_indicators_yearly WHERE period = '2025-01-01'"
    got = by_key(query(client, sql), 1)
    assert got == {
        (FR,): ("ROP", "First vehicle registration via dealers", 9, 2, 2 / 9, 9 / 11, 1 / 9, 2, 75.0),
        (PV,): ("MUSCAT-MUN", "Paid-parking violations", 1, 1, 1.0, 1.0, 1.0, 1, 75.0),
        (PA,): ("MOH", "Pre-arrival medical examination", 3, 1, 1 / 3, 1.0, 0.0, 2, 50.0),
        (MR,): ("ROP", "Adding a mortgage to a vehicle", 3, 3, 1.0, 1.0, 1 / 3, 0, None),
        (MR2,): ("ROP", load_catalogue().services[MR2].name_en, 0, 0, None, None, None, 0, None),
    }
    assert query(client, "SELECT period, transactions, completion_rate FROM v_service_indicators_monthly "
                         "WHERE service = {s:String} ORDER BY period", s=FR) == [
        (D("2025-01-01"), 1, 1.0), (D("2025-02-01"), 8, 8 / 10)]


def test_cost_per_transaction_uses_the_cost_in_force_and_its_latest_version(client: Client) -> None:
    client.insert("unit_costs", [
        (FR, "portal", D("2025-01-01"), Decimal("0.500"), datetime(2025, 1, 1)),
        (FR, "counter", D("2025-01-01"), Decimal("3.000"), datetime(2025, 1, 1)),
        (FR, "counter", D("2025-02-01"), Decimal("4.000"), datetime(2025, 1, 20)),
        (FR, "counter", D("2025-02-01"), Decimal("4.500"), datetime(2025, 1, 25)),  # correction
        (PA, "paper", D("2025-01-01"), Decimal("2.250"), datetime(2025, 1, 1)),
    ], column_names=["service", "channel", "effective_from", "cost_omr", "recorded_at"])
    cols = ("period, channel, mode, transactions, costed_transactions, total_cost_omr, "
            "cost_per_transaction_omr")
    assert by_key(query(client, f"SELECT {cols} FROM v_cost_per_transaction_monthly"), 3) == {
        (D("2025-01-01"), "portal", "digital"): (1, 1, Decimal("0.5"), 0.5),
        (D("2025-02-01"), "mobile_app", "digital"): (1, 0, Decimal(0), None),
        (D("2025-02-01"), "counter", "manual"): (7, 7, Decimal("31.5"), 4.5),
        (D("2025-02-01"), "api", "digital"): (1, 0, Decimal(0), None),
        (D("2025-02-01"), "paper", "manual"): (2, 2, Decimal("4.5"), 2.25),
        (D("2025-04-01"), "portal", "digital"): (4, 0, Decimal(0), None),
        (D("2024-12-01"), "counter", "manual"): (3, 0, Decimal(0), None),
    }
    assert by_key(query(client, f"SELECT {cols} FROM v_cost_per_transaction_yearly "
                                "WHERE period = '2025-01-01' AND costed_transactions > 0"), 3) == {
        (D("2025-01-01"), "portal", "digital"): (5, 1, Decimal("0.5"), 0.5),
        (D("2025-01-01"), "counter", "manual"): (7, 7, Decimal("31.5"), 4.5),
        (D("2025-01-01"), "paper", "manual"): (2, 2, Decimal("4.5"), 2.25),
    }


def test_services_digitised_against_the_catalogue(client: Client) -> None:
    cat = load_catalogue()
    pairs = sum(len(cat.governorates) if e.governorate is None else 1
                for code, e in cat.entities.items() if cat.services_by_entity[code])
    rows = query(client, "SELECT period, count(), sum(services_digitised) FROM v_services_digitised_monthly "
                         "GROUP BY period")
    assert dict((p, (n, s)) for p, n, s in rows) == {
        D("2024-12-01"): (pairs, 0), D("2025-01-01"): (pairs, 1),
        D("2025-02-01"): (pairs, 2), D("2025-04-01"): (pairs, 2)}
    cols = "governorate, entity, catalogue_services, services_digitised, share_digitised"
    nonzero = "services_digitised > 0 OR (governorate = 'OM-BS' AND entity = 'MOH')"
    assert sorted(query(client, f"SELECT {cols} FROM v_services_digitised_monthly "
                                f"WHERE period = '2025-02-01' AND ({nonzero})")) == [
        ("OM-BS", "MOH", 3, 0, 0.0), ("OM-MA", "MUSCAT-MUN", 5, 1, 0.2), ("OM-MA", "ROP", 6, 1, 1 / 6)]
    half = query(client, f"SELECT {cols} FROM v_services_digitised_between(first_day = '2025-01-01', "
                         f"last_day = '2025-06-30') WHERE {nonzero}")
    assert sorted(half) == [("OM-BS", "MOH", 3, 1, 1 / 3), ("OM-BS", "ROP", 6, 1, 1 / 6),
                            ("OM-MA", "MUSCAT-MUN", 5, 1, 0.2), ("OM-MA", "ROP", 6, 1, 1 / 6)]
    assert query(client, "SELECT count(), sum(services_digitised) FROM v_services_digitised_yearly "
                         "WHERE period = '2025-01-01'") == [(pairs, 4)]
    # A local entity appears only in its own governorate.
    assert query(client, "SELECT groupArray(governorate) FROM v_services_digitised_yearly "
                         "WHERE entity = 'MUSCAT-MUN' AND period = '2025-01-01'") == [(["OM-MA"],)]


def test_restatements_record_what_late_data_changed_and_when(client: Client) -> None:
    cols = "period, governorate, entity, service, channel, restated_at, transactions_added, events_added"
    got = query(client, f"SELECT {cols} FROM v_restatements ORDER BY restated_at")
    assert [(*r[:5], r[5].astimezone(MCT).replace(tzinfo=None), *r[6:]) for r in got] == [
        (D("2025-04-02"), "OM-BS", "ROP", MR, "portal", datetime(2025, 4, 3, 1), 1, 1),
        (D("2025-04-02"), "OM-BS", "ROP", MR, "portal", datetime(2025, 4, 5, 10), 1, 1),
    ]
    summary = query(client, "SELECT period, governorate, first_shown_transactions, restated_transactions, "
                            "current_transactions, restatements, last_restated_at FROM v_restatement_summary")
    assert len(summary) == 1
    *head, last = summary[0]
    assert head == [D("2025-04-02"), "OM-BS", 2, 2, 4, 2]
    assert last.astimezone(MCT).replace(tzinfo=None) == datetime(2025, 4, 5, 10, 20)
