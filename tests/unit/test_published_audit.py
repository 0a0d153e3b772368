"""`audit published` on a store filled by the first profile (oman-2025-h1), which puts each
governorate's published figure on everything in it: the administrations' and the national
figures do not hold there, and the audit says so figure by figure."""

from __future__ import annotations

from decimal import Decimal

import pytest

from tahawul.sinks.clickhouse.connection import connect
from tahawul.sinks.clickhouse.published import audit_published
from tests.unit.simulated_store import simulated_store_url


@pytest.fixture(scope="module")
def url(tmp_path_factory: pytest.TempPathFactory) -> str:
    return simulated_store_url(tmp_path_factory.mktemp("published") / "store")


def test_the_whole_governorate_reading_fails_the_programme_figures(url: str) -> None:
    client = connect(url)
    try:
        result = audit_published(client, Decimal("0.002"))
    finally:
        client.close()
    checked = {c.figure.figure: c for c in result.checked}
    # H1 2025 is held; Jan-Oct figures are not (the store ends on 30 June).
    assert str(result.first_day) == "2025-01-01" and str(result.last_day) == "2025-06-30"
    assert {"admin-digital-OM-MA-2025-jan-oct", "national-digital-2024-jan-nov"} <= {
        f.figure for f in result.not_held}
    bs = checked["admin-digital-OM-BS-2025-h1"]
    assert bs.published == 193 and bs.counted is not None and bs.counted < 193 and not bs.within
    national = checked["national-digital-2025-jan-may"]
    assert national.counted is not None and national.counted < 2_000 and not national.within
    assert national.published_text == "22,800 ±100"
    assert result.differences
    assert any(f.figure == "services-simplified-2025-may" for f in result.not_countable)


def test_scale_must_be_positive(url: str) -> None:
    client = connect(url)
    try:
        with pytest.raises(ValueError):
            audit_published(client, Decimal(0))
    finally:
        client.close()


BANDS = [(90, "advanced"), (71, "above average"), (50, "average"), (36, "below average")]


def band_of(score: float) -> str:
    for low, name in BANDS:
        if score >= low:
            return name
    return "low" if score <= 25 else "unbanded"


def test_scorecard_places_each_programme_entity_in_the_published_bands(url: str) -> None:
    sql = ("SELECT programme_entity, score, band FROM v_entity_scorecard_between("
           "first_day = '2025-01-01', last_day = '2025-06-30', w_takeup = {a:Float64}, "
           "w_completion = {b:Float64}, w_satisfaction = {b:Float64}, w_services = {b:Float64}) "
           "ORDER BY programme_entity")
    client = connect(url)
    try:
        rows = client.query(sql, parameters={"a": 0.4, "b": 0.2}).result_rows
        doubled = client.query(sql, parameters={"a": 0.8, "b": 0.4}).result_rows
    finally:
        client.close()
    assert 40 <= len(rows) <= 48
    assert {r[0] for r in rows} >= {"ROP", "MOH", "admin:OM-BS", "admin:OM-MA"}
    assert all(0 <= score <= 100 and band == band_of(score) for _, score, band in rows)
    assert rows == doubled  # weights are relative
