"""The report's exchanges section: the national integration platform in the report's days.

Items and exchanges, the providers and consumers active, the platform's published figures
beside the counts (`tahawul audit published`'s comparison, at the scale the store's run
recorded), items a month, the busiest provider-consumer pairs, a matrix of the biggest
providers and consumers, failures by class and the halves that did not pair. Every number
comes from the views of migration 018 (docs/exchanges.md), the same the Grafana dashboard
reads, so the report and the dashboard never disagree.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date
from decimal import Decimal
from html import escape

from clickhouse_connect.driver.client import Client

from tahawul.dashboards.exchanges import OUTCOMES, party_names
from tahawul.dashboards.texts import Lang
from tahawul.report import charts
from tahawul.sinks.clickhouse.published import Checked, audit_published
from tahawul.sinks.clickhouse.runs import ScaleUnknown

BUSIEST = 10
MATRIX = 8
_RANGE = "first_day = {a:Date}, last_day = {b:Date}"

TEXTS: dict[str, tuple[str, str]] = {
    "section": ("The national integration platform: data exchanged between government systems",
                "منصة التكامل الحكومي: البيانات المتبادلة بين الأنظمة الحكومية"),
    "intro": ("Each exchange is counted once, from its provider's report when it came, else its "
              "consumer's (docs/exchanges.md). Items are those of successful exchanges.",
              "تُحتسب كل عملية تبادل مرة واحدة، من بلاغ الجهة المزوّدة إن وصل وإلا من بلاغ الجهة "
              "المستفيدة (docs/exchanges.md). العناصر هي عناصر عمليات التبادل الناجحة."),
    "none": ("No exchanges were counted in this period.", "لم تُحتسب أي عملية تبادل في هذه الفترة."),
    "items": ("Data items exchanged", "عناصر البيانات المتبادلة"),
    "exchanges": ("Exchanges", "عمليات التبادل"),
    "providers": ("Providing entities", "الجهات المزوّدة"),
    "consumers": ("Consuming entities", "الجهات المستفيدة"),
    "error_rate": ("Error rate", "نسبة الأخطاء"),
    "figures": ("The platform's published figures", "الأرقام المنشورة للمنصة"),
    "figure": ("Figure", "الرقم"),
    "period": ("Period", "الفترة"),
    "published": ("Published", "المنشور"),
    "counted": ("Counted", "المعدود"),
    "within": ("Within its rounding", "ضمن التقريب"),
    "yes": ("yes", "نعم"),
    "no": ("NO", "لا"),
    "scale": ("Published item counts are shown at the scale of the store's simulated run, {scale}; "
              "counts of entities do not scale.",
              "أعداد العناصر المنشورة معروضة بمقياس تشغيل المحاكاة في المخزن، {scale}؛ أعداد الجهات "
              "لا تتغير بالمقياس."),
    "no_figures": ("No published figure of the platform covers a period within this one.",
                   "لا يوجد رقم منشور للمنصة لفترة تقع ضمن هذه الفترة."),
    "monthly": ("Data items exchanged a month", "عناصر البيانات المتبادلة شهرياً"),
    "busiest": ("Busiest provider-consumer pairs (exchanges)", "أكثر أزواج المزوّد والمستفيد تبادلاً"),
    "succeeded": ("Successful", "ناجحة"),
    "failed": ("Failed", "فاشلة"),
    "matrix": ("Items between the biggest providers (rows) and consumers (columns)",
               "العناصر بين أكبر الجهات المزوّدة (الصفوف) والمستفيدة (الأعمدة)"),
    "errors": ("Failed exchanges by class", "عمليات التبادل الفاشلة حسب النوع"),
    "class": ("Class", "النوع"),
    "share": ("Share of exchanges", "النسبة من عمليات التبادل"),
    "quality": ("Data quality: halves without a partner, pairs that disagree",
                "جودة البيانات: أنصاف بلا نظير، وأزواج مختلفة"),
    "provider_only": ("Reported by the provider only", "أبلغت عنها الجهة المزوّدة فقط"),
    "consumer_only": ("Reported by the consumer only", "أبلغت عنها الجهة المستفيدة فقط"),
    "mismatched": ("Both reported, figures differ", "أبلغ عنها الطرفان بأرقام مختلفة"),
    "halves": ("Exchanges", "عمليات التبادل"),
    "problem": ("Problem", "المشكلة"),
    "integration-data-items-2024-jan-nov": ("Data items exchanged, January-November 2024",
                                            "عناصر البيانات المتبادلة، يناير-نوفمبر 2024"),
    "integration-data-items-since-launch": ("Data items exchanged since the launch",
                                            "عناصر البيانات المتبادلة منذ الإطلاق"),
    "integration-providers-2024": ("Providing entities, 2024", "الجهات المزوّدة، 2024"),
    "integration-consumers-2024": ("Consuming entities, 2024", "الجهات المستفيدة، 2024"),
}


def tx(key: str, lang: Lang) -> str:
    en, ar = TEXTS[key]
    return en if lang == "en" else ar


@dataclass(frozen=True)
class ExchangesSection:
    first_day: date
    last_day: date
    items: int
    exchanges: int
    providers: int
    consumers: int
    error_rate: float
    scale: Decimal | None
    figures: list[Checked]
    monthly: list[tuple[date, int]]  # month start, items
    busiest: list[tuple[str, str, int, int]]  # provider, consumer, successful, failed exchanges
    matrix: list[tuple[str, str, int]]  # provider, consumer, items (the biggest parties)
    errors: list[tuple[str, int, float]]  # outcome, exchanges, share of all
    quality: tuple[int, int, int]  # provider only, consumer only, mismatched


def latest_exchange_day(client: Client) -> date | None:
    """The last Muscat day with a counted exchange (None: none), the report's default last
    day for a store that holds exchanges and no transactions."""
    rows = client.query("SELECT max(day), count() FROM v_exchanges_daily WHERE exchanges != 0").result_rows
    return rows[0][0] if rows and rows[0][1] else None


def _rows(client: Client, sql: str, first_day: date, last_day: date) -> list[tuple[object, ...]]:
    return [tuple(r) for r in client.query(sql, parameters={"a": first_day, "b": last_day}).result_rows]


def exchanges_section(client: Client, first_day: date, last_day: date) -> ExchangesSection | None:
    """The section's figures for ``first_day`` to ``last_day``; None when the store counted
    no exchange in them (a store of transactions only)."""
    totals = _rows(client, f"SELECT items, exchanges, providers, consumers, error_rate "
                           f"FROM v_exchange_totals_between({_RANGE})", first_day, last_day)
    if not totals or not totals[0][1]:
        return None
    items, count, providers, consumers, error_rate = totals[0]
    try:
        audit = audit_published(client)
    except ScaleUnknown:
        scale, figures = None, []
    else:
        scale = audit.scale
        figures = [c for c in audit.checked if c.figure.check.startswith("exchange_")
                   and first_day <= c.figure.period_from and c.figure.period_to <= last_day]
    monthly = _rows(client, "SELECT month, items FROM v_exchanges_monthly "
                            "WHERE month BETWEEN toStartOfMonth({a:Date}) AND {b:Date} ORDER BY month",
                    first_day, last_day)
    busiest = _rows(client, f"SELECT provider, consumer, exchanges - failed, failed FROM "
                            f"v_exchange_pairs_between({_RANGE}) ORDER BY exchanges DESC, provider, consumer "
                            f"LIMIT {BUSIEST}", first_day, last_day)
    matrix = _rows(client, f"""
SELECT provider, consumer, items FROM v_exchange_pairs_between({_RANGE})
WHERE provider IN (SELECT provider FROM v_exchange_pairs_between({_RANGE}) GROUP BY provider
                   ORDER BY sum(items) DESC, provider LIMIT {MATRIX})
  AND consumer IN (SELECT consumer FROM v_exchange_pairs_between({_RANGE}) GROUP BY consumer
                   ORDER BY sum(items) DESC, consumer LIMIT {MATRIX})""", first_day, last_day)
    errors = _rows(client, f"SELECT outcome, exchanges, share FROM v_exchange_outcomes_between({_RANGE}) "
                           "WHERE outcome != 'success' ORDER BY exchanges DESC, outcome", first_day, last_day)
    quality = _rows(client, f"SELECT sum(unmatched_provider), sum(unmatched_consumer), sum(mismatched) "
                            f"FROM v_exchange_quality_between({_RANGE})", first_day, last_day)
    q = quality[0] if quality else (0, 0, 0)
    return ExchangesSection(
        first_day, last_day, int(str(items)), int(str(count)), int(str(providers)), int(str(consumers)),
        float(str(error_rate)), scale, figures,
        [(m, int(str(n))) for m, n in monthly if isinstance(m, date)],
        [(str(p), str(c), int(str(ok)), int(str(bad))) for p, c, ok, bad in busiest],
        [(str(p), str(c), int(str(n))) for p, c, n in matrix],
        [(str(o), int(str(n)), float(str(s))) for o, n, s in errors],
        (int(str(q[0] or 0)), int(str(q[1] or 0)), int(str(q[2] or 0))),
    )


def _monthly_bars(months: list[tuple[date, int]], lang: Lang, title: str) -> str:
    """Items a month as columns over a value axis; months run right to left in Arabic."""
    width, height, left, right, top, bottom = 640, 250, 70, 16, 14, 36
    rtl = lang == "ar"
    ticks = charts.nice_ticks(max((n for _, n in months), default=1))
    plot_w, plot_h = width - left - right, height - top - bottom
    base = height - bottom
    slot = plot_w / max(1, len(months))
    axis_x = width - left if rtl else left
    body = []
    for v in ticks:
        y = base - v / ticks[-1] * plot_h
        body.append(f'<line class="gridline" x1="{right if rtl else left}" y1="{y:.1f}" '
                    f'x2="{width - left if rtl else width - right}" y2="{y:.1f}" stroke="#e3e8e5"/>'
                    f'<text class="tick" x="{axis_x + 6 if rtl else axis_x - 6}" y="{y + 4:.1f}" '
                    f'text-anchor="{"start" if rtl else "end"}">{charts.number(v)}</text>')
    for i, (month, n) in enumerate(months):
        h = n / ticks[-1] * plot_h
        x = (width - left - (i + 1) * slot if rtl else left + i * slot) + slot * 0.15
        body.append(f'<rect class="mark" x="{x:.1f}" y="{base - h:.1f}" width="{slot * 0.7:.1f}" '
                    f'height="{h:.1f}" fill="{charts.DIGITAL}"><title>{charts.number(n)}</title></rect>'
                    f'<text class="tick" x="{x + slot * 0.35:.1f}" y="{base + 16}" text-anchor="middle">'
                    f'{escape(charts.MONTHS[lang][month.month - 1])}</text>')
    body.append(f'<line class="axis" x1="{right if rtl else left}" y1="{base}" '
                f'x2="{width - left if rtl else width - right}" y2="{base}" stroke="#777"/>')
    return charts._svg(width, height, body, title)


def _table(headers: list[str], rows: list[list[str]], numeric_from: int) -> str:
    head = "".join(f"<th>{escape(h)}</th>" for h in headers)
    body = "".join("<tr>" + "".join(f"<td class='num'>{c}</td>" if i >= numeric_from else f"<td>{c}</td>"
                                    for i, c in enumerate(r)) + "</tr>" for r in rows)
    return f"<table><thead><tr>{head}</tr></thead><tbody>{body}</tbody></table>"


def _num(value: Decimal | int | None) -> str:
    if value is None:
        return "–"
    return charts.isolate(f"{int(value):,}")


def _matrix(s: ExchangesSection, names: dict[str, str]) -> str:
    providers = sorted({p for p, _, _ in s.matrix}, key=lambda p: -sum(n for q, _, n in s.matrix if q == p))
    consumers = sorted({c for _, c, _ in s.matrix}, key=lambda c: -sum(n for _, q, n in s.matrix if q == c))
    cells = {(p, c): n for p, c, n in s.matrix}
    top = max(cells.values(), default=1) or 1
    head = "<th></th>" + "".join(f"<th class='col'><span>{escape(charts.shorten(names.get(c, c), 22))}"
                                 f"</span></th>" for c in consumers)
    rows = []
    for p in providers:
        tds = []
        for c in consumers:
            n = cells.get((p, c), 0)
            alpha = 0.08 + 0.82 * (n / top) ** 0.5 if n else 0.0
            tds.append(f"<td class='num heat' style='background: rgba(31, 122, 77, {alpha:.2f})'>"
                       f"{charts.isolate(f'{n:,}') if n else ''}</td>")
        rows.append(f"<tr><th>{escape(charts.shorten(names.get(p, p), 30))}</th>{''.join(tds)}</tr>")
    cols = "<col class='party'>" + "<col>" * len(consumers)
    return (f"<table class='matrix'><colgroup>{cols}</colgroup><thead><tr>{head}</tr></thead>"
            f"<tbody>{''.join(rows)}</tbody></table>")


def render_section(s: ExchangesSection, lang: Lang) -> str:
    """The exchanges section of the report page (HTML)."""
    names = party_names(lang)
    cards = [(tx("items", lang), charts.number(s.items)), (tx("exchanges", lang), charts.number(s.exchanges)),
             (tx("providers", lang), charts.number(s.providers)),
             (tx("consumers", lang), charts.number(s.consumers)),
             (tx("error_rate", lang), f"{s.error_rate * 100:.2f}%")]
    card_html = "".join(f'<div class="card"><div class="label">{escape(label)}</div>'
                        f'<div class="value">{escape(value)}</div></div>' for label, value in cards)
    parts = [f'<h2 class="section">{escape(tx("section", lang))}</h2>',
             f'<p class="note">{escape(tx("intro", lang))}</p>',
             f'<div class="cards exchanges">{card_html}</div>']
    if s.scale is not None and s.scale != 1:
        parts.append(f'<p class="note">{escape(tx("scale", lang).format(scale=f"{s.scale:f}"))}</p>')
    rows = [[escape(tx(c.figure.figure, lang) if c.figure.figure in TEXTS else c.figure.description),
             escape(f"{charts.day_text(c.figure.period_from, lang)} – "
                    f"{charts.day_text(c.figure.period_to, lang)}"),
             charts.isolate(escape(c.published_text)), _num(c.counted),
             escape(tx("yes" if c.within else "no", lang))] for c in s.figures]
    figures = (_table([tx(k, lang) for k in ("figure", "period", "published", "counted", "within")], rows, 2)
               if rows else f'<p class="note">{escape(tx("no_figures", lang))}</p>')
    busiest = charts.stacked_bars(
        [(f"{names.get(p, p)} {'→' if lang == 'en' else '←'} {names.get(c, c)}", ok, bad)
         for p, c, ok, bad in s.busiest],
        (tx("succeeded", lang), tx("failed", lang)), tx("busiest", lang), lang == "ar")
    errors = _table([tx("class", lang), tx("halves", lang), tx("share", lang)],
                    [[escape(OUTCOMES.get(o, (o, o))[0 if lang == "en" else 1]), _num(n),
                      charts.isolate(f"{share * 100:.2f}%")] for o, n, share in s.errors], 1)
    provider_only, consumer_only, mismatched = s.quality
    quality = _table([tx("problem", lang), tx("halves", lang)],
                     [[escape(tx("provider_only", lang)), _num(provider_only)],
                      [escape(tx("consumer_only", lang)), _num(consumer_only)],
                      [escape(tx("mismatched", lang)), _num(mismatched)]], 1)
    parts.append('<div class="grid">'
                 f'<div class="panel"><h2>{escape(tx("figures", lang))}</h2>{figures}</div>'
                 f'<div class="panel"><h2>{escape(tx("monthly", lang))}</h2>'
                 f'{_monthly_bars(s.monthly, lang, tx("monthly", lang))}</div>'
                 f'<div class="panel"><h2>{escape(tx("busiest", lang))}</h2>{busiest}</div>'
                 f'<div class="panel"><h2>{escape(tx("matrix", lang))}</h2>{_matrix(s, names)}</div>'
                 f'<div class="panel"><h2>{escape(tx("errors", lang))}</h2>{errors}</div>'
                 f'<div class="panel"><h2>{escape(tx("quality", lang))}</h2>{quality}</div>'
                 '</div>')
    return "\n".join(parts)


CSS = """
.cards.exchanges { grid-template-columns: repeat(5, 1fr); }
table.matrix { font-size: 11px; table-layout: fixed; }
table.matrix col.party { width: 24%; }
table.matrix th { font-weight: 600; font-size: 11px; }
table.matrix th.col { height: 110px; vertical-align: bottom; padding: 2px; }
table.matrix th.col span { writing-mode: vertical-rl; transform: rotate(180deg); white-space: nowrap; }
table.matrix td.heat { padding: 3px 2px; font-size: 10px; }
"""
