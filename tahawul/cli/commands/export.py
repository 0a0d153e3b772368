"""`tahawul export`: the published aggregates of a date range as open data files.

It only reads (an auditor's read-only account is enough), so it does not migrate: the
views come with `tahawul db migrate`, which every start-up of the pipeline also runs.
"""

from __future__ import annotations

import argparse
import sys
from datetime import date
from pathlib import Path
from typing import Any

from tahawul.cli.common import EXIT_USAGE
from tahawul.settings import Settings


def register(sub: Any) -> None:
    p = sub.add_parser("export", help="write open-data files of the published aggregates")
    p.add_argument("--from", dest="first", type=date.fromisoformat, required=True,
                   help="first day, YYYY-MM-DD")
    p.add_argument("--to", dest="last", type=date.fromisoformat, required=True, help="last day, inclusive")
    p.add_argument("--format", choices=("csv", "parquet", "json"), default="csv", help="file format")
    p.add_argument("--out", type=Path, required=True, help="directory to write into")
    p.add_argument("--min-cell", type=int, help="suppress counts below this (TAHAWUL_EXPORT_MIN_CELL)")
    p.set_defaults(handler=run)


def run(args: argparse.Namespace, settings: Settings) -> int:
    from tahawul.sinks.clickhouse.open_data import export
    from tahawul.sinks.clickhouse.reading import connect_for_reading

    if args.last < args.first:
        print("--to is before --from", file=sys.stderr)
        return EXIT_USAGE
    min_cell = args.min_cell if args.min_cell is not None else settings.export_min_cell
    if min_cell < 1:
        print("--min-cell must be at least 1", file=sys.stderr)
        return EXIT_USAGE
    client = connect_for_reading(settings.clickhouse_dsn())
    try:
        files = export(client, args.first, args.last, args.format, args.out, min_cell)
    finally:
        client.close()
    for path in files:
        print(path)
    return 0
