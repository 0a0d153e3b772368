"""The run record (table ``runs``): what `tahawul up --simulate` writes, and the scale
`tahawul audit published` reads from it when not given one."""

from __future__ import annotations

from decimal import Decimal

import pytest

from tahawul.sinks.clickhouse.published import audit_published
from tahawul.sinks.clickhouse.runs import RunRecord, ScaleUnknown, record_run, recorded_runs, stored_scale
from tahawul.sinks.clickhouse.store import Store


def test_a_store_without_runs_is_real_data_at_scale_1(store: Store) -> None:
    assert recorded_runs(store.client) == []
    assert stored_scale(store.client) == Decimal(1)
    assert audit_published(store.client).scale == Decimal(1)


def test_the_finished_row_replaces_the_started_one(store: Store) -> None:
    started = RunRecord("oman-2024", Decimal("0.002"), 7, 0.01, 0.005)
    record_run(store.client, started)
    [row] = recorded_runs(store.client)
    assert (row.profile, row.scale, row.seed, row.finished_at) == ("oman-2024", Decimal("0.002"), 7, None)
    record_run(store.client, started.finished(70_383))
    [row] = recorded_runs(store.client)
    assert row.run_id == started.run_id and row.input_records == 70_383
    assert row.finished_at is not None and row.finished_at >= row.started_at
    assert (row.duplicate_rate, row.invalid_rate) == (0.01, 0.005)


def test_the_audit_uses_the_recorded_scale_unless_given_one(store: Store) -> None:
    record_run(store.client, RunRecord("oman-2024", Decimal("0.002"), 7))
    record_run(store.client, RunRecord("oman-2024", Decimal("0.002"), 8))  # same scale: agrees
    audit = audit_published(store.client)
    assert audit.scale == Decimal("0.002") and audit.scale_from_store
    given = audit_published(store.client, Decimal("0.5"))
    assert given.scale == Decimal("0.5") and not given.scale_from_store


def test_runs_at_different_scales_name_no_scale(store: Store) -> None:
    record_run(store.client, RunRecord("oman-2024", Decimal("0.002"), 7))
    record_run(store.client, RunRecord("oman-2025", Decimal("1"), 7))
    with pytest.raises(ScaleUnknown, match=r"several scales \(0\.002, 1\); give --scale"):
        stored_scale(store.client)
