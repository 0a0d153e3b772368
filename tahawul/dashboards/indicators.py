"""The indicator dashboards: national overview, governorate, entity and service.

"Today", "this month" and "year to date" are taken at the end of the dashboard's time range
(today by default), or at the last day with counted transactions before it, so the same
panels read the figures of any past day too and a store whose data ends earlier shows its
latest figures; the other panels cover the whole range (this year and the last by default).
Everything is on the Asia/Muscat calendar of the views.
"""

from __future__ import annotations

from tahawul.dashboards.model import (
    AS_OF,
    FROM_DAY,
    IN_RANGE,
    MONTHS_IN_RANGE,
    TO_DAY,
    Dashboard,
    Panel,
    bars,
    layout,
    query_variable,
    sql_panel,
    stat,
    table,
    timeseries,
)
from tahawul.dashboards.texts import Lang, mode_label, name_col, t

GOV = "governorate = ${governorate:sqlstring}"
ENT = "entity = ${entity:sqlstring}"
SVC = "service = ${service:sqlstring}"

DIGITAL_TODAY = f"""SELECT sum(transactions) AS digital_transactions
FROM v_transactions_daily
WHERE mode = 'digital' AND period = {AS_OF}"""
DIGITAL_MONTH = f"""SELECT sum(transactions) AS digital_transactions
FROM v_transactions_daily
WHERE mode = 'digital' AND period BETWEEN toStartOfMonth({AS_OF}) AND {AS_OF}"""
DIGITAL_YTD = f"""SELECT sum(transactions) AS digital_transactions
FROM v_transactions_daily
WHERE mode = 'digital' AND period BETWEEN toStartOfYear({AS_OF}) AND {AS_OF}"""
TAKEUP = f"""SELECT sum(completed_digital) / sum(completed_all) AS digital_takeup
FROM v_digital_takeup_governorate_daily
WHERE {IN_RANGE}"""
AUTOMATED = f"""SELECT sum(completed_automated) / sum(completed) AS automated_share
FROM v_automated_share_monthly
WHERE {MONTHS_IN_RANGE}"""
SATISFACTION = f"""SELECT (sum(average_score * responses) / sum(responses) - 1) / 4 * 100 AS satisfaction_pct
FROM v_satisfaction_national_monthly
WHERE mode = 'digital' AND {MONTHS_IN_RANGE}"""


def takeup_map(lang: Lang) -> str:
    return f"""SELECT g.{name_col(lang)} AS governorate_name,
       g.centre_lat AS latitude, g.centre_lon AS longitude,
       t.completed_digital AS completed_digital, t.completed_all AS completed_all,
       t.completed_digital / t.completed_all AS digital_takeup
FROM
(
    SELECT governorate, sum(completed_digital) AS completed_digital, sum(completed_all) AS completed_all
    FROM v_digital_takeup_governorate_daily
    WHERE {IN_RANGE}
    GROUP BY governorate
) AS t
INNER JOIN ref_governorates AS g ON g.code = t.governorate
ORDER BY g.code"""


def top_entities(lang: Lang, where: str = "1") -> str:
    return f"""SELECT r.{name_col(lang)} AS entity_name, t.digital AS digital, t.manual AS manual
FROM
(
    SELECT entity, sumIf(transactions, mode = 'digital') AS digital,
           sumIf(transactions, mode = 'manual') AS manual
    FROM v_transactions_daily
    WHERE {IN_RANGE} AND {where}
    GROUP BY entity
) AS t
INNER JOIN ref_entities AS r ON r.code = t.entity
ORDER BY t.digital + t.manual DESC, r.code
LIMIT 10"""


def top_services(lang: Lang) -> str:
    return f"""SELECT any(service_name_{lang}) AS service_name, sum(transactions) AS completed,
       sum(completed_digital) / completed AS digital_takeup
FROM v_service_indicators_monthly
WHERE {MONTHS_IN_RANGE}
GROUP BY service
HAVING completed > 0
ORDER BY completed DESC, service
LIMIT 10"""


def modes_by(lang: Lang, key: str, ref: str, where: str = "1", limit: int = 100) -> str:
    """Digital and manual transactions side by side, one row per governorate or service."""
    return f"""SELECT r.{name_col(lang)} AS {key}_name, t.digital AS digital, t.manual AS manual
FROM
(
    SELECT {key}, sumIf(transactions, mode = 'digital') AS digital,
           sumIf(transactions, mode = 'manual') AS manual
    FROM v_transactions_daily
    WHERE {IN_RANGE} AND {where}
    GROUP BY {key}
) AS t
INNER JOIN {ref} AS r ON r.code = t.{key}
ORDER BY t.digital + t.manual DESC, r.code
LIMIT {limit}"""


def trend(lang: Lang, where: str = "1") -> str:
    return f"""SELECT $__timeInterval(period) AS time, {mode_label(lang)} AS mode_name,
       sum(transactions) AS transactions
FROM v_transactions_daily
WHERE {IN_RANGE} AND {where}
GROUP BY time, mode_name
ORDER BY time, mode_name"""


def overview(lang: Lang) -> Dashboard:
    as_of = t("as_of_note", lang)
    panels = layout([
        [(stat(t("digital_today", lang), DIGITAL_TODAY, "digital_transactions", description=as_of), 4, 4),
         (stat(t("digital_month", lang), DIGITAL_MONTH, "digital_transactions", description=as_of), 4, 4),
         (stat(t("digital_ytd", lang), DIGITAL_YTD, "digital_transactions", description=as_of), 4, 4),
         (stat(t("takeup", lang), TAKEUP, "digital_takeup", unit="percentunit", decimals=1), 4, 4),
         (stat(t("automated", lang), AUTOMATED, "automated_share", unit="percentunit", decimals=1), 4, 4),
         (stat(t("satisfaction", lang), SATISFACTION, "satisfaction_pct", unit="percent", decimals=1),
          4, 4)],
        [(geomap(t("map", lang), takeup_map(lang)), 12, 12),
         (bars(t("top_entities", lang), top_entities(lang), ("entity_name", "digital", "manual")), 12, 12)],
        [(timeseries(t("trend", lang), trend(lang), ("time", "mode_name", "transactions"), stacked=True),
          12, 9),
         (table(t("top_services", lang), top_services(lang),
                ("service_name", "completed", "digital_takeup"), percent=("digital_takeup",),
                labels={"completed": t("transactions_range", lang)}), 12, 9)],
        [(bars(t("gov_modes", lang), modes_by(lang, "governorate", "ref_governorates"),
               ("governorate_name", "digital", "manual")), 24, 9)],
    ])
    return Dashboard(f"tahawul-overview-{lang}", t("overview", lang), lang, panels)


# The basemap: country outlines from the GeoJSON file every Grafana serves itself
# (public/maps/countries.geojson), not map tiles from the internet, which closed government
# networks cannot reach.
OFFLINE_BASEMAP = {
    "type": "geojson",
    "name": "Countries",
    "config": {"src": "public/maps/countries.geojson", "rules": [],
               "style": {"color": {"fixed": "#dfe6e2"}, "opacity": 0.5, "lineWidth": 1}},
}


def geomap(title: str, sql: str) -> Panel:
    """Governorate centres from the reference data, sized by transactions and coloured by
    digital take-up (red 0 % to green 100 %), on a basemap that needs no internet."""
    options = {
        "view": {"id": "coords", "lat": 21.0, "lon": 57.0, "zoom": 5.4, "allLayers": True},
        "controls": {"showZoom": True, "mouseWheelZoom": False, "showAttribution": False},
        "basemap": OFFLINE_BASEMAP,
        "layers": [{
            "type": "markers",
            "name": "Governorates",
            "tooltip": True,
            "location": {"mode": "coords", "latitude": "latitude", "longitude": "longitude"},
            "config": {
                "showLegend": True,
                "style": {
                    "size": {"field": "completed_all", "min": 8, "max": 36, "fixed": 12},
                    "color": {"field": "digital_takeup", "fixed": "green"},
                    "opacity": 0.8,
                    "symbol": {"mode": "fixed", "fixed": "img/icons/marker/circle.svg"},
                    "text": {"mode": "field", "field": "governorate_name", "fixed": ""},
                    "textConfig": {"fontSize": 11, "offsetY": -20, "textAlign": "center",
                                   "textBaseline": "middle"},
                },
            },
        }],
        "tooltip": {"mode": "details"},
    }
    # Units per field: counts are counts, coordinates degrees, only the take-up a percentage.
    defaults = {"unit": "short", "decimals": 0}
    overrides = [
        {"matcher": {"id": "byName", "options": "digital_takeup"},
         "properties": [{"id": "unit", "value": "percentunit"}, {"id": "decimals", "value": 1},
                        {"id": "min", "value": 0}, {"id": "max", "value": 1},
                        {"id": "color", "value": {"mode": "continuous-RdYlGr"}}]},
        {"matcher": {"id": "byRegexp", "options": "^(latitude|longitude)$"},
         "properties": [{"id": "unit", "value": "none"}, {"id": "decimals", "value": 3}]},
    ]
    return sql_panel("geomap", title, sql,
                     ("governorate_name", "latitude", "longitude", "completed_digital", "completed_all",
                      "digital_takeup"), options=options, defaults=defaults, overrides=overrides)


def governorate(lang: Lang) -> Dashboard:
    name = name_col(lang)
    variable = query_variable("governorate", t("var_governorate", lang),
                              f"SELECT code, {name} FROM ref_governorates ORDER BY code", "OM-MA")
    digital = f"""SELECT sum(transactions) AS digital_transactions
FROM v_transactions_daily
WHERE mode = 'digital' AND {IN_RANGE} AND {GOV}"""
    takeup = f"""SELECT sum(completed_digital) / sum(completed_all) AS digital_takeup
FROM v_digital_takeup_governorate_daily
WHERE {IN_RANGE} AND {GOV}"""
    automated = f"""SELECT sum(completed_automated) / sum(completed) AS automated_share
FROM v_automated_share_monthly
WHERE {MONTHS_IN_RANGE} AND {GOV}"""
    digitised_total = f"""SELECT sum(services_digitised) AS services_digitised
FROM v_services_digitised_between(first_day = {FROM_DAY}, last_day = {TO_DAY})
WHERE {GOV}"""
    takeup_trend = f"""SELECT $__timeInterval(period) AS time,
       sum(completed_digital) / sum(completed_all) AS digital_takeup
FROM v_digital_takeup_governorate_daily
WHERE {IN_RANGE} AND {GOV}
GROUP BY time
ORDER BY time"""
    digitised = f"""SELECT r.{name} AS entity_name, d.services_digitised AS services_digitised,
       d.catalogue_services AS catalogue_services, d.share_digitised AS share_digitised
FROM v_services_digitised_between(first_day = {FROM_DAY}, last_day = {TO_DAY}) AS d
INNER JOIN ref_entities AS r ON r.code = d.entity
WHERE d.{GOV}
ORDER BY d.services_digitised DESC, r.code"""
    panels = layout([
        [(stat(t("digital_range", lang), digital, "digital_transactions"), 6, 4),
         (stat(t("takeup", lang), takeup, "digital_takeup", unit="percentunit", decimals=1), 6, 4),
         (stat(t("automated", lang), automated, "automated_share", unit="percentunit", decimals=1), 6, 4),
         (stat(t("services_digitised", lang), digitised_total, "services_digitised"), 6, 4)],
        [(timeseries(t("trend", lang), trend(lang, GOV), ("time", "mode_name", "transactions"),
                     stacked=True), 12, 9),
         (timeseries(t("takeup_trend", lang), takeup_trend, ("time", "digital_takeup"),
                     unit="percentunit"), 12, 9)],
        [(bars(t("gov_entities", lang), top_entities(lang, GOV), ("entity_name", "digital", "manual")),
          12, 10),
         (table(t("services_digitised", lang), digitised,
                ("entity_name", "services_digitised", "catalogue_services", "share_digitised"),
                percent=("share_digitised",)), 12, 10)],
        [(bars(t("gov_service_modes", lang), modes_by(lang, "service", "ref_services", GOV, limit=15),
               ("service_name", "digital", "manual")), 24, 11)],
    ])
    return Dashboard(f"tahawul-governorate-{lang}", t("governorate", lang), lang, panels, [variable])


def entity(lang: Lang) -> Dashboard:
    name = name_col(lang)
    variables = [
        query_variable("entity", t("var_entity", lang),
                       f"SELECT code, {name} FROM ref_entities ORDER BY code", "ROP"),
        query_variable("service", t("var_service", lang),
                       f"SELECT code, {name} FROM ref_services WHERE {ENT} ORDER BY code",
                       "ROP-VEH-FIRST-REG"),
    ]
    transactions = f"""SELECT sum(transactions) AS transactions
FROM v_transactions_daily
WHERE {IN_RANGE} AND {ENT}"""
    takeup = f"""SELECT sum(completed_digital) / sum(completed_all) AS digital_takeup
FROM v_digital_takeup_daily
WHERE {IN_RANGE} AND {ENT}"""
    automated = f"""SELECT sum(completed_automated) / sum(completed) AS automated_share
FROM v_automated_share_monthly
WHERE {MONTHS_IN_RANGE} AND {ENT}"""
    satisfaction = f"""SELECT
       (sum(average_score * responses) / sum(responses) - 1) / 4 * 100 AS satisfaction_pct
FROM v_satisfaction_monthly
WHERE {MONTHS_IN_RANGE} AND {ENT}"""
    services = f"""SELECT any(service_name_{lang}) AS service_name, sum(transactions) AS completed,
       sum(completed_digital) / completed AS digital_takeup,
       sumIf(satisfaction_pct * responses, responses > 0) / sum(responses) AS satisfaction
FROM v_service_indicators_monthly
WHERE {MONTHS_IN_RANGE} AND {ENT}
GROUP BY service
ORDER BY completed DESC, service"""
    channels = f"""SELECT c.{name} AS channel_name, {mode_label(lang, 't.mode')} AS mode_name,
       t.transactions AS transactions
FROM
(
    SELECT channel, mode, sum(transactions) AS transactions
    FROM v_transactions_daily
    WHERE {IN_RANGE} AND {SVC}
    GROUP BY channel, mode
) AS t
INNER JOIN ref_channels AS c ON c.code = t.channel
ORDER BY t.transactions DESC, c.code"""
    completion = f"""SELECT c.{name} AS channel_name,
       t.completed / (t.completed + t.abandoned + t.rejected) AS completion_rate,
       t.completed AS completed, t.abandoned AS abandoned, t.rejected AS rejected
FROM
(
    SELECT channel, sum(completed) AS completed, sum(abandoned) AS abandoned, sum(rejected) AS rejected
    FROM v_completion_rate_monthly
    WHERE {MONTHS_IN_RANGE} AND {SVC}
    GROUP BY channel
    HAVING completed + abandoned + rejected > 0
) AS t
INNER JOIN ref_channels AS c ON c.code = t.channel
ORDER BY c.code"""
    panels = layout([
        [(stat(t("transactions_range", lang), transactions, "transactions"), 6, 4),
         (stat(t("takeup", lang), takeup, "digital_takeup", unit="percentunit", decimals=1), 6, 4),
         (stat(t("automated", lang), automated, "automated_share", unit="percentunit", decimals=1), 6, 4),
         (stat(t("satisfaction_all", lang), satisfaction, "satisfaction_pct", unit="percent", decimals=1),
          6, 4)],
        [(timeseries(t("trend", lang), trend(lang, ENT), ("time", "mode_name", "transactions"),
                     stacked=True), 12, 9),
         (table(t("entity_services", lang), services,
                ("service_name", "completed", "digital_takeup", "satisfaction"),
                percent=("digital_takeup",), labels={"completed": t("transactions_range", lang),
                                                     "satisfaction": t("satisfaction_all", lang)}),
          12, 9)],
        [(timeseries(t("service_trend", lang), trend(lang, SVC), ("time", "mode_name", "transactions"),
                     stacked=True), 8, 9),
         (bars(t("service_channels", lang), channels, ("channel_name", "mode_name", "transactions")), 8, 9),
         (table(t("service_completion", lang), completion,
                ("channel_name", "completion_rate", "completed", "abandoned", "rejected"),
                percent=("completion_rate",)), 8, 9)],
    ])
    return Dashboard(f"tahawul-entity-{lang}", t("entity", lang), lang, panels, variables)
