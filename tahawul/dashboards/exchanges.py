"""The integration platform dashboard: data exchanged between government systems.

The platform's exchanges over the time range (migration 018's views; docs/exchanges.md):
items and exchanges, the active providers and consumers the annual report publishes (40 /
81 in 2024), items a day over time, the busiest provider-consumer pairs, a provider /
consumer matrix of the biggest parties, the error rate and its classes, and the halves
that did not pair (the data-quality view X-Road Metrics' corrector also reports).

Parties are named in the dashboard's language: catalogue entities by ``ref_entities``,
the platform members outside the programme (banks, telecoms...) by the names of
``platform_members.csv``, written into the SQL since no store table holds them.
"""

from __future__ import annotations

from tahawul.dashboards.model import FROM_DAY, TO_DAY, Dashboard, Panel, bars, layout, stat, table, timeseries
from tahawul.dashboards.texts import Lang, t
from tahawul.schemas.platform_members import load_platform_members
from tahawul.schemas.reference import load_catalogue

# Outcome classes of the exchange contract (schemas/exchange.py), named for a reader.
OUTCOMES: dict[str, tuple[str, str]] = {
    "success": ("Success", "ناجحة"),
    "timeout": ("Timed out", "انتهت المهلة"),
    "provider_error": ("Provider's system error", "خطأ في نظام الجهة المزوّدة"),
    "unauthorized": ("Not authorised", "غير مصرّح"),
    "not_found": ("Not found", "غير موجود"),
    "invalid_request": ("Invalid request", "طلب غير صالح"),
    "platform_error": ("Platform error", "خطأ في المنصة"),
}
# How many of the biggest providers and consumers the matrix shows.
MATRIX_SIZE = 12
BUSIEST_PAIRS = 15


def _quote(text: str) -> str:
    return "'" + text.replace("\\", "\\\\").replace("'", "''") + "'"


def party_names(lang: Lang) -> dict[str, str]:
    """Every party code with its name in ``lang``: catalogue entities and platform members."""
    i = 0 if lang == "en" else 1
    names = {code: (e.name_en, e.name_ar)[i] for code, e in load_catalogue().entities.items()}
    names.update({code: (m.name_en, m.name_ar)[i] for code, m in load_platform_members().items()})
    return names


def party_name(column: str, lang: Lang) -> str:
    """SQL naming a party code in ``lang`` (an unknown code shows as itself)."""
    names = party_names(lang)
    codes = ", ".join(_quote(c) for c in names)
    labels = ", ".join(_quote(n) for n in names.values())
    return f"transform({column}, [{codes}], [{labels}], {column})"


def outcome_name(column: str, lang: Lang) -> str:
    i = 0 if lang == "en" else 1
    codes = ", ".join(_quote(c) for c in OUTCOMES)
    labels = ", ".join(_quote(pair[i]) for pair in OUTCOMES.values())
    return f"transform({column}, [{codes}], [{labels}], {column})"


def _between(view: str) -> str:
    return f"{view}(first_day = {FROM_DAY}, last_day = {TO_DAY})"


def _matrix(lang: Lang) -> Panel:
    """Items between the biggest providers (rows) and consumers (columns): the SQL returns
    one row per pair, Grafana's grouping-to-matrix transformation lays them out."""
    pairs = _between("v_exchange_pairs_between")
    sql = f"""SELECT {party_name('provider', lang)} AS provider_name,
       {party_name('consumer', lang)} AS consumer_name,
       items
FROM {pairs}
WHERE provider IN (SELECT provider FROM {pairs} GROUP BY provider ORDER BY sum(items) DESC, provider
                   LIMIT {MATRIX_SIZE})
  AND consumer IN (SELECT consumer FROM {pairs} GROUP BY consumer ORDER BY sum(items) DESC, consumer
                   LIMIT {MATRIX_SIZE})
ORDER BY provider_name, consumer_name"""
    panel = table(t("exchanges_matrix", lang), sql, ("provider_name", "consumer_name", "items"),
                  description=t("exchanges_matrix_help", lang))
    panel.json["transformations"] = [{"id": "groupingToMatrix", "options": {
        "columnField": "consumer_name", "rowField": "provider_name", "valueField": "items",
        "emptyValue": "zero"}}]
    return panel


def exchanges(lang: Lang) -> Dashboard:
    totals = _between("v_exchange_totals_between")
    over_time = f"""SELECT toDateTime(day, 'Asia/Muscat') AS time, items
FROM v_exchanges_daily
WHERE day BETWEEN {FROM_DAY} AND {TO_DAY}
ORDER BY time"""
    errors_over_time = f"""SELECT toDateTime(day, 'Asia/Muscat') AS time, error_rate
FROM v_exchanges_daily
WHERE day BETWEEN {FROM_DAY} AND {TO_DAY}
ORDER BY time"""
    busiest = f"""SELECT concat({party_name('provider', lang)}, {_quote(' → ' if lang == 'en' else ' ← ')},
              {party_name('consumer', lang)}) AS pair_name,
       items
FROM {_between('v_exchange_pairs_between')}
ORDER BY items DESC, provider, consumer
LIMIT {BUSIEST_PAIRS}"""
    providers = f"""SELECT {party_name('provider', lang)} AS provider_name,
       items, exchanges, failed, error_rate, consumers
FROM {_between('v_exchange_providers_between')}
ORDER BY items DESC, provider"""
    consumers = f"""SELECT {party_name('consumer', lang)} AS consumer_name,
       items, exchanges, failed, error_rate, providers
FROM {_between('v_exchange_consumers_between')}
ORDER BY items DESC, consumer"""
    outcomes = f"""SELECT {outcome_name('outcome', lang)} AS outcome_name, exchanges
FROM {_between('v_exchange_outcomes_between')}
WHERE outcome != 'success'
ORDER BY exchanges DESC, outcome"""
    quality = f"""SELECT {party_name('provider', lang)} AS provider_name,
       {party_name('consumer', lang)} AS consumer_name,
       unmatched_provider, unmatched_consumer, mismatched, exchanges, problem_rate
FROM {_between('v_exchange_quality_between')}
ORDER BY unmatched_provider + unmatched_consumer + mismatched DESC, provider, consumer"""
    panels = layout([
        [(stat(t("exchanges_items", lang), f"SELECT items FROM {totals}", "items"), 6, 5),
         (stat(t("exchanges_count", lang), f"SELECT exchanges FROM {totals}", "exchanges"), 5, 5),
         (stat(t("exchanges_providers", lang), f"SELECT providers FROM {totals}", "providers"), 4, 5),
         (stat(t("exchanges_consumers", lang), f"SELECT consumers FROM {totals}", "consumers"), 4, 5),
         (stat(t("exchanges_error_rate", lang), f"SELECT error_rate FROM {totals}", "error_rate",
               unit="percentunit", decimals=2), 5, 5)],
        [(timeseries(t("exchanges_over_time", lang), over_time, ("time", "items")), 16, 8),
         (timeseries(t("exchanges_errors_over_time", lang), errors_over_time, ("time", "error_rate"),
                     unit="percentunit"), 8, 8)],
        [(bars(t("exchanges_busiest", lang), busiest, ("pair_name", "items")), 12, 12),
         (_matrix(lang), 12, 12)],
        [(table(t("exchanges_per_provider", lang), providers,
                ("provider_name", "items", "exchanges", "failed", "error_rate", "consumers"),
                percent=("error_rate",)), 12, 10),
         (table(t("exchanges_per_consumer", lang), consumers,
                ("consumer_name", "items", "exchanges", "failed", "error_rate", "providers"),
                percent=("error_rate",)), 12, 10)],
        [(bars(t("exchanges_errors", lang), outcomes, ("outcome_name", "exchanges")), 8, 9),
         (table(t("exchanges_quality", lang), quality,
                ("provider_name", "consumer_name", "unmatched_provider", "unmatched_consumer",
                 "mismatched", "exchanges", "problem_rate"),
                percent=("problem_rate",), description=t("exchanges_quality_help", lang)), 16, 9)],
    ])
    return Dashboard(f"tahawul-exchanges-{lang}", t("exchanges", lang), lang, panels)
