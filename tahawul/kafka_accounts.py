"""Per-process Kafka accounts and the ACLs that confine them (`tahawul kafka acls`).

Each kind of tahawul process gets its own SCRAM account, allowed exactly what its job needs
and nothing else (``allow.everyone.if.no.acl.found=false`` on the brokers, so whatever is
not granted here is refused):

``producer`` (an entity's SDK or `tahawul send`, and the gateway)
    WRITE (hence DESCRIBE) on the transactions topic, which also allows the idempotent
    producer (KIP-679). It reads no topic, joins no group, writes no other topic and cannot
    change ACLs or accounts: a leaked entity password can add events under that entity's
    name (which the workers still check against its signature) and nothing more.
``worker`` (the Faust validating workers)
    READ on the transactions topic and on the worker group; WRITE on the validated and
    dead-letter topics.
``writer`` (the counting writer)
    READ on the validated topic and on the counter group; READ on the transactions topic
    as well, because the writer tells an offset gap from a hole the broker left by reading
    the source record at that offset (stream_processors/counter.py SourceProbe); it
    writes no topic.

The command runs as the administrator (the broker's super user, from the ``TAHAWUL_KAFKA_*``
settings), creates tahawul's topics, sets each account's SCRAM-SHA-512 credential from a
file holding its password (setting it again is how a password is rotated) and adds the ACLs;
running it again changes nothing that is already so. ``remove`` takes an account's
credential and every ACL naming it away (an entity leaving, a leaked password).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Final, Literal

from kafka.admin import (
    ACL,
    ACLFilter,
    ACLOperation,
    ACLPermissionType,
    ACLResourcePatternType,
    ResourcePattern,
    ResourcePatternFilter,
    ResourceType,
    ScramMechanism,
    UserScramCredentialDeletion,
    UserScramCredentialUpsertion,
)

from tahawul.kafka_admin import KafkaUnavailable, admin, ensure_topics
from tahawul.settings import Settings

Role = Literal["producer", "worker", "writer"]
ROLES: Final = ("producer", "worker", "writer")

# PBKDF2 rounds of a stored SCRAM credential: Kafka accepts 4,096 to 16,384.
SCRAM_ITERATIONS: Final = 8192


@dataclass(frozen=True, slots=True)
class Grant:
    """One allowed operation on one resource (a topic or a consumer group), by name."""

    operation: ACLOperation
    resource: ResourceType
    name: str


@dataclass(frozen=True, slots=True)
class Account:
    """A Kafka account: its name, its role and, when it is to be (re)set, its password."""

    name: str
    role: Role
    password: str | None = None

    def __repr__(self) -> str:  # the password never reaches a log line
        return f"Account({self.name!r}, {self.role!r})"


def grants(role: Role, settings: Settings) -> list[Grant]:
    """What an account of ``role`` may do (the module docstring says why)."""
    topic, group = ResourceType.TOPIC, ResourceType.GROUP
    read, write = ACLOperation.READ, ACLOperation.WRITE
    if role == "producer":
        return [Grant(write, topic, settings.topic_transactions)]
    if role == "worker":
        return [Grant(read, topic, settings.topic_transactions),
                Grant(write, topic, settings.topic_validated),
                Grant(write, topic, settings.topic_dead_letter),
                Grant(read, group, settings.worker_group)]
    if role == "writer":
        return [Grant(read, topic, settings.topic_validated),
                Grant(read, topic, settings.topic_transactions),
                Grant(read, group, settings.counter_group)]
    raise ValueError(f"unknown role {role!r}; expected one of {', '.join(ROLES)}")


def acls(account: Account, settings: Settings) -> list[ACL]:
    """The ACLs of one account: literal resources, any host, allow."""
    return [ACL(principal=f"User:{account.name}", host="*", operation=g.operation,
                permission_type=ACLPermissionType.ALLOW,
                resource_pattern=ResourcePattern(g.resource, g.name, ACLResourcePatternType.LITERAL))
            for g in grants(account.role, settings)]


@dataclass(frozen=True, slots=True)
class Applied:
    """What `apply` did: accounts whose credential was set, ACLs in force."""

    credentials_set: list[str]
    acl_count: int


def apply(settings: Settings, accounts: Iterable[Account]) -> Applied:
    """Create the topics, set the credentials given, add every account's ACLs.

    Raises :class:`~tahawul.kafka_admin.KafkaUnavailable` with the broker's reason when it
    refuses (an account that is not the super user, a password SCRAM will not take)."""
    accounts = list(accounts)
    bootstrap = settings.kafka_bootstrap()
    if bootstrap is None:
        raise KafkaUnavailable("TAHAWUL_KAFKA_URL is not set: `tahawul kafka acls` needs the cluster")
    ensure_topics(bootstrap, settings)
    client = admin(bootstrap, security=settings.kafka_security())
    try:
        upserts = [UserScramCredentialUpsertion(a.name, ScramMechanism.SCRAM_SHA_512, a.password,
                                                iterations=SCRAM_ITERATIONS)
                   for a in accounts if a.password is not None]
        if upserts:
            _check_users(client.alter_user_scram_credentials(upserts), "set the credential of")
        wanted = [acl for a in accounts for acl in acls(a, settings)]
        if wanted:
            result = client.create_acls(wanted)
            if result["failed"]:
                raise KafkaUnavailable(f"the broker refused {len(result['failed'])} ACL(s): "
                                       f"{result['failed'][0]}")
        return Applied([u.user for u in upserts], len(wanted))
    finally:
        client.close()


def remove(settings: Settings, names: Iterable[str]) -> int:
    """Take each account's SCRAM credential and every ACL naming it away; the number of ACLs
    removed. An account with no credential is not an error (removed before, or never set)."""
    names = list(names)
    bootstrap = settings.kafka_bootstrap()
    if bootstrap is None:
        raise KafkaUnavailable("TAHAWUL_KAFKA_URL is not set: `tahawul kafka acls` needs the cluster")
    client = admin(bootstrap, security=settings.kafka_security())
    try:
        filters = [ACLFilter(principal=f"User:{name}", host="*", operation=ACLOperation.ANY,
                             permission_type=ACLPermissionType.ANY,
                             resource_pattern=ResourcePatternFilter(ResourceType.ANY, None,
                                                                    ACLResourcePatternType.ANY))
                   for name in names]
        removed = sum(len(matched) for _, matched, _ in client.delete_acls(filters)) if filters else 0
        deletions = [UserScramCredentialDeletion(name, ScramMechanism.SCRAM_SHA_512) for name in names]
        if deletions:
            outcome = client.alter_user_scram_credentials(deletions)
            _check_users({u: e for u, e in outcome.items()
                          if e is not None and "not exist" not in e.lower()
                          and "no credential" not in e.lower()}, "remove the credential of")
        return removed
    finally:
        client.close()


def _check_users(outcome: Mapping[str, str | None], doing: str) -> None:
    failed = {user: error for user, error in outcome.items() if error}
    if failed:
        user, error = next(iter(failed.items()))
        raise KafkaUnavailable(f"the broker refused to {doing} {user!r}: {error}"
                               + (f" (and {len(failed) - 1} more)" if len(failed) > 1 else ""))
