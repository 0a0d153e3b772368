"""`tahawul report`: the national overview's numbers in one self-contained HTML file."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from tahawul.cli.main import main
from tahawul.sinks.clickhouse.connection import connect
from tahawul.sinks.clickhouse.store import Store
from tests.unit.simulated_store import simulated_store_url


@pytest.fixture(scope="module")
def store_url(tmp_path_factory: pytest.TempPathFactory) -> str:
    return simulated_store_url(tmp_path_factory.mktemp("report") / "store")


def report(url: str, out: Path, *extra: str, monkeypatch: pytest.MonkeyPatch) -> str:
    monkeypatch.setenv("TAHAWUL_CLICKHOUSE_URL", url)
    assert main(["report", "--out", str(out), *extra]) == 0
    return out.read_text("utf-8")


def raw(url: str, sql: str) -> int:
    client = connect(url)
    try:
        return int(client.query(sql).result_rows[0][0])
    finally:
        client.close()


def card(page: str, label: str) -> str:
    match = re.search(rf'<div class="label">{re.escape(label)}</div><div class="value">([^<]+)</div>', page)
    assert match, label
    return match.group(1)


def test_english_report_shows_the_overview_numbers(store_url: str, tmp_path: Path,
                                                   monkeypatch: pytest.MonkeyPatch) -> None:
    page = report(store_url, tmp_path / "r.html", monkeypatch=monkeypatch)
    assert '<html lang="en" dir="ltr">' in page
    assert "Period 2025-01-01 to 2025-06-30" in page  # defaults: the year of the last day with data
    def digital(days: str) -> str:
        sql = ("SELECT sum(quantity) FROM events WHERE status = 'completed' AND mode = 'digital' AND "
               f"toDate(occurred_at, 'Asia/Muscat') {days}")
        return f"{raw(store_url, sql):,}"

    ytd = digital("BETWEEN '2025-01-01' AND '2025-06-30'")
    assert card(page, "Digital transactions, year to date") == ytd
    assert card(page, "Digital transactions today") == digital("= '2025-06-30'")
    assert card(page, "Digital transactions this month") == digital("BETWEEN '2025-06-01' AND '2025-06-30'")
    assert page.count('<circle class="mark"') == 11  # every governorate on the map
    assert page.count('<svg class="chart"') == 3


def test_arabic_report_is_right_to_left_and_self_contained(store_url: str, tmp_path: Path,
                                                          monkeypatch: pytest.MonkeyPatch) -> None:
    page = report(store_url, tmp_path / "r.html", "--lang", "ar", "--from", "2025-03-01", "--to",
                  "2025-03-31", monkeypatch=monkeypatch)
    assert '<html lang="ar" dir="rtl">' in page
    assert "مسقط" in page and "شرطة عمان السلطانية" in page  # names from the reference data
    assert "2025-03-01" in page and "2025-03-31" in page
    # Nothing fetched from anywhere: no links, no sources, no URLs but the SVG namespace.
    assert not re.search(r"<link|src=|@import|url\(", page)
    assert set(re.findall(r"https?://[^\s\"'<>]+", page)) == {"http://www.w3.org/2000/svg"}


def test_an_empty_store_has_nothing_to_report(tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
                                              capsys: pytest.CaptureFixture[str]) -> None:
    monkeypatch.setenv("TAHAWUL_CLICKHOUSE_URL", f"chdb://{tmp_path / 'empty'}")
    client = connect(f"chdb://{tmp_path / 'empty'}")
    Store(client, "x").migrate()
    client.close()
    assert main(["report", "--out", str(tmp_path / "r.html")]) == 1
    assert "nothing to report" in capsys.readouterr().err
