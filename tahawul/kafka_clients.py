"""kafka-python's consumer and admin client, which leave nothing behind when a broker is away.

kafka-python 3.0 starts a client's IO thread (a selector, an epoll descriptor and a socket
pair) in the constructor, before it bootstraps; when bootstrapping fails (no broker at the
address, or not yet) the constructor raises and nothing ever stops that thread, which keeps
the half-built client alive. Every attempt to reach an absent broker left a thread and four
or five file descriptors behind: a worker's liveness check and the writer's stall check
retry for as long as an outage lasts, and `tahawul up` and the test brokers poll a starting
broker every 0.2 s, so a long outage would end in thousands of threads or in "too many open
files". These subclasses close what their constructor started when it fails, and raise the
same error. (The producer starts no thread before it bootstraps; what it opened is freed
with it.)
"""

from __future__ import annotations

import contextlib
from typing import Any

import kafka


def _close_half_built(client: Any) -> None:
    """Stop the IO thread and close the sockets a failed constructor left open."""
    inner = getattr(client, "_client", None)
    if inner is not None:
        with contextlib.suppress(Exception):
            inner.close()


class KafkaConsumer(kafka.KafkaConsumer):
    """kafka.KafkaConsumer, closed again when its constructor fails."""

    def __init__(self, *topics: str, **configs: Any) -> None:
        try:
            super().__init__(*topics, **configs)
        except BaseException:
            _close_half_built(self)
            raise


class KafkaAdminClient(kafka.KafkaAdminClient):
    """kafka.KafkaAdminClient, closed again when its constructor fails."""

    def __init__(self, **configs: Any) -> None:
        try:
            super().__init__(**configs)
        except BaseException:
            _close_half_built(self)
            raise
