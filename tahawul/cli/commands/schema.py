"""`tahawul schema export`: the published JSON Schema of the event contract, or of the
control total contract (``--kind control_total``) or of exchange halves (``--kind exchange``)."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import Any

from tahawul.settings import Settings


def register(sub: Any) -> None:
    schema = sub.add_parser("schema", help="the event contract")
    schema_sub = schema.add_subparsers(dest="schema_command", required=True)
    export = schema_sub.add_parser("export", help="print or write the JSON Schema of contract v1")
    export.add_argument("--out", type=Path, help="file to write (default: standard output)")
    export.add_argument("--kind", choices=("event", "control_total", "exchange"), default="event",
                        help="which contract: events (schemas/event-v1.schema.json, the default) or "
                             "control totals (schemas/control-total-v1.schema.json) or exchange halves "
                             "(schemas/exchange-v1.schema.json)")
    export.set_defaults(handler=export_schema)


def export_schema(args: argparse.Namespace, settings: Settings) -> int:
    from tahawul.schemas.jsonschema import render, render_control_total, render_exchange

    text = {"control_total": render_control_total, "exchange": render_exchange}.get(args.kind, render)()
    if args.out:
        args.out.write_text(text, "utf-8")
    else:
        sys.stdout.write(text)
    return 0
