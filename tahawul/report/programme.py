"""The programme as the ministry reports it: national digital transactions with each published
figure beside the count, per programme entity and per governorate administration, and the
programme's targets with how far the published registry figures have come.

Counts come from ``v_programme_digital_between`` (migration 011), the published figures and
their comparison from ``tahawul audit published`` (:mod:`tahawul.sinks.clickhouse.published`,
at the scale the store's simulated run recorded, 1 for real data), the targets from the
published figures table (registry figures: the programme publishes them, tahawul cannot count
them from transactions). docs/programme.md says what each figure means.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date
from decimal import Decimal
from html import escape

from clickhouse_connect.driver.client import Client

from tahawul.dashboards.programme import TARGET_LABELS
from tahawul.dashboards.texts import Lang
from tahawul.report import charts
from tahawul.schemas.published import Figure, load_published
from tahawul.schemas.reference import load_catalogue
from tahawul.sinks.clickhouse.published import Checked, audit_published
from tahawul.sinks.clickhouse.runs import ScaleUnknown

PER_ENTITY_SQL = """
SELECT programme_entity, sum(transactions) AS transactions
FROM v_programme_digital_between(first_day = {a:Date}, last_day = {b:Date})
GROUP BY programme_entity
ORDER BY transactions DESC, programme_entity
"""

# (done, target) figure pairs and shares published against 100%, in the order shown.
TARGETS: tuple[tuple[str, str | None], ...] = (
    ("services-digitised-2021-2024", "services-digitised-target-2025"),
    ("services-simplified-2021-2024", "services-simplified-target-2025"),
    ("services-digitised-share-2025-may", None),
    ("priority-services-simplified-2025-may", None),
)

TEXTS: dict[str, tuple[str, str]] = {
    "section": ("The programme: published figures beside the counts",
                "البرنامج: الأرقام المنشورة بجانب ما تم عدّه"),
    "national": ("Digital transactions of the programme's entities, {first} to {last}",
                 "المعاملات الرقمية لجهات البرنامج، من {first} إلى {last}"),
    "figures": ("Published figures of the period", "الأرقام المنشورة للفترة"),
    "figure": ("Figure", "الرقم"),
    "period": ("Period", "الفترة"),
    "published": ("Published", "المنشور"),
    "counted": ("Counted", "المعدود"),
    "difference": ("Difference", "الفرق"),
    "within": ("Within its rounding", "ضمن التقريب"),
    "yes": ("yes", "نعم"),
    "no": ("NO", "لا"),
    "no_figures": ("No published figure covers a period within this one.",
                   "لا يوجد رقم منشور لفترة تقع ضمن هذه الفترة."),
    "scale": ("The store holds a simulated run at scale {scale}: published transaction figures are "
              "shown at that scale.",
              "يحتوي المخزن على تشغيل محاكاة بمقياس {scale}: أرقام المعاملات المنشورة معروضة بهذا المقياس."),
    "several_scales": ("The store holds simulated runs at several scales: no published figure is compared.",
                       "يحتوي المخزن على تشغيلات محاكاة بمقاييس مختلفة: لا تُقارن الأرقام المنشورة."),
    "entities": ("Per programme entity (national entities)", "حسب جهة البرنامج (الجهات الوطنية)"),
    "administrations": ("Per governorate administration", "حسب إدارة المحافظة"),
    "entity": ("Entity", "الجهة"),
    "administration": ("Governorate administration", "إدارة المحافظة"),
    "transactions": ("Digital transactions", "المعاملات الرقمية"),
    "targets": ("Targets (published registry figures, not counted from transactions)",
                "المستهدفات (أرقام السجل المنشورة، لا تُعدّ من المعاملات)"),
    "progress": ("{done} of {target}", "{done} من {target}"),
    # Figure names by check and scope kind.
    "digital_transactions:national": ("Digital transactions, the programme's entities",
                                      "المعاملات الرقمية، جهات البرنامج"),
    "digital_transactions:administration": ("Digital transactions, {name} governorate administration",
                                            "المعاملات الرقمية، إدارة محافظة {name}"),
    "digital_transactions:service": ("Digital transactions, service {name}",
                                     "المعاملات الرقمية، الخدمة {name}"),
    "programme_entities:national": ("Entities with digital transactions", "الجهات التي لها معاملات رقمية"),
    "new_services_digitised:administration": ("New services digitised, {name} governorate administration",
                                              "الخدمات الجديدة المرقمنة، إدارة محافظة {name}"),
    "digital_satisfaction:national": ("Satisfaction with digital services, %", "الرضا عن الخدمات الرقمية، ٪"),
    **TARGET_LABELS,
}


def tx(key: str, lang: Lang) -> str:
    en, ar = TEXTS[key]
    return en if lang == "en" else ar


@dataclass(frozen=True)
class Target:
    key: str
    done: int
    target: int  # 100 for a published percentage
    percent: bool


@dataclass(frozen=True)
class Programme:
    first_day: date
    last_day: date
    scale: Decimal | None  # None: the store's runs name several scales
    national_digital: int
    figures: list[Checked]
    entities: list[tuple[str, int]]  # programme entity code, digital transactions
    administrations: list[tuple[str, int]]  # governorate code, digital transactions
    targets: list[Target]


def targets() -> list[Target]:
    by_name = {f.figure: f for f in load_published()}
    out = []
    for done, of in TARGETS:
        fig = by_name[done]
        percent = fig.unit == "percent"
        out.append(Target(done, fig.value, 100 if of is None else by_name[of].value, percent))
    return out


def programme(client: Client, first_day: date, last_day: date) -> Programme:
    """The programme section's figures for a report of ``first_day`` to ``last_day``."""
    try:
        audit = audit_published(client)
    except ScaleUnknown:  # runs at several scales: no one scaling of the figures applies
        scale, figures = None, []
    else:
        scale = audit.scale
        figures = [c for c in audit.checked
                   if first_day <= c.figure.period_from and c.figure.period_to <= last_day]
    rows = client.query(PER_ENTITY_SQL, parameters={"a": first_day, "b": last_day}).result_rows
    entities = [(str(code), int(n)) for code, n in rows if code and not str(code).startswith("admin:")]
    administrations = [(str(code)[len("admin:"):], int(n)) for code, n in rows
                       if code and str(code).startswith("admin:")]
    return Programme(first_day, last_day, scale, sum(int(n) for _, n in rows), figures,
                     entities, administrations, targets())


def figure_name(fig: Figure, lang: Lang) -> str:
    kind, _, value = fig.scope.partition(":")
    key = f"{fig.check}:{kind}"
    if key not in TEXTS:
        return fig.description
    cat = load_catalogue()
    name = value
    if kind == "administration" and value in cat.governorates:
        gov = cat.governorates[value]
        name = gov.name_en if lang == "en" else gov.name_ar
    return tx(key, lang).format(name=name)


def _number(value: Decimal | None) -> str:
    if value is None:
        return "–"
    if value == value.to_integral_value():
        return charts.isolate(f"{int(value):,}")
    return charts.isolate(f"{value:,.2f}")


def _table(headers: list[str], rows: list[list[str]], numeric_from: int, numeric_to: int = 99) -> str:
    """A table whose columns ``numeric_from`` to ``numeric_to`` hold numbers (aligned at the end)."""
    head = "".join(f"<th>{escape(h)}</th>" for h in headers)
    body = "".join("<tr>" + "".join(
        f"<td class='num'>{c}</td>" if numeric_from <= i <= numeric_to else f"<td>{c}</td>"
        for i, c in enumerate(r)) + "</tr>" for r in rows)
    return f"<table><thead><tr>{head}</tr></thead><tbody>{body}</tbody></table>"


def render_section(p: Programme, lang: Lang) -> str:
    """The programme section of the report page (HTML)."""
    cat = load_catalogue()
    first, last = charts.day_text(p.first_day, lang), charts.day_text(p.last_day, lang)
    national = tx("national", lang).format(first=first, last=last)
    parts = [f'<h2 class="section">{escape(tx("section", lang))}</h2>',
             '<div class="cards programme">'
             f'<div class="card wide"><div class="label">{escape(national)}</div>'
             f'<div class="value">{escape(charts.number(p.national_digital))}</div></div></div>']
    if p.scale is None:
        parts.append(f'<p class="note">{escape(tx("several_scales", lang))}</p>')
    elif p.scale != 1:
        parts.append(f'<p class="note">{escape(tx("scale", lang).format(scale=f"{p.scale:f}"))}</p>')
    rows = [[escape(figure_name(c.figure, lang)),
             escape(f"{charts.day_text(c.figure.period_from, lang)} – "
                    f"{charts.day_text(c.figure.period_to, lang)}"),
             escape(c.published_text) if lang == "en" else charts.isolate(escape(c.published_text)),
             _number(c.counted), _number(c.difference),
             escape(tx("yes" if c.within else "no", lang))] for c in p.figures]
    figures = (_table([tx(k, lang) for k in ("figure", "period", "published", "counted", "difference",
                                             "within")], rows, 2, 4)
               if rows else f'<p class="note">{escape(tx("no_figures", lang))}</p>')
    parts.append(f'<div class="panel"><h2>{escape(tx("figures", lang))}</h2>{figures}</div>')
    ent_rows = [[escape(cat.entities[code].name_en if lang == "en" else cat.entities[code].name_ar)
                 if code in cat.entities else escape(code), _number(Decimal(n))] for code, n in p.entities]
    adm_rows = [[escape(cat.governorates[g].name_en if lang == "en" else cat.governorates[g].name_ar)
                 if g in cat.governorates else escape(g), _number(Decimal(n))] for g, n in p.administrations]
    bars = []
    for tg in p.targets:
        share = tg.done / tg.target if tg.target else 0.0
        shown = (charts.isolate(f"{tg.done}%") if tg.percent else
                 tx("progress", lang).format(done=charts.isolate(f"{tg.done:,}"),
                                             target=charts.isolate(f"{tg.target:,}"))
                 + " " + charts.isolate(f"({share:.1%})"))
        bars.append(f'<div class="target"><div class="label">{escape(tx(tg.key, lang))}</div>'
                    f'<div class="bar"><div class="fill" style="width: {min(share, 1.0) * 100:.1f}%">'
                    '</div></div>'
                    f'<div class="value">{shown}</div></div>')
    parts.append('<div class="grid">'
                 f'<div class="panel"><h2>{escape(tx("entities", lang))}</h2>'
                 f'{_table([tx("entity", lang), tx("transactions", lang)], ent_rows, 1)}</div>'
                 f'<div class="panel"><h2>{escape(tx("administrations", lang))}</h2>'
                 f'{_table([tx("administration", lang), tx("transactions", lang)], adm_rows, 1)}'
                 f'<h2 class="section">{escape(tx("targets", lang))}</h2>{"".join(bars)}</div></div>')
    return "\n".join(parts)


CSS = """
h2.section { margin-top: 22px; }
.cards.programme { grid-template-columns: 1fr; }
.target { margin: 10px 0; } .target .label { font-size: 13px; }
.target .bar { background: #e6ebe8; border-radius: 4px; height: 12px; margin: 4px 0; }
.target .fill { background: #1f7a4d; border-radius: 4px; height: 12px; }
.target .value { font-size: 12px; color: #55625e; }
"""
