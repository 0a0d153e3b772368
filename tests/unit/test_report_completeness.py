"""The report's completeness section (English and Arabic): per entity, its control totals
beside the counts, and the cells counted short, as `tahawul audit completeness` says."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from tahawul.cli.main import main
from tahawul.sinks.clickhouse.connection import connect
from tests.unit.simulated_store import simulated_store_url

LOST = 7


@pytest.fixture(scope="module")
def store_url(tmp_path_factory: pytest.TempPathFactory) -> str:
    url = simulated_store_url(tmp_path_factory.mktemp("report-completeness") / "store")
    client = connect(url)
    try:  # ROP restates its largest March cell 7 higher than was counted
        client.command("INSERT INTO control_totals SELECT entity, day, service, channel, "
                       f"completed + {LOST}, "
                       "stated_at + INTERVAL 1 SECOND, ingested_at, src_cluster, src_topic, src_partition, "
                       "src_offset FROM control_totals WHERE entity = 'ROP' AND toMonth(day) = 3 "
                       "ORDER BY completed DESC, day, service, channel LIMIT 1")
    finally:
        client.close()
    return url


def report(url: str, out: Path, monkeypatch: pytest.MonkeyPatch, *extra: str) -> str:
    monkeypatch.setenv("TAHAWUL_CLICKHOUSE_URL", url)
    assert main(["report", "--out", str(out), *extra]) == 0
    return out.read_text("utf-8")


def section_rows(page: str) -> list[list[str]]:
    section = page[page.index('<div class="panel completeness">'):]
    section = section[:section.index("</table>")]
    return [re.findall(r"<td[^>]*>([^<]*)</td>", row) for row in re.findall(r"<tr[^>]*>(.*?)</tr>", section)
            if "<td" in row]


def test_the_report_names_the_entity_with_missing_events(store_url: str, tmp_path: Path,
                                                         monkeypatch: pytest.MonkeyPatch) -> None:
    page = report(store_url, tmp_path / "r.html", monkeypatch)
    rows = section_rows(page)
    assert len(rows) > 10
    first, rest = rows[0], rows[1:]
    assert first[:2] == ["Royal Oman Police", "Missing events"]
    assert (first[4], first[5], first[6]) == (str(LOST), "0", "1")
    assert all(r[1] == "Complete" and r[2] == r[3] and r[4] == "0" for r in rest)
    assert "Largest losses" in page and f"\u2066-{LOST}\u2069" in page
    # A period without the restated day: every entity complete.
    june = report(store_url, tmp_path / "june.html", monkeypatch, "--from", "2025-06-01",
                  "--to", "2025-06-30")
    assert all(r[1] == "Complete" for r in section_rows(june))
    assert "Largest losses" not in june


def test_the_arabic_report_shows_completeness_in_arabic(store_url: str, tmp_path: Path,
                                                        monkeypatch: pytest.MonkeyPatch) -> None:
    page = report(store_url, tmp_path / "r.html", monkeypatch, "--lang", "ar")
    assert "اكتمال البيانات: المجاميع الرقابية للجهات بجانب ما احتُسب" in page
    first = section_rows(page)[0]
    assert first[:2] == ["شرطة عمان السلطانية", "أحداث ناقصة"]
