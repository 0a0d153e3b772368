"""Topic set-up and cluster identity, through the Kafka admin API."""

from __future__ import annotations

import contextlib
import time

from kafka import KafkaAdminClient
from kafka.admin import NewTopic
from kafka.errors import KafkaError, TopicAlreadyExistsError

from tahawul.errors import Unavailable
from tahawul.settings import Settings


class KafkaUnavailable(Unavailable):
    pass


def admin(bootstrap: str, timeout: float = 10.0) -> KafkaAdminClient:
    deadline = time.monotonic() + timeout
    last: Exception | None = None
    while time.monotonic() < deadline:
        try:
            return KafkaAdminClient(bootstrap_servers=bootstrap, request_timeout_ms=10_000)
        except KafkaError as exc:
            last = exc
            time.sleep(0.2)
    raise KafkaUnavailable(f"cannot reach Kafka at {bootstrap}: {last}")


def cluster_id(bootstrap: str) -> str:
    """The cluster's id: the store keys progress by it, so offsets of another cluster (or of
    a fresh embedded broker) are never mistaken for these."""
    client = admin(bootstrap)
    try:
        return str(client.describe_cluster()["cluster_id"])
    finally:
        client.close()


def ensure_topics(bootstrap: str, settings: Settings) -> None:
    """Create tahawul's topics with the configured partition count; check existing ones.

    The validated topic needs at least as many partitions as the source topic, because a
    batch of source partition p goes to validated partition p.
    """
    client = admin(bootstrap)
    try:
        wanted = (settings.topic_transactions, settings.topic_validated, settings.topic_dead_letter)
        existing = set(client.list_topics())
        for name in wanted:
            if name not in existing:
                with contextlib.suppress(TopicAlreadyExistsError):  # created meanwhile
                    client.create_topics([NewTopic(name, settings.partitions, 1)])
        counts = {
            (t.get("name") or t.get("topic")): len(t["partitions"])
            for t in client.describe_topics([settings.topic_transactions, settings.topic_validated])
        }
        if counts[settings.topic_validated] < counts[settings.topic_transactions]:
            raise KafkaUnavailable(
                f"{settings.topic_validated} has {counts[settings.topic_validated]} partitions, "
                f"fewer than {settings.topic_transactions} ({counts[settings.topic_transactions]})"
            )
    finally:
        client.close()
