"""Exchange halves on every producer path (issue 18): the SDK, the gateway and `tahawul
send` accept them with the pipeline's own validation; each is keyed and signed as its
reporter's; no party's credentials can send the other party's half."""

from __future__ import annotations

import io
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import orjson
import pytest
from fastapi.testclient import TestClient

from tahawul.producers.csv_events import CsvHeaderError, iter_csv
from tahawul.producers.gateway.app import Services, create_app
from tahawul.producers.gateway.credentials import CredentialStore
from tahawul.producers.gateway.metrics import GatewayMetrics
from tahawul.producers.gateway.ratelimit import RateLimiter
from tahawul.producers.gateway.seen import DeliveredIndex
from tahawul.producers.partition_keys import entity_of, key_of, payload_key
from tahawul.producers.sdk.client import encode
from tahawul.schemas.control_total import parse_either
from tahawul.schemas.event import InvalidEvent
from tahawul.schemas.exchange import Exchange
from tahawul.schemas.reference import load_catalogue
from tests.unit.test_gateway_app import MemoryDelivery

CAT = load_catalogue()
XID = "3f2504e0-4f89-41d3-9a0c-0305e82c3301"


def half(**overrides: Any) -> dict[str, Any]:
    base: dict[str, Any] = {
        "kind": "exchange", "schema_version": 1, "exchange_id": XID, "side": "provider",
        "provider": "ROP", "consumer": "MOH", "product": "ROP.person", "items": 3,
        "occurred_at": "2024-03-04T09:15:22+04:00", "outcome": "success",
    }
    base.update(overrides)
    return base


def test_a_half_is_parsed_keyed_and_signed_as_its_reporters() -> None:
    _, provider_half = encode(half(), CAT)
    _, consumer_half = encode(half(side="consumer"), CAT)
    assert isinstance(provider_half, Exchange) and isinstance(consumer_half, Exchange)
    assert (provider_half.entity, consumer_half.entity) == ("ROP", "MOH")
    assert key_of(provider_half) == f"ROP/exchange/{XID}/provider".encode()
    assert entity_of(key_of(consumer_half)) == b"MOH"
    assert payload_key(orjson.dumps(half(side="consumer"))) == key_of(consumer_half)
    with pytest.raises(InvalidEvent) as caught:
        parse_either(orjson.dumps(half(items=0)), CAT)
    assert caught.value.code == "bad_items"


def test_csv_file_of_halves() -> None:
    text = ("exchange_id,side,provider,consumer,product,items,occurred_at,outcome\n"
            f"{XID},consumer,ROP,MOH,ROP.person,4,2024-03-04T09:15:22+04:00,\n"
            f"{XID},provider,ROP,MOH,ROP.person,x,2024-03-04T09:15:22+04:00,timeout\n")
    rows = list(iter_csv(io.StringIO(text), "f.csv"))
    first = parse_either(rows[0][1], CAT)  # type: ignore[arg-type]
    assert first == Exchange(XID, "consumer", "ROP", "MOH", "ROP.person", 4,
                             datetime(2024, 3, 4, 5, 15, 22, tzinfo=UTC), "success")
    with pytest.raises(InvalidEvent) as caught:
        parse_either(rows[1][1], CAT)  # type: ignore[arg-type]
    assert caught.value.code == "wrong_type"
    with pytest.raises(CsvHeaderError):
        list(iter_csv(io.StringIO("exchange_id,side,provider,consumer,product,items,occurred_at,"
                                  "caller_phone\n"), "f.csv"))


@pytest.fixture
def gw(tmp_path: Path) -> Iterator[tuple[TestClient, MemoryDelivery, dict[str, str]]]:
    delivery = MemoryDelivery()
    services = Services(
        credentials=CredentialStore(tmp_path / "credentials.sqlite"),
        seen=DeliveredIndex(tmp_path / "seen.sqlite"), delivery=delivery,
        limiter=RateLimiter(rate=1000.0, burst=50), catalogue=CAT, metrics=GatewayMetrics())
    keys = {e: services.credentials.issue(e)[1] for e in ("ROP", "MOH")}
    with TestClient(create_app(services, max_batch=20)) as client:
        yield client, delivery, keys
    services.seen.close()


def post(client: TestClient, body: Any, key: str) -> Any:
    return client.post("/v1/transactions", content=orjson.dumps(body),
                       headers={"Authorization": f"Bearer {key}"})


def test_gateway_takes_the_callers_own_halves_only(gw: Any) -> None:
    client, delivery, keys = gw
    r = post(client, [half(), half(side="consumer", provider="MOH", consumer="ROP")], keys["ROP"])
    assert r.status_code == 200, r.text
    assert [x["status"] for x in r.json()["results"]] == ["accepted", "accepted"]
    assert len(delivery.events()) == 2
    # MOH (the consumer) cannot send ROP's (the provider's) half, nor ROP MOH's.
    for key, body in ((keys["MOH"], half()), (keys["ROP"], half(side="consumer"))):
        r = post(client, [body], key)
        assert (r.status_code, r.json()["error"]) == (403, "foreign_entity")
    assert len(delivery.events()) == 2
    r = post(client, half(outcome="exploded"), keys["ROP"])
    assert r.status_code == 422
    assert r.json()["results"][0]["code"] == "unknown_outcome"


def test_an_exchange_profile_streams_as_lines_every_feed_sends() -> None:
    from tahawul.producers.simulator import iter_simulation
    from tahawul.producers.simulator.exchanges import iter_exchanges

    halves = list(iter_exchanges("exchanges-2024", 0.0001, 7))
    lines = list(iter_simulation("exchanges-2024", 0.0001, 7, duplicate_rate=0.05, invalid_rate=0.02))
    originals = [line for line in lines if line.kind == "exchange"]
    assert [(line.data, line.entity) for line in originals] == [(h.data, h.signer) for h in halves]
    sent = {line.data for line in originals}
    duplicates = [line for line in lines if line.kind == "duplicate"]
    assert duplicates and all(line.data in sent for line in duplicates)
    invalid = [line for line in lines if line.kind == "invalid"]
    assert invalid
    for line in invalid:
        with pytest.raises(InvalidEvent) as caught:
            parse_either(line.data, CAT)
        assert caught.value.code == "bad_items"
    for line in originals[:200]:
        half = parse_either(line.data, CAT)
        assert isinstance(half, Exchange) and half.reporter == line.entity


def test_sdk_send_exchange_spools_the_producers_own_halves_only(tmp_path: Path) -> None:
    from tahawul.producers.sdk import Producer, SigningKey

    # No broker: nothing is delivered, so the spool shows what the producer accepted.
    producer = Producer("127.0.0.1:1", tmp_path / "spool", signing_key=SigningKey.generate("MOH", "k1"),
                        fsync=False, delivery_timeout=1.0, control_totals=False)
    try:
        producer.send_exchange(XID, "consumer", "ROP", "MOH", "ROP.person", 3,
                               datetime(2024, 3, 4, 5, 15, tzinfo=UTC))
        assert producer.pending == 1
        with pytest.raises(InvalidEvent) as caught:  # the provider's half is ROP's to send
            producer.send_exchange(XID, "provider", "ROP", "MOH", "ROP.person", 3,
                                   "2024-03-04T09:15:00+04:00")
        assert caught.value.code == "signature_invalid"
        with pytest.raises(InvalidEvent) as caught:
            producer.send_exchange(XID, "consumer", "ROP", "MOH", "ROP.person", 0,
                                   "2024-03-04T09:15:00+04:00")
        assert caught.value.code == "bad_items"
        assert producer.pending == 1
    finally:
        producer.close(0.1)
