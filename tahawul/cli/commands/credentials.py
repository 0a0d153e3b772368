"""`tahawul credentials`: API keys of the gateway and signing keys, per entity."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import Any

from tahawul.cli.common import EXIT_FAILED, EXIT_OK, EXIT_USAGE, print_result
from tahawul.settings import Settings


def register(sub: Any) -> None:
    p = sub.add_parser("credentials", help="issue, revoke and list per-entity gateway API keys; "
                       "create, list and revoke Ed25519 signing keys")
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
    _register_signing(cmds)

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


def _register_signing(cmds: Any) -> None:
    trust_help = "trust file the workers read (default: TAHAWUL_SIGNING_TRUST)"
    sk = cmds.add_parser("signing-key", help="make an Ed25519 key pair for ENTITY: the public key "
                         "goes into the trust file, the private key to a file for the entity's system")
    sk.add_argument("entity", help="entity code to make a signing key for (e.g. ROP)")
    sk.add_argument("--trust", type=Path, help=trust_help)
    sk.add_argument("--out", type=Path, help="private key file to write (default ./<ENTITY>-<key id>.key)")
    sk.add_argument("--key-id", help="name of the key (default k1, k2, ...; never reused)")
    sk.set_defaults(handler=run_signing_key)
    gk = cmds.add_parser("gateway-key", help="make an Ed25519 key pair for a gateway that may "
                         "vouch for the entities it authenticates")
    gk.add_argument("gateway", help="gateway id (not an entity code), e.g. gw-muscat")
    gk.add_argument("--entities", required=True,
                    help="comma-separated entity codes the gateway may sign for, or '*' for all")
    gk.add_argument("--trust", type=Path, help=trust_help)
    gk.add_argument("--out", type=Path, help="private key file to write (default ./<GATEWAY>-<key id>.key)")
    gk.add_argument("--key-id", help="name of the key (default k1, k2, ...; never reused)")
    gk.set_defaults(handler=run_gateway_key)
    ls = cmds.add_parser("signing-keys", help="list the signing keys of the trust file (public keys only)")
    ls.add_argument("--trust", type=Path, help=trust_help)
    ls.add_argument("--format", choices=("table", "csv", "json"), default="table", help="output format")
    ls.set_defaults(handler=run_signing_keys)
    rv = cmds.add_parser("revoke-signing-key", help="revoke SIGNER's key KEY_ID in the trust file: "
                         "workers refuse events signed with it from their next batch")
    rv.add_argument("signer", help="entity code or gateway id")
    rv.add_argument("key_id", help="id of the key, as `credentials signing-keys` shows it")
    rv.add_argument("--trust", type=Path, help=trust_help)
    rv.set_defaults(handler=run_revoke_signing_key)


def _trust_path(args: argparse.Namespace, settings: Settings) -> Path | None:
    path: Path | None = args.trust or settings.signing_trust
    if path is None:
        print("name the trust file with --trust FILE or TAHAWUL_SIGNING_TRUST", file=sys.stderr)
    return path


def _create(args: argparse.Namespace, settings: Settings, signer: str,
            gateway_for: list[str] | None) -> int:
    from tahawul.keyring import create_key, load_trust_or_empty, new_key_id
    from tahawul.schemas.signing import KeyringError

    trust = _trust_path(args, settings)
    if trust is None:
        return EXIT_USAGE
    try:
        key_id = args.key_id or new_key_id(load_trust_or_empty(trust), signer)
        out = args.out or Path(f"{signer}-{key_id}.key")
        key = create_key(trust, out, signer, key_id, gateway_for)
    except KeyringError as exc:
        print(str(exc), file=sys.stderr)
        return EXIT_USAGE
    print(f"{signer} {key.key_id}: private key written to {out} (mode 0600); public key added to "
          f"{trust}. Give {out} to {signer}'s system only (TAHAWUL_SIGNING_KEYS, or the SDK's "
          "signing_key) over a secure channel; copy the trust file to the workers (read at their "
          "next batch). Earlier keys stay valid until revoked.", file=sys.stderr)
    print(out)
    return EXIT_OK


def run_signing_key(args: argparse.Namespace, settings: Settings) -> int:
    if not _known_entity(args.entity):
        return EXIT_USAGE
    return _create(args, settings, args.entity, None)


def run_gateway_key(args: argparse.Namespace, settings: Settings) -> int:
    from tahawul.schemas.reference import load_catalogue

    entities = [e.strip() for e in args.entities.split(",") if e.strip()]
    if not entities:
        print("--entities needs entity codes, or '*'", file=sys.stderr)
        return EXIT_USAGE
    if args.gateway in load_catalogue().entities:
        print(f"{args.gateway} is an entity code; give the gateway an id of its own", file=sys.stderr)
        return EXIT_USAGE
    if not all(e == "*" or _known_entity(e) for e in entities):
        return EXIT_USAGE
    return _create(args, settings, args.gateway, entities)


def run_signing_keys(args: argparse.Namespace, settings: Settings) -> int:
    import hashlib

    from tahawul.keyring import load_trust
    from tahawul.schemas.signing import KeyringError

    trust_path = _trust_path(args, settings)
    if trust_path is None:
        return EXIT_USAGE
    try:
        trust = load_trust(trust_path)
    except KeyringError as exc:
        print(str(exc), file=sys.stderr)
        return EXIT_USAGE
    rows = [(name, "gateway" if s.gateway else "entity", key_id,
             ",".join(sorted(s.vouches_for)) if s.gateway else name,
             hashlib.sha256(k.raw).hexdigest()[:16], k.revoked or "")
            for name, s in sorted(trust.signers.items()) for key_id, k in s.keys.items()]
    print_result(("signer", "kind", "key_id", "signs_for", "fingerprint", "revoked_at"), rows, args.format)
    return EXIT_OK


def run_revoke_signing_key(args: argparse.Namespace, settings: Settings) -> int:
    from tahawul.keyring import revoke_key
    from tahawul.schemas.signing import KeyringError

    trust = _trust_path(args, settings)
    if trust is None:
        return EXIT_USAGE
    try:
        revoke_key(trust, args.signer, args.key_id)
    except KeyringError as exc:
        print(str(exc), file=sys.stderr)
        return EXIT_FAILED
    print(f"revoked {args.signer} {args.key_id} in {trust}; copy it to every worker (read at its next batch)")
    return EXIT_OK
