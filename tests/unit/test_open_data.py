"""`tahawul export`: published aggregates only, small cells suppressed, with a dictionary."""

from __future__ import annotations

import csv
import json
from datetime import date
from pathlib import Path

import pyarrow.parquet as pq
import pytest

from tahawul.cli.main import main
from tahawul.sinks.clickhouse.connection import connect
from tahawul.sinks.clickhouse.open_data import DATASETS, Column, export, suppress
from tahawul.sinks.clickhouse.store import Store
from tests.unit.serving_data import load

Q1 = (date(2025, 1, 1), date(2025, 3, 31))


@pytest.fixture
def loaded(store: Store) -> Store:
    load(store.client)
    return store


def read_csv(path: Path) -> list[list[str]]:
    with path.open(encoding="utf-8") as handle:
        return list(csv.reader(handle))


def test_suppression_hides_small_counts_and_the_ratios_built_on_them() -> None:
    cols = (Column("a", "integer", "", count=True), Column("b", "integer", "", count=True),
            Column("r", "number", "", from_counts=("a", "b")), Column("x", "number", ""))
    assert suppress({"a": 0, "b": 12, "r": 0.0, "x": 1.5}, cols, 10) == {
        "a": 0, "b": 12, "r": 0.0, "x": 1.5, "suppressed": False}
    assert suppress({"a": 9, "b": 12, "r": 0.75, "x": 1.5}, cols, 10) == {
        "a": None, "b": 12, "r": None, "x": 1.5, "suppressed": True}
    assert suppress({"a": 10, "b": 12, "r": 10 / 12, "x": 1.5}, cols, 10)["suppressed"] is False


def test_csv_export_of_a_quarter(loaded: Store, tmp_path: Path) -> None:
    files = export(loaded.client, *Q1, "csv", tmp_path, min_cell=3)
    names = [f"{d.name}.csv" for d in DATASETS] + ["data-dictionary.json"]
    assert sorted(p.name for p in files) == sorted(names)
    assert read_csv(tmp_path / "transactions_daily_governorate.csv") == [
        ["day", "governorate", "mode", "transactions", "suppressed"],
        ["2025-01-31", "OM-MA", "digital", "", "True"],
        ["2025-02-01", "OM-MA", "digital", "", "True"],
        ["2025-02-01", "OM-MA", "manual", "7", "False"],
        ["2025-02-02", "OM-BS", "manual", "", "True"],
        ["2025-02-02", "OM-MA", "digital", "", "True"],
    ]
    assert read_csv(tmp_path / "digital_takeup_monthly_governorate.csv")[1:] == [
        ["2025-01-01", "OM-MA", "", "", "", "True"],
        ["2025-02-01", "OM-BS", "0", "", "", "True"],
        ["2025-02-01", "OM-MA", "", "9", "", "True"],
    ]
    digitised = read_csv(tmp_path / "services_digitised.csv")
    assert ["OM-MA", "ROP", "6", "1", str(1 / 6), "False"] in digitised
    assert ["OM-BS", "MOH", "3", "0", "0.0", "False"] in digitised
    meta = json.loads((tmp_path / "data-dictionary.json").read_text("utf-8"))
    assert meta["period"] == {"from": "2025-01-01", "to": "2025-03-31", "calendar": "Asia/Muscat"}
    assert meta["suppression"].startswith("counts from 1 to 2 are empty")
    assert [d["name"] for d in meta["datasets"]] == [d.name for d in DATASETS]
    assert all(c["description"] for d in meta["datasets"] for c in d["columns"])


def test_json_and_parquet_exports(loaded: Store, tmp_path: Path) -> None:
    export(loaded.client, *Q1, "json", tmp_path / "j", min_cell=2)
    takeup = json.loads((tmp_path / "j" / "digital_takeup_monthly_governorate.json").read_text("utf-8"))
    assert takeup == [
        {"month": "2025-01-01", "governorate": "OM-MA", "completed_digital": None, "completed_all": None,
         "digital_takeup": None, "suppressed": True},
        {"month": "2025-02-01", "governorate": "OM-BS", "completed_digital": 0, "completed_all": 2,
         "digital_takeup": 0.0, "suppressed": False},
        {"month": "2025-02-01", "governorate": "OM-MA", "completed_digital": 2, "completed_all": 9,
         "digital_takeup": 2 / 9, "suppressed": False},
    ]
    export(loaded.client, *Q1, "parquet", tmp_path / "p", min_cell=2)
    table = pq.read_table(tmp_path / "p" / "satisfaction_monthly_service.parquet")
    assert table.to_pylist() == [
        {"month": date(2025, 1, 1), "entity": "ROP", "service": "ROP-VEH-FIRST-REG", "mode": "digital",
         "responses": None, "satisfaction_pct": None, "suppressed": True},
        {"month": date(2025, 2, 1), "entity": "MOH", "service": "MOH-PREARRIVAL-MED", "mode": "manual",
         "responses": None, "satisfaction_pct": None, "suppressed": True},
        {"month": date(2025, 2, 1), "entity": "MUSCAT-MUN", "service": "MUSCAT-MUN-PARKING-VIOL",
         "mode": "digital", "responses": None, "satisfaction_pct": None, "suppressed": True},
        {"month": date(2025, 2, 1), "entity": "ROP", "service": "ROP-VEH-FIRST-REG", "mode": "digital",
         "responses": None, "satisfaction_pct": None, "suppressed": True},
    ]
    completion = pq.read_table(tmp_path / "p" / "completion_rate_monthly.parquet").to_pylist()
    assert {(r["month"], r["channel"], r["completed"], r["completion_rate"]) for r in completion} == {
        (date(2025, 1, 1), "portal", None, None), (date(2025, 2, 1), "portal", 0, None),
        (date(2025, 2, 1), "mobile_app", None, None), (date(2025, 2, 1), "counter", 7, None),
        (date(2025, 2, 1), "api", None, None), (date(2025, 2, 1), "paper", 2, 1.0)}


def test_export_command(tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
                        capsys: pytest.CaptureFixture[str]) -> None:
    dsn = f"chdb://{tmp_path / 'store'}"
    client = connect(dsn)
    try:
        Store(client, "unit").migrate()
        load(client)
    finally:
        client.close()
    monkeypatch.setenv("TAHAWUL_CLICKHOUSE_URL", dsn)
    monkeypatch.setenv("TAHAWUL_EXPORT_MIN_CELL", "8")
    out = tmp_path / "open"
    assert main(["export", "--from", "2025-02-01", "--to", "2025-02-28", "--out", str(out)]) == 0
    assert read_csv(out / "transactions_daily_governorate.csv")[1:] == [
        ["2025-02-01", "OM-MA", "digital", "", "True"], ["2025-02-01", "OM-MA", "manual", "", "True"],
        ["2025-02-02", "OM-BS", "manual", "", "True"], ["2025-02-02", "OM-MA", "digital", "", "True"]]
    assert str(out / "data-dictionary.json") in capsys.readouterr().out
    assert main(["export", "--from", "2025-02-01", "--to", "2025-02-28", "--out", str(out),
                 "--min-cell", "7"]) == 0
    daily = read_csv(out / "transactions_daily_governorate.csv")
    assert ["2025-02-01", "OM-MA", "manual", "7", "False"] in daily
    assert main(["export", "--from", "2025-03-01", "--to", "2025-02-28", "--out", str(out)]) == 2
