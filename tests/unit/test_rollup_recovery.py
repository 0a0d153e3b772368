"""The rollup behind the views (projection p_daily of events) stays exact when recovery
deletes an unfinished batch: same answers with and without it, and still used after."""

from __future__ import annotations

from datetime import datetime

import pytest

from tahawul.sinks.clickhouse.store import TAGGED_TABLES, Store
from tahawul.stream_processors.counter import CountingWriter
from tests.unit.factories import payload
from tests.unit.test_counter import FailingInserts, apply, envelopes

VIEWS = (
    "SELECT * FROM v_transactions_daily",
    "SELECT * FROM v_digital_takeup_governorate_daily",
    "SELECT * FROM v_digital_takeup_monthly",
    "SELECT * FROM v_completion_rate_monthly",
    "SELECT * FROM v_automated_share_yearly",
    "SELECT * FROM v_satisfaction_monthly",
    "SELECT * FROM v_service_indicators_yearly",
    "SELECT * FROM v_services_digitised_monthly",
    "SELECT * FROM v_cost_per_transaction_monthly",
)


def answers(store: Store, use_rollup: bool) -> list[list[tuple]]:
    settings = {"optimize_use_projections": int(use_rollup)}
    return [sorted(map(tuple, store.client.query(sql, settings=settings).result_rows), key=repr)
            for sql in VIEWS]


def reads_rollup(store: Store, sql: str) -> bool:
    plan = store.client.query("EXPLAIN projections = 1 " + sql).result_rows
    return any("p_daily" in line[0] for line in plan)


def test_recovered_partial_batch_leaves_every_rollup_exact(store: Store) -> None:
    at = "2025-03-04T09:15:22+04:00"
    first = [payload(occurred_at=at, channel="portal", satisfaction=4) for _ in range(3)]
    first += [payload(occurred_at=at, channel="counter", quantity=5),
              payload(occurred_at=at, status="abandoned")]
    apply(CountingWriter(store), envelopes(0, 0, first))
    # A batch whose events land but whose counts and progress do not (the writer died).
    later = [payload(occurred_at=at, channel="api", automated=True, satisfaction=1) for _ in range(4)]
    broken = Store(FailingInserts(store.client, "counts_minute", 1), store.cluster)  # type: ignore[arg-type]
    with pytest.raises(ConnectionError):
        broken.write(CountingWriter(broken).prepare(envelopes(0, 5, later)).batch)
    takeup = ("SELECT period, governorate, completed_digital, completed_all "
              "FROM v_digital_takeup_governorate_daily")
    day = datetime(2025, 3, 4).date()
    assert store.client.query(takeup).result_rows == [(day, "OM-BS", 7, 12)]  # visible until recovery

    assert store.recover() == 4
    assert answers(store, use_rollup=True) == answers(store, use_rollup=False)
    assert store.client.query(takeup).result_rows == [(day, "OM-BS", 3, 8)]
    sat = "SELECT responses, satisfaction_pct FROM v_satisfaction_national_monthly"
    assert store.client.query(sat).result_rows == [(3, 75.0)]
    assert reads_rollup(store, takeup)
    live = dict(store.client.query("SELECT _part, count() FROM events GROUP BY _part").result_rows)
    parts = dict(store.client.query(
        "SELECT name, projections FROM system.parts WHERE database = currentDatabase() "
        "AND table = 'events' AND active").result_rows)
    assert live and all("p_daily" in parts[name] for name in live)  # rebuilt where rows are left

    # Redo the batch from Kafka: counted once, rollup and raw agree.
    apply(CountingWriter(store), envelopes(0, 5, later))
    assert store.client.query(takeup).result_rows == [(day, "OM-BS", 7, 12)]
    assert store.client.query(sat).result_rows == [(7, ((3 * 4 + 4 * 1) / 7 - 1) / 4 * 100)]
    assert answers(store, use_rollup=True) == answers(store, use_rollup=False)
    auto = "SELECT completed_automated, completed FROM v_automated_share_yearly"
    assert store.client.query(auto).result_rows == [(4, 12)]


def test_every_derived_table_is_reached_by_recovery(store: Store) -> None:
    """Rows derived from events must be deletable by recovery: no materialized view may
    feed a table recovery does not clean (views and projections derive on read)."""
    mvs = store.client.query("SELECT name, create_table_query FROM system.tables WHERE "
                             "database = currentDatabase() AND engine = 'MaterializedView'").result_rows
    for name, ddl in mvs:
        target = ddl.split(" TO ", 1)[1].split()[0].split(".")[-1] if " TO " in ddl else f".inner.{name}"
        assert target in TAGGED_TABLES, f"{name} feeds {target}, which recovery does not clean"
