"""The operations dashboards: data coverage (ClickHouse) and pipeline health (Prometheus).

Coverage is about arrival time: silent entities and services relative to now, days that
late data restated within the time range, rejections by when they were rejected, and
completeness: the control totals entities stated in the time range beside what was counted
(v_completeness; `tahawul audit completeness` reads the same view).
Pipeline health reads the processes' /metrics (stream_processors/metrics.py, the gateway's
registry); the alert rules in deploy/prometheus/alerts.yml use the same expressions.
"""

from __future__ import annotations

from tahawul.dashboards.model import Dashboard, layout, prom_panel, stat, table, timeseries
from tahawul.dashboards.texts import REASONS, Lang, name_col, reason_label, t, value_names

STATUS_ORDER = "indexOf(['silent_day', 'silent_hour', 'reported_today', 'reporting', 'idle'], status)"


def coverage(lang: Lang) -> Dashboard:
    name = name_col(lang)
    silent_count = """SELECT countIf(status IN ('silent_day', 'silent_hour')) AS silent_entities
FROM v_coverage_entities"""
    entities = f"""SELECT r.{name} AS entity_name, c.status AS status, c.last_reported_at AS last_reported_at,
       c.events_last_hour AS events_last_hour, c.events_last_day AS events_last_day,
       round(c.usual_events_per_day, 1) AS usual_events_per_day
FROM v_coverage_entities AS c
INNER JOIN ref_entities AS r ON r.code = c.entity
ORDER BY {STATUS_ORDER}, c.usual_events_per_day DESC, r.code"""
    services = f"""SELECT r.{name} AS service_name, e.{name} AS entity_name, c.status AS status,
       c.last_reported_at AS last_reported_at, round(c.usual_events_per_day, 1) AS usual_events_per_day
FROM v_coverage_services AS c
INNER JOIN ref_services AS r ON r.code = c.service
INNER JOIN ref_entities AS e ON e.code = c.entity
WHERE c.status IN ('silent_day', 'silent_hour', 'reported_today')
ORDER BY {STATUS_ORDER}, c.usual_events_per_day DESC, r.code"""
    late = f"""SELECT s.period AS period, g.{name} AS governorate_name,
       s.first_shown_transactions AS first_shown, s.restated_transactions AS added_late,
       s.current_transactions AS current, s.restatements AS restatements,
       s.last_restated_at AS last_restated_at
FROM v_restatement_summary AS s
INNER JOIN ref_governorates AS g ON g.code = s.governorate
WHERE $__timeFilter(s.last_restated_at)
ORDER BY s.last_restated_at DESC, s.period DESC, g.code
LIMIT 500"""
    by_reason = """SELECT reason_code, sum(rejections) AS rejections
FROM v_rejections_hourly
WHERE $__timeFilter(period)
GROUP BY reason_code
ORDER BY rejections DESC, reason_code"""
    by_entity = f"""SELECT if(r.code = '', j.entity, r.{name}) AS entity_name, j.rejections AS rejections
FROM
(
    SELECT entity, sum(rejections) AS rejections
    FROM v_rejections_hourly
    WHERE $__timeFilter(period)
    GROUP BY entity
) AS j
LEFT JOIN ref_entities AS r ON r.code = j.entity
ORDER BY j.rejections DESC, j.entity"""
    # Series are named by the reason in words: value mappings do not rename series.
    over_time = f"""SELECT $__timeInterval(period) AS time, {reason_label(lang)} AS reason,
       sum(rejections) AS rejections
FROM v_rejections_hourly
WHERE $__timeFilter(period)
GROUP BY time, reason
ORDER BY time, reason"""
    completeness = f"""SELECT r.{name} AS entity_name,
       multiIf(c.missing > 0, 'missing_events', c.extra > 0, 'extra_events', 'complete') AS completeness,
       c.stated AS stated, c.counted AS counted_stated, c.missing AS missing, c.extra AS extra,
       c.cells_missing AS cells_missing
FROM
(
    SELECT entity, sum(control_total) AS stated, sum(counted) AS counted,
           coalesce(sumIf(-difference, difference < 0), 0) AS missing,
           coalesce(sumIf(difference, difference > 0), 0) AS extra,
           countIf(status = 'missing_events') AS cells_missing
    FROM v_completeness
    WHERE control_total IS NOT NULL AND $__timeFilter(stated_at)
    GROUP BY entity
) AS c
INNER JOIN ref_entities AS r ON r.code = c.entity
ORDER BY c.missing DESC, c.extra DESC, r.code"""
    missing_cells = f"""SELECT c.day AS day, e.{name} AS entity_name, s.{name} AS service_name,
       ch.{name} AS channel_name, c.control_total AS stated, c.counted AS counted_stated,
       c.difference AS difference
FROM v_completeness AS c
INNER JOIN ref_entities AS e ON e.code = c.entity
INNER JOIN ref_services AS s ON s.code = c.service
INNER JOIN ref_channels AS ch ON ch.code = c.channel
WHERE c.status = 'missing_events' AND $__timeFilter(c.stated_at)
ORDER BY c.difference, c.day DESC, e.code
LIMIT 500"""
    panels = layout([
        [(stat(t("silent_entities", lang), silent_count, "silent_entities"), 4, 8),
         (table(t("entity_status", lang), entities,
                ("entity_name", "status", "last_reported_at", "events_last_hour", "events_last_day",
                 "usual_events_per_day")), 20, 8)],
        [(table(t("silent_services", lang), services,
                ("service_name", "entity_name", "status", "last_reported_at", "usual_events_per_day")),
          12, 9),
         (table(t("late_data", lang), late,
                ("period", "governorate_name", "first_shown", "added_late", "current", "restatements",
                 "last_restated_at")), 12, 9)],
        [(table(t("rejected_reason", lang), by_reason, ("reason_code", "rejections")), 6, 9),
         (table(t("rejected_entity", lang), by_entity, ("entity_name", "rejections")), 6, 9),
         (timeseries(t("rejected_trend", lang), over_time, ("time", "reason", "rejections"),
                     stacked=True), 12, 9)],
        [(table(t("completeness_entities", lang), completeness,
                ("entity_name", "completeness", "stated", "counted_stated", "missing", "extra",
                 "cells_missing")), 12, 9),
         (table(t("completeness_cells", lang), missing_cells,
                ("day", "entity_name", "service_name", "channel_name", "stated", "counted_stated",
                 "difference")), 12, 9)],
    ])
    return Dashboard(f"tahawul-coverage-{lang}", t("coverage", lang), lang, panels, time_from="now-7d")


RATE = "$__rate_interval"
# PromQL shared with the alert rules (deploy/prometheus/alerts.yml says the same).
EVENTS_IN = f"sum(rate(tahawul_worker_events_consumed_total[{RATE}]))"
EVENTS_OUT = f'sum(rate(tahawul_counter_events_total{{outcome="counted"}}[{RATE}]))'
LAG = "sum by (group) (tahawul_consumer_lag_records)"
DEAD_LETTER_RATIO = (f"sum(rate(tahawul_worker_events_rejected_total[{RATE}])) / "
                     f"sum(rate(tahawul_worker_events_consumed_total[{RATE}]))")
DEAD_LETTER_BY_REASON = f"sum by (reason) (rate(tahawul_worker_events_rejected_total[{RATE}]))"
QUANTILE = "histogram_quantile({q}, sum by (le) (rate(%s_bucket[" + RATE + "])))"
FRESHNESS = QUANTILE % "tahawul_event_freshness_seconds"
SINK_LATENCY = QUANTILE % "tahawul_store_write_seconds"
SINK_ERRORS = f"sum(rate(tahawul_store_write_errors_total[{RATE}]))"
GATEWAY_ERRORS = f'sum by (status) (rate(tahawul_gateway_requests_total{{status=~"4..|5.."}}[{RATE}]))'
TARGETS_UP = 'up{job=~"tahawul.*"}'
ENTITY_RATES = f"topk(10, sum by (entity) (rate(tahawul_counter_entity_events_total[{RATE}])))"


def pipeline(lang: Lang) -> Dashboard:
    panels = layout([
        [(prom_panel("timeseries", t("events_in_out", lang),
                     [(EVENTS_IN, t("in", lang)), (EVENTS_OUT, t("out", lang))], unit="ops"), 12, 8),
         (prom_panel("timeseries", t("lag", lang), [(LAG, "{{group}}")], unit="short"), 12, 8)],
        [(prom_panel("timeseries", t("dead_letter", lang), [(DEAD_LETTER_RATIO, t("rejected_ratio", lang))],
                     unit="percentunit"), 8, 8),
         (prom_panel("timeseries", t("dead_letter_reason", lang), [(DEAD_LETTER_BY_REASON, "{{reason}}")],
                     series_names=value_names(REASONS, lang),
                     unit="ops"), 8, 8),
         (prom_panel("timeseries", t("freshness", lang),
                     [(FRESHNESS.format(q=0.5), "p50"), (FRESHNESS.format(q=0.95), "p95")], unit="s"), 8, 8)],
        [(prom_panel("timeseries", t("sink_latency", lang),
                     [(SINK_LATENCY.format(q=0.5), "p50"), (SINK_LATENCY.format(q=0.95), "p95")],
                     unit="s"), 8, 8),
         (prom_panel("timeseries", t("sink_errors", lang),
                     [(SINK_ERRORS, t("errors_per_s", lang)), ("min(tahawul_store_up)", t("store_up", lang))],
                     unit="short"), 8, 8),
         (prom_panel("timeseries", t("gateway_errors", lang), [(GATEWAY_ERRORS, "{{status}}")],
                     unit="reqps"), 8, 8)],
        [(prom_panel("stat", t("targets_up", lang), [(TARGETS_UP, "{{job}} {{instance}}")],
                     options={"reduceOptions": {"calcs": ["lastNotNull"]}, "colorMode": "background",
                              "textMode": "value_and_name"},
                     defaults={"thresholds": {"mode": "absolute",
                                              "steps": [{"color": "red", "value": None},
                                                        {"color": "green", "value": 1}]}}), 12, 6),
         (prom_panel("timeseries", t("entity_rates", lang), [(ENTITY_RATES, "{{entity}}")], unit="ops"),
          12, 6)],
    ])
    return Dashboard(f"tahawul-pipeline-{lang}", t("pipeline", lang), lang, panels, time_from="now-6h",
                     refresh="30s")
