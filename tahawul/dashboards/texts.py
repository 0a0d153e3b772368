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
    "programme": ("Tahawul: the programme", "تحول: البرنامج"),
    "programme_digital": ("Digital transactions of the programme's entities",
                          "المعاملات الرقمية لجهات البرنامج"),
    "programme_published": ("Published figures beside the counts", "الأرقام المنشورة بجانب ما تم عدّه"),
    "programme_entities": ("Per programme entity (national entities)", "حسب جهة البرنامج (الجهات الوطنية)"),
    "programme_administrations": ("Per governorate administration", "حسب إدارة المحافظة"),
    "programme_targets": ("Targets (published registry figures, not counted from transactions)",
                          "المستهدفات (أرقام السجل المنشورة، لا تُعدّ من المعاملات)"),
    # the integration platform (dashboards/exchanges.py)
    "exchanges": ("Tahawul: the integration platform", "تحول: منصة التكامل الحكومي"),
    "exchanges_items": ("Data items exchanged", "عناصر البيانات المتبادلة"),
    "exchanges_count": ("Exchanges", "عمليات التبادل"),
    "exchanges_providers": ("Providing entities", "الجهات المزوّدة"),
    "exchanges_consumers": ("Consuming entities", "الجهات المستفيدة"),
    "exchanges_error_rate": ("Error rate", "نسبة الأخطاء"),
    "exchanges_over_time": ("Data items exchanged a day", "عناصر البيانات المتبادلة يومياً"),
    "exchanges_errors_over_time": ("Error rate a day", "نسبة الأخطاء يومياً"),
    "exchanges_busiest": ("Busiest provider-consumer pairs (items)",
                          "أكثر أزواج المزوّد والمستفيد تبادلاً (عناصر)"),
    "exchanges_matrix": ("Provider / consumer matrix: items, biggest parties",
                         "مصفوفة المزوّد والمستفيد: العناصر، لأكبر الجهات"),
    "exchanges_matrix_help": ("Rows: the providers with the most items; columns: the consumers "
                              "with the most items; cells: items of successful exchanges.",
                              "الصفوف: الجهات المزوّدة الأكثر عناصر؛ الأعمدة: الجهات المستفيدة "
                              "الأكثر عناصر؛ الخلايا: عناصر عمليات التبادل الناجحة."),
    "exchanges_per_provider": ("Per providing entity", "حسب الجهة المزوّدة"),
    "exchanges_per_consumer": ("Per consuming entity", "حسب الجهة المستفيدة"),
    "exchanges_errors": ("Failed exchanges by error class", "عمليات التبادل الفاشلة حسب نوع الخطأ"),
    "exchanges_quality": ("Data quality: halves without a partner, pairs that disagree",
                          "جودة البيانات: أنصاف بلا نظير، وأزواج مختلفة"),
    "exchanges_quality_help": ("Each exchange is reported by its provider and its consumer. "
                               "Unmatched: only one side reported it (after an hour's grace); "
                               "mismatched: both did, with different figures (the provider's count).",
                               "يُبلغ عن كل عملية تبادل من الجهة المزوّدة والجهة المستفيدة. "
                               "بلا نظير: أبلغ عنها طرف واحد فقط (بعد مهلة ساعة)؛ مختلفة: أبلغ عنها "
                               "الطرفان بأرقام مختلفة (يُعتمد رقم المزوّد)."),
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
    "gov_modes": ("Digital and manual by governorate", "الرقمي واليدوي حسب المحافظة"),
    "gov_service_modes": ("Services in the governorate: digital and manual",
                          "الخدمات في المحافظة: رقمي ويدوي"),
    "as_of_note": ("Taken at the last day with counted transactions up to the end of the time range "
                   "(today, when data is arriving).",
                   "محسوبة في آخر يوم فيه معاملات محتسبة حتى نهاية الفترة الزمنية "
                   "(اليوم، عند وصول البيانات)."),
    # coverage panels
    "silent_entities": ("Silent entities", "الجهات المتوقفة عن الإرسال"),
    "entity_status": ("Entities by reporting status", "الجهات حسب حالة الإرسال"),
    "silent_services": ("Silent services", "الخدمات المتوقفة عن الإرسال"),
    "late_data": ("Days restated by late data", "الأيام المعدلة ببيانات متأخرة"),
    "rejected_reason": ("Rejected events by reason", "الأحداث المرفوضة حسب السبب"),
    "rejected_entity": ("Rejected events by entity", "الأحداث المرفوضة حسب الجهة"),
    "rejected_trend": ("Rejected events over time", "الأحداث المرفوضة عبر الزمن"),
    "completeness_entities": ("Completeness per entity: the entities' own control totals beside "
                              "what was counted (totals stated in the time range)",
                              "اكتمال البيانات لكل جهة: المجاميع الرقابية التي أعلنتها الجهة مقابل "
                              "ما احتُسب (المجاميع المعلنة خلال الفترة)"),
    "completeness_cells": ("Missing events: days, services and channels counted short of their "
                           "control total", "أحداث ناقصة: أيام وخدمات وقنوات احتُسب فيها أقل من "
                           "المجموع الرقابي"),
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
    "rejected_ratio": ("rejected / consumed", "المرفوضة / المستهلكة"),
    "errors_per_s": ("errors/s", "أخطاء في الثانية"),
    "store_up": ("store up", "المخزن يعمل"),
}


# Column titles: what a table header, a legend or a tooltip shows for each column a panel's
# SQL returns (the SQL keeps short English names, which the tests read).
COLUMNS: dict[str, tuple[str, str]] = {
    "governorate_name": ("Governorate", "المحافظة"),
    "entity_name": ("Entity", "الجهة"),
    "service_name": ("Service", "الخدمة"),
    "channel_name": ("Channel", "القناة"),
    "mode_name": ("Mode", "النمط"),
    "latitude": ("Latitude", "خط العرض"),
    "longitude": ("Longitude", "خط الطول"),
    "digital": ("Digital", "رقمي"),
    "manual": ("Manual", "يدوي"),
    "digital_transactions": ("Digital transactions", "المعاملات الرقمية"),
    "transactions": ("Transactions", "المعاملات"),
    "completed": ("Completed", "المنجزة"),
    "completed_digital": ("Completed digitally", "المنجزة رقمياً"),
    "completed_all": ("Completed, all channels", "المنجزة بكل القنوات"),
    "abandoned": ("Abandoned", "المتروكة"),
    "rejected": ("Rejected", "المرفوضة"),
    "digital_takeup": ("Digital take-up", "نسبة الإقبال الرقمي"),
    "automated_share": ("Automated share", "نسبة المعاملات المؤتمتة"),
    "satisfaction": ("Satisfaction", "رضا المستفيدين"),
    "satisfaction_pct": ("Satisfaction", "رضا المستفيدين"),
    "completion_rate": ("Completion rate", "نسبة الإنجاز"),
    "services_digitised": ("Services digitised", "الخدمات المرقمنة"),
    "catalogue_services": ("Services in the catalogue", "الخدمات في الدليل"),
    "share_digitised": ("Share digitised", "نسبة الخدمات المرقمنة"),
    "status": ("Reporting status", "حالة الإرسال"),
    "last_reported_at": ("Last event received", "آخر حدث مستلم"),
    "events_last_hour": ("Events, last hour", "الأحداث في الساعة الأخيرة"),
    "events_last_day": ("Events, last 24 h", "الأحداث في آخر 24 ساعة"),
    "usual_events_per_day": ("Usual events a day", "المعتاد من الأحداث يومياً"),
    "period": ("Day", "اليوم"),
    "first_shown": ("First shown", "أول رقم معروض"),
    "added_late": ("Added late", "المضاف متأخراً"),
    "current": ("Now", "الآن"),
    "restatements": ("Restatements", "مرات التعديل"),
    "last_restated_at": ("Last restated", "آخر تعديل"),
    "reason_code": ("Reason", "السبب"),
    "reason": ("Reason", "السبب"),
    "rejections": ("Rejected events", "الأحداث المرفوضة"),
    "silent_entities": ("Silent entities", "الجهات المتوقفة عن الإرسال"),
    "figure_name": ("Figure", "الرقم"),
    "period_from": ("From", "من"),
    "period_to": ("To", "إلى"),
    "published": ("Published", "المنشور"),
    "counted": ("Counted", "المعدود"),
    "within_name": ("Within its rounding", "ضمن التقريب"),
    "target_name": ("Target", "المستهدف"),
    "achieved": ("Published so far", "المنشور حتى الآن"),
    "target": ("Target value", "القيمة المستهدفة"),
    "progress": ("Progress", "نسبة التقدم"),
    "completeness": ("Completeness", "اكتمال البيانات"),
    "stated": ("Stated by the entity", "ما أعلنته الجهة"),
    "counted_stated": ("Counted", "المحتسب"),
    "missing": ("Missing", "الناقص"),
    "extra": ("Counted beyond the total", "المحتسب فوق المجموع"),
    "cells_missing": ("Cells with missing events", "خلايا فيها أحداث ناقصة"),
    "day": ("Day", "اليوم"),
    "difference": ("Difference", "الفرق"),
    # the integration platform (dashboards/exchanges.py)
    "items": ("Data items", "عناصر البيانات"),
    "exchanges": ("Exchanges", "عمليات التبادل"),
    "failed": ("Failed", "الفاشلة"),
    "error_rate": ("Error rate", "نسبة الأخطاء"),
    "providers": ("Providers", "الجهات المزوّدة"),
    "consumers": ("Consumers", "الجهات المستفيدة"),
    "provider_name": ("Provider", "الجهة المزوّدة"),
    "consumer_name": ("Consumer", "الجهة المستفيدة"),
    "pair_name": ("Provider and consumer", "المزوّد والمستفيد"),
    "outcome_name": ("Error class", "نوع الخطأ"),
    "unmatched_provider": ("Provider only", "المزوّد فقط"),
    "unmatched_consumer": ("Consumer only", "المستفيد فقط"),
    "mismatched": ("Figures differ", "أرقام مختلفة"),
    "problem_rate": ("Share with a problem", "نسبة ما به مشكلة"),
}

# Completeness of a cell or an entity (v_completeness, sinks/clickhouse/completeness.py).
COMPLETENESS: dict[str, tuple[str, str]] = {
    "missing_events": ("Missing events", "أحداث ناقصة"),
    "extra_events": ("More counted than stated", "المحتسب أكثر من المعلن"),
    "complete": ("Complete", "مكتملة"),
    "no_control_total": ("No control total", "لا مجموع رقابي"),
}

# Reporting status of an entity or service (v_coverage_*), in the order they are sorted.
STATUSES: dict[str, tuple[str, str]] = {
    "silent_day": ("Silent for a day", "متوقفة منذ يوم"),
    "silent_hour": ("Silent this hour", "متوقفة هذه الساعة"),
    "reported_today": ("Reported today, not this hour", "أرسلت اليوم لا هذه الساعة"),
    "reporting": ("Reporting", "ترسل"),
    "idle": ("Idle (does not usually report now)", "خاملة (لا ترسل عادة الآن)"),
}

# Rejection reason codes (schemas/event.py, schemas/control_total.py, schemas/batch.py,
# stream_processors/validation.py).
REASONS: dict[str, tuple[str, str]] = {
    "not_json": ("Not JSON", "ليس JSON"),
    "not_an_object": ("Not a JSON object", "ليس كائن JSON"),
    "empty": ("Empty record", "سجل فارغ"),
    "too_large": ("Too large", "حجم كبير جداً"),
    "unreadable": ("Unreadable record", "سجل غير مقروء"),
    "bad_batch": ("Malformed batch", "دفعة غير سليمة"),
    "batch_too_large": ("Batch too large", "دفعة كبيرة جداً"),
    "extra_cells": ("Extra cells in a row", "خلايا زائدة في الصف"),
    "missing_field": ("Missing field", "حقل ناقص"),
    "unknown_field": ("Field not allowed", "حقل غير مسموح"),
    "wrong_type": ("Wrong type", "نوع خاطئ"),
    "unknown_schema_version": ("Unknown schema version", "إصدار مخطط غير معروف"),
    "bad_event_id": ("Invalid event id", "معرف حدث غير صالح"),
    "event_id_conflict": ("Event id reused with other content", "معرف حدث مكرر بمحتوى مختلف"),
    "bad_occurred_at": ("Invalid time", "وقت غير صالح"),
    "occurred_at_in_future": ("Time in the future", "وقت في المستقبل"),
    "occurred_at_too_old": ("Time too old", "وقت قديم جداً"),
    "unknown_entity": ("Unknown entity", "جهة غير معروفة"),
    "unknown_service": ("Unknown service", "خدمة غير معروفة"),
    "service_not_of_entity": ("Service of another entity", "خدمة تتبع جهة أخرى"),
    "unknown_governorate": ("Unknown governorate", "محافظة غير معروفة"),
    "entity_outside_governorate": ("Entity outside its governorate", "جهة خارج محافظتها"),
    "unknown_channel": ("Unknown channel", "قناة غير معروفة"),
    "unknown_status": ("Unknown status", "حالة غير معروفة"),
    "bad_quantity": ("Invalid quantity", "كمية غير صالحة"),
    "bad_satisfaction": ("Invalid satisfaction score", "درجة رضا غير صالحة"),
    "signature_missing": ("Signature missing", "التوقيع مفقود"),
    "signature_invalid": ("Signature invalid", "التوقيع غير صالح"),
    # control totals (schemas/control_total.py)
    "wrong_kind": ("Unknown kind of record", "نوع سجل غير معروف"),
    "bad_day": ("Invalid day", "يوم غير صالح"),
    "day_too_old": ("Day too old", "يوم قديم جداً"),
    "day_in_future": ("Day in the future", "يوم في المستقبل"),
    "bad_stated_at": ("Invalid statement time", "وقت إعلان غير صالح"),
    "stated_at_in_future": ("Statement time in the future", "وقت إعلان في المستقبل"),
    "stated_before_day": ("Stated before its day", "أُعلن قبل يومه"),
    "bad_completed": ("Invalid control total", "مجموع رقابي غير صالح"),
}


def column_title(column: str, lang: Lang) -> str | None:
    """The header a column is shown under, or None for one with no title of its own."""
    titles = COLUMNS.get(column)
    return None if titles is None else titles[0 if lang == "en" else 1]


def value_names(names: dict[str, tuple[str, str]], lang: Lang) -> dict[str, str]:
    return {code: pair[0 if lang == "en" else 1] for code, pair in names.items()}


def reason_label(lang: Lang, column: str = "reason_code") -> str:
    """SQL turning a rejection reason code into the language's name (unknown codes as they are),
    for series names, which Grafana's value mappings do not reach."""
    names = value_names(REASONS, lang)
    codes = ", ".join(f"'{c}'" for c in names)
    labels = ", ".join("'" + v.replace("'", "''") + "'" for v in names.values())
    return f"transform({column}, [{codes}], [{labels}], {column})"


def t(key: str, lang: Lang) -> str:
    en, ar = TEXTS[key]
    return en if lang == "en" else ar


def name_col(lang: Lang) -> str:
    """The reference-data name column of a language (ref_* tables and views have both)."""
    return "name_en" if lang == "en" else "name_ar"


def mode_label(lang: Lang, column: str = "mode") -> str:
    """SQL turning the mode code into the language's label, for series names."""
    return f"if({column} = 'digital', '{t('digital', lang)}', '{t('manual', lang)}')"
