"""Dashboards as code: the committed files are what the code builds, every panel queries
named views only, and every panel's SQL, with Grafana's macros and variables expanded as
Grafana would, runs against a store filled by the simulator and returns the columns the
panel reads."""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta, timezone
from pathlib import Path

import pytest
from clickhouse_connect.driver.client import Client
from prometheus_client import REGISTRY

import tahawul.stream_processors.metrics  # noqa: F401  (registers the pipeline metrics)
from tahawul.dashboards.macros import QueryContext, expand_macros, render, substitute_variables
from tahawul.dashboards.model import Dashboard, Panel
from tahawul.dashboards.provisioning import dashboards, rendered
from tahawul.producers.gateway.metrics import GatewayMetrics
from tahawul.sinks.clickhouse.access import published_views
from tahawul.sinks.clickhouse.connection import connect
from tahawul.sinks.clickhouse.store import Store
from tests.unit.exchange_store import fill_exchanges
from tests.unit.simulated_store import fill

ROOT = Path(__file__).resolve().parents[2]
MCT = timezone(timedelta(hours=4))
VARIABLES = {"governorate": "OM-BS", "entity": "ROP", "service": "ROP-VEH-FIRST-REG"}
H1 = QueryContext(datetime(2025, 1, 1, tzinfo=MCT), datetime(2025, 6, 30, 23, 59, 59, tzinfo=MCT),
                  86400, VARIABLES)
LOSER, LOST = "ROP", 5  # one of its cells restated 5 above what was counted (below)
SILENT = "MOH"  # made silent for two days below, so the coverage panels have something to show
PANELS = [(d, p) for d in dashboards() for p in d.panels]
SQL_PANELS = [(d, p) for d, p in PANELS if p.sql is not None]


def panel_id(item: tuple[Dashboard, Panel]) -> str:
    d, p = item
    return f"{d.uid}#{p.json['id']}"


@pytest.fixture(scope="module")
def client(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Client]:
    c = connect(f"chdb://{tmp_path_factory.mktemp('dashboards') / 'store'}")
    try:
        store = Store(c, "simulated")
        store.migrate()
        fill(store)
        fill_exchanges(store)
        # One entity's systems stopped two days ago: its arrivals move back two days.
        c.command(f"ALTER TABLE events UPDATE ingested_at = ingested_at - INTERVAL 2 DAY "
                  f"WHERE entity = '{SILENT}' SETTINGS mutations_sync = 2")
        # One entity restates one cell 5 higher than was counted: the completeness panels
        # have a loss to show (the counts are untouched).
        c.command(f"INSERT INTO control_totals SELECT entity, day, service, channel, completed + {LOST}, "
                  "stated_at + INTERVAL 1 SECOND, ingested_at, src_cluster, src_topic, src_partition, "
                  f"src_offset FROM control_totals WHERE entity = '{LOSER}' AND completed > 0 "
                  "ORDER BY day, service, channel LIMIT 1")
        yield c
    finally:
        c.close()


# The exchange profile's period: January-November 2024.
JAN_NOV_2024 = QueryContext(datetime(2024, 1, 1, tzinfo=MCT), datetime(2024, 11, 30, 23, 59, 59, tzinfo=MCT),
                            86400, VARIABLES)


def context_for(dashboard: Dashboard) -> QueryContext:
    if "exchanges" in dashboard.uid:
        return JAN_NOV_2024
    if "coverage" in dashboard.uid:  # arrival-time panels: the last week, as by default
        now = datetime.now(UTC)
        return QueryContext(now - timedelta(days=7), now + timedelta(minutes=1), 3600, VARIABLES)
    return H1


def test_committed_files_are_what_the_code_builds() -> None:
    for rel, text in rendered().items():
        path = ROOT / "grafana" / rel
        assert path.is_file(), f"missing {path}: run `tahawul grafana build`"
        assert path.read_text("utf-8") == text, f"{path} is stale: run `tahawul grafana build`"
    committed = {str(p.relative_to(ROOT / "grafana")) for p in (ROOT / "grafana").rglob("*")
                 if p.is_file() and p.suffix in (".json", ".yaml")}
    assert committed == set(rendered()), "files in grafana/ that the code no longer builds"


def test_one_set_per_language_with_the_same_panels() -> None:
    by_lang: dict[str, list[Dashboard]] = {}
    for d in dashboards():
        by_lang.setdefault(d.lang, []).append(d)
    assert sorted(by_lang) == ["ar", "en"]
    for en, ar in zip(by_lang["en"], by_lang["ar"], strict=True):
        assert len(en.panels) == len(ar.panels)
        assert en.title != ar.title and re.search("[\u0600-\u06ff]", ar.title)
        for pe, pa in zip(en.panels, ar.panels, strict=True):
            assert pe.columns == pa.columns
            assert re.search("[\u0600-\u06ff]", pa.json["title"]), pa.json["title"]
    ids = [d.uid for d in dashboards()]
    assert len(ids) == len(set(ids)) and all(len(uid) <= 40 for uid in ids)


_SOURCE = re.compile(r"\b(?:FROM|JOIN)\s+([A-Za-z_][\w.]*)", re.I)


@pytest.mark.parametrize("item", SQL_PANELS, ids=panel_id)
def test_panels_query_named_views_only(item: tuple[Dashboard, Panel]) -> None:
    """Named views of the migrations, or the reference catalogue for names and map centres."""
    _, panel = item
    assert panel.sql is not None
    sources = set(_SOURCE.findall(panel.sql))
    allowed = set(published_views())
    assert sources, panel.sql
    for source in sources:
        assert source in allowed or source.startswith("ref_"), f"{source} is not a named view"
    assert any(s.startswith("v_") for s in sources)


@pytest.mark.parametrize("item", SQL_PANELS, ids=panel_id)
def test_every_panel_returns_rows_with_its_columns(client: Client, item: tuple[Dashboard, Panel]) -> None:
    dashboard, panel = item
    assert panel.sql is not None
    sql = render(panel.sql, context_for(dashboard))
    assert "$" not in sql, "an unexpanded variable or macro"
    result = client.query(sql)
    assert result.result_rows, f"{panel.json['title']}: no rows"
    assert tuple(result.column_names) == panel.columns
    if panel.json["type"] == "timeseries":
        assert all(isinstance(row[0], datetime) for row in result.result_rows)
    if panel.json["type"] == "geomap":
        rows = {r[0]: r for r in result.result_rows}
        assert len(rows) == 11 and all(0 <= r[5] <= 1 for r in rows.values())


def test_variables_offer_their_defaults(client: Client) -> None:
    for d in dashboards():
        for var in d.variables:
            rows = client.query(render(var["query"], H1)).result_rows
            assert var["current"]["value"] in [r[0] for r in rows]
            assert all(len(r) == 2 and r[1] for r in rows)  # value, then the text shown


def _one(client: Client, sql: str) -> object:
    return client.query(sql).result_rows[0][0]


def test_panels_agree_with_the_raw_events(client: Client) -> None:
    """The overview's numbers are the events' numbers, and the drill-downs agree with it."""
    overview = {p.json["title"]: p for p in dashboards()[0].panels}
    ytd = _one(client, render(overview["Digital transactions, year to date"].sql or "", H1))
    raw = _one(client, "SELECT sum(quantity) FROM events WHERE status = 'completed' AND mode = 'digital' "
                       "AND toDate(occurred_at, 'Asia/Muscat') BETWEEN '2025-01-01' AND '2025-06-30'")
    assert ytd == raw and raw > 0
    today = _one(client, render(overview["Digital transactions today"].sql or "", H1))
    assert today == _one(client, "SELECT sum(quantity) FROM events WHERE status = 'completed' "
                                 "AND mode = 'digital' AND toDate(occurred_at, 'Asia/Muscat') = '2025-06-30'")
    map_rows = client.query(render(overview["Digital take-up by governorate"].sql or "", H1)).result_rows
    north_batinah = next(r for r in map_rows if r[0] == "North Al Batinah")
    governorate = {p.json["title"]: p for p in dashboards()[1].panels}
    assert _one(client, render(governorate["Digital transactions"].sql or "", H1)) == north_batinah[3]
    assert sum(r[3] for r in map_rows) == raw


def test_coverage_shows_the_silent_entity(client: Client) -> None:
    coverage = next(d for d in dashboards() if d.uid == "tahawul-coverage-en")
    panels = {p.json["title"]: p for p in coverage.panels}
    ctx = context_for(coverage)
    assert _one(client, render(panels["Silent entities"].sql or "", ctx)) == 1
    first = client.query(render(panels["Entities by reporting status"].sql or "", ctx)).result_rows[0]
    assert first[:2] == ("Ministry of Health", "silent_day")
    rejected = client.query(render(panels["Rejected events by reason"].sql or "", ctx)).result_rows
    assert sum(r[1] for r in rejected) == _one(client, "SELECT count() FROM rejected")


def test_macros_expand_as_the_plugin_does() -> None:
    start = datetime(2025, 1, 1, tzinfo=UTC)
    ctx = QueryContext(start, start + timedelta(days=1), 3600, {"g": "O'Brien"})
    assert expand_macros("WHERE $__timeFilter(t)", ctx) == \
        "WHERE t >= toDateTime(1735689600) AND t <= toDateTime(1735776000)"
    assert expand_macros("$__timeFilter_ms(t)", ctx) == \
        "t >= fromUnixTimestamp64Milli(1735689600000) AND t <= fromUnixTimestamp64Milli(1735776000000)"
    assert expand_macros("$__timeInterval(toDate(x, 'UTC'))", ctx) == \
        "toStartOfInterval(toDateTime(toDate(x, 'UTC')), INTERVAL 3600 second)"
    assert expand_macros("$__dateFilter(d)", ctx) == "d >= toDate('2025-01-01') AND d <= toDate('2025-01-02')"
    assert expand_macros("$__fromTime, $__toTime_ms, $__interval_s", ctx) == \
        "toDateTime(1735689600), fromUnixTimestamp64Milli(1735776000000), 3600"
    assert substitute_variables("g = ${g:sqlstring} AND $g AND ${g} AND $__fromTime", {"g": "O'Brien"}) == \
        "g = 'O''Brien' AND O'Brien AND O'Brien AND $__fromTime"
    with pytest.raises(ValueError, match="unknown macro"):
        expand_macros("$__nope(x)", ctx)


def test_prometheus_panels_use_metrics_the_processes_export() -> None:
    known = {m.name for m in REGISTRY.collect()} | {m.name for m in GatewayMetrics().registry.collect()}
    used = {name for _, p in PANELS for expr in p.exprs for name in re.findall(r"tahawul_\w+", expr)}
    assert used
    for name in used:
        base = re.sub(r"_(bucket|total)$", "", name)
        assert base in known, f"{name}: no process exports it"
    pipeline = next(d for d in dashboards() if d.uid == "tahawul-pipeline-en").to_json()
    uids = {t["datasource"]["uid"] for p in pipeline["panels"] for t in p["targets"]}
    assert uids == {"tahawul-prometheus"}


def test_dashboard_json_targets_the_clickhouse_plugin() -> None:
    data = json.loads((ROOT / "grafana/dashboards/en/tahawul-overview-en.json").read_text("utf-8"))
    for panel in data["panels"]:
        for target in panel["targets"]:
            assert target["datasource"] == {"type": "grafana-clickhouse-datasource",
                                            "uid": "tahawul-clickhouse"}
            assert target["editorType"] == "sql" and target["format"] in (0, 1) and target["rawSql"]


def test_build_check_reports_stale_files(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    from tahawul.cli.main import main

    assert main(["grafana", "build", "--check", "--root", str(ROOT / "grafana")]) == 0
    assert main(["grafana", "build", "--check", "--root", str(tmp_path)]) == 1
    assert "out of date" in capsys.readouterr().err
    assert main(["grafana", "build", "--root", str(tmp_path)]) == 0
    assert main(["grafana", "build", "--check", "--root", str(tmp_path)]) == 0


TITLED = ("table", "barchart", "geomap")
ARABIC = re.compile("[\u0600-\u06ff]")


def _display_names(panel: Panel) -> dict[str, str]:
    return {o["matcher"]["options"]: p["value"] for o in panel.json["fieldConfig"]["overrides"]
            for p in o["properties"] if p["id"] == "displayName"}


@pytest.mark.parametrize("item", [i for i in SQL_PANELS if i[1].json["type"] in TITLED], ids=panel_id)
def test_every_column_has_a_title_in_the_dashboard_language(item: tuple[Dashboard, Panel]) -> None:
    """Headers, legends and tooltips show words, not SQL names: in Arabic, Arabic words."""
    dashboard, panel = item
    names = _display_names(panel)
    assert set(panel.columns) <= set(names), set(panel.columns) - set(names)
    for column in panel.columns:
        assert names[column] != column and "_" not in names[column]
        if dashboard.lang == "ar":
            assert ARABIC.search(names[column]), (column, names[column])


def _mapping(panel: Panel, column: str) -> dict[str, str]:
    for o in panel.json["fieldConfig"]["overrides"]:
        if o["matcher"]["options"] == column:
            for p in o["properties"]:
                if p["id"] == "mappings":
                    return {code: v["text"] for code, v in p["value"][0]["options"].items()}
    return {}


@pytest.mark.parametrize("lang", ["en", "ar"])
def test_statuses_and_rejection_reasons_are_shown_by_name(client: Client, lang: str) -> None:
    coverage = next(d for d in dashboards() if d.uid == f"tahawul-coverage-{lang}")
    ctx = context_for(coverage)
    status_panels = [p for p in coverage.panels if "status" in p.columns]
    assert len(status_panels) == 2
    for panel in status_panels:
        names = _mapping(panel, "status")
        assert set(names) == {"silent_day", "silent_hour", "reported_today", "reporting", "idle"}
        assert all((ARABIC.search(n) if lang == "ar" else "_" not in n) for n in names.values())
        column = panel.columns.index("status")
        shown = {row[column] for row in client.query(render(panel.sql or "", ctx)).result_rows}
        assert shown and shown <= set(names)
    reasons = {r[0] for r in client.query("SELECT DISTINCT reason_code FROM rejected").result_rows}
    assert len(reasons) >= 5  # the simulated store's invalid events
    by_reason = next(p for p in coverage.panels if p.columns == ("reason_code", "rejections"))
    assert reasons <= set(_mapping(by_reason, "reason_code"))
    over_time = next(p for p in coverage.panels if p.columns == ("time", "reason", "rejections"))
    series = {r[1] for r in client.query(render(over_time.sql or "", ctx)).result_rows}
    assert series and not any("_" in s for s in series), series  # words, not codes
    if lang == "ar":
        assert all(ARABIC.search(s) for s in series), series


def test_the_map_has_a_unit_per_field_and_needs_no_internet() -> None:
    for d in dashboards():
        for panel in d.panels:
            if panel.json["type"] != "geomap":
                continue
            field = panel.json["fieldConfig"]
            assert field["defaults"]["unit"] == "short"  # counts
            units = {o["matcher"]["options"]: p["value"] for o in field["overrides"]
                     for p in o["properties"] if p["id"] == "unit"}
            assert units == {"digital_takeup": "percentunit", "^(latitude|longitude)$": "none"}
            basemap = panel.json["options"]["basemap"]
            # A layer Grafana serves itself, not a tile server (default, carto, esri-xyz, osm, xyz).
            assert basemap["type"] == "geojson"
            assert basemap["config"]["src"] == "public/maps/countries.geojson"
    for path in (ROOT / "grafana" / "dashboards").rglob("*.json"):
        assert not re.search(r"https?://", path.read_text("utf-8")), f"{path} fetches from a network"


def _relative(expr: str, now: datetime) -> datetime:
    """Grafana's relative time for the forms the dashboards use: now, now-Nd, now-Nh, now-Ny/y."""
    match = re.fullmatch(r"now(?:-(\d+)([dhy]))?(/y)?", expr)
    assert match, expr
    n, unit, round_year = int(match.group(1) or 0), match.group(2), match.group(3)
    t = now.replace(year=now.year - n) if unit == "y" else now - timedelta(**{
        {"d": "days", "h": "hours"}.get(unit or "d", "days"): n})
    return t.replace(month=1, day=1, hour=0, minute=0, second=0, microsecond=0) if round_year else t


@pytest.mark.parametrize("now", [datetime(2025, 7, 1, 9, tzinfo=MCT), datetime(2026, 7, 30, 9, tzinfo=MCT)],
                         ids=["the-next-day", "a-year-later"])
def test_the_default_time_range_shows_the_latest_data(client: Client, now: datetime) -> None:
    """Opened with its default range the day after the data ends or a year later, every
    indicator panel shows data, and "today" is the last day with data (30 June 2025)."""
    for d in dashboards():
        if d.uid.split("-")[1] not in ("overview", "governorate", "entity"):
            continue
        ctx = QueryContext(_relative(d.time_from, now), _relative(d.time_to, now), 86400, VARIABLES)
        assert ctx.start <= datetime(2025, 1, 1, tzinfo=MCT)
        for panel in d.panels:
            rows = client.query(render(panel.sql or "", ctx)).result_rows
            assert rows and rows[0][0] is not None and rows[0][0] != 0, (d.uid, panel.json["title"])
    overview = {p.json["title"]: p for p in dashboards()[0].panels}
    ctx = QueryContext(now - timedelta(days=30), now, 86400, VARIABLES)
    today = _one(client, render(overview["Digital transactions today"].sql or "", ctx))
    assert today == _one(client, "SELECT sum(quantity) FROM events WHERE status = 'completed' "
                                 "AND mode = 'digital' AND toDate(occurred_at, 'Asia/Muscat') = '2025-06-30'")


def test_digital_and_manual_for_every_governorate_and_by_service(client: Client) -> None:
    h1 = "toDate(occurred_at, 'Asia/Muscat') BETWEEN '2025-01-01' AND '2025-06-30'"
    raw = client.query("SELECT g.name_en, sumIf(quantity, mode = 'digital'), "
                       "sumIf(quantity, mode = 'manual') "
                       "FROM events AS e INNER JOIN ref_governorates AS g ON g.code = e.governorate "
                       f"WHERE status = 'completed' AND {h1} GROUP BY g.name_en").result_rows
    overview = {p.json["title"]: p for p in dashboards()[0].panels}
    rows = client.query(render(overview["Digital and manual by governorate"].sql or "", H1)).result_rows
    assert sorted(map(tuple, rows)) == sorted(map(tuple, raw)) and len(rows) == 11
    governorate = {p.json["title"]: p for p in dashboards()[1].panels}
    by_service = client.query(render(governorate["Services in the governorate: digital and manual"].sql or "",
                                     H1)).result_rows
    expected = client.query(
        "SELECT s.name_en, sumIf(quantity, mode = 'digital') AS d, sumIf(quantity, mode = 'manual') AS m "
        "FROM events AS e INNER JOIN ref_services AS s ON s.code = e.service "
        f"WHERE status = 'completed' AND governorate = 'OM-BS' AND {h1} "
        "GROUP BY s.code, s.name_en ORDER BY d + m DESC, s.code "
        "LIMIT 15").result_rows
    assert by_service == expected and len(by_service) == 15


@pytest.mark.parametrize("lang", ["en", "ar"])
def test_dead_letters_by_reason_are_named_in_the_dashboard_language(lang: str) -> None:
    pipeline = next(d for d in dashboards() if d.uid == f"tahawul-pipeline-{lang}")
    panel = next(p for p in pipeline.panels if any("reason" in e and "rejected" in e for e in p.exprs))
    names = _display_names(panel)
    assert {"not_json", "unknown_service", "signature_invalid"} <= set(names)
    assert all((ARABIC.search(n) if lang == "ar" else "_" not in n) for n in names.values())
    legends = [t["legendFormat"] for p in pipeline.panels for t in p.json["targets"]]
    if lang == "ar":  # the pipeline's own series names in Arabic too (p50/p95 and labels aside)
        assert all(ARABIC.search(x) for x in legends if "{{" not in x and x not in ("p50", "p95")), legends


@pytest.mark.parametrize("lang", ["en", "ar"])
def test_coverage_shows_completeness_per_entity_and_the_missing_cell(client: Client, lang: str) -> None:
    coverage = next(d for d in dashboards() if d.uid == f"tahawul-coverage-{lang}")
    ctx = context_for(coverage)
    per_entity = next(p for p in coverage.panels if "completeness" in p.columns)
    rows = {r[0]: r for r in client.query(render(per_entity.sql or "", ctx)).result_rows}
    names = {r[0]: r[1] for r in client.query(
        f"SELECT code, name_{lang} FROM ref_entities").result_rows}
    assert len(rows) > 10
    loser = rows.pop(names[LOSER])
    assert (loser[1], loser[4], loser[5], loser[6]) == ("missing_events", LOST, 0, 1)
    assert all(r[1] == "complete" and r[2] == r[3] and r[4] == r[5] == 0 for r in rows.values())
    assert set(_mapping(per_entity, "completeness")) == {
        "missing_events", "extra_events", "complete", "no_control_total"}
    cells = next(p for p in coverage.panels if "difference" in p.columns)
    (cell,) = client.query(render(cells.sql or "", ctx)).result_rows
    assert (cell[1], cell[6]) == (names[LOSER], -LOST)
