"""Reconciliation finds exactly the cells where published counts left the raw events."""

from __future__ import annotations

from datetime import date

from tahawul.sinks.clickhouse.reconcile import Difference, reconcile
from tahawul.sinks.clickhouse.store import Store
from tahawul.stream_processors.counter import CountingWriter
from tests.unit.factories import apply, envelopes, payload


def fill(store: Store) -> None:
    apply(CountingWriter(store), envelopes(0, 0, [
        payload(occurred_at="2025-01-31T10:00:00+04:00"),
        payload(occurred_at="2025-01-31T11:00:00+04:00", channel="counter", quantity=4),
        payload(occurred_at="2025-02-01T10:00:00+04:00"),
        payload(occurred_at="2025-02-01T10:00:00+04:00", status="rejected"),
    ]))


def test_consistent_store_has_zero_drift(store: Store) -> None:
    fill(store)
    result = reconcile(store.client)
    assert not result.drift
    assert (result.raw_total, result.published_total, result.cells) == (6, 6, 3)


def test_a_bucket_written_twice_is_reported(store: Store) -> None:
    fill(store)
    store.client.command(
        "INSERT INTO counts_minute SELECT * FROM counts_minute WHERE channel = 'counter'")
    result = reconcile(store.client)
    assert result.drift
    assert result.differences == [
        Difference(date(2025, 1, 31), "OM-BS", "ROP", "ROP-VEH-FIRST-REG", "counter", "manual", 4, 8)
    ]


def test_an_event_without_its_bucket_and_a_repeated_id_are_reported(store: Store) -> None:
    fill(store)
    store.client.command("DELETE FROM counts_minute WHERE toDate(minute, 'Asia/Muscat') = '2025-02-01'")
    store.client.command("INSERT INTO events SELECT * FROM events WHERE channel = 'counter'")
    result = reconcile(store.client, date(2025, 2, 1), date(2025, 2, 28))
    assert result.repeated_event_ids == 1
    assert [(d.day, d.raw, d.published) for d in result.differences] == [(date(2025, 2, 1), 1, 0)]
    assert (result.raw_total, result.published_total) == (1, 0)
