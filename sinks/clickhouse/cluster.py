"""One single-node schema statement in its form for a replicated cluster.

The migration files are written for one node (plain MergeTree, no ON CLUSTER) because that
is what chDB and a single server run. For a cluster, :func:`for_cluster` rewrites each
statement mechanically: every CREATE, ALTER and DROP gets ``ON CLUSTER``, and every ``MergeTree``
engine becomes its ``Replicated`` form with a ZooKeeper/Keeper path per table. Both the
migrations (applying a statement to a cluster) and the printed DDL (sinks/clickhouse/ddl.py)
use it, so it lives apart from either.
"""

from __future__ import annotations

import re

_CREATE = re.compile(
    r"^(CREATE\s+(?:TABLE|VIEW|MATERIALIZED\s+VIEW)\s+IF\s+NOT\s+EXISTS\s+)([\w.]+)", re.I)
_ALTER = re.compile(r"^(ALTER\s+TABLE\s+)([\w.]+)", re.I)
_DROP = re.compile(r"^(DROP\s+(?:TABLE|VIEW)\s+IF\s+EXISTS\s+)([\w.]+)", re.I)
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
    alter = _ALTER.match(statement) or _DROP.match(statement)
    if alter:
        return alter.group(1) + alter.group(2) + on + statement[alter.end():]
    raise ValueError(f"no cluster form for statement: {statement[:80]}")
