"""Every Kafka record header tahawul sets or reads (part of the wire contract, like the
payload schema): the ones producers set on the transactions topic, and the ones the
validating worker sets on the dead-letter topic."""

from typing import Final

# --- On the transactions topic, set by producers and read by the validating worker --------
# Where a record came from, e.g. "events.jsonl:17", shown with its rejection.
SOURCE_HEADER: Final = "tahawul-source"
# Set when a producer had to cut a payload too large for Kafka: the original size in bytes.
# Such a record is rejected as too large, as it would have been whole.
ORIGINAL_BYTES_HEADER: Final = "tahawul-original-bytes"
# The format of a batched record, one record carrying many events (schemas/batch.py).
BATCH_HEADER: Final = "tahawul-batch"
# The entity's HMAC signature of the record value, "v1:<key id>:<hex>" (schemas/signing.py).
SIGNATURE_HEADER: Final = "tahawul-signature"

# --- On the dead-letter topic, set by the validating worker on each rejected event --------
# The rejection's stable reason code, e.g. "unknown_service".
REASON_HEADER: Final = "tahawul-reason"
# The rejection's reason for people (at most 1,000 bytes).
MESSAGE_HEADER: Final = "tahawul-message"
# The partition of the transactions topic the rejected event was read from.
SOURCE_PARTITION_HEADER: Final = "tahawul-source-partition"
# The offset of the record that carried the rejected event in that partition.
SOURCE_OFFSET_HEADER: Final = "tahawul-source-offset"
# The event's position in a batched record (absent for a record of one event).
SOURCE_INDEX_HEADER: Final = "tahawul-source-index"
# The true size in bytes of the rejected payload: a dead letter carries at most
# TAHAWUL_DEAD_LETTER_MAX_BYTES of it, whatever size the source broker accepted, so that
# it always fits the dead-letter producer's and broker's limits; compare with the length
# of the value to see whether it was cut. Absent when the record had no value at all.
PAYLOAD_BYTES_HEADER: Final = "tahawul-payload-bytes"
# The SHA-256 (hex) of the whole rejected payload, so that a cut dead letter can still be
# matched with the record its sender kept.
PAYLOAD_SHA256_HEADER: Final = "tahawul-payload-sha256"
