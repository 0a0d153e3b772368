"""The `tahawul` command line. Settings are built here, once, and passed down."""

from __future__ import annotations

import argparse
import importlib
import logging
import pkgutil
import sys
from collections.abc import Sequence

from pydantic import ValidationError

import tahawul.cli.commands
from tahawul.cli.common import EXIT_UNAVAILABLE, EXIT_USAGE
from tahawul.settings import Settings


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="tahawul",
        description="Count government transactions, digital versus manual, exactly.",
    )
    sub = parser.add_subparsers(dest="command", required=True)
    for info in sorted(pkgutil.iter_modules(tahawul.cli.commands.__path__), key=lambda m: m.name):
        module = importlib.import_module(f"tahawul.cli.commands.{info.name}")
        register = getattr(module, "register", None)
        if register is not None:
            register(sub)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    try:
        settings = Settings()
    except ValidationError as exc:
        print(f"invalid TAHAWUL_* settings:\n{exc}", file=sys.stderr)
        return EXIT_USAGE
    logging.basicConfig(level=settings.log_level.upper(),
                        format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    from tahawul.kafka_admin import KafkaUnavailable
    from tahawul.runtime.broker import BrokerError
    from tahawul.sinks.clickhouse.connection import StoreUnavailable

    try:
        return int(args.handler(args, settings))
    except (StoreUnavailable, KafkaUnavailable, BrokerError) as exc:
        print(f"tahawul: {exc}", file=sys.stderr)
        return EXIT_UNAVAILABLE


if __name__ == "__main__":
    sys.exit(main())
