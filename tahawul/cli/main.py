"""The `tahawul` command line. Settings are built here, once, and passed down."""

from __future__ import annotations

import argparse
import importlib
import pkgutil
import sys
from collections.abc import Sequence
from typing import TypeAlias

from pydantic import ValidationError

import tahawul
import tahawul.cli.commands
from tahawul.cli.common import EXIT_UNAVAILABLE, EXIT_USAGE
from tahawul.errors import Unavailable, UsageError, missing_extra
from tahawul.logs import configure as configure_logging
from tahawul.settings import Settings


class _Help(argparse.HelpFormatter):
    """Help that states each option's default, where it has one worth stating."""

    def _get_help_string(self, action: argparse.Action) -> str | None:
        text = action.help or ""
        if (action.option_strings and action.default is not None and action.default is not False
                and action.default != argparse.SUPPRESS and "%(default)" not in text):
            text += " (default: %(default)s)"
        return text


Subparsers: TypeAlias = "argparse._SubParsersAction[argparse.ArgumentParser]"


def _subparsers(parser: argparse.ArgumentParser) -> Subparsers | None:
    return next((a for a in parser._actions if isinstance(a, argparse._SubParsersAction)), None)


def _describe(parser: argparse.ArgumentParser) -> None:
    """Every command's --help starts with what it does (its one-line help in the list of
    commands, when it has no longer description) and states the defaults."""
    sub = _subparsers(parser)
    if sub is None:
        return
    helps = {a.dest: a.help for a in sub._choices_actions}
    for name, child in sub.choices.items():
        if child.description is None:
            child.description = helps.get(name)
        child.formatter_class = _Help
        _describe(child)


def _chosen(parser: argparse.ArgumentParser, args: argparse.Namespace) -> argparse.ArgumentParser:
    """The innermost subcommand parser the arguments chose (`tahawul audit reconcile`)."""
    sub = _subparsers(parser)
    while sub is not None:
        name = getattr(args, sub.dest, None)
        if name not in sub.choices:
            break
        parser = sub.choices[name]
        sub = _subparsers(parser)
    return parser


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="tahawul",
        description="Count government transactions, digital versus manual, exactly.",
        formatter_class=_Help,
    )
    parser.add_argument("--version", action="version", version=f"tahawul {tahawul.__version__}")
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    for info in sorted(pkgutil.iter_modules(tahawul.cli.commands.__path__), key=lambda m: m.name):
        module = importlib.import_module(f"tahawul.cli.commands.{info.name}")
        register = getattr(module, "register", None)
        if register is not None:
            register(sub)
    _describe(parser)
    return parser


def parse(argv: Sequence[str] | None = None) -> argparse.Namespace:
    """The arguments; an unknown one is reported with the usage of the subcommand it was
    given to, not the top-level usage."""
    parser = build_parser()
    args, unknown = parser.parse_known_args(argv)
    if unknown:
        _chosen(parser, args).error(f"unrecognized arguments: {' '.join(unknown)}")
    return args


def main(argv: Sequence[str] | None = None) -> int:
    args = parse(argv)
    try:
        settings = Settings()
    except ValidationError as exc:
        for error in exc.errors():
            field = "_".join(str(part) for part in error["loc"])
            message = error["msg"].removeprefix("Value error, ")
            if not field:  # a rule across settings: the message names them, never a value
                print(f"tahawul: invalid settings: {message}", file=sys.stderr)
                continue
            shown = "" if field in Settings.secret_fields() else f"={error.get('input')!r}"
            print(f"tahawul: invalid setting TAHAWUL_{field.upper()}{shown}: {message}", file=sys.stderr)
        return EXIT_USAGE
    configure_logging(settings.log_level, settings.log_format)
    try:
        return int(args.handler(args, settings))
    except Unavailable as exc:
        print(f"tahawul: {exc}", file=sys.stderr)
        return EXIT_UNAVAILABLE
    except UsageError as exc:
        print(f"tahawul {args.command}: {exc}", file=sys.stderr)
        return EXIT_USAGE
    except ModuleNotFoundError as exc:
        extra = missing_extra(exc)
        if extra is None:
            raise
        print(f"tahawul {args.command} needs the {extra!r} extra ({exc.name} is not installed): "
              f"pip install 'tahawul[{extra}]' (or 'tahawul[server]' for every part)", file=sys.stderr)
        return EXIT_USAGE


if __name__ == "__main__":
    sys.exit(main())
