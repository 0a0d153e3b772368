"""The report's completeness section: is this all of it?

Per entity, the control totals its own systems stated for the report's days
(schemas/control_total.py) beside the completed transactions counted, with what is missing
or extra, and the cells (day, service, channel) counted short of their total. The figures are
`tahawul audit completeness`'s (:mod:`tahawul.sinks.clickhouse.completeness`, view
v_completeness), so the report and the audit never disagree.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date
from html import escape

from clickhouse_connect.driver.client import Client

from tahawul.dashboards.texts import COMPLETENESS, Lang
from tahawul.report import charts
from tahawul.schemas.reference import load_catalogue
from tahawul.sinks.clickhouse.completeness import Cell, EntitySummary, completeness

MAX_CELLS = 20  # the largest losses; the audit lists them all

TEXTS: dict[str, tuple[str, str]] = {
    "section": ("Completeness: the entities' control totals beside the counts",
                "اكتمال البيانات: المجاميع الرقابية للجهات بجانب ما احتُسب"),
    "intro": ("Each entity's systems state how many transactions they completed per day, service "
              "and channel; missing means stated but never counted (tahawul audit completeness).",
              "تعلن أنظمة كل جهة عدد المعاملات التي أنجزتها لكل يوم وخدمة وقناة؛ الناقص هو ما أُعلن "
              "ولم يُحتسب (tahawul audit completeness)."),
    "none": ("No entity stated control totals for this period.",
             "لم تعلن أي جهة مجاميع رقابية لهذه الفترة."),
    "entity": ("Entity", "الجهة"),
    "status": ("Completeness", "اكتمال البيانات"),
    "stated": ("Stated by the entity", "ما أعلنته الجهة"),
    "counted": ("Counted", "المحتسب"),
    "missing": ("Missing", "الناقص"),
    "extra": ("Counted beyond the total", "المحتسب فوق المجموع"),
    "cells_missing": ("Cells with missing events", "خلايا فيها أحداث ناقصة"),
    "cells": ("Largest losses", "أكبر النواقص"),
    "day": ("Day", "اليوم"),
    "service": ("Service", "الخدمة"),
    "channel": ("Channel", "القناة"),
    "difference": ("Difference", "الفرق"),
}


@dataclass(frozen=True)
class CompletenessSection:
    """The period's per-entity summaries (entities with control totals only) and its cells
    counted short, the largest losses first."""

    entities: list[EntitySummary]
    missing_cells: list[Cell]


def completeness_section(client: Client, first_day: date, last_day: date) -> CompletenessSection:
    result = completeness(client, first_day, last_day)
    stated = [s for s in result.entities if s.stated or s.cells["complete"] or s.cells["missing_events"]
              or s.cells["extra_events"]]
    cells = sorted((c for c in result.cells if c.status == "missing_events"),
                   key=lambda c: (c.difference or 0, c.day, c.entity, c.service, c.channel))
    return CompletenessSection(stated, cells[:MAX_CELLS])


def _t(key: str, lang: Lang) -> str:
    en, ar = TEXTS[key]
    return en if lang == "en" else ar


def render_section(section: CompletenessSection, lang: Lang) -> str:
    catalogue = load_catalogue()
    ar = lang == "ar"

    def entity_name(code: str) -> str:
        known = catalogue.entities.get(code)
        return code if known is None else (known.name_ar if ar else known.name_en)

    def service_name(code: str) -> str:
        known = catalogue.services.get(code)
        return code if known is None else (known.name_ar if ar else known.name_en)

    def channel_name(code: str) -> str:
        known = catalogue.channels.get(code)
        return code if known is None else (known.name_ar if ar else known.name_en)

    def status_name(code: str) -> str:
        en, arabic = COMPLETENESS[code]
        return arabic if ar else en

    head = f'<div class="panel completeness"><h2>{escape(_t("section", lang))}</h2>' \
           f'<p class="note">{escape(_t("intro", lang))}</p>'
    if not section.entities:
        return f'{head}<p>{escape(_t("none", lang))}</p></div>'
    num = charts.number
    columns = ("entity", "status", "stated", "counted", "missing", "extra", "cells_missing")
    rows = "".join(
        f'<tr class="{escape(s.status)}"><td>{escape(entity_name(s.entity))}</td>'
        f"<td>{escape(status_name(s.status))}</td><td class='num'>{num(s.stated)}</td>"
        f"<td class='num'>{num(s.counted_in_stated)}</td><td class='num'>{num(s.missing)}</td>"
        f"<td class='num'>{num(s.extra)}</td><td class='num'>{num(s.cells['missing_events'])}</td></tr>"
        for s in sorted(section.entities, key=lambda s: (-s.missing, -s.extra, s.entity)))
    table = (f"<table><thead><tr>{''.join(f'<th>{escape(_t(c, lang))}</th>' for c in columns)}</tr>"
             f"</thead><tbody>{rows}</tbody></table>")
    cells = ""
    if section.missing_cells:
        cell_columns = ("day", "entity", "service", "channel", "stated", "counted", "difference")
        cell_rows = "".join(
            f"<tr><td>{escape(charts.day_text(c.day, lang))}</td><td>{escape(entity_name(c.entity))}</td>"
            f"<td>{escape(service_name(c.service))}</td><td>{escape(channel_name(c.channel))}</td>"
            f"<td class='num'>{num(c.control_total or 0)}</td><td class='num'>{num(c.counted)}</td>"
            f"<td class='num'>{charts.isolate(f'{c.difference:,}')}</td></tr>"
            for c in section.missing_cells)
        cells = (f"<h2>{escape(_t('cells', lang))}</h2><table><thead><tr>"
                 f"{''.join(f'<th>{escape(_t(c, lang))}</th>' for c in cell_columns)}</tr></thead>"
                 f"<tbody>{cell_rows}</tbody></table>")
    return f"{head}{table}{cells}</div>"
