"""Building blocks of Grafana dashboard JSON (schema of Grafana 10/11), as plain dicts.

Plain dicts rather than a builder library: the JSON Grafana stores is the contract, a
test compares it byte for byte, and the few shapes used here are easier to review as
literals than through a library's object model. :class:`Panel` keeps, beside the JSON,
the columns its SQL must return, for the test that runs every panel's query.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from tahawul.dashboards.texts import COMPLETENESS, REASONS, STATUSES, Lang, column_title, value_names

CLICKHOUSE_UID = "tahawul-clickhouse"
PROMETHEUS_UID = "tahawul-prometheus"
CLICKHOUSE = {"type": "grafana-clickhouse-datasource", "uid": CLICKHOUSE_UID}
PROMETHEUS = {"type": "prometheus", "uid": PROMETHEUS_UID}

# The plugin's (sqlutil) result formats.
TIME_SERIES, TABLE = 0, 1

# Muscat calendar days of the dashboard's time range (the plugin's $__dateFilter would
# take UTC dates, four hours off at the edges of every day).
FROM_DAY = "toDate($__fromTime, 'Asia/Muscat')"
TO_DAY = "toDate($__toTime, 'Asia/Muscat')"
IN_RANGE = f"period BETWEEN {FROM_DAY} AND {TO_DAY}"
# Monthly views: every month the range touches.
MONTHS_IN_RANGE = f"period BETWEEN toStartOfMonth({FROM_DAY}) AND {TO_DAY}"
# "Today" of the today / this month / year-to-date figures: the end of the range, or the last
# day with counted transactions before it, so that a store whose data stops earlier (an
# archive, a demo of another year) shows its latest figures rather than zeros.
AS_OF = f"least({TO_DAY}, (SELECT max(period) FROM v_transactions_daily))"
# The default time range: this year and the last, so that the latest data shows in January
# too, and in a store of last year's data.
DEFAULT_FROM = "now-1y/y"

# Colours of the reporting statuses (v_coverage_*): silent ones stand out.
STATUS_COLOURS = {"silent_day": "red", "silent_hour": "orange", "reported_today": "yellow",
                  "reporting": "green", "idle": "text"}
COMPLETENESS_COLOURS = {"missing_events": "red", "extra_events": "orange", "complete": "green",
                        "no_control_total": "text"}


@dataclass
class Panel:
    """One panel: its JSON and, for ClickHouse panels, the columns its SQL must return."""

    json: dict[str, Any]
    sql: str | None = None
    columns: tuple[str, ...] = ()
    exprs: tuple[str, ...] = ()


@dataclass
class Dashboard:
    uid: str
    title: str
    lang: Lang
    panels: list[Panel]
    variables: list[dict[str, Any]] = field(default_factory=list)
    time_from: str = DEFAULT_FROM
    time_to: str = "now"
    refresh: str = "1m"
    description: str = ""

    def __post_init__(self) -> None:
        for panel in self.panels:
            if panel.sql is not None:
                humanise(panel, self.lang)

    def to_json(self) -> dict[str, Any]:
        return {
            "uid": self.uid,
            "title": self.title,
            "description": self.description,
            "tags": ["tahawul", self.lang],
            "timezone": "Asia/Muscat",
            "editable": False,
            "graphTooltip": 1,
            "schemaVersion": 39,
            "version": 1,
            "refresh": self.refresh,
            "time": {"from": self.time_from, "to": self.time_to},
            "links": [{"type": "dashboards", "tags": ["tahawul", self.lang], "asDropdown": True,
                       "title": "Tahawul", "includeVars": False, "keepTime": True}],
            "templating": {"list": self.variables},
            "annotations": {"list": []},
            "panels": [p.json for p in self.panels],
        }


def _override(column: str, *properties: tuple[str, Any]) -> dict[str, Any]:
    return {"matcher": {"id": "byName", "options": column},
            "properties": [{"id": key, "value": value} for key, value in properties]}


def humanise(panel: Panel, lang: Lang) -> None:
    """What a reader sees instead of SQL names: every column of a table, bar chart or map
    under its title in the dashboard's language (legends and tooltips too), reporting
    statuses and rejection reasons by name. Titles a panel already sets are kept."""
    overrides: list[dict[str, Any]] = panel.json["fieldConfig"]["overrides"]
    titled = {o["matcher"]["options"] for o in overrides
              if any(p["id"] == "displayName" for p in o["properties"])}
    if panel.json["type"] in ("table", "barchart", "geomap"):
        for column in panel.columns:
            title = column_title(column, lang)
            if title is not None and column not in titled:
                overrides.append(_override(column, ("displayName", title)))
    names = {"status": (value_names(STATUSES, lang), STATUS_COLOURS),
             "reason_code": (value_names(REASONS, lang), {}),
             "completeness": (value_names(COMPLETENESS, lang), COMPLETENESS_COLOURS)}
    for column, (texts, colours) in names.items():
        if column in panel.columns:
            options: dict[str, dict[str, Any]] = {}
            for i, (code, text) in enumerate(texts.items()):
                options[code] = {"text": text, "index": i}
                if code in colours:
                    options[code]["color"] = colours[code]
            overrides.append(_override(column, ("mappings", [{"type": "value", "options": options}])))
            if colours:
                overrides[-1]["properties"].append({"id": "custom.cellOptions",
                                                    "value": {"type": "color-text"}})


def layout(rows: list[list[tuple[Panel, int, int]]]) -> list[Panel]:
    """Place panels in rows of (panel, width, height) on Grafana's 24-column grid and
    number them; returns the panels in order."""
    out: list[Panel] = []
    y = 0
    for row in rows:
        x = 0
        for panel, w, h in row:
            panel.json["gridPos"] = {"h": h, "w": w, "x": x, "y": y}
            panel.json["id"] = len(out) + 1
            out.append(panel)
            x += w
        y += max(h for _, _, h in row)
    return out


def sql_panel(kind: str, title: str, sql: str, columns: tuple[str, ...], *, fmt: int = TABLE,
              description: str = "", unit: str | None = None, options: dict[str, Any] | None = None,
              defaults: dict[str, Any] | None = None,
              overrides: list[dict[str, Any]] | None = None) -> Panel:
    target = {
        "refId": "A",
        "datasource": CLICKHOUSE,
        "editorType": "sql",
        "queryType": "timeseries" if fmt == TIME_SERIES else "table",
        "format": fmt,
        "rawSql": sql,
    }
    return Panel(_panel(kind, title, CLICKHOUSE, [target], description, unit, options, defaults,
                        overrides), sql=sql, columns=columns)


def prom_panel(kind: str, title: str, queries: list[tuple[str, str]], *, description: str = "",
               unit: str | None = None, options: dict[str, Any] | None = None,
               defaults: dict[str, Any] | None = None, series_names: dict[str, str] | None = None) -> Panel:
    """A Prometheus panel of (PromQL, legend) queries; ``series_names`` rename the series a
    legend template names by a label's value (a reason code) for the reader."""
    overrides = [_override(series, ("displayName", name)) for series, name in (series_names or {}).items()]
    targets = [{"refId": chr(ord("A") + i), "datasource": PROMETHEUS, "expr": expr,
                "legendFormat": legend, "range": True, "editorMode": "code"}
               for i, (expr, legend) in enumerate(queries)]
    return Panel(_panel(kind, title, PROMETHEUS, targets, description, unit, options, defaults, overrides),
                 exprs=tuple(expr for expr, _ in queries))


def _panel(kind: str, title: str, datasource: dict[str, str], targets: list[dict[str, Any]],
           description: str, unit: str | None, options: dict[str, Any] | None,
           defaults: dict[str, Any] | None, overrides: list[dict[str, Any]] | None) -> dict[str, Any]:
    field_defaults: dict[str, Any] = dict(defaults or {})
    if unit:
        field_defaults["unit"] = unit
    return {
        "type": kind,
        "title": title,
        "description": description,
        "datasource": datasource,
        "targets": targets,
        "fieldConfig": {"defaults": field_defaults, "overrides": overrides or []},
        "options": options or {},
    }


def stat(title: str, sql: str, column: str, *, unit: str = "short", description: str = "",
         decimals: int | None = None) -> Panel:
    defaults: dict[str, Any] = {"color": {"mode": "thresholds"},
                                "thresholds": {"mode": "absolute",
                                               "steps": [{"color": "blue", "value": None}]}}
    if decimals is not None:
        defaults["decimals"] = decimals
    return sql_panel("stat", title, sql, (column,), unit=unit, description=description,
                     defaults=defaults,
                     options={"reduceOptions": {"calcs": ["lastNotNull"], "fields": f"/^{column}$/",
                                                "values": False},
                              "colorMode": "value", "graphMode": "none", "textMode": "value"})


def table(title: str, sql: str, columns: tuple[str, ...], *, description: str = "",
          percent: tuple[str, ...] = (), labels: dict[str, str] | None = None) -> Panel:
    """A table; ``percent`` columns hold ratios (0..1), ``labels`` rename column headers."""
    overrides = [{"matcher": {"id": "byName", "options": c},
                  "properties": [{"id": "unit", "value": "percentunit"},
                                 {"id": "decimals", "value": 1}]} for c in percent]
    overrides += [{"matcher": {"id": "byName", "options": c},
                   "properties": [{"id": "displayName", "value": label}]}
                  for c, label in (labels or {}).items()]
    return sql_panel("table", title, sql, columns, description=description, overrides=overrides,
                     options={"showHeader": True, "cellHeight": "sm"})


def timeseries(title: str, sql: str, columns: tuple[str, ...], *, unit: str = "short",
               description: str = "", stacked: bool = False) -> Panel:
    defaults = {"custom": {"drawStyle": "line", "lineWidth": 2, "fillOpacity": 15,
                           "stacking": {"mode": "normal" if stacked else "none", "group": "A"},
                           "spanNulls": False}}
    return sql_panel("timeseries", title, sql, columns, fmt=TIME_SERIES, unit=unit,
                     description=description, defaults=defaults,
                     options={"legend": {"displayMode": "list", "placement": "bottom"},
                              "tooltip": {"mode": "multi"}})


def bars(title: str, sql: str, columns: tuple[str, ...], *, unit: str = "short",
         description: str = "") -> Panel:
    """Horizontal bar chart of a category column and numeric columns."""
    return sql_panel("barchart", title, sql, columns, unit=unit, description=description,
                     options={"orientation": "horizontal", "showValue": "auto", "stacking": "normal",
                              "legend": {"displayMode": "list", "placement": "bottom"},
                              "xTickLabelMaxLength": 40})


def query_variable(name: str, label: str, sql: str, default: str) -> dict[str, Any]:
    """A single-valued ClickHouse variable; the query's first column is the value, the second
    the text shown (the plugin's convention). Panels quote it as ${name:sqlstring}."""
    return {
        "name": name,
        "label": label,
        "type": "query",
        "datasource": CLICKHOUSE,
        "query": sql,
        "definition": sql,
        "refresh": 1,
        "sort": 0,
        "multi": False,
        "includeAll": False,
        "current": {"selected": True, "text": default, "value": default},
        "options": [],
        "hide": 0,
    }
