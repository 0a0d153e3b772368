"""The HTML page: cards, map, charts and tables, right to left in Arabic."""

from __future__ import annotations

from datetime import datetime
from html import escape

from tahawul.dashboards.texts import Lang, t
from tahawul.report import charts
from tahawul.report.completeness import CompletenessSection
from tahawul.report.completeness import render_section as render_completeness
from tahawul.report.data import Overview
from tahawul.report.exchanges import CSS as EXCHANGES_CSS
from tahawul.report.exchanges import ExchangesSection
from tahawul.report.exchanges import render_section as render_exchanges
from tahawul.report.programme import CSS as PROGRAMME_CSS
from tahawul.report.programme import Programme, render_section

REPORT_TEXTS = {
    "title": ("Tahawul: national overview", "تحول: النظرة الوطنية"),
    "period": ("Period {first} to {last} (Asia/Muscat). \"Today\" is {last}.",
               "الفترة من {first} إلى {last} (بتوقيت مسقط). «اليوم» هو {last}."),
    "service": ("Service", "الخدمة"),
    "sources": ("Every number comes from the named views of the serving model "
                "(docs/serving-model.md): v_transactions_daily, v_digital_takeup_governorate_daily, "
                "v_automated_share_monthly, v_satisfaction_national_monthly, v_service_indicators_monthly; "
                "names and map centres from the reference catalogue. Same queries as the Grafana "
                "national overview. The map outline is schematic.",
                "كل رقم مأخوذ من العروض المسماة في نموذج الخدمة (docs/serving-model.md): "
                "v_transactions_daily و v_digital_takeup_governorate_daily و v_automated_share_monthly "
                "و v_satisfaction_national_monthly و v_service_indicators_monthly، والأسماء ومراكز "
                "الخريطة من البيانات المرجعية. الاستعلامات نفسها المستخدمة في لوحة Grafana الوطنية. "
                "حدود الخريطة تقريبية."),
    "generated": ("Generated {at} by tahawul report.", "أُنشئ في {at} بواسطة tahawul report."),
}

CSS = """
body { font-family: "Noto Sans", "Noto Naskh Arabic", "DejaVu Sans", sans-serif; margin: 24px;
       color: #1d2a27; background: #fafbfa; }
h1 { font-size: 26px; margin: 0 0 4px; } h2 { font-size: 18px; margin: 0 0 10px; }
.period, .note { color: #55625e; font-size: 13px; }
.cards { display: grid; grid-template-columns: repeat(6, 1fr); gap: 12px; margin: 18px 0; }
.card { background: #fff; border: 1px solid #dde3e0; border-radius: 8px; padding: 12px; }
.card .label { font-size: 12px; color: #55625e; min-height: 30px; }
.card .value { font-size: 26px; font-weight: 700; color: #1f7a4d; }
.grid { display: grid; grid-template-columns: 1fr 1fr; gap: 16px; }
.panel { background: #fff; border: 1px solid #dde3e0; border-radius: 8px; padding: 14px; }
svg text { font-size: 12px; fill: #1d2a27; }
svg .map-label { font-size: 11px; paint-order: stroke; stroke: #fff; stroke-width: 3px; }
svg .small { font-size: 10px; }
svg .tick { font-size: 10px; fill: #55625e; }
table { width: 100%; border-collapse: collapse; font-size: 13px; }
th, td { padding: 5px 6px; border-bottom: 1px solid #e6ebe8; text-align: start; }
td.num { text-align: end; font-variant-numeric: tabular-nums; }
.completeness { margin-top: 16px; } .completeness tr.missing_events td { color: #b3261e; }
"""

# Counts the drawn marks of every chart once laid out; tests read data-charts-rendered.
SCRIPT = """
window.addEventListener('load', function () {
  var charts = document.querySelectorAll('svg.chart'), drawn = 0;
  charts.forEach(function (svg) {
    var marks = Array.prototype.filter.call(svg.querySelectorAll('.mark'), function (m) {
      var box = m.getBBox(); return box.width > 0 || box.height > 0; });
    if (marks.length > 0 && svg.getBoundingClientRect().width > 0) { drawn += 1; }
  });
  document.body.setAttribute('data-charts', String(charts.length));
  document.body.setAttribute('data-charts-rendered', String(drawn));
});
"""


def _rt(key: str, lang: Lang) -> str:
    en, ar = REPORT_TEXTS[key]
    return en if lang == "en" else ar


def _pct(x: float | None, scale: float = 100.0) -> str:
    return "–" if x is None else f"{x * scale:.1f}%"


def _moment(at: datetime, lang: Lang) -> str:
    """A time of generation that reads in order in both directions: the day in words, the
    clock time and zone kept left to right."""
    return f"{charts.day_text(at.date(), lang)} {charts.isolate(at.strftime('%H:%M %Z').strip())}"


def render_page(o: Overview, lang: Lang, generated_at: datetime, programme: Programme | None = None,
                completeness: CompletenessSection | None = None,
                exchanges: ExchangesSection | None = None) -> str:
    """The page; ``programme`` adds the programme section (tahawul.report.programme),
    ``completeness`` the entities' control totals beside the counts (tahawul.report.completeness),
    ``exchanges`` the integration platform's exchanges (tahawul.report.exchanges)."""
    rtl = lang == "ar"
    cards = [
        (t("digital_today", lang), charts.number(o.digital_today)),
        (t("digital_month", lang), charts.number(o.digital_month)),
        (t("digital_ytd", lang), charts.number(o.digital_ytd)),
        (t("takeup", lang), _pct(o.takeup)),
        (t("automated", lang), _pct(o.automated)),
        (t("satisfaction", lang), _pct(o.satisfaction, 1.0)),
    ]
    modes = (t("digital", lang), t("manual", lang))
    card_html = "".join(f'<div class="card"><div class="label">{escape(label)}</div>'
                        f'<div class="value">{escape(value)}</div></div>' for label, value in cards)
    rows = "".join(f"<tr><td>{escape(name)}</td><td class='num'>{charts.number(n)}</td>"
                   f"<td class='num'>{_pct(share)}</td></tr>" for name, n, share in o.services)
    services = (f"<table><thead><tr><th>{escape(_rt('service', lang))}</th>"
                f"<th>{escape(t('transactions_range', lang))}</th><th>{escape(t('takeup', lang))}</th>"
                f"</tr></thead><tbody>{rows}</tbody></table>")
    period = _rt("period", lang).format(first=charts.day_text(o.first_day, lang),
                                        last=charts.day_text(o.last_day, lang))
    body = f"""
<h1>{escape(_rt('title', lang))}</h1>
<div class="period">{escape(period)}</div>
<div class="cards">{card_html}</div>
<div class="grid">
  <div class="panel"><h2>{escape(t('map', lang))}</h2>
    {charts.takeup_map(o.governorates, t('map', lang), rtl)}</div>
  <div class="panel"><h2>{escape(t('top_entities', lang))}</h2>
    {charts.stacked_bars(o.entities, modes, t('top_entities', lang), rtl)}</div>
  <div class="panel"><h2>{escape(t('trend', lang))}</h2>
    {charts.trend_lines(o.trend, modes, t('trend', lang), lang)}</div>
  <div class="panel"><h2>{escape(t('top_services', lang))}</h2>{services}</div>
</div>
{render_section(programme, lang) if programme is not None else ""}
{render_completeness(completeness, lang) if completeness is not None else ""}
{render_exchanges(exchanges, lang) if exchanges is not None else ""}
<p class="note">{escape(_rt('sources', lang))}</p>
<p class="note">{escape(_rt('generated', lang).format(at=_moment(generated_at, lang)))}</p>
"""
    return (f'<!DOCTYPE html>\n<html lang="{lang}" dir="{"rtl" if rtl else "ltr"}">\n<head>\n'
            f'<meta charset="utf-8">\n<title>{escape(_rt("title", lang))}</title>\n'
            f'<meta name="viewport" content="width=device-width, initial-scale=1">\n'
            f"<style>{CSS}{PROGRAMME_CSS}{EXCHANGES_CSS}</style>\n<script>{SCRIPT}</script>\n</head>\n<body>{body}</body>\n</html>\n")
