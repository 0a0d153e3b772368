"""`tahawul ddl`: the ClickHouse SQL a DBA reviews or applies by hand.

Prints the schema (all migrations) for a single node or, with ``--cluster``, in its ON
CLUSTER / Replicated form, or with ``--access`` the auditor roles, row policies and
quotas. deploy/clickhouse/ holds these outputs; a test keeps them current.
"""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import Any

from tahawul.settings import Settings


def register(sub: Any) -> None:
    p = sub.add_parser("ddl", help="print the ClickHouse schema or access-control SQL")
    p.add_argument("--cluster", help="ON CLUSTER / Replicated form for this cluster name")
    p.add_argument("--database", default="tahawul", help="database the access SQL grants on")
    p.add_argument("--access", action="store_true", help="auditor roles, row policies, quotas")
    p.add_argument("--out", type=Path, help="write to this file instead of stdout")
    p.set_defaults(handler=run)


def run(args: argparse.Namespace, settings: Settings) -> int:
    from tahawul.sinks.clickhouse import access, ddl

    if args.access:
        text = access.render(args.database, args.cluster)
    else:
        text = ddl.render(args.cluster, args.database)
    if args.out is None:
        print(text, end="")
    else:
        args.out.parent.mkdir(parents=True, exist_ok=True)
        args.out.write_text(text, "utf-8")
    return 0
