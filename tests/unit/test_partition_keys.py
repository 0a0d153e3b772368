"""Record keys spread one entity's records over the partitions while copies of an event share
one key; signers still find the entity in the key; the SDK packs spooled events into records
within the batch limits."""

from __future__ import annotations

from pathlib import Path

import orjson

from tahawul.producers.gateway.delivery import spread
from tahawul.producers.partition_keys import batch_key, entity_of, key_of, payload_key
from tahawul.producers.sdk.spool import Entry
from tahawul.schemas.batch import BATCH_FORMAT, MAX_BATCH_BYTES
from tahawul.schemas.control_total import parse_either
from tahawul.schemas.event import parse
from tahawul.schemas.headers import BATCH_HEADER
from tahawul.schemas.reference import load_catalogue
from tahawul.schemas.signing import Signers, SigningKey, Trust
from tahawul.sdk import Producer
from tests.unit.factories import payload

ID = "7d2f0a4e-7c1b-4b6e-9d8a-0c5e4f7a1b23"


def test_a_lone_event_is_keyed_by_entity_and_event_id_and_its_copies_share_the_key() -> None:
    data = payload(event_id=ID)
    assert payload_key(data) == f"ROP/{ID}".encode()
    assert key_of(parse(data, load_catalogue())) == f"ROP/{ID}".encode()
    assert payload_key(payload(event_id=ID, channel="kiosk")) == payload_key(data)  # a reuse too
    assert payload_key(payload()) != payload_key(data)  # another event of ROP: another key
    # What cannot be read keeps what it can: the entity alone, or no key (any partition).
    assert payload_key(orjson.dumps({"entity": "ROP"})) == b"ROP"
    assert payload_key(b"{broken") is None and payload_key(b"[1]") is None
    assert payload_key(orjson.dumps({"entity": "A/B", "event_id": ID})) is None


def test_a_control_total_is_keyed_by_its_cell() -> None:
    total = {"kind": "control_total", "schema_version": 1, "entity": "ROP", "day": "2025-03-04",
             "service": "ROP-VEH-FIRST-REG", "channel": "portal", "completed": 3,
             "stated_at": "2025-03-05T00:10:00+04:00"}
    data = orjson.dumps(total)
    key = b"ROP/totals/2025-03-04/ROP-VEH-FIRST-REG/portal"
    assert payload_key(data) == key
    assert key_of(parse_either(data, load_catalogue())) == key


def test_batches_get_keys_of_their_own_and_the_entity_stays_the_prefix() -> None:
    keys = {batch_key(b"ROP") for _ in range(100)}
    assert len(keys) == 100 and all(k is not None and k.startswith(b"ROP/batch-") for k in keys)
    assert batch_key(None) is None
    assert entity_of(b"ROP/batch-00ff") == entity_of(f"ROP/{ID}".encode()) == entity_of(b"ROP") == b"ROP"
    assert entity_of(None) is None


def test_signers_sign_with_the_entity_the_key_starts_with() -> None:
    rop = SigningKey.generate("ROP", "k1")
    trust = Trust().with_key("ROP", "k1", rop.public_bytes())
    data = payload(event_id=ID)
    for key in (b"ROP", f"ROP/{ID}".encode(), b"ROP/batch-1234"):
        header = Signers.of([rop]).sign_keyed(key, data)
        assert header is not None
        trust.check("ROP", data, header)
    assert Signers.of([rop]).sign_keyed(b"MOH/batch-1", data) is None


def test_the_gateway_rekeys_what_it_was_given_keyed_by_entity() -> None:
    data = payload(event_id=ID)
    assert spread(data, b"ROP", None) == f"ROP/{ID}".encode()
    batched = spread(data + b"\n" + payload(), b"ROP", [(BATCH_HEADER, BATCH_FORMAT)])
    assert batched is not None and batched.startswith(b"ROP/batch-")
    # A payload naming another entity than its key keeps the key (the worker judges it).
    assert spread(payload(event_id=ID, entity="MOH"), b"ROP", None) == b"ROP"


def test_sdk_packs_spooled_events_into_records_within_the_limits(tmp_path: Path) -> None:
    key = SigningKey.generate("ROP", "k1")
    producer = Producer("127.0.0.1:1", tmp_path / "spool", signing_key=key, batch_events=3)
    try:
        small = [Entry(i, b"ROP/x", b"e%d" % i) for i in range(8)]
        alone = Entry(8, b"ROP/y", b'{\n"pretty": 1}')  # cannot travel in a batch
        full, partial = producer._cut([*small[:7], alone, small[7]])
        assert [[e.seq for e in r] for r in full] == [[0, 1, 2], [3, 4, 5], [6], [8]]
        assert [e.seq for e in partial] == [7]  # may wait batch_linger_ms for more
        big = [Entry(i, b"ROP/z", b"x" * (MAX_BATCH_BYTES // 2)) for i in range(3)]
        full, partial = producer._cut(big)
        assert [[e.seq for e in r] for r in full] == [[0], [1]] and [e.seq for e in partial] == [2]
        producer.batch_events = 1  # one record per event
        full, partial = producer._cut(small[:3])
        assert [[e.seq for e in r] for r in full] == [[0], [1], [2]] and partial == []
    finally:
        producer.close(0)
