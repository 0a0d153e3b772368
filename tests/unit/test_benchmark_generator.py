"""The benchmark's in-ClickHouse generator makes contract-valid rows, deterministically."""

from __future__ import annotations

from benchmarks.generate import generate, lut
from tahawul.sinks.clickhouse.store import Store


def test_lookup_tables_apportion_exactly() -> None:
    assert lut([1.0, 3.0], 8) == [0, 0, 1, 1, 1, 1, 1, 1]
    assert lut([0.0, 1.0, 1.0], 5) == [1, 1, 1, 2, 2]


def test_generated_rows_are_valid_and_repeatable(store: Store) -> None:
    generate(store.client, 20_000, seed=3, chunk=7_000)
    c = store.client

    def one(sql: str) -> tuple:
        return tuple(c.query(sql).result_rows[0])

    assert one("SELECT count(), uniqExact(event_id) FROM events") == (20_000, 20_000)
    # Every row names a catalogue service of its entity, an entity serving the governorate,
    # and a channel of its mode; quantities, satisfaction and automation follow the contract.
    assert one("SELECT count() FROM events AS e LEFT ANTI JOIN ref_services AS s "
               "ON s.code = e.service AND s.entity = e.entity") == (0,)
    assert one("SELECT count() FROM events AS e LEFT ANTI JOIN v_entity_governorates AS g "
               "ON g.entity = e.entity AND g.governorate = e.governorate") == (0,)
    assert one("SELECT count() FROM events AS e LEFT ANTI JOIN ref_channels AS ch "
               "ON ch.code = e.channel AND ch.mode = e.mode") == (0,)
    assert one("SELECT countIf(quantity > 1 AND NOT (mode = 'manual' AND status = 'completed')), "
               "countIf(satisfaction IS NOT NULL AND NOT (mode = 'digital' AND status = 'completed')), "
               "countIf(automated AND mode = 'manual'), max(quantity) <= 40, "
               "min(toYear(occurred_at, 'Asia/Muscat')), max(toYear(occurred_at, 'Asia/Muscat')), "
               "countIf(ingested_at < occurred_at) FROM events") == (0, 0, 0, True, 2025, 2025, 0)
    first = c.query("SELECT governorate, mode, status, sum(quantity) FROM events GROUP BY ALL ORDER BY ALL")
    c.command("TRUNCATE TABLE events")
    generate(store.client, 20_000, seed=3, chunk=20_000)
    again = c.query("SELECT governorate, mode, status, sum(quantity) FROM events GROUP BY ALL ORDER BY ALL")
    assert first.result_rows == again.result_rows
