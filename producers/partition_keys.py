"""The Kafka record keys producers use: they choose the partition, so they spread the load.

Keyed by entity alone, all of one entity's records land in one partition; on the real entity
mix (one entity sends 43% of the events) that partition, and so one worker, holds nearly
half of the stream and a second worker adds almost nothing (docs/performance.md). So:

- a single event is keyed ``ENTITY/<event_id>``: copies of one event (a producer's
  re-sends, an SDK's re-delivery after a crash) share a key, so they share a partition and
  keep their order, while one entity's different events spread over all partitions;
- a batched record (schemas/batch.py) is keyed ``ENTITY/batch-<random hex>``: its events
  are one entity's, but a batch is no unit that must meet any other;
- a control total is keyed ``ENTITY/totals/<day>/<service>/<channel>``: statements of one
  cell share a partition (the latest ``stated_at`` wins in any case);
- an exchange half (schemas/exchange.py) is keyed ``REPORTER/exchange/<exchange_id>/<side>``:
  its reporter (the party that signs it) first, copies of the half share a key. The two
  halves of an exchange have different reporters and may land anywhere: the writer pairs
  them over every partition.

What keeps exactness is not the partition: the one counting writer deduplicates by
(entity, event_id) over every partition (docs/exactly-once.md, "Partition keys"). The
entity stays the key's prefix, before the first ``/`` (entity codes contain none), which is
what a signer uses to pick the key to sign with (:meth:`Signers.sign_keyed`).
"""

from __future__ import annotations

import secrets
from typing import Final

import orjson

from tahawul.schemas.control_total import ControlTotal
from tahawul.schemas.event import Event
from tahawul.schemas.exchange import Exchange, claimed_reporter

SEPARATOR: Final = b"/"


def entity_of(key: bytes | None) -> bytes | None:
    """The entity code a record key names (its prefix before ``/``), or None."""
    if key is None:
        return None
    return key.partition(SEPARATOR)[0]


def event_key(entity: str, event_id: str) -> bytes:
    """The key of one event's record: copies of the event share it."""
    return f"{entity}/{event_id}".encode()


def batch_key(entity: bytes | None) -> bytes | None:
    """The key of a batched record of ``entity``'s events: its own, so batches spread."""
    if entity is None:
        return None
    return entity + b"/batch-" + secrets.token_hex(8).encode()


def exchange_key(reporter: str, exchange_id: str, side: str) -> bytes:
    """The key of one exchange half's record: copies of the half share it."""
    return f"{reporter}/exchange/{exchange_id}/{side}".encode()


def key_of(item: Event | ControlTotal | Exchange) -> bytes:
    """The key of a validated event, control total or exchange half sent alone."""
    if isinstance(item, Exchange):
        return exchange_key(item.reporter, item.exchange_id, item.side)
    if isinstance(item, ControlTotal):
        return f"{item.entity}/totals/{item.day.isoformat()}/{item.service}/{item.channel}".encode()
    return event_key(item.entity, item.event_id)


def payload_key(payload: bytes) -> bytes | None:
    """The key of a raw payload sent alone (not validated here): ``ENTITY/<event_id>`` when
    it names both as strings, ``ENTITY`` when only the entity, else None (any partition;
    the worker rejects it anyway)."""
    try:
        obj = orjson.loads(payload)
    except orjson.JSONDecodeError:
        return None
    if not isinstance(obj, dict):
        return None
    reporter = claimed_reporter(obj)
    if reporter is not None:  # an exchange half: its reporter signs it
        if "/" in reporter:
            return None
        exchange_id, side = obj.get("exchange_id"), obj.get("side")
        if isinstance(exchange_id, str) and isinstance(side, str):
            return exchange_key(reporter, exchange_id, side)
        return reporter.encode()
    entity = obj.get("entity")
    if not isinstance(entity, str) or "/" in entity:
        return None
    event_id = obj.get("event_id")
    if isinstance(event_id, str):
        return event_key(entity, event_id)
    if obj.get("kind") is not None:  # a control total: one key per cell
        parts = [obj.get(k) for k in ("day", "service", "channel")]
        if all(isinstance(p, str) for p in parts):
            return f"{entity}/totals/{parts[0]}/{parts[1]}/{parts[2]}".encode()
    return entity.encode()
