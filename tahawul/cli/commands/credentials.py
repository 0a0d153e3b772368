"""`tahawul credentials`: API keys of the gateway and signing keys, per entity."""

from __future__ import annotations

import argparse
import base64
import sys
from typing import Any

from tahawul.cli.common import EXIT_FAILED, EXIT_OK, EXIT_USAGE, print_result
from tahawul.settings import Settings


def register(sub: Any) -> None:
    p = sub.add_parser("credentials", help="issue, revoke and list per-entity gateway API keys; "
                       "create signing keys")
    cmds = p.add_subparsers(dest="credentials_command", required=True)
    issue = cmds.add_parser("issue", help="issue an API key for ENTITY (shown once)")
    issue.add_argument("entity", help="entity code the key is for (e.g. ROP)")
    issue.add_argument("--note", default="", help="who holds it, e.g. 'ROP vehicle system'")
    issue.set_defaults(handler=run_issue)
    revoke = cmds.add_parser("revoke", help="revoke an API key by its key id")
    revoke.add_argument("key_id", help="id of the key, as `credentials list` shows it")
    revoke.set_defaults(handler=run_revoke)
    lst = cmds.add_parser("list", help="list API keys (never the secrets)")
    lst.add_argument("--entity", help="only this entity's keys")
    lst.add_argument("--all", action="store_true", help="include revoked keys")
    lst.add_argument("--format", choices=("table", "csv", "json"), default="table", help="output format")
    lst.set_defaults(handler=run_list)
    sk = cmds.add_parser("signing-key", help="add a new HMAC signing key for ENTITY to the keyring "
                         "(TAHAWUL_SIGNING_KEYRING); it becomes the entity's signing key")
    sk.add_argument("entity", help="entity code to make a signing key for")
    sk.add_argument("--key-id", help="name of the key (default k1, k2, ...)")
    sk.set_defaults(handler=run_signing_key)


def _store(settings: Settings) -> Any:
    from tahawul.producers.gateway.credentials import CredentialStore, credentials_path

    return CredentialStore(credentials_path(settings.data_dir, settings.credentials_path))


def _known_entity(entity: str) -> bool:
    from tahawul.schemas.reference import load_catalogue

    if entity in load_catalogue().entities:
        return True
    print(f"unknown entity code {entity!r} (see schemas/reference_data/entities.csv)", file=sys.stderr)
    return False


def run_issue(args: argparse.Namespace, settings: Settings) -> int:
    if not _known_entity(args.entity):
        return EXIT_USAGE
    key_id, token = _store(settings).issue(args.entity, args.note)
    print(token)
    print(f"key id {key_id} for {args.entity}: give the key above to the entity's team over a "
          "secure channel; it is stored hashed and cannot be shown again", file=sys.stderr)
    return EXIT_OK


def run_revoke(args: argparse.Namespace, settings: Settings) -> int:
    if _store(settings).revoke(args.key_id):
        print(f"revoked {args.key_id}")
        return EXIT_OK
    print(f"no active key with id {args.key_id!r}", file=sys.stderr)
    return EXIT_FAILED


def run_list(args: argparse.Namespace, settings: Settings) -> int:
    rows = [(c.key_id, c.entity, c.created_at, c.revoked_at or "", c.note)
            for c in _store(settings).list(args.entity, args.all)]
    print_result(("key_id", "entity", "created_at", "revoked_at", "note"), rows, args.format)
    return EXIT_OK


def run_signing_key(args: argparse.Namespace, settings: Settings) -> int:
    from tahawul.keyring import add_signing_key
    from tahawul.schemas.signing import KeyringError

    if settings.signing_keyring is None:
        print("set TAHAWUL_SIGNING_KEYRING to the keyring file the workers read", file=sys.stderr)
        return EXIT_USAGE
    if not _known_entity(args.entity):
        return EXIT_USAGE
    try:
        key_id, key = add_signing_key(settings.signing_keyring, args.entity, args.key_id)
    except KeyringError as exc:
        print(str(exc), file=sys.stderr)
        return EXIT_USAGE
    print(f"{key_id}:{base64.b64encode(key).decode('ascii')}")
    print(f"signing key {key_id} of {args.entity} added to {settings.signing_keyring}; give the line "
          "above (key id:base64 key) to the entity's team; restart the workers to use it",
          file=sys.stderr)
    return EXIT_OK
