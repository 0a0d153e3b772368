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
# A dead letter's value is the redacted form of the rejected payload (schemas/redaction.py),
# never its bytes. Like Kafka Connect's dead letters it keeps the source record's timestamp,
# key (when it is a catalogue entity code) and headers: those of CARRIED_HEADERS whose value
# has the contract's form (a producer's other headers, and free text in these, could carry
# anything, so they are not copied; nor is the signature, of bytes not kept), plus these.
# The rejection's stable reason code, e.g. "unknown_service".
REASON_HEADER: Final = "tahawul-reason"
# The rejection's reason for people (at most 1,000 bytes; names the field and the rule,
# never a value of the payload).
MESSAGE_HEADER: Final = "tahawul-message"
# The partition of the transactions topic the rejected event was read from.
SOURCE_PARTITION_HEADER: Final = "tahawul-source-partition"
# The offset of the record that carried the rejected event in that partition.
SOURCE_OFFSET_HEADER: Final = "tahawul-source-offset"
# The event's position in a batched record (absent for a record of one event).
SOURCE_INDEX_HEADER: Final = "tahawul-source-index"
# The true size in bytes of the rejected payload. Absent when the record had no value.
PAYLOAD_BYTES_HEADER: Final = "tahawul-payload-bytes"
# HMAC-SHA256 (hex) of the whole rejected payload under the pipeline's redaction key
# (TAHAWUL_REDACTION_KEY): support matches it with the event its sender kept, and nobody
# without the key can test guesses of the content. (No plain SHA-256: a hash of a
# low-entropy value such as a national id is reversed by trying them all.)
PAYLOAD_HMAC_HEADER: Final = "tahawul-payload-hmac-sha256"

# Kafka Connect's dead-letter context headers (DeadLetterQueueReporter), set on every dead
# letter too, so that tools made for Connect's dead-letter queues read ours.
CONNECT_TOPIC_HEADER: Final = "__connect.errors.topic"
CONNECT_PARTITION_HEADER: Final = "__connect.errors.partition"
CONNECT_OFFSET_HEADER: Final = "__connect.errors.offset"
CONNECT_EXCEPTION_CLASS_HEADER: Final = "__connect.errors.exception.class.name"  # the reason code
CONNECT_EXCEPTION_MESSAGE_HEADER: Final = "__connect.errors.exception.message"  # the reason
# The source record's headers a dead letter carries on (see above).
# (Not the batch header: a dead letter holds one event, never a batch; SOURCE_INDEX_HEADER
# says where in its batched record the event was.)
CARRIED_HEADERS: Final = (SOURCE_HEADER, ORIGINAL_BYTES_HEADER)
