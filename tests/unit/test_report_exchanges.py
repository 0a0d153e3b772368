"""The report's exchanges section on a store holding 2024's transactions and the platform's
exchanges at scale 0.0001 (recorded as `up --simulate` records its runs): the platform's
published figures beside the counts, in English and Arabic."""

from __future__ import annotations

import re
from decimal import Decimal
from pathlib import Path

import pytest

from tahawul.cli.main import main
from tahawul.sinks.clickhouse.connection import connect
from tahawul.sinks.clickhouse.runs import RunRecord, record_run
from tahawul.sinks.clickhouse.store import Store
from tests.unit.exchange_store import fill_exchanges
from tests.unit.simulated_store import fill

SCALE = Decimal("0.0001")


@pytest.fixture(scope="module")
def store_url(tmp_path_factory: pytest.TempPathFactory) -> str:
    url = f"chdb://{tmp_path_factory.mktemp('exchanges') / 'store'}"
    client = connect(url)
    try:
        store = Store(client, "simulated")
        store.migrate()
        fill(store, scale=float(SCALE), profile="oman-2024", duplicates=0, invalid=0, control_totals=False)
        fill_exchanges(store, scale=float(SCALE))
        record_run(client, RunRecord("oman-2024", SCALE, 7, 0.0, 0.0))
        record_run(client, RunRecord("exchanges-2024", SCALE, 7, 0.0, 0.0))
    finally:
        client.close()
    return url


def report(url: str, out: Path, lang: str, monkeypatch: pytest.MonkeyPatch) -> str:
    monkeypatch.setenv("TAHAWUL_CLICKHOUSE_URL", url)
    assert main(["report", "--out", str(out), "--lang", lang,
                 "--from", "2024-01-01", "--to", "2024-11-30"]) == 0
    return re.sub(r"[\u2066\u2069]", "", out.read_text("utf-8"))


def figure_row(page: str, name: str) -> list[str]:
    match = re.search(rf"<tr><td>{re.escape(name)}</td>(.*?)</tr>", page)
    assert match, name
    return re.findall(r"<td[^>]*>(.*?)</td>", match.group(1))


def test_english_section_reproduces_the_platform_figures(store_url: str, tmp_path: Path,
                                                         monkeypatch: pytest.MonkeyPatch) -> None:
    page = report(store_url, tmp_path / "en.html", "en", monkeypatch)
    assert "The national integration platform" in page
    cards = dict(re.findall(r'<div class="label">([^<]+)</div><div class="value">([^<]+)</div>', page))
    assert cards["Data items exchanged"] == "47,119"  # 471,193,222 x 0.0001, half up
    assert (cards["Providing entities"], cards["Consuming entities"]) == ("40", "81")
    items = figure_row(page, "Data items exchanged, January-November 2024")
    assert items[1:] == ["47,119", "47,119", "yes"]
    assert figure_row(page, "Providing entities, 2024")[1:] == ["40", "40", "yes"]
    assert figure_row(page, "Consuming entities, 2024")[1:] == ["81", "81", "yes"]
    assert page.count("<svg class=\"chart\"") >= 4  # the overview's three, months, busiest pairs
    assert "Royal Oman Police →" in page and "table class='matrix'" in page


def test_arabic_section_names_everything_in_arabic(store_url: str, tmp_path: Path,
                                                  monkeypatch: pytest.MonkeyPatch) -> None:
    page = report(store_url, tmp_path / "ar.html", "ar", monkeypatch)
    assert "منصة التكامل الحكومي" in page
    assert figure_row(page, "عناصر البيانات المتبادلة، يناير-نوفمبر 2024")[1:] == ["47,119", "47,119", "نعم"]
    assert "شرطة عمان السلطانية ←" in page
    section = page[page.index("منصة التكامل الحكومي"):]
    assert "Royal Oman Police" not in section and "timeout" not in section
