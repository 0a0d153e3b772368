"""Topic set-up and cluster identity, through the Kafka admin API."""

from __future__ import annotations

import contextlib
import logging
import time
from collections.abc import Iterator
from typing import Any

from kafka import TopicPartition
from kafka.admin import NewTopic
from kafka.errors import (
    KafkaError,
    SaslAuthenticationFailedError,
    TopicAlreadyExistsError,
    TopicAuthorizationFailedError,
)

from tahawul.errors import Unavailable
from tahawul.kafka_clients import KafkaAdminClient, KafkaConsumer
from tahawul.kafka_security import PLAINTEXT, KafkaSecurity
from tahawul.settings import Settings


class KafkaUnavailable(Unavailable):
    pass


def admin(bootstrap: str, timeout: float = 10.0, security: KafkaSecurity = PLAINTEXT) -> KafkaAdminClient:
    """An admin client of the cluster at ``bootstrap``, or KafkaUnavailable after ``timeout``
    seconds. While it tries, kafka-python's own connection errors are held back: a user
    who named the wrong address gets one line from us, not a screen of retries. A refused
    login or certificate is reported at once, as such: retrying would not change it."""
    deadline = time.monotonic() + timeout
    last: Exception | None = None
    options = security.client_options()
    with _held_back("kafka") as errors:
        while time.monotonic() < deadline:
            # Short attempts, so that a refusal found in the log stops the retries early.
            left_ms = max(500, min(2000, int((deadline - time.monotonic()) * 1000)))
            try:
                return KafkaAdminClient(bootstrap_servers=bootstrap, request_timeout_ms=10_000,
                                        bootstrap_timeout_ms=left_ms, reconnect_backoff_max_ms=500,
                                        **options)
            except SaslAuthenticationFailedError:
                raise KafkaUnavailable(refused_login(bootstrap, security)) from None
            except KafkaError as exc:
                last = exc
                refusal = refused(errors, bootstrap, security)
                if refusal is not None:
                    raise KafkaUnavailable(refusal) from None
                time.sleep(0.2)
    raise KafkaUnavailable(f"cannot reach Kafka at {bootstrap} ({security.describe()}) within {timeout:g} s "
                           f"({type(last).__name__ if last else 'no answer'}); is TAHAWUL_KAFKA_URL right "
                           "and the broker running?")


def refused_login(bootstrap: str, security: KafkaSecurity) -> str:
    """One line for a login the broker refused."""
    return (f"Kafka at {bootstrap} refused the login of {security.username!r} ({security.mechanism}): "
            "check TAHAWUL_KAFKA_USERNAME and TAHAWUL_KAFKA_PASSWORD")


def refused(errors: list[str], bootstrap: str, security: KafkaSecurity) -> str | None:
    """One line for what kafka-python logged as a refusal rather than an absence: a login
    the broker refused, or a broker certificate that does not verify (kafka-python reports
    both to its caller only as a broker it could not reach)."""
    for message in errors:
        if "SaslAuthenticationFailed" in message or "Authentication failed" in message:
            return refused_login(bootstrap, security)
        if "CERTIFICATE_VERIFY_FAILED" in message or "certificate verify failed" in message:
            reason = message.rpartition("certificate verify failed:")[2].split("(_ssl")[0].strip()
            return (f"the certificate of Kafka at {bootstrap} does not verify ({reason or 'refused'}): "
                    "is it signed by TAHAWUL_KAFKA_CA_FILE"
                    f"{'=' + str(security.ca_file) if security.ca_file else ''}, and does it name the "
                    "host of TAHAWUL_KAFKA_URL?")
    return None


@contextlib.contextmanager
def _held_back(logger_name: str) -> Iterator[list[str]]:
    """For the duration of a block, keep a logger's ERROR records from the console and
    collect their messages instead (the caller tells what they mean)."""
    logger = logging.getLogger(logger_name)
    collected: list[str] = []

    class Collect(logging.Handler):
        def emit(self, record: logging.LogRecord) -> None:
            collected.append(record.getMessage())

    handler = Collect(logging.ERROR)
    level, propagate = logger.level, logger.propagate
    logger.setLevel(logging.ERROR)
    logger.propagate = False
    logger.addHandler(handler)
    try:
        yield collected
    finally:
        logger.removeHandler(handler)
        logger.setLevel(level)
        logger.propagate = propagate


@contextlib.contextmanager
def quiet(logger_name: str) -> Iterator[None]:
    """Raise a logger's level to CRITICAL for the duration of a block."""
    logger = logging.getLogger(logger_name)
    level = logger.level
    logger.setLevel(logging.CRITICAL)
    try:
        yield
    finally:
        logger.setLevel(level)


def cluster_id(bootstrap: str, security: KafkaSecurity = PLAINTEXT) -> str:
    """The cluster's id: the store keys progress by it, so offsets of another cluster (or of
    a fresh embedded broker) are never mistaken for these."""
    client = admin(bootstrap, security=security)
    try:
        return str(client.describe_cluster()["cluster_id"])
    finally:
        client.close()


def topic_configs(settings: Settings, name: str) -> dict[str, str]:
    """Configuration of a topic tahawul creates: the dead-letter topic is kept
    TAHAWUL_DEAD_LETTER_RETENTION_DAYS (its records are redacted, but a rejection is of use
    only while someone can act on it); the others keep the broker's defaults."""
    if name == settings.topic_dead_letter:
        return {"retention.ms": str(int(settings.dead_letter_retention_days * 86_400_000))}
    return {}


def ensure_topics(bootstrap: str, settings: Settings) -> None:
    """Create tahawul's topics with the configured partition count; check existing ones.

    The validated topic needs at least as many partitions as the source topic, because a
    batch of source partition p goes to validated partition p.

    With ACLs, an account sees only the topics it may use and may create none: the topics
    it cannot see are left to the administrator's `tahawul kafka acls`, which creates them
    (an entity's account sees only the transactions topic), and the partition counts are
    checked by the accounts that see both topics (the workers').
    """
    client = admin(bootstrap, security=settings.kafka_security())
    try:
        wanted = (settings.topic_transactions, settings.topic_validated, settings.topic_dead_letter)
        existing = set(client.list_topics())
        for name in wanted:
            if name not in existing:
                # created meanwhile, or not this account's to see or create
                with contextlib.suppress(TopicAlreadyExistsError, TopicAuthorizationFailedError):
                    client.create_topics([NewTopic(name, settings.partitions, 1,
                                                   topic_configs=topic_configs(settings, name))])
        visible = set(client.list_topics())
        deadline = time.monotonic() + 10.0  # a topic created just now may take a moment to show
        while settings.topic_transactions not in visible and time.monotonic() < deadline:
            time.sleep(0.25)
            visible = set(client.list_topics())
        if settings.topic_transactions not in visible:  # every caller reads or writes it
            account = settings.kafka_username or "this account"
            raise KafkaUnavailable(
                f"{account} may not use the topic {settings.topic_transactions} on Kafka at {bootstrap} "
                "(or it does not exist): the administrator creates it and grants access with "
                "`tahawul kafka acls`")
        described = await_leaders(client, [name for name in wanted if name in visible])
        pair = [settings.topic_transactions, settings.topic_validated]
        if not set(pair) <= visible:
            return
        counts = {(t.get("name") or t.get("topic")): len(t["partitions"]) for t in described}
        if counts[settings.topic_validated] < counts[settings.topic_transactions]:
            raise KafkaUnavailable(
                f"{settings.topic_validated} has {counts[settings.topic_validated]} partitions, "
                f"fewer than {settings.topic_transactions} ({counts[settings.topic_transactions]})"
            )
    finally:
        client.close()


def await_leaders(client: KafkaAdminClient, topics: list[str], timeout: float = 30.0
                  ) -> list[dict[str, Any]]:
    """Wait until every partition of ``topics`` has a leader; their last description.

    Apache Kafka answers CreateTopics before the new partitions have leaders everywhere; a
    consumer that joins its group in that window is assigned no partitions of the topic
    and, with nothing to fetch, never rejoins (a counting writer was seen idle for 60 s so).
    Returns quietly after ``timeout``: the clients then retry as they would anyway."""
    deadline = time.monotonic() + timeout
    while True:
        described = client.describe_topics(topics)
        ready = len(described) == len(topics) and all(
            t.get("error_code", 0) == 0 and t["partitions"] and all(
                p.get("error_code", 0) == 0 and p.get("leader_id", p.get("leader", -1)) >= 0
                for p in t["partitions"])
            for t in described)
        if ready or time.monotonic() >= deadline:
            return described
        time.sleep(0.2)


def last_offsets(bootstrap: str, topic: str, security: KafkaSecurity = PLAINTEXT) -> dict[int, int]:
    """The offset of the last record in each partition of ``topic`` (-1: none yet).

    Found by reading forward from the end the broker reports, not by trusting that end:
    the embedded broker reports it too low after batched produces (platform notes), and a
    drain that stopped at a reported end would leave acknowledged records uncounted."""
    consumer = KafkaConsumer(bootstrap_servers=bootstrap, enable_auto_commit=False, group_id=None,
                             max_partition_fetch_bytes=8 * 1024 * 1024, fetch_max_bytes=64 * 1024 * 1024,
                             **security.client_options())
    try:
        partitions = [TopicPartition(topic, p) for p in sorted(consumer.partitions_for_topic(topic) or ())]
        ends = consumer.end_offsets(partitions)
        consumer.assign(partitions)
        last = {tp.partition: ends[tp] - 1 for tp in partitions}
        for tp in partitions:
            consumer.seek(tp, max(0, ends[tp] - 1))
        while polled := consumer.poll(timeout_ms=500, max_records=10_000):
            for tp, records in polled.items():
                last[tp.partition] = max(last[tp.partition], records[-1].offset)
        return last
    finally:
        with quiet("kafka"):  # closing cancels a metadata refresh, which it logs as an ERROR
            consumer.close()



def committed_offsets(client: KafkaAdminClient, group: str, topic: str) -> dict[int, int]:
    """A consumer group's committed offset (the next record it reads) per partition of
    ``topic`` that has one."""
    found = client.list_group_offsets(group)
    metas = found.get(group, found)  # {group: {tp: meta}} in kafka-python 3
    return {tp.partition: int(meta.offset) for tp, meta in metas.items()
            if tp.topic == topic and meta.offset is not None and meta.offset >= 0}


def group_committed(bootstrap: str, group: str, topic: str,
                    security: KafkaSecurity = PLAINTEXT) -> dict[int, int]:
    """:func:`committed_offsets` with a client of its own."""
    client = admin(bootstrap, timeout=5.0, security=security)
    try:
        return committed_offsets(client, group, topic)
    finally:
        client.close()


def group_positions(bootstrap: str, group: str, topic: str,
                    security: KafkaSecurity = PLAINTEXT) -> tuple[str, dict[int, int]]:
    """A consumer group as the broker sees it: its state and member count in words, and its
    committed offset (the next record to read) per partition of ``topic``. For saying why a
    wait takes long (whether the workers read what is not counted), never for deciding."""
    client = admin(bootstrap, timeout=5.0, security=security)
    try:
        try:
            info = client.describe_groups([group]).get(group) or {}
            state = (f"{info.get('group_state') or info.get('state') or '?'} with "
                     f"{len(info.get('members') or [])} member(s)")
        except Exception as exc:  # Tansu 0.6 answers with fields kafka-python cannot read
            state = f"state not known ({type(exc).__name__})"
        return state, committed_offsets(client, group, topic)
    finally:
        client.close()
