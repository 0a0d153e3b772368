"""The exchange views of migration 018 on a small chDB store with known aggregate rows.

Rows go straight into the counted aggregates of migration 017 (what the counting writer
writes), including a correction that moves a consumer half's count to its provider half,
so every view is checked against numbers worked out by hand.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

from tahawul.sinks.clickhouse.store import Store
from tests.unit.serving_data import query

COUNT_COLUMNS = ["minute", "provider", "consumer", "product", "outcome", "basis", "exchanges",
                 "items", "src_cluster", "src_topic", "src_partition", "src_offset"]
QUALITY_COLUMNS = ["minute", "provider", "consumer", "product", "status", "halves", "items",
                   "src_cluster", "src_topic", "src_partition", "src_offset"]
JAN = {"first_day": "2024-01-01", "last_day": "2024-01-31"}


def _utc(muscat: str) -> datetime:
    """A Muscat wall-clock time (UTC+4) as the UTC minute the writer buckets by."""
    return datetime.fromisoformat(muscat).replace(tzinfo=UTC) - timedelta(hours=4)


_offset = iter(range(1, 10_000))


def _count(at: str, provider: str, consumer: str, product: str, outcome: str, exchanges: int,
           items: int, basis: str = "provider") -> list[Any]:
    return [_utc(at), provider, consumer, product, outcome, basis, exchanges, items, "c", "t", 0,
            next(_offset)]


def _seed(store: Store) -> None:
    rows = [
        # 1 Jan (Muscat; 00:30 is still 31 Dec in UTC): ROP -> BANK-MUSCAT, three exchanges.
        _count("2024-01-01 00:30:00", "ROP", "BANK-MUSCAT", "ROP-PERSON", "success", 2, 300),
        _count("2024-01-01 09:00:00", "ROP", "BANK-MUSCAT", "ROP-VEHICLE", "timeout", 1, 5),
        # A consumer half counted first, then corrected when the provider's half arrived
        # with other figures: net one exchange of 40 items, on the provider's basis.
        _count("2024-01-01 10:00:00", "MOL", "MOH", "MOL-WORK-PERMIT", "success", 1, 45, "consumer"),
        _count("2024-01-01 10:00:00", "MOL", "MOH", "MOL-WORK-PERMIT", "success", -1, -45, "consumer"),
        _count("2024-01-01 10:00:00", "MOL", "MOH", "MOL-WORK-PERMIT", "success", 1, 40),
        # 2 Jan: MOL -> BANK-MUSCAT, and a failure of ROP -> MOH.
        _count("2024-01-02 12:00:00", "MOL", "BANK-MUSCAT", "MOL-EMPLOYMENT", "success", 4, 1000),
        _count("2024-01-02 13:00:00", "ROP", "MOH", "ROP-PERSON", "provider_error", 1, 7),
        # 23:59 on 31 Jan Muscat is in January; 00:10 on 1 Feb is not.
        _count("2024-01-31 23:59:00", "ROP", "MOH", "ROP-PERSON", "success", 1, 10),
        _count("2024-02-01 00:10:00", "TAX", "MOH", "TAX-CLEARANCE", "success", 3, 30),
        # A whole year earlier: only in the yearly and daily views.
        _count("2023-06-01 08:00:00", "ROP", "MOH", "ROP-PERSON", "success", 5, 50),
    ]
    store.client.insert("exchange_counts_minute", rows, column_names=COUNT_COLUMNS)


def test_per_day_month_and_year(store: Store) -> None:
    _seed(store)
    days = {r[0].isoformat(): r[1:] for r in query(
        store.client, "SELECT day, exchanges, items, failed, error_rate, providers, consumers "
                      "FROM v_exchanges_daily ORDER BY day")}
    assert days["2024-01-01"] == (4, 340, 1, 0.25, 2, 2)
    assert days["2024-01-02"] == (5, 1000, 1, 0.2, 2, 2)
    assert days["2024-01-31"] == (1, 10, 0, 0.0, 1, 1)
    assert days["2024-02-01"] == (3, 30, 0, 0.0, 1, 1)
    months = {r[0].isoformat(): r[1:] for r in query(
        store.client,
        "SELECT month, exchanges, items, failed, providers, consumers FROM v_exchanges_monthly")}
    assert months == {"2023-06-01": (5, 50, 0, 1, 1), "2024-01-01": (10, 1350, 2, 2, 2),
                      "2024-02-01": (3, 30, 0, 1, 1)}
    years = query(store.client, "SELECT year, exchanges, items, failed, providers, consumers "
                                "FROM v_exchanges_yearly ORDER BY year")
    assert years == [(2023, 5, 50, 0, 1, 1), (2024, 13, 1380, 2, 3, 2)]


def test_totals_and_active_parties_of_a_range(store: Store) -> None:
    _seed(store)
    totals = query(store.client, "SELECT exchanges, items, failed, providers, consumers, pairs "
                                 "FROM v_exchange_totals_between(first_day = {first_day:Date}, "
                                 "last_day = {last_day:Date})", **JAN)
    assert totals == [(10, 1350, 2, 2, 2, 4)]
    whole = query(store.client, "SELECT items, providers, consumers FROM v_exchange_totals_between("
                                "first_day = '2023-01-01', last_day = '2024-12-31')")
    assert whole == [(1430, 3, 2)]


def test_per_provider_consumer_pair_and_product(store: Store) -> None:
    _seed(store)
    params = "(first_day = {first_day:Date}, last_day = {last_day:Date})"
    providers = {r[0]: r[1:] for r in query(
        store.client, f"SELECT provider, exchanges, items, failed, error_rate, consumers "
                      f"FROM v_exchange_providers_between{params}", **JAN)}
    assert providers == {"ROP": (5, 310, 2, 0.4, 2), "MOL": (5, 1040, 0, 0.0, 2)}
    consumers = {r[0]: r[1:] for r in query(
        store.client, f"SELECT consumer, exchanges, items, failed, providers "
                      f"FROM v_exchange_consumers_between{params}", **JAN)}
    assert consumers == {"BANK-MUSCAT": (7, 1300, 1, 2), "MOH": (3, 50, 1, 2)}
    pairs = {r[:2]: r[2:] for r in query(
        store.client, f"SELECT provider, consumer, exchanges, items, failed "
                      f"FROM v_exchange_pairs_between{params}", **JAN)}
    assert pairs == {("ROP", "BANK-MUSCAT"): (3, 300, 1), ("MOL", "MOH"): (1, 40, 0),
                     ("MOL", "BANK-MUSCAT"): (4, 1000, 0), ("ROP", "MOH"): (2, 10, 1)}
    products = {r[:2]: r[2:] for r in query(
        store.client, f"SELECT provider, product, exchanges, items, consumers "
                      f"FROM v_exchange_products_between{params}", **JAN)}
    assert products == {("ROP", "ROP-PERSON"): (4, 310, 2), ("ROP", "ROP-VEHICLE"): (1, 0, 1),
                        ("MOL", "MOL-WORK-PERMIT"): (1, 40, 1), ("MOL", "MOL-EMPLOYMENT"): (4, 1000, 1)}
    outcomes = {r[0]: r[1:] for r in query(
        store.client, f"SELECT outcome, exchanges, share FROM v_exchange_outcomes_between{params}", **JAN)}
    assert outcomes == {"success": (8, 0.8), "timeout": (1, 0.1), "provider_error": (1, 0.1)}


def test_quality_shows_unmatched_and_mismatched_halves_after_the_grace_period(store: Store) -> None:
    _seed(store)
    now = datetime.now(UTC).replace(second=0, microsecond=0)

    def q(minute: datetime, provider: str, consumer: str, status: str, halves: int,
          items: int) -> list[Any]:
        return [minute, provider, consumer, f"{provider}-X", status, halves, items, "c", "t", 0,
                next(_offset)]

    rows = [
        q(_utc("2024-01-01 09:00:00"), "ROP", "BANK-MUSCAT", "unmatched_consumer", 1, 20),
        q(_utc("2024-01-01 09:05:00"), "ROP", "BANK-MUSCAT", "unmatched_consumer", 1, 30),
        # paired later: +1 then -1 at the same cell, nothing left.
        q(_utc("2024-01-02 09:00:00"), "MOL", "MOH", "unmatched_provider", 1, 3),
        q(_utc("2024-01-02 09:00:00"), "MOL", "MOH", "unmatched_provider", -1, -3),
        q(_utc("2024-01-02 11:00:00"), "MOL", "BANK-MUSCAT", "mismatched", 1, -4),
        q(now - timedelta(minutes=5), "ROP", "MOH", "unmatched_provider", 1, 9),
    ]
    store.client.insert("exchange_quality_minute", rows, column_names=QUALITY_COLUMNS)
    daily = sorted(query(store.client, "SELECT day, provider, consumer, state, halves, items "
                                       "FROM v_exchange_quality_daily WHERE day < '2025-01-01'"))
    assert [(d.isoformat(), *rest) for d, *rest in daily] == [
        ("2024-01-01", "ROP", "BANK-MUSCAT", "unmatched_consumer", 2, 50),
        ("2024-01-02", "MOL", "BANK-MUSCAT", "mismatched", 1, -4),
    ]
    recent = query(store.client,
                   "SELECT state, halves FROM v_exchange_quality_daily WHERE day >= '2025-01-01'")
    assert recent == [("waiting", 1)]
    pairs = {r[:2]: r[2:] for r in query(
        store.client, "SELECT provider, consumer, unmatched_provider, unmatched_consumer, mismatched, "
                      "exchanges, problem_rate FROM v_exchange_quality_between("
                      "first_day = {first_day:Date}, last_day = {last_day:Date})", **JAN)}
    assert pairs == {("ROP", "BANK-MUSCAT"): (0, 2, 0, 3, 2 / 3),
                     ("MOL", "BANK-MUSCAT"): (0, 0, 1, 4, 0.25)}


def test_the_dashboards_role_reads_the_counted_exchanges_never_the_raw_halves(store: Store) -> None:
    from tahawul.sinks.clickhouse import access

    statements = access.statements("tahawul", entities=["ROP"])
    granted = {s.split(" ON ", 1)[1].split(" TO ")[0] for s in statements
               if s.startswith("GRANT SELECT ") and s.endswith(f"TO {access.DASHBOARDS}")}
    views = {v for v in access.published_views() if "exchange" in v}
    assert {"v_exchange_pairs_between", "v_exchanges_monthly", "v_exchange_quality_daily"} <= views
    assert {f"tahawul.{n}" for n in (*views, "exchange_counts_minute", "exchange_quality_minute")} <= granted
    assert not {"tahawul.exchanges", "tahawul.exchange_duplicates"} & granted
    assert ("CREATE ROW POLICY OR REPLACE tahawul_auditor_rop ON tahawul.exchange_counts_minute FOR "
            "SELECT USING provider = 'ROP' OR consumer = 'ROP' TO tahawul_auditor_rop") in statements


def test_the_exchange_dashboard_shows_the_published_figures_of_a_simulated_run(store: Store) -> None:
    """The dashboard's first panels on a run at scale 0.0005: the platform's published items
    scaled half up (235,597), 40 providers and 81 consumers; Arabic names in Arabic."""
    from datetime import timezone

    from tahawul.dashboards.exchanges import exchanges
    from tahawul.dashboards.macros import QueryContext, render
    from tahawul.dashboards.texts import Lang
    from tests.unit.exchange_store import fill_exchanges

    fill_exchanges(store, scale=0.0005)
    mct = timezone(timedelta(hours=4))
    ctx = QueryContext(datetime(2024, 1, 1, tzinfo=mct), datetime(2024, 11, 30, 23, 59, 59, tzinfo=mct),
                       86400, {})
    langs: tuple[Lang, ...] = ("en", "ar")
    for lang in langs:
        panels = exchanges(lang).panels
        stats = [store.client.query(render(p.sql or "", ctx)).result_rows[0][0] for p in panels[:4]]
        assert stats[0] == 235_597 and stats[2:] == [40, 81]
        busiest = store.client.query(render(panels[7].sql or "", ctx)).result_rows
        assert len(busiest) == 15 and busiest[0][1] >= busiest[-1][1]
        if lang == "ar":
            assert "شرطة عمان السلطانية" in busiest[0][0] or "←" in busiest[0][0]


def test_a_consumer_half_moved_to_the_next_day_leaves_no_party_active_on_the_first(store: Store) -> None:
    rows = [
        _count("2024-03-03 23:59:00", "TAX", "SQU", "TAX-CLEARANCE", "success", 1, 9, "consumer"),
        _count("2024-03-03 23:59:00", "TAX", "SQU", "TAX-CLEARANCE", "success", -1, -9, "consumer"),
        _count("2024-03-04 00:00:00", "TAX", "SQU", "TAX-CLEARANCE", "success", 1, 8),
    ]
    store.client.insert("exchange_counts_minute", rows, column_names=COUNT_COLUMNS)
    days = {r[0].isoformat(): r[1:] for r in query(
        store.client, "SELECT day, exchanges, items, providers, consumers FROM v_exchanges_daily")}
    assert days == {"2024-03-03": (0, 0, 0, 0), "2024-03-04": (1, 8, 1, 1)}
    first = query(store.client, "SELECT exchanges, items, providers, consumers, pairs FROM "
                                "v_exchange_totals_between(first_day = '2024-03-03', "
                                "last_day = '2024-03-03')")
    assert first == [(0, 0, 0, 0, 0)]


def test_the_views_on_the_real_writers_rows_equal_the_pairing_rules(tmp_path: Any) -> None:
    """The same run counted by the counting writer (halves in separate batches, corrections)
    and applied by the pairing rule directly: every view answers the same."""
    from tahawul.sinks.clickhouse.connection import connect
    from tests.unit.exchange_store import fill_exchanges, fill_exchanges_through_the_writer

    answers = []
    for name, fill in (("writer", fill_exchanges_through_the_writer), ("rule", fill_exchanges)):
        client = connect(f"chdb://{tmp_path / name}")
        try:
            s = Store(client, "unit-cluster")
            s.migrate()
            fill(s, scale=0.0002)
            answers.append([
                query(client, f"SELECT * FROM {view}(first_day = '2024-01-01', last_day = '2024-11-30') "
                              "ORDER BY ALL")
                for view in ("v_exchange_totals_between", "v_exchange_pairs_between",
                             "v_exchange_products_between", "v_exchange_outcomes_between")
            ] + [query(client, "SELECT * FROM v_exchanges_monthly ORDER BY month"),
                 query(client, "SELECT day, provider, consumer, state, halves, items "
                               "FROM v_exchange_quality_daily ORDER BY ALL")])
        finally:
            client.close()
    assert answers[0] == answers[1]
    assert answers[0][0][0][1:2] == (94_239,) and answers[0][0][0][4:6] == (40, 81)
