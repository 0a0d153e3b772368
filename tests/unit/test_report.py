"""`tahawul report`: the national overview's numbers in one self-contained HTML file."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from tahawul.cli.main import main
from tahawul.report.charts import shorten
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
    assert "Period 1 Jan 2025 to 30 Jun 2025" in page  # defaults: the year of the last day with data
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
    # Dates in words, which read in order right to left: an ISO date in an Arabic line is
    # reordered by the bidi algorithm into 30-06-2025.
    assert "الفترة من 1 مارس 2025 إلى 31 مارس 2025" in page
    assert not re.search(r"\d{4}-\d{2}-\d{2}", re.sub(r"<[^>]+>", "", page))
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


def test_every_chart_has_a_value_axis(store_url: str, tmp_path: Path,
                                      monkeypatch: pytest.MonkeyPatch) -> None:
    """The bars and the lines are read against ticks from 0 up, not only a maximum label."""
    page = report(store_url, tmp_path / "r.html", monkeypatch=monkeypatch)
    charts = re.findall(r'<svg class="chart".*?</svg>', page, flags=re.S)
    bars, _map, lines = (next(c for c in charts if f'aria-label="{title}"' in c)
                         for title in ("Top entities", "Digital take-up by governorate",
                                       "Digital and manual transactions"))
    for chart in (bars, lines):
        values = re.findall(r'<text class="tick"[^>]*>([\d,]+)</text>', chart)
        ticks = [int(v.replace(",", "")) for v in values]
        assert ticks[0] == 0 and len(ticks) >= 3 and ticks == sorted(ticks), ticks
        assert chart.count('class="axis"') >= 1
    months = re.findall(r'<text class="tick"[^>]*>([A-Z][a-z]{2})</text>', lines)
    assert months == ["Jan", "Feb", "Mar", "Apr", "May", "Jun"]  # the time axis


def test_long_names_are_cut_between_words() -> None:
    name = "Ministry of Commerce, Industry and Investment Promotion"
    assert shorten(name, 38) == "Ministry of Commerce, Industry and…"
    assert shorten("Royal Oman Police", 38) == "Royal Oman Police"
    assert shorten("وزارة التجارة والصناعة وترويج الاستثمار", 30) == "وزارة التجارة والصناعة وترويج…"
