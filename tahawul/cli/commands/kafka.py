"""`tahawul kafka acls` and `tahawul kafka remove`: per-process Kafka accounts and their ACLs."""

from __future__ import annotations

import argparse
import os
import re
import sys
from pathlib import Path
from typing import Any

from tahawul.cli.common import EXIT_OK, EXIT_USAGE
from tahawul.settings import Settings

ACCOUNT_NAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9._-]{0,63}")
MIN_PASSWORD = 16


def register(sub: Any) -> None:
    p = sub.add_parser("kafka", help="Kafka accounts and ACLs of a secured cluster (run as its admin)")
    kafka_sub = p.add_subparsers(dest="kafka_command", required=True)
    acls = kafka_sub.add_parser(
        "acls", help="create the topics, set accounts' SCRAM credentials, apply least-privilege ACLs",
        description="Connects with the TAHAWUL_KAFKA_* settings of the cluster's admin (super "
        "user). Each --producer (an entity's SDK or `tahawul send`, the gateway) may only write the "
        "transactions topic; each --worker reads it and writes the validated and dead-letter "
        "topics; each --writer reads the validated (and, to check gaps, the transactions) topic. "
        "An account whose password file is in --passwords gets its SCRAM-SHA-512 credential set "
        "(again: rotation); others keep theirs. Safe to run again.")
    acls.add_argument("--producer", action="append", default=[], metavar="ACCOUNT",
                      help="an entity's or the gateway's account (repeatable)")
    acls.add_argument("--worker", action="append", default=[], metavar="ACCOUNT",
                      help="the validating workers' account (repeatable)")
    acls.add_argument("--writer", action="append", default=[], metavar="ACCOUNT",
                      help="the counting writer's account (repeatable)")
    acls.add_argument("--passwords", type=Path, metavar="DIR",
                      help="directory with one file per account, named after it, holding its "
                      f"password (at least {MIN_PASSWORD} characters; e.g. a mounted secret)")
    acls.add_argument("--passwords-env", action="store_true",
                      help="take each account's password from the variable "
                      "TAHAWUL_KAFKA_PASSWORD_<ACCOUNT> (upper case, - and . as _), where set "
                      "(docker-compose); --passwords files take precedence")
    acls.set_defaults(handler=apply_acls)
    remove = kafka_sub.add_parser(
        "remove", help="delete accounts' SCRAM credentials and every ACL naming them")
    remove.add_argument("account", nargs="+", help="account names")
    remove.set_defaults(handler=remove_accounts)


def apply_acls(args: argparse.Namespace, settings: Settings) -> int:
    from tahawul.kafka_accounts import Account, apply

    wanted = [(name, "producer") for name in args.producer] + [
        (name, "worker") for name in args.worker] + [(name, "writer") for name in args.writer]
    if not wanted:
        print("tahawul kafka acls: name at least one --producer, --worker or --writer account",
              file=sys.stderr)
        return EXIT_USAGE
    accounts = []
    for name, role in wanted:
        if not ACCOUNT_NAME.fullmatch(name):
            print(f"tahawul kafka acls: {name!r} is not an account name (letters, digits, . _ -; "
                  "at most 64)", file=sys.stderr)
            return EXIT_USAGE
        password, source = None, ""
        if args.passwords is not None and (args.passwords / name).is_file():
            password = (args.passwords / name).read_text(encoding="utf-8").strip()
            source = str(args.passwords / name)
        elif args.passwords_env and os.environ.get(password_variable(name)):
            password, source = os.environ[password_variable(name)].strip(), password_variable(name)
        if password is not None and len(password) < MIN_PASSWORD:
            print(f"tahawul kafka acls: the password in {source} is shorter than {MIN_PASSWORD} "
                  "characters", file=sys.stderr)
            return EXIT_USAGE
        accounts.append(Account(name, role, password))  # type: ignore[arg-type]
    done = apply(settings, accounts)
    for account in accounts:
        credential = "credential set" if account.name in done.credentials_set else "credential unchanged"
        print(f"{account.name}: {account.role}, {credential}")
    print(f"{done.acl_count} ACL(s) in force for {len(accounts)} account(s)")
    return EXIT_OK


def password_variable(account: str) -> str:
    """The variable --passwords-env reads an account's password from."""
    return "TAHAWUL_KAFKA_PASSWORD_" + re.sub(r"[^A-Z0-9]", "_", account.upper())


def remove_accounts(args: argparse.Namespace, settings: Settings) -> int:
    from tahawul.kafka_accounts import remove

    removed = remove(settings, args.account)
    print(f"removed {removed} ACL(s) and the credentials of {', '.join(args.account)}")
    return EXIT_OK
