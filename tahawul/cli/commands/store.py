"""`tahawul sql` and `tahawul db migrate`: the ClickHouse store."""

from __future__ import annotations

import argparse
import sys
from typing import Any

from tahawul.cli.common import EXIT_FAILED, print_result
from tahawul.settings import Settings


def register(sub: Any) -> None:
    sql = sub.add_parser("sql", help="run a query against the configured ClickHouse store")
    sql.add_argument("query", help="a ClickHouse SELECT, e.g. over v_counts_daily")
    sql.add_argument("--format", choices=("table", "csv", "json"), default="table", help="output format")
    sql.set_defaults(handler=run_sql)
    db = sub.add_parser("db", help="store administration")
    db_sub = db.add_subparsers(dest="db_command", required=True)
    db_sub.add_parser("migrate", help="apply pending schema migrations").set_defaults(handler=migrate)


def run_sql(args: argparse.Namespace, settings: Settings) -> int:
    from tahawul.sinks.clickhouse.reading import connect_for_reading

    client = connect_for_reading(settings.clickhouse_dsn())
    try:
        result = client.query(args.query)
    except Exception as exc:
        print(f"tahawul sql: query failed: {query_error(exc, args.query)}", file=sys.stderr)
        return EXIT_FAILED
    print_result(result.column_names, result.result_rows, args.format)
    return 0


def query_error(exc: Exception, query: str) -> str:
    """The server's message about a query, on one line, without what the client appended to
    the query (`` FORMAT Native``): the user sees their own query in it."""
    text = " ".join(str(exc).split())
    return text.replace(f"{' '.join(query.split())} FORMAT Native", " ".join(query.split())).replace(
        " FORMAT Native", "")


def migrate(args: argparse.Namespace, settings: Settings) -> int:
    from tahawul.sinks.clickhouse.access import apply_access
    from tahawul.sinks.clickhouse.connection import connect, redact
    from tahawul.sinks.clickhouse.migrations import migrate as apply

    dsn = settings.clickhouse_dsn()
    client = connect(dsn)
    applied = apply(client, settings.clickhouse_cluster)
    for m in applied:
        print(f"applied {m.version:03d}_{m.name}")
    print(f"{redact(dsn)}: schema up to date ({len(applied)} applied now)")
    access = apply_access(client, dsn, settings.clickhouse_cluster)
    if access is None:
        print("embedded store: server-side access SQL (auditor roles, row policies, quotas) skipped")
    else:
        print(f"access control applied ({access} statements: auditor roles, row policies, quotas)")
    return 0
