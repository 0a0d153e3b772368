"""Compare the store's named views with every published figure of the periods it holds.

The figures come from ``tahawul.schemas.published`` (the table shipped with the package);
each countable one names a check, answered by a view of migration 011 (docs/programme.md
says what each answers). A run of the simulator at a scale is audited at that scale (the
one `tahawul up --simulate` recorded in the store's ``runs`` table, unless the caller gives
another): the figures in transactions are scaled and, when exact, rounded half up, as the simulator
scales its targets; counts of services, entities and percentages are not scaled.

A figure is *held* when its whole period lies within the store's completed events (first
to last Muscat day); a figure whose period the store only partly holds would be compared
with a partial count, so it is listed as not held instead.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import date
from decimal import Decimal
from typing import Any

from clickhouse_connect.driver.client import Client

from tahawul.schemas.published import Figure, load_published
from tahawul.schemas.reference import load_catalogue
from tahawul.sinks.clickhouse.runs import stored_scale

HELD_SQL = """
SELECT min(toDate(occurred_at, 'Asia/Muscat')), max(toDate(occurred_at, 'Asia/Muscat')), count()
FROM events WHERE status = 'completed'
"""
# The days the store holds exchanges of (migration 018): the platform's figures are held
# when their period lies within these, whatever transactions the store holds.
EXCHANGE_HELD_SQL = """
SELECT min(day), max(day), count() FROM v_exchanges_daily WHERE exchanges != 0
"""


@dataclass(frozen=True, slots=True)
class Checked:
    """One held, countable figure beside what the store counts for it."""

    figure: Figure
    published: Decimal
    counted: Decimal | None
    within: bool

    @property
    def difference(self) -> Decimal | None:
        return None if self.counted is None else self.counted - self.published

    @property
    def published_text(self) -> str:
        """The published value at the run's scale, with what its rounding allows."""
        fig = self.figure
        value = _text(self.published)
        if fig.rounding == "exact":
            return value
        if fig.rounding == "over":
            return f"over {value}"
        half = Decimal(fig.rounding) / 2 * (self.published / fig.value if fig.scaled else 1)
        return f"{value} ±{_text(half)}"


def _text(value: Decimal) -> str:
    if value == value.to_integral_value():
        return f"{int(value):,}"
    return f"{value.normalize():,f}"


@dataclass(frozen=True, slots=True)
class PublishedAudit:
    scale: Decimal
    first_day: date | None
    last_day: date | None
    checked: tuple[Checked, ...]
    # Figures of held periods the pipeline cannot count, and countable ones not held.
    not_countable: tuple[Figure, ...]
    not_held: tuple[Figure, ...]
    # Whether the scale is the one the store's runs recorded (not given by the caller).
    scale_from_store: bool = False
    # The days of the store's counted exchanges (the integration platform's figures).
    exchange_first_day: date | None = None
    exchange_last_day: date | None = None

    @property
    def differences(self) -> tuple[Checked, ...]:
        return tuple(c for c in self.checked if not c.within)


def _scalar(client: Client, sql: str, **params: Any) -> Any:
    rows = client.query(sql, parameters=params).result_rows
    return rows[0][0] if rows else None


def _range(fig: Figure) -> dict[str, str]:
    return {"a": fig.period_from.isoformat(), "b": fig.period_to.isoformat()}


_BETWEEN = "first_day = {a:Date}, last_day = {b:Date}"


def _scope_filter(scope: str) -> tuple[str, dict[str, str]]:
    """The WHERE clause over v_programme_digital_between that selects a figure's scope."""
    if scope == "national":
        return "1", {}
    kind, _, value = scope.partition(":")
    if kind == "administration":
        return "programme_entity = {pe:String}", {"pe": f"admin:{value}"}
    if kind == "service":
        if value.endswith("*"):
            return "startsWith(service, {sp:String})", {"sp": value[:-1]}
        return "service = {sp:String}", {"sp": value}
    raise ValueError(f"unknown scope {scope!r}")


def _digital_transactions(client: Client, fig: Figure) -> Decimal:
    where, params = _scope_filter(fig.scope)
    total = _scalar(client, f"SELECT sum(transactions) FROM v_programme_digital_between({_BETWEEN}) "
                            f"WHERE {where}", **_range(fig), **params)
    return Decimal(int(total or 0))


def _programme_entities(client: Client, fig: Figure) -> Decimal:
    count = _scalar(client, f"SELECT uniqExact(programme_entity) FROM "
                            f"v_programme_digital_between({_BETWEEN}) WHERE transactions > 0",
                    **_range(fig))
    return Decimal(int(count or 0))


def _new_services_digitised(client: Client, fig: Figure) -> Decimal:
    kind, _, governorate = fig.scope.partition(":")
    if kind != "administration":
        raise ValueError(f"{fig.figure}: new services are counted per administration")
    cat = load_catalogue()
    dated = {s.code: s.digitised_on for s in cat.services.values()
             if cat.entities[s.entity].governorate == governorate and s.digitised_on is not None
             and fig.period_from <= s.digitised_on <= fig.period_to}
    if not dated:
        return Decimal(0)
    rows = client.query("SELECT service, first_digital_day FROM v_service_first_digital "
                        "WHERE has({codes:Array(String)}, service)",
                        parameters={"codes": sorted(dated)}).result_rows
    confirmed = [s for s, first in rows if dated[s] <= first <= fig.period_to]
    return Decimal(len(confirmed))


def _digital_satisfaction(client: Client, fig: Figure) -> Decimal | None:
    pct = _scalar(client, f"SELECT satisfaction_pct FROM v_satisfaction_national_between({_BETWEEN}) "
                          "WHERE mode = 'digital'", **_range(fig))
    return None if pct is None else Decimal(str(round(float(pct), 3)))


def _exchange_total(column: str) -> Callable[[Client, Figure], Decimal]:
    """A total of v_exchange_totals_between over the figure's days: items of successful
    exchanges (each exchange counted once), or the providers / consumers with at least one
    exchange. The platform's figures are national: they have no narrower scope."""
    def check(client: Client, fig: Figure) -> Decimal:
        if fig.scope != "national":
            raise ValueError(f"{fig.figure}: the platform's figures are national, not {fig.scope!r}")
        value = _scalar(client, f"SELECT {column} FROM v_exchange_totals_between({_BETWEEN})",
                        **_range(fig))
        return Decimal(int(value or 0))
    return check


CHECKS: dict[str, Callable[[Client, Figure], Decimal | None]] = {
    "exchange_items": _exchange_total("items"),
    "exchange_providers": _exchange_total("providers"),
    "exchange_consumers": _exchange_total("consumers"),
    "digital_transactions": _digital_transactions,
    "programme_entities": _programme_entities,
    "new_services_digitised": _new_services_digitised,
    "digital_satisfaction": _digital_satisfaction,
}


def audit_published(client: Client, scale: Decimal | None = None) -> PublishedAudit:
    """Every published figure whose period the store holds, counted and compared at ``scale``;
    None: the scale the store's recorded runs were simulated at (1 for real data; see
    :func:`tahawul.sinks.clickhouse.runs.stored_scale`)."""
    scale_from_store = scale is None
    if scale is None:
        scale = stored_scale(client)
    if scale <= 0:
        raise ValueError(f"scale must be > 0, got {scale}")
    first, last, completed = client.query(HELD_SQL).result_rows[0]
    held_range = (first, last) if completed else None
    x_first, x_last, x_days = client.query(EXCHANGE_HELD_SQL).result_rows[0]
    exchange_range = (x_first, x_last) if x_days else None
    checked: list[Checked] = []
    not_countable: list[Figure] = []
    not_held: list[Figure] = []
    for fig in load_published():
        days = exchange_range if fig.check.startswith("exchange_") else held_range
        held = days is not None and days[0] <= fig.period_from and fig.period_to <= days[1]
        if not fig.countable:
            # Listed when its period reaches into the store's, so a reader sees it exists.
            if held_range is not None and fig.period_from <= held_range[1] \
                    and held_range[0] <= fig.period_to:
                not_countable.append(fig)
            continue
        if not held:
            not_held.append(fig)
            continue
        if fig.check not in CHECKS:
            raise ValueError(f"{fig.figure}: unknown check {fig.check!r}")
        counted = CHECKS[fig.check](client, fig)
        checked.append(Checked(fig, fig.expected(scale), counted,
                               counted is not None and fig.holds(counted, scale)))
    return PublishedAudit(
        scale=scale,
        first_day=held_range[0] if held_range else None,
        last_day=held_range[1] if held_range else None,
        checked=tuple(checked),
        not_countable=tuple(not_countable),
        not_held=tuple(not_held),
        scale_from_store=scale_from_store,
        exchange_first_day=exchange_range[0] if exchange_range else None,
        exchange_last_day=exchange_range[1] if exchange_range else None,
    )
