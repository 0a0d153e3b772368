"""The `tahawul` command line. Settings are built here, once, and passed down."""

from __future__ import annotations

import argparse
import importlib
import logging
import pkgutil
import sys
from collections.abc import Sequence

from pydantic import ValidationError

import tahawul
import tahawul.cli.commands
from tahawul.cli.common import EXIT_UNAVAILABLE, EXIT_USAGE
from tahawul.errors import Unavailable, missing_extra
from tahawul.settings import Settings


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="tahawul",
        description="Count government transactions, digital versus manual, exactly.",
    )
    parser.add_argument("--version", action="version", version=f"tahawul {tahawul.__version__}")
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
    try:
        return int(args.handler(args, settings))
    except Unavailable as exc:
        print(f"tahawul: {exc}", file=sys.stderr)
        return EXIT_UNAVAILABLE
    except ModuleNotFoundError as exc:
        extra = missing_extra(exc)
        if extra is None:
            raise
        print(f"tahawul {args.command} needs the {extra!r} extra ({exc.name} is not installed): "
              f"pip install 'tahawul[{extra}]' (or 'tahawul[server]' for every part)", file=sys.stderr)
        return EXIT_USAGE


if __name__ == "__main__":
    sys.exit(main())
