"""Kafka record headers tahawul's producers set and its workers read (part of the wire
contract, like the payload schema; the signature header lives in schemas.signing)."""

from typing import Final

# Where a record came from, e.g. "events.jsonl:17", shown with its rejection.
SOURCE_HEADER: Final = "tahawul-source"
# Set when a producer had to cut a payload too large for Kafka: the original size in bytes.
# Such a record is rejected as too large, as it would have been whole.
ORIGINAL_BYTES_HEADER: Final = "tahawul-original-bytes"
