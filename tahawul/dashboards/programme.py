"""The programme dashboard: the programme as the ministry reports it.

Digital transactions of the programme's 48 entities over the time range, each published
figure the store holds beside its count (v_programme_published_digital: the comparison of
`tahawul audit published`, at the scale the store's simulated run recorded), per national
entity, per governorate administration, and the programme's targets with the published
registry figures' progress toward them (v_programme_targets). docs/programme.md.
"""

from __future__ import annotations

from tahawul.dashboards.model import FROM_DAY, TO_DAY, Dashboard, bars, layout, stat, table
from tahawul.dashboards.texts import Lang, name_col, t

# The programme's targets (v_programme_targets), named for a reader; the report uses them too.
TARGET_LABELS: dict[str, tuple[str, str]] = {
    "services-digitised-2021-2024": ("Services digitised by November 2024, of the 2,523 to digitise by 2025",
                                     "الخدمات المرقمنة حتى نوفمبر 2024، من 2,523 خدمة مستهدفة بنهاية 2025"),
    "services-simplified-2021-2024": ("Services simplified by November 2024, of the 2,869 to simplify "
                                      "by 2025",
                                      "الخدمات المبسطة حتى نوفمبر 2024، من 2,869 خدمة مستهدفة بنهاية 2025"),
    "services-digitised-share-2025-may": ("Share of government services digitised, May 2025",
                                          "نسبة الخدمات الحكومية المرقمنة، مايو 2025"),
    "priority-services-simplified-2025-may": ("Share of priority services simplified, May 2025",
                                              "نسبة الخدمات ذات الأولوية المبسطة، مايو 2025"),
}

# Whose figure a published figure is.
NATIONAL = ("Digital transactions, the programme's entities", "المعاملات الرقمية، جهات البرنامج")
ADMINISTRATION = ("Digital transactions, governorate administration: ",
                  "المعاملات الرقمية، إدارة محافظة ")
YES_NO = (("yes", "no"), ("نعم", "لا"))


def _text(pair: tuple[str, str], lang: Lang) -> str:
    return (pair[0] if lang == "en" else pair[1]).replace("'", "''")


def programme(lang: Lang) -> Dashboard:
    name = name_col(lang)
    yes, no = YES_NO[0 if lang == "en" else 1]
    between = f"v_programme_digital_between(first_day = {FROM_DAY}, last_day = {TO_DAY})"
    national = f"""SELECT sum(transactions) AS digital_transactions
FROM {between}"""
    published = f"""SELECT if(p.scope = 'national', '{_text(NATIONAL, lang)}',
          concat('{_text(ADMINISTRATION, lang)}', g.{name})) AS figure_name,
       p.period_from AS period_from, p.period_to AS period_to, p.published AS published,
       p.counted AS counted, if(p.within, '{yes}', '{no}') AS within_name
FROM v_programme_published_digital AS p
LEFT JOIN ref_governorates AS g ON g.code = p.governorate
ORDER BY p.scope != 'national', p.period_to, p.figure"""
    per_entity = f"""SELECT r.{name} AS entity_name, d.transactions AS digital_transactions
FROM
(
    SELECT programme_entity, sum(transactions) AS transactions
    FROM {between}
    WHERE scope = 'national'
    GROUP BY programme_entity
) AS d
INNER JOIN ref_entities AS r ON r.code = d.programme_entity
ORDER BY d.transactions DESC, r.code"""
    per_administration = f"""SELECT g.{name} AS governorate_name, d.transactions AS digital_transactions
FROM
(
    SELECT programme_entity, sum(transactions) AS transactions
    FROM {between}
    WHERE scope = 'administration'
    GROUP BY programme_entity
) AS d
INNER JOIN ref_governorates AS g ON concat('admin:', g.code) = d.programme_entity
ORDER BY d.transactions DESC, g.code"""
    labels = ", ".join(f"figure = '{figure}', '{_text(pair, lang)}'"
                       for figure, pair in TARGET_LABELS.items())
    targets = f"""SELECT multiIf({labels}, figure) AS target_name, achieved, target, progress
FROM v_programme_targets
ORDER BY indexOf([{", ".join(f"'{f}'" for f in TARGET_LABELS)}], figure)"""
    panels = layout([
        [(stat(t("programme_digital", lang), national, "digital_transactions"), 6, 8),
         (table(t("programme_published", lang), published,
                ("figure_name", "period_from", "period_to", "published", "counted", "within_name")),
          18, 8)],
        [(bars(t("programme_entities", lang), per_entity, ("entity_name", "digital_transactions")), 12, 16),
         (bars(t("programme_administrations", lang), per_administration,
               ("governorate_name", "digital_transactions")), 12, 16)],
        [(table(t("programme_targets", lang), targets, ("target_name", "achieved", "target", "progress"),
                percent=("progress",)), 24, 6)],
    ])
    return Dashboard(f"tahawul-programme-{lang}", t("programme", lang), lang, panels)
