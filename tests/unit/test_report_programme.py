"""The report's programme section: national digital transactions, each published figure of the
period beside the count at the store's recorded scale, per entity, per governorate
administration, and the programme's targets, in English and Arabic."""

from __future__ import annotations

import re
from decimal import Decimal
from pathlib import Path

import pytest

from tahawul.cli.main import main
from tahawul.sinks.clickhouse.connection import connect
from tahawul.sinks.clickhouse.published import audit_published
from tahawul.sinks.clickhouse.runs import RunRecord, record_run
from tahawul.sinks.clickhouse.store import Store
from tests.unit.simulated_store import fill


@pytest.fixture(scope="module")
def store_url(tmp_path_factory: pytest.TempPathFactory) -> str:
    """The programme's 2025 at scale 0.002 through the validation and counting path, its run
    recorded as `up --simulate` records it."""
    url = f"chdb://{tmp_path_factory.mktemp('programme') / 'store'}"
    client = connect(url)
    try:
        store = Store(client, "simulated")
        store.migrate()
        fill(store, scale=0.002, profile="oman-2025")
        record_run(client, RunRecord("oman-2025", Decimal("0.002"), 7, 0.01, 0.01))
    finally:
        client.close()
    return url


def report(url: str, out: Path, lang: str, monkeypatch: pytest.MonkeyPatch) -> str:
    monkeypatch.setenv("TAHAWUL_CLICKHOUSE_URL", url)
    assert main(["report", "--out", str(out), "--lang", lang]) == 0
    return re.sub(r"[\u2066\u2069]", "", out.read_text("utf-8"))  # without the bidi isolates


def scalar(url: str, sql: str) -> int:
    client = connect(url)
    try:
        return int(client.query(sql).result_rows[0][0])
    finally:
        client.close()


def rows(url: str, sql: str) -> list[tuple[str, int]]:
    client = connect(url)
    try:
        return [(str(a), int(b)) for a, b in client.query(sql).result_rows]
    finally:
        client.close()


def row(page: str, name: str) -> list[str]:
    """The cells of the table row whose first cell is ``name``."""
    match = re.search(rf"<tr><td>{re.escape(name)}</td>(.*?)</tr>", page)
    assert match, name
    return re.findall(r"<td[^>]*>(.*?)</td>", match.group(1))


def test_english_section_shows_published_beside_counted(store_url: str, tmp_path: Path,
                                                        monkeypatch: pytest.MonkeyPatch) -> None:
    page = report(store_url, tmp_path / "en.html", "en", monkeypatch)
    # The report's default period is the store's whole year: every digital transaction.
    digital = scalar(store_url, "SELECT sum(quantity) FROM events WHERE status = 'completed' AND "
                                "mode = 'digital'")
    assert re.search(r"Digital transactions of the programme&#x27;s entities, 1 Jan 2025 to \d+ \w+ 2025"
                     rf'</div><div class="value">{digital:,}</div>', page)
    assert "The store holds a simulated run at scale 0.002" in page
    # North Al Batinah's administration: 96,478 published for H1 2025, 193 at scale 0.002.
    bs = row(page, "Digital transactions, North Al Batinah governorate administration")
    assert bs == ["1 Jan 2025 – 30 Jun 2025", "193", "193", "0", "yes"]
    national = row(page, "Digital transactions, the programme&#x27;s entities")
    assert (national[0], national[1], national[-1]) == ("1 Jan 2025 – 31 May 2025", "22,800 ±100", "yes")
    assert row(page, "Entities with digital transactions")[1:3] == ["48", "48"]
    # Per entity and per administration, from the same view.
    per_entity = {code: n for code, n in rows(store_url, "SELECT programme_entity, sum(transactions) "
                  "FROM v_programme_digital_between(first_day = '2025-01-01', last_day = '2025-12-31') "
                  "GROUP BY programme_entity")}
    assert len(per_entity) == 48 and sum(per_entity.values()) == digital
    assert row(page, "Royal Oman Police") == [f"{per_entity['ROP']:,}"]
    assert row(page, "North Al Batinah") == [f"{per_entity['admin:OM-BS']:,}"]
    assert page.count(">NO<") == 0  # every figure of the period within its rounding
    # Targets, as published.
    assert "Services digitised by November 2024, of the 2,523 to digitise by 2025" in page
    assert "1,700 of 2,523 (67.4%)" in page and "2,680 of 2,869 (93.4%)" in page
    assert 'style="width: 67.4%"' in page and ">74%<" in page


def test_arabic_section_names_everything_in_arabic(store_url: str, tmp_path: Path,
                                                   monkeypatch: pytest.MonkeyPatch) -> None:
    page = report(store_url, tmp_path / "ar.html", "ar", monkeypatch)
    assert "البرنامج: الأرقام المنشورة بجانب ما تم عدّه" in page
    bs = row(page, "المعاملات الرقمية، إدارة محافظة شمال الباطنة")
    assert bs == ["1 يناير 2025 – 30 يونيو 2025", "193", "193", "0", "نعم"]
    assert row(page, "شرطة عمان السلطانية")  # per entity, by its Arabic name
    assert "1,700 من 2,523 (67.4%)" in page
    assert "حسب إدارة المحافظة" in page and "المستهدفات" in page


def test_the_dashboards_view_agrees_with_the_audit(store_url: str) -> None:
    """v_programme_published_digital (the programme dashboard's table) compares as `tahawul audit
    published` does: the same figures, published values at the recorded scale, counts, verdicts."""
    client = connect(store_url)
    try:
        audit = audit_published(client)
        view = {str(f): (p, int(c), bool(w)) for f, p, c, w in client.query(
            "SELECT figure, published, counted, within FROM v_programme_published_digital").result_rows}
        targets = client.query("SELECT figure, achieved, target FROM v_programme_targets "
                               "ORDER BY figure").result_rows
    finally:
        client.close()
    expected = {c.figure.figure: (c.published, int(c.counted or 0), c.within) for c in audit.checked
                if c.figure.check == "digital_transactions" and not c.figure.scope.startswith("service:")}
    assert set(view) == set(expected) == {
        "national-digital-2025-jan-may", "admin-digital-OM-BS-2025-h1", "admin-digital-OM-ZA-2025-h1",
        "admin-digital-OM-MA-2025-jan-oct", "admin-digital-OM-DA-2025-jan-oct"}
    assert view == expected
    assert all(within for _, _, within in view.values())
    assert [tuple(r) for r in targets] == [
        ("priority-services-simplified-2025-may", 96, 100), ("services-digitised-2021-2024", 1700, 2523),
        ("services-digitised-share-2025-may", 74, 100), ("services-simplified-2021-2024", 2680, 2869)]
