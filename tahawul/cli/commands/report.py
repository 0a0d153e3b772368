"""`tahawul report`: the national overview as a self-contained HTML page (tahawul/report)."""

from __future__ import annotations

import argparse
import sys
from datetime import UTC, date, datetime
from pathlib import Path
from typing import Any

from tahawul.cli.common import EXIT_FAILED, EXIT_OK
from tahawul.settings import Settings


def register(sub: Any) -> None:
    p = sub.add_parser("report", help="render the national overview as one HTML file (no Grafana needed)")
    p.add_argument("--out", type=Path, required=True, help="HTML file to write")
    p.add_argument("--lang", choices=("ar", "en"), default="en", help="Arabic (right to left) or English")
    p.add_argument("--from", dest="first_day", type=date.fromisoformat,
                   help="first day (default: 1 January of the last day's year)")
    p.add_argument("--to", dest="last_day", type=date.fromisoformat,
                   help="last day, whose figures are 'today' (default: the last day with data)")
    p.set_defaults(handler=run)


def run(args: argparse.Namespace, settings: Settings) -> int:
    from tahawul.report.completeness import completeness_section
    from tahawul.report.data import latest_day, overview
    from tahawul.report.exchanges import exchanges_section, latest_exchange_day
    from tahawul.report.page import render_page
    from tahawul.report.programme import programme
    from tahawul.sinks.clickhouse.reading import connect_for_reading

    client = connect_for_reading(settings.clickhouse_dsn())
    try:
        last_day = args.last_day or latest_day(client) or latest_exchange_day(client)
        if last_day is None:
            print("no completed transactions or exchanges in the store yet: nothing to report",
                  file=sys.stderr)
            return EXIT_FAILED
        first_day = args.first_day or last_day.replace(month=1, day=1)
        data = overview(client, args.lang, first_day, last_day)
        section = programme(client, first_day, last_day)
        complete = completeness_section(client, first_day, last_day)
        exchanged = exchanges_section(client, first_day, last_day)
    finally:
        client.close()
    args.out.parent.mkdir(parents=True, exist_ok=True)
    page = render_page(data, args.lang, datetime.now(UTC), section, complete, exchanged)
    args.out.write_text(page, "utf-8")
    print(f"wrote {args.out} ({first_day} to {last_day}, {args.lang})")
    return EXIT_OK
