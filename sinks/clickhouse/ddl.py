"""Schema DDL for a single node or a replicated cluster, from the one source: migrations.

The migration files are written for one node (plain MergeTree, no ON CLUSTER) because that
is what chDB and a single server run. For a cluster, each statement is rewritten by
:func:`sinks.clickhouse.cluster.for_cluster` (``ON CLUSTER``, ``Replicated`` engines), and
:func:`distributed_tables` adds a ``<table>_all`` Distributed table over each raw table so
a BI tool on any node reads all replicas' shards. Views stay identical, so every published
number is the same SQL on chDB, one server and a cluster. The layout is one shard with
replicas: the exactly-once writer needs one logical store (docs/serving-model.md).
"""

from __future__ import annotations

from tahawul.sinks.clickhouse.cluster import for_cluster
from tahawul.sinks.clickhouse.migrations import Migration, available, bookkeeping_table

RAW_TABLES = ("events", "rejected", "duplicates", "counts_minute", "ingest_progress")


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
