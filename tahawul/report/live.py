"""The live page `tahawul up` serves: what is being counted now, then the report.

Two parts, both in English or Arabic (right to left):
- a live band (counted, duplicates, rejected, events per second, and completed transactions
  per governorate with the digital share) that a small inline script refreshes every second
  from ``/live.json`` (:func:`live_state`, the counting writer's own tallies, no query);
- the report of :mod:`tahawul.report.page`, rendered from the store by its own queries, in a
  frame reloaded when the counts have moved (:func:`report_page`).

No script or font comes from elsewhere: the page works on a machine without a network.
Every number in the band also carries its raw value in ``data-value`` for tests and tools.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import UTC, datetime
from html import escape
from typing import Any

from clickhouse_connect.driver.client import Client

from tahawul.dashboards.texts import Lang
from tahawul.schemas.reference import load_catalogue

LIVE_TEXTS = {
    "title": ("Tahawul: live count", "تحول: العد المباشر"),
    "counted": ("Counted", "المعاملات المعدودة"),
    "duplicates": ("Duplicates dropped", "المكررات المستبعدة"),
    "rejected": ("Rejected", "المرفوضة"),
    "rate": ("Events per second", "أحداث في الثانية"),
    "governorate": ("Governorate", "المحافظة"),
    "digital": ("Digital", "رقمي"),
    "manual": ("Manual", "يدوي"),
    "share": ("Digital share", "النسبة الرقمية"),
    "since": ("Completed transactions counted since tahawul up started; refreshed every second.",
              "المعاملات المكتملة المعدودة منذ تشغيل tahawul up، وتُحدَّث كل ثانية."),
    "stale": ("Not updating: tahawul up is not answering.", "لا تحديث: tahawul up لا يستجيب."),
    "report": ("Report from the store", "التقرير من المخزن"),
    "other": ("العربية", "English"),
    "empty": ("No completed transactions in the store yet: the report appears once some are counted.",
              "لا توجد معاملات مكتملة في المخزن بعد: يظهر التقرير بعد عدّ بعضها."),
}

CSS = """
body { font-family: "Noto Sans", "Noto Naskh Arabic", "DejaVu Sans", sans-serif; margin: 0;
       color: #1d2a27; background: #fafbfa; }
header { display: flex; justify-content: space-between; align-items: baseline; padding: 16px 24px 0; }
h1 { font-size: 24px; margin: 0; } a { color: #1f7a4d; }
.note { color: #55625e; font-size: 13px; padding: 2px 24px; }
.stale { color: #b3261e; font-weight: 700; }
.band { display: grid; grid-template-columns: repeat(4, 1fr); gap: 12px; padding: 12px 24px; }
.card { background: #fff; border: 1px solid #dde3e0; border-radius: 8px; padding: 12px; }
.card .label { font-size: 13px; color: #55625e; }
.card .value { font-size: 30px; font-weight: 700; color: #1f7a4d; font-variant-numeric: tabular-nums; }
.govs { margin: 0 24px; max-width: 860px; background: #fff; border: 1px solid #dde3e0;
        border-radius: 8px; padding: 8px 14px; }
table { width: 100%; border-collapse: collapse; font-size: 13px; }
th, td { padding: 4px 6px; border-bottom: 1px solid #e6ebe8; text-align: start; }
td.num, th.num { text-align: end; font-variant-numeric: tabular-nums; }
h2 { font-size: 17px; margin: 18px 24px 6px; }
iframe { border: 0; width: 100%; height: 1400px; display: block; }
"""

# Polls /live.json each second and writes each value where data-live names it; reloads the
# report frame when the count has moved and the frame is 15 s old.
SCRIPT = """
(function () {
  var lang = document.documentElement.lang, fmt = new Intl.NumberFormat('en-US');
  var shown = -1, reloaded = Date.now(), frame = document.getElementById('report');
  function put(key, value, text) {
    document.querySelectorAll('[data-live="' + key + '"]').forEach(function (el) {
      el.setAttribute('data-value', String(value)); el.textContent = text; });
  }
  function tick() {
    fetch('/live.json', {cache: 'no-store'}).then(function (r) { return r.json(); }).then(function (s) {
      document.getElementById('stale').hidden = true;
      ['counted', 'duplicates', 'rejected'].forEach(function (k) { put(k, s[k], fmt.format(s[k])); });
      put('rate', s.rate, fmt.format(Math.round(s.rate)));
      s.governorates.forEach(function (g) {
        var all = g.digital + g.manual;
        put(g.code + ':digital', g.digital, fmt.format(g.digital));
        put(g.code + ':manual', g.manual, fmt.format(g.manual));
        put(g.code + ':share', all ? g.digital / all : '',
            all ? (100 * g.digital / all).toFixed(1) + '%' : '–');
      });
      var body = document.body;
      body.setAttribute('data-updates', String(1 + Number(body.getAttribute('data-updates'))));
      if (s.counted !== shown && Date.now() - reloaded > 15000) {
        shown = s.counted; reloaded = Date.now(); frame.src = '/' + lang + '/report?t=' + reloaded;
      }
    }).catch(function () { document.getElementById('stale').hidden = false; });
  }
  if (frame) {
    frame.addEventListener('load', function () {
      try { frame.style.height = (frame.contentDocument.body.scrollHeight + 40) + 'px'; } catch (e) {}
    });
  }
  tick(); setInterval(tick, 1000);
})();
"""


def _lt(key: str, lang: Lang) -> str:
    en, ar = LIVE_TEXTS[key]
    return en if lang == "en" else ar


def live_state(counted: int, duplicates: int, rejected: int, sent: int, rate: float,
               completed: Mapping[tuple[str, str], int]) -> dict[str, Any]:
    """What ``/live.json`` answers: the writer's tallies and completed transactions per
    governorate and mode (every governorate of the catalogue, zero until counted)."""
    codes = sorted(load_catalogue().governorates)
    return {
        "counted": counted, "duplicates": duplicates, "rejected": rejected, "sent": sent,
        "rate": round(rate, 1),
        "governorates": [{"code": c, "digital": completed.get((c, "digital"), 0),
                          "manual": completed.get((c, "manual"), 0)} for c in codes],
        "at": datetime.now(UTC).isoformat(timespec="seconds"),
    }


def _number(key: str, value: int | float | str, text: str) -> str:
    return f'<span data-live="{escape(key)}" data-value="{escape(str(value))}">{escape(text)}</span>'


def live_page(lang: Lang, state: Mapping[str, Any]) -> str:
    """The page at ``/en`` or ``/ar``, filled with ``state`` (a :func:`live_state`) so that it
    reads right before its script first runs."""
    govs = load_catalogue().governorates
    cards = "".join(
        f'<div class="card"><div class="label">{escape(_lt(key, lang))}</div><div class="value">'
        f"{_number(key, state[key], f'{round(state[key]):,}')}</div></div>"
        for key in ("counted", "duplicates", "rejected", "rate"))
    rows = []
    for g in state["governorates"]:
        gov = govs[g["code"]]
        name = gov.name_en if lang == "en" else gov.name_ar
        d, m = g["digital"], g["manual"]
        share = f"{d / (d + m):.1%}" if d + m else "–"
        rows.append(f"<tr><td>{escape(name)}</td>"
                    f"<td class='num'>{_number(g['code'] + ':digital', d, f'{d:,}')}</td>"
                    f"<td class='num'>{_number(g['code'] + ':manual', m, f'{m:,}')}</td>"
                    f"<td class='num'>{_number(g['code'] + ':share', d / (d + m) if d + m else '', share)}"
                    "</td></tr>")
    head = "".join(f"<th{' class=num' if k != 'governorate' else ''}>{escape(_lt(k, lang))}</th>"
                   for k in ("governorate", "digital", "manual", "share"))
    other = "ar" if lang == "en" else "en"
    return f"""<!DOCTYPE html>
<html lang="{lang}" dir="{'rtl' if lang == 'ar' else 'ltr'}"><head><meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>{escape(_lt('title', lang))}</title><style>{CSS}</style></head>
<body data-updates="0">
<header><h1>{escape(_lt('title', lang))}</h1>
<a href="/{other}" lang="{other}">{escape(_lt('other', lang))}</a></header>
<div class="note">{escape(_lt('since', lang))}
<span id="stale" class="stale" hidden>{escape(_lt('stale', lang))}</span></div>
<div class="band">{cards}</div>
<div class="govs"><table><thead><tr>{head}</tr></thead><tbody>{''.join(rows)}</tbody></table></div>
<h2>{escape(_lt('report', lang))}</h2>
<iframe id="report" title="{escape(_lt('report', lang))}" src="/{lang}/report"></iframe>
<script>{SCRIPT}</script>
</body></html>
"""


def report_page(client: Client, lang: Lang) -> str:
    """The report of the store as `tahawul report` renders it (1 January of the last day's
    year to the last day with data), or a short page saying there is nothing yet."""
    from tahawul.report.data import latest_day, overview
    from tahawul.report.page import render_page

    last_day = latest_day(client)
    if last_day is None:
        return (f'<!DOCTYPE html><html lang="{lang}" dir="{"rtl" if lang == "ar" else "ltr"}"><head>'
                f'<meta charset="utf-8"><style>{CSS}</style></head><body><p class="note">'
                f"{escape(_lt('empty', lang))}</p></body></html>")
    data = overview(client, lang, last_day.replace(month=1, day=1), last_day)
    return render_page(data, lang, datetime.now(UTC))
