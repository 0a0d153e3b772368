"""Titles and labels in English and Arabic: one dashboard set per language.

One set per language rather than both on one screen: Grafana lays a dashboard out left to
right whatever the language, so mixing scripts in one title makes both harder to read,
and operators pick their language once (the folder) rather than per panel.
"""

from __future__ import annotations

from typing import Literal

Lang = Literal["en", "ar"]
LANGS: tuple[Lang, ...] = ("en", "ar")

TEXTS: dict[str, tuple[str, str]] = {
    # folder and dashboards
    "folder": ("Tahawul (English)", "تحول (العربية)"),
    "overview": ("Tahawul: national overview", "تحول: النظرة الوطنية"),
    "governorate": ("Tahawul: governorate", "تحول: المحافظة"),
    "entity": ("Tahawul: entity and service", "تحول: الجهة والخدمة"),
    "coverage": ("Tahawul: data coverage", "تحول: تغطية البيانات"),
    "pipeline": ("Tahawul: pipeline health", "تحول: سلامة خط المعالجة"),
    # variables
    "var_governorate": ("Governorate", "المحافظة"),
    "var_entity": ("Entity", "الجهة"),
    "var_service": ("Service", "الخدمة"),
    # indicator panels
    "digital_today": ("Digital transactions today", "المعاملات الرقمية اليوم"),
    "digital_month": ("Digital transactions this month", "المعاملات الرقمية هذا الشهر"),
    "digital_ytd": ("Digital transactions, year to date", "المعاملات الرقمية منذ بداية العام"),
    "digital_range": ("Digital transactions", "المعاملات الرقمية"),
    "transactions_range": ("Transactions", "المعاملات"),
    "takeup": ("Digital take-up", "نسبة الإقبال على القنوات الرقمية"),
    "automated": ("Automated share", "نسبة المعاملات المؤتمتة"),
    "satisfaction": ("Satisfaction (digital)", "رضا المستفيدين (الرقمي)"),
    "satisfaction_all": ("Satisfaction", "رضا المستفيدين"),
    "map": ("Digital take-up by governorate", "الإقبال الرقمي حسب المحافظة"),
    "top_entities": ("Top entities", "أعلى الجهات"),
    "top_services": ("Top services", "أعلى الخدمات"),
    "trend": ("Digital and manual transactions", "المعاملات الرقمية واليدوية"),
    "takeup_trend": ("Digital take-up over time", "الإقبال الرقمي عبر الزمن"),
    "gov_entities": ("Entities in the governorate", "الجهات في المحافظة"),
    "services_digitised": ("Services digitised", "الخدمات المرقمنة"),
    "entity_services": ("Services of the entity", "خدمات الجهة"),
    "service_channels": ("Service by channel", "الخدمة حسب القناة"),
    "service_completion": ("Completion rate by channel", "نسبة الإنجاز حسب القناة"),
    "service_trend": ("Service: digital and manual", "الخدمة: رقمي ويدوي"),
    # coverage panels
    "silent_entities": ("Silent entities", "الجهات المتوقفة عن الإرسال"),
    "entity_status": ("Entities by reporting status", "الجهات حسب حالة الإرسال"),
    "silent_services": ("Silent services", "الخدمات المتوقفة عن الإرسال"),
    "late_data": ("Days restated by late data", "الأيام المعدلة ببيانات متأخرة"),
    "rejected_reason": ("Rejected events by reason", "الأحداث المرفوضة حسب السبب"),
    "rejected_entity": ("Rejected events by entity", "الأحداث المرفوضة حسب الجهة"),
    "rejected_trend": ("Rejected events over time", "الأحداث المرفوضة عبر الزمن"),
    # pipeline panels
    "events_in_out": ("Events per second in and out", "الأحداث في الثانية: الداخلة والخارجة"),
    "lag": ("Consumer lag", "تأخر المستهلكين"),
    "dead_letter": ("Dead-letter rate", "نسبة الأحداث المرفوضة"),
    "dead_letter_reason": ("Dead letters by reason", "الأحداث المرفوضة حسب السبب"),
    "freshness": ("End-to-end freshness", "حداثة البيانات من الطرف إلى الطرف"),
    "sink_latency": ("Store write latency", "زمن الكتابة في المخزن"),
    "sink_errors": ("Store write errors", "أخطاء الكتابة في المخزن"),
    "gateway_errors": ("Gateway 4xx and 5xx", "أخطاء البوابة 4xx و5xx"),
    "targets_up": ("Processes up", "العمليات العاملة"),
    "entity_rates": ("Counted events per entity", "الأحداث المحتسبة لكل جهة"),
    # series and column labels
    "digital": ("Digital", "رقمي"),
    "manual": ("Manual", "يدوي"),
    "in": ("in (consumed by workers)", "داخل (استهلكها المدققون)"),
    "out": ("out (counted in the store)", "خارج (احتسبت في المخزن)"),
}


def t(key: str, lang: Lang) -> str:
    en, ar = TEXTS[key]
    return en if lang == "en" else ar


def name_col(lang: Lang) -> str:
    """The reference-data name column of a language (ref_* tables and views have both)."""
    return "name_en" if lang == "en" else "name_ar"


def mode_label(lang: Lang, column: str = "mode") -> str:
    """SQL turning the mode code into the language's label, for series names."""
    return f"if({column} = 'digital', '{t('digital', lang)}', '{t('manual', lang)}')"
