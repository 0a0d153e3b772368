"""`tahawul gateway`: the HTTP ingest gateway for systems that cannot speak Kafka."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import Any

from tahawul.cli.common import EXIT_OK, EXIT_USAGE
from tahawul.settings import Settings


def register(sub: Any) -> None:
    p = sub.add_parser("gateway", help="serve POST /v1/transactions (HTTP -> Kafka, per-entity API keys)")
    p.add_argument("--host", help="listen address (default TAHAWUL_GATEWAY_HOST)")
    p.add_argument("--port", type=int, help="listen port (default TAHAWUL_GATEWAY_PORT)")
    p.add_argument("--write-openapi", type=Path, metavar="FILE",
                   help="write the OpenAPI document to FILE and exit (schemas/gateway-openapi.json)")
    p.set_defaults(handler=gateway)


def gateway(args: argparse.Namespace, settings: Settings) -> int:
    if args.write_openapi is not None:
        from tahawul.producers.gateway.app import render_openapi

        args.write_openapi.write_text(render_openapi(settings.gateway_max_batch), encoding="utf-8")
        print(f"wrote {args.write_openapi}")
        return EXIT_OK
    bootstrap = settings.kafka_bootstrap()
    if bootstrap is None:
        print("TAHAWUL_KAFKA_URL is not set: the gateway needs the Kafka cluster to send to",
              file=sys.stderr)
        return EXIT_USAGE
    from tahawul.producers.gateway.server import serve

    return serve(settings, bootstrap, args.host or settings.gateway_host,
                 settings.gateway_port if args.port is None else args.port)
