"""Server-side access control: the read-only auditor roles, entity row policies, quotas.

Applied by ``tahawul db migrate`` after the schema when the store is a ClickHouse server;
chDB has no users or roles, so it is skipped there. Generated rather than hand-written
because the per-entity roles and policies follow the reference catalogue and the grants
follow the views the migrations define. Every statement is idempotent (IF NOT EXISTS or
OR REPLACE; GRANT of a held privilege is a no-op), so it is re-applied on every migrate.

Roles (users are created by the DBA and granted one of them):
- ``tahawul_auditor``: SELECT on every published view, on ``events`` (the raw, counted
  events auditors trace numbers to), and on the catalogue and unit-cost tables the views
  join (public reference data). Nothing else: no rejected payloads, no writes, a read-only
  settings profile whose limits an auditor can lower but not raise, and an hourly quota.
- ``tahawul_auditor_<entity>``: the same, but row policies show only that entity's rows
  of ``events`` and ``counts_minute``, so every view it reads covers that entity alone.
- ``tahawul_dashboards``: Grafana's account (deploy/clickhouse-server/accounts.sh grants
  it). The published views and what they read with the reader's rights (ClickHouse views
  run as the invoker), and of ``rejected`` only the columns v_rejections_hourly reads
  (rejected_at, reason_code, entity): never payloads, reasons or sources.
"""

from __future__ import annotations

import re
from collections.abc import Iterable

from clickhouse_connect.driver.client import Client

from tahawul.schemas.reference import load_catalogue
from tahawul.sinks.clickhouse.connection import is_embedded
from tahawul.sinks.clickhouse.migrations import available

AUDITOR = "tahawul_auditor"
ENTITY_MARKER = "tahawul_entity_auditor"
# events: the raw counted events; counts_minute: what v_counts_daily sums; the rest are
# the public catalogue, unit costs and published figures that views join (views run with the
# reader's rights), and `runs` (profile, scale, seed of simulated runs) for the scale
# v_programme_published_digital compares at, and `control_totals` (what entities stated they
# completed, which v_completeness sets beside the counts).
READABLE_TABLES = ("events", "counts_minute", "ref_governorates", "ref_channels", "ref_entities",
                   "ref_services", "unit_costs", "ref_published", "runs", "control_totals",
                   *("exchange_counts_minute", "exchange_quality_minute"))
# Read by auditors only: the raw exchange halves (codes and counts) that `audit reconcile`
# recomputes the counted exchanges from, as `events` for transactions. The dashboards read
# the counted aggregates through the 018 views and need none of them.
AUDITOR_TABLES = ("exchanges",)
# Tables whose rows carry an entity: entity auditors see only their own rows of these.
ENTITY_TABLES = ("events", "counts_minute", "control_totals")
# The counted exchanges the views of migration 018 read (each exchange once, codes and counts;
# never the raw halves of `exchanges`): an entity auditor sees the rows it took part in, as
# provider or consumer.
# `exchanges` (the raw halves, codes and counts only) is what `audit reconcile` recomputes the
# counted exchanges from, as `events` for transactions.
PARTY_TABLES = ("exchange_counts_minute", "exchange_quality_minute", "exchanges")
DASHBOARDS = "tahawul_dashboards"
# The columns of `rejected` the dashboards' view v_rejections_hourly reads.
DASHBOARD_REJECTED_COLUMNS = ("rejected_at", "reason_code", "entity")
_VIEW = re.compile(r"CREATE\s+VIEW\s+IF\s+NOT\s+EXISTS\s+(\w+)", re.I)


def published_views() -> list[str]:
    """Every view the migrations create, in migration order (once, if one re-creates it)."""
    names: list[str] = []
    for migration in available():
        names += [m.group(1) for s in migration.statements() if (m := _VIEW.match(s))]
    return list(dict.fromkeys(names))


def entity_role(entity: str) -> str:
    return f"{AUDITOR}_" + re.sub(r"[^a-z0-9]+", "_", entity.lower()).strip("_")


def statements(database: str, cluster: str | None = None,
               entities: Iterable[str] | None = None) -> list[str]:
    on = f" ON CLUSTER '{cluster}'" if cluster else ""
    codes = sorted(entities if entities is not None else load_catalogue().entities)
    out = [f"CREATE ROLE IF NOT EXISTS {AUDITOR}{on}", f"CREATE ROLE IF NOT EXISTS {ENTITY_MARKER}{on}"]
    out += [f"GRANT{on} SELECT ON {database}.{name} TO {AUDITOR}"
            for name in (*READABLE_TABLES, *AUDITOR_TABLES, *published_views())]
    out.append(f"CREATE ROLE IF NOT EXISTS {DASHBOARDS}{on}")
    out += [f"GRANT{on} SELECT ON {database}.{name} TO {DASHBOARDS}"
            for name in (*READABLE_TABLES, *published_views())]
    out.append(f"GRANT{on} SELECT({', '.join(DASHBOARD_REJECTED_COLUMNS)}) ON {database}.rejected "
               f"TO {DASHBOARDS}")
    out.append(
        # readonly = 2 lets clients set their per-query settings (clickhouse-connect does) but
        # not readonly itself; the MAX constraints keep an auditor from raising their own
        # limits past these (docs/auditor-guide.md).
        f"CREATE SETTINGS PROFILE OR REPLACE tahawul_auditor_profile{on} SETTINGS readonly = 2, "
        "max_execution_time = 300 MAX 300, max_memory_usage = 4000000000 MAX 4000000000, "
        "max_result_rows = 10000000 MAX 10000000, max_rows_to_read = 50000000000 MAX 50000000000 "
        f"TO {AUDITOR}, {ENTITY_MARKER}"
    )
    out.append(
        f"CREATE QUOTA OR REPLACE tahawul_auditor_quota{on} KEYED BY user_name "
        "FOR INTERVAL 1 hour MAX queries = 2000, result_rows = 100000000, "
        f"read_rows = 50000000000, execution_time = 3600 TO {AUDITOR}, {ENTITY_MARKER}"
    )
    # Once a table has any row policy, users without one see no rows: everyone who is not
    # an entity auditor (the writer, full auditors, operators) keeps seeing all of events.
    out += [f"CREATE ROW POLICY OR REPLACE tahawul_all_rows{on} ON {database}.{table} FOR SELECT "
            f"USING 1 TO ALL EXCEPT {ENTITY_MARKER}" for table in (*ENTITY_TABLES, *PARTY_TABLES)]
    for code in codes:
        role = entity_role(code)
        out += [
            f"CREATE ROLE IF NOT EXISTS {role}{on}",
            f"GRANT{on} {AUDITOR}, {ENTITY_MARKER} TO {role}",
        ]
        out += [f"CREATE ROW POLICY OR REPLACE {role}{on} ON {database}.{table} FOR SELECT "
                f"USING entity = '{code}' TO {role}" for table in ENTITY_TABLES]
        out += [f"CREATE ROW POLICY OR REPLACE {role}{on} ON {database}.{table} FOR SELECT "
                f"USING provider = '{code}' OR consumer = '{code}' TO {role}" for table in PARTY_TABLES]
    return out


def render(database: str = "tahawul", cluster: str | None = None) -> str:
    head = [
        "-- Access control for auditors. Generated by `tahawul ddl --access` from the reference",
        "-- catalogue and the migrations' views; `tahawul db migrate` applies it on a server.",
        "",
    ]
    return "\n".join(head + [s + ";" for s in statements(database, cluster)]) + "\n"


def apply_access(client: Client, dsn: str, cluster: str | None = None) -> int | None:
    """Apply on a server and return the number of statements; None for chDB (skipped)."""
    if is_embedded(dsn):
        return None
    todo = statements(client.database or "default", cluster)
    for statement in todo:
        client.command(statement)
    return len(todo)
