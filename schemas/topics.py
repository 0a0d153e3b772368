"""The default names of tahawul's Kafka topics (each can be changed: TAHAWUL_TOPIC_*)."""

from typing import Final

TRANSACTIONS: Final = "tahawul.transactions"
"""Contract-v1 events from the entities' systems (plain or batched records), keyed by entity."""

VALIDATED: Final = "tahawul.validated"
"""The validating workers' envelopes, one per source partition and batch, for the counting writer."""

DEAD_LETTER: Final = "tahawul.transactions.dlq"
"""Rejected payloads as they arrived, with the rejection's code and reason in headers."""
