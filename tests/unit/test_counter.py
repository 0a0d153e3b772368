"""The counting writer against a real (embedded) ClickHouse: exact under replays, resends,
conflicting ids, partial writes and store outages."""

from __future__ import annotations

import threading
from typing import Any

import orjson
import pytest

from tahawul.sinks.clickhouse.store import Store
from tahawul.stream_processors.counter import CountingWriter, write_with_retry
from tests.unit.factories import apply, envelopes, payload


def daily(store: Store) -> dict[tuple[Any, ...], int]:
    rows = store.client.query(
        "SELECT toString(day), governorate, channel, mode, transactions FROM v_counts_daily"
    ).result_rows
    return {tuple(r[:4]): int(r[4]) for r in rows}


def scalar(store: Store, sql: str) -> int:
    return int(store.client.query(sql).result_rows[0][0])


def test_counts_completed_by_day_in_muscat_time(store: Store) -> None:
    counter = CountingWriter(store)
    apply(counter, envelopes(0, 0, [
        payload(occurred_at="2025-01-31T20:30:00+00:00"),  # 00:30 on 1 Feb in Muscat
        payload(occurred_at="2025-01-31T19:59:59.999+00:00", channel="counter", quantity=7),
        payload(status="abandoned"),
        b"garbage",
    ]))
    assert daily(store) == {  # the abandoned event counts no transaction
        ("2025-02-01", "OM-BS", "portal", "digital"): 1,
        ("2025-01-31", "OM-BS", "counter", "manual"): 7,
    }
    assert scalar(store, "SELECT count() FROM events") == 3
    assert scalar(store, "SELECT count() FROM rejected WHERE reason_code = 'not_json'") == 1


def test_replayed_and_overlapping_batches_count_once(store: Store) -> None:
    counter = CountingWriter(store)
    batch = [payload() for _ in range(15)]
    apply(counter, envelopes(3, 0, batch[:10]))
    apply(counter, envelopes(3, 0, batch[:10]))  # replay of the same offsets
    apply(counter, envelopes(3, 5, batch[5:15]))  # a re-send overlapping 5..9
    assert scalar(store, "SELECT sum(transactions) FROM v_counts_daily") == 15
    assert scalar(store, "SELECT count() FROM events") == 15
    assert scalar(store, "SELECT count() FROM duplicates") == 0


def test_resend_is_a_duplicate_and_reuse_with_other_content_is_rejected(store: Store) -> None:
    counter = CountingWriter(store)
    original = payload(event_id="00000000-0000-4000-8000-000000000001")
    conflicting = payload(event_id="00000000-0000-4000-8000-000000000001", quantity=5,
                          channel="counter")
    apply(counter, envelopes(1, 0, [original, original]))  # resend inside one batch
    apply(counter, envelopes(2, 0, [original, conflicting]))  # later, another partition
    assert scalar(store, "SELECT sum(transactions) FROM v_counts_daily") == 1
    assert scalar(store, "SELECT count() FROM duplicates") == 2
    assert scalar(store, "SELECT count() FROM rejected WHERE reason_code = 'event_id_conflict'") == 1


def test_restarted_counter_rebuilds_its_state_from_the_store(store: Store) -> None:
    batch = [payload() for _ in range(6)]
    apply(CountingWriter(store), envelopes(0, 0, batch[:4]))
    restarted = CountingWriter(store)
    apply(restarted, envelopes(0, 0, batch))  # whole partition replayed from offset 0
    apply(restarted, envelopes(5, 0, [batch[0]]))  # a resend after restart
    assert scalar(store, "SELECT sum(transactions) FROM v_counts_daily") == 6
    assert scalar(store, "SELECT count() FROM duplicates") == 1


class FailingInserts:
    """Wraps a client; inserts into ``table`` raise while ``failures`` > 0."""

    def __init__(self, client: Any, table: str, failures: int) -> None:
        self._client = client
        self.table = table
        self.failures = failures

    def insert(self, table: str, *args: Any, **kwargs: Any) -> Any:
        if table == self.table and self.failures > 0:
            self.failures -= 1
            raise ConnectionError("injected: store unavailable")
        return self._client.insert(table, *args, **kwargs)

    def insert_arrow(self, table: str, *args: Any, **kwargs: Any) -> Any:
        """The store sends its bulk tables (events, counts_minute) as Arrow."""
        if table == self.table and self.failures > 0:
            self.failures -= 1
            raise ConnectionError("injected: store unavailable")
        return self._client.insert_arrow(table, *args, **kwargs)

    def __getattr__(self, name: str) -> Any:
        return getattr(self._client, name)


def test_partial_write_is_undone_on_recovery(store: Store) -> None:
    counter = CountingWriter(store)
    apply(counter, envelopes(0, 0, [payload() for _ in range(5)]))
    # Crash after events and rejected are in, before counts and progress.
    broken = Store(FailingInserts(store.client, "counts_minute", 1), store.cluster)  # type: ignore[arg-type]
    crashing = CountingWriter(broken)
    later = [payload() for _ in range(5)] + [b"{"]
    prepared = crashing.prepare(envelopes(0, 5, later))
    with pytest.raises(ConnectionError):
        broken.write(prepared.batch)
    assert scalar(store, "SELECT count() FROM events") == 10  # the half-written batch
    # Restart: recover, rebuild state, re-read the same offsets.
    assert store.recover() == 6  # 5 events + 1 rejected of the unfinished batch
    apply(CountingWriter(store), envelopes(0, 5, later))
    assert scalar(store, "SELECT count() FROM events") == 10
    assert scalar(store, "SELECT sum(transactions) FROM v_counts_daily") == 10
    assert scalar(store, "SELECT count() FROM rejected") == 1
    assert scalar(store, "SELECT count() FROM duplicates") == 0


def test_store_outage_is_retried_until_exact(store: Store) -> None:
    flaky = FailingInserts(store.client, "ingest_progress", 3)
    flaky_store = Store(flaky, store.cluster)  # type: ignore[arg-type]
    counter = CountingWriter(flaky_store)
    prepared = counter.prepare(envelopes(0, 0, [payload() for _ in range(20)]))
    assert write_with_retry(flaky_store, prepared.batch, threading.Event(), max_delay=0.05)
    counter.commit(prepared)
    assert flaky.failures == 0
    assert scalar(store, "SELECT sum(transactions) FROM v_counts_daily") == 20
    assert scalar(store, "SELECT count() FROM events") == 20


def test_outage_that_outlasts_the_stop_leaves_nothing_committed(store: Store) -> None:
    flaky_store = Store(FailingInserts(store.client, "ingest_progress", 10**6), store.cluster)  # type: ignore[arg-type]
    counter = CountingWriter(flaky_store)
    prepared = counter.prepare(envelopes(0, 0, [payload() for _ in range(3)]))
    stop = threading.Event()
    stop.set()
    assert not write_with_retry(flaky_store, prepared.batch, stop)
    assert store.progress() == {}
    store.recover()
    assert scalar(store, "SELECT count() FROM events") == 0


def test_index_after_a_batch_with_resends_matches_the_store(store: Store) -> None:
    """A batch's new index run is built from its keys sorted once (for the lookup, the repeats
    and the run): with resends in the batch (only some events counted) every counted id must
    still carry its own fingerprint, exactly as an index rebuilt from the store does."""
    batch = [payload(quantity=i % 4 + 1, channel=("portal", "counter")[i % 2]) for i in range(40)]
    batch[7:7] = [batch[3], batch[30]]  # a resend of an earlier event and of a later one
    counter = CountingWriter(store)
    apply(counter, envelopes(0, 0, batch))
    rebuilt = CountingWriter(store)
    ids = {(e["entity"], e["event_id"]) for e in map(orjson.loads, batch)}
    assert len(ids) == 40 == len(counter.seen) == len(rebuilt.seen)
    for entity, event_id in ids:
        fingerprint = counter.seen.get(entity, event_id)
        assert fingerprint is not None and fingerprint == rebuilt.seen.get(entity, event_id)
    apply(counter, envelopes(1, 0, batch[:12]))  # later resends of all of them: duplicates only
    assert scalar(store, "SELECT count() FROM duplicates") == 2 + 12
    assert scalar(store, "SELECT count() FROM rejected") == 0
