"""Schema DDL for a single node or a replicated cluster, from the one source: migrations.

The migration files are written for one node (plain MergeTree, no ON CLUSTER) because that
is what chDB and a single server run. For a cluster, :func:`for_cluster` rewrites each
statement mechanically: every CREATE and ALTER gets ``ON CLUSTER``, every ``MergeTree``
engine becomes its ``Replicated`` form with a ZooKeeper/Keeper path per table, and
:func:`distributed_tables` adds a ``<table>_all`` Distributed table over each raw table so
a BI tool on any node reads all replicas' shards. Views stay identical, so every published
number is the same SQL on chDB, one server and a cluster. The layout is one shard with
replicas: the exactly-once writer needs one logical store (docs/serving-model.md).
"""

from __future__ import annotations

import re

from tahawul.sinks.clickhouse.migrations import Migration, available

RAW_TABLES = ("events", "rejected", "duplicates", "counts_minute", "ingest_progress")
_CREATE = re.compile(
    r"^(CREATE\s+(?:TABLE|VIEW|MATERIALIZED\s+VIEW)\s+IF\s+NOT\s+EXISTS\s+)([\w.]+)", re.I)
_ALTER = re.compile(r"^(ALTER\s+TABLE\s+)([\w.]+)", re.I)
_ENGINE = re.compile(r"ENGINE\s*=\s*(\w*)MergeTree(?:\(([^)]*)\))?", re.I)


def _replicated(match: re.Match[str], table: str) -> str:
    kind, args = match.group(1), match.group(2)
    path = f"'/clickhouse/tables/{{shard}}/{{database}}/{table}', '{{replica}}'"
    extra = f", {args}" if args else ""
    return f"ENGINE = Replicated{kind}MergeTree({path}{extra})"


def for_cluster(statement: str, cluster: str) -> str:
    """One single-node statement rewritten for ``cluster`` (see the module docstring)."""
    on = f" ON CLUSTER '{cluster}'"
    create = _CREATE.match(statement)
    if create:
        table = create.group(2)
        out = create.group(1) + table + on + statement[create.end():]
        return _ENGINE.sub(lambda m: _replicated(m, table.split(".")[-1]), out, count=1)
    alter = _ALTER.match(statement)
    if alter:
        return alter.group(1) + alter.group(2) + on + statement[alter.end():]
    raise ValueError(f"no cluster form for statement: {statement[:80]}")


def bookkeeping_table() -> str:
    """schema_migrations, as migrations.migrate() creates it (kept in step by a test)."""
    return ("CREATE TABLE IF NOT EXISTS schema_migrations (version UInt32, name String, "
            "checksum String, applied_at DateTime64(3, 'UTC') DEFAULT now64(3)) "
            "ENGINE = MergeTree ORDER BY version")


def distributed_tables(cluster: str, database: str) -> list[str]:
    return [
        f"CREATE TABLE IF NOT EXISTS {t}_all ON CLUSTER '{cluster}' AS {t} "
        f"ENGINE = Distributed('{cluster}', '{database}', '{t}')"
        for t in RAW_TABLES
    ]


def statements(migration: Migration, cluster: str | None) -> list[str]:
    plain = migration.statements()
    return plain if cluster is None else [for_cluster(s, cluster) for s in plain]


def render(cluster: str | None = None, database: str = "tahawul") -> str:
    """The whole schema as one SQL script (what ``tahawul ddl`` prints)."""
    target = "single node" if cluster is None else f"cluster '{cluster}' (one shard, replicated)"
    out = [
        f"-- tahawul schema for a {target}. Generated from sinks/clickhouse/migrations by",
        "-- `tahawul ddl`; do not edit. `tahawul db migrate` applies the same statements",
        "-- and records them in schema_migrations.",
        "",
    ]
    book = bookkeeping_table()
    out += [(book if cluster is None else for_cluster(book, cluster)) + ";", ""]
    for migration in available():
        out.append(f"-- {migration.version:03d}_{migration.name}")
        out += [s + ";\n" for s in statements(migration, cluster)]
    if cluster is not None:
        out.append("-- Read fan-out over the replicas (BI tools may read these on any node).")
        out += [s + ";\n" for s in distributed_tables(cluster, database)]
    return "\n".join(out)
