"""The gateway's body handling, driven at the ASGI level so that every read of the body is
seen: a 401 and an over-cap Content-Length are answered without reading a byte of it, a
chunked body is cut as soon as it passes the cap, a stalled one at the body timeout; the
cap itself fits the largest valid event; /metrics is not on the ingest app. The same
against a real process and sockets: tests/integration/test_gateway_hardening.py."""

from __future__ import annotations

import json
from collections.abc import Awaitable, Callable, Iterator, MutableMapping
from pathlib import Path
from typing import Any

import anyio
import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient

from tahawul.producers.gateway.app import EVENT_BYTES, Services, create_app, max_body_bytes
from tahawul.producers.gateway.credentials import CredentialStore
from tahawul.producers.gateway.metrics import GatewayMetrics
from tahawul.producers.gateway.ratelimit import RateLimiter
from tahawul.producers.gateway.seen import DeliveredIndex
from tahawul.schemas.event import MAX_QUANTITY, parse
from tahawul.schemas.reference import load_catalogue
from tests.unit.test_gateway_app import MemoryDelivery

Receive = Callable[[], Awaitable[dict[str, Any]]]


@pytest.fixture
def services(tmp_path: Path) -> Iterator[tuple[Services, str]]:
    svc = Services(
        credentials=CredentialStore(tmp_path / "credentials.sqlite"),
        seen=DeliveredIndex(tmp_path / "seen.sqlite"),
        delivery=MemoryDelivery(),
        limiter=RateLimiter(rate=1000.0, burst=5000),
        catalogue=load_catalogue(),
        metrics=GatewayMetrics(),
    )
    yield svc, svc.credentials.issue("ROP")[1]
    svc.seen.close()


def longest_event() -> tuple[dict[str, Any], dict[str, Any]]:
    """An event with every field at its longest: the reference data's longest codes (a
    service of its entity, the longest governorate and channel), nanosecond time with an
    offset, the longest status, the largest quantity and a satisfaction rating; and the same
    made valid (an entity of one governorate needs that one): no valid event is longer than
    the first."""
    cat = load_catalogue()
    entity, service = max(((e, s) for e, services in cat.services_by_entity.items() for s in services),
                          key=lambda pair: len(pair[0]) + len(pair[1]))
    bound = {
        "event_id": "0f8fad5b-d9cb-469f-a165-70867728950e", "schema_version": 1,
        "occurred_at": "2025-03-04T09:15:22.123456789+04:00", "entity": entity, "service": service,
        "governorate": max(cat.governorates, key=len), "channel": max(cat.channels, key=len),
        "status": "abandoned", "quantity": MAX_QUANTITY, "automated": False, "satisfaction": 5,
    }
    return bound, {**bound, "governorate": cat.entities[entity].governorate or bound["governorate"]}


def test_the_body_cap_fits_a_full_batch_of_the_largest_valid_events_pretty_printed() -> None:
    biggest, valid = longest_event()
    parse(json.dumps(valid).encode(), load_catalogue())  # the bound is that of a valid event
    batch = [biggest] * 1000
    pretty = json.dumps(batch, indent=4).encode()
    assert len(json.dumps(biggest, separators=(",", ":"))) < 400
    assert len(pretty) <= max_body_bytes(1000) == 1000 * EVENT_BYTES + 1024


async def call(app: FastAPI, headers: dict[str, str], receive: Receive) -> tuple[int, dict[str, str], bytes]:
    """One POST /v1/transactions through the ASGI interface: status, headers, body."""
    scope = {
        "type": "http", "asgi": {"version": "3.0"}, "http_version": "1.1", "method": "POST",
        "scheme": "http", "path": "/v1/transactions", "raw_path": b"/v1/transactions",
        "root_path": "", "query_string": b"", "client": ("127.0.0.1", 5000),
        "server": ("127.0.0.1", 8080),
        "headers": [(k.lower().encode(), v.encode()) for k, v in headers.items()],
    }
    sent: list[MutableMapping[str, Any]] = []

    async def send(message: MutableMapping[str, Any]) -> None:
        sent.append(message)

    await app(scope, receive, send)
    start = sent[0]
    return (start["status"], {k.decode(): v.decode() for k, v in start["headers"]},
            b"".join(m.get("body", b"") for m in sent[1:]))


async def never_read() -> dict[str, Any]:
    raise AssertionError("the body was read")


def test_unauthenticated_is_401_without_reading_the_body_and_closes(services: Any) -> None:
    svc, _ = services
    app = create_app(svc, max_batch=1000)
    for auth in ({}, {"Authorization": "Bearer tahawul_nope_nope"}):
        status, headers, body = anyio.run(call, app, {**auth, "content-length": str(15_900_000)},
                                          never_read)
        assert status == 401 and headers["connection"] == "close", body
        assert json.loads(body)["error"] == "unauthorized"


def test_authenticated_over_cap_content_length_is_413_unread(services: Any) -> None:
    svc, key = services
    app = create_app(svc, max_batch=1000)
    status, headers, body = anyio.run(
        call, app, {"Authorization": f"Bearer {key}", "content-length": str(max_body_bytes(1000) + 1)},
        never_read)
    assert (status, headers["connection"], json.loads(body)["error"]) == (413, "close", "body_too_large")
    assert svc.metrics.bodies_refused.labels("too_large", "ROP")._value.get() == 1


def test_a_chunked_body_is_cut_as_soon_as_it_passes_the_cap(services: Any) -> None:
    svc, key = services
    app = create_app(svc, max_batch=10)  # cap: 10 * 1024 + 1024 bytes
    read = 0

    async def endless() -> dict[str, Any]:
        nonlocal read
        read += 1000
        return {"type": "http.request", "body": b" " * 1000, "more_body": True}

    status, _, body = anyio.run(call, app, {"Authorization": f"Bearer {key}"}, endless)
    assert (status, json.loads(body)["error"]) == (413, "body_too_large")
    assert read == 12_000  # the first 1000 bytes past 11264, and not one chunk more


def test_a_stalled_body_is_cut_at_the_body_timeout(services: Any) -> None:
    svc, key = services
    app = create_app(svc, max_batch=1000, body_timeout=0.3)
    calls = 0

    async def stalls() -> dict[str, Any]:
        nonlocal calls
        calls += 1
        if calls == 1:
            return {"type": "http.request", "body": b"[", "more_body": True}
        await anyio.sleep_forever()
        raise AssertionError("unreachable")

    async def timed() -> tuple[float, tuple[int, dict[str, str], bytes]]:
        started = anyio.current_time()
        answer = await call(app, {"Authorization": f"Bearer {key}"}, stalls)
        return anyio.current_time() - started, answer

    elapsed, (status, headers, body) = anyio.run(timed)
    assert (status, headers["connection"], json.loads(body)["error"]) == (408, "close", "body_timeout")
    assert 0.3 <= elapsed < 5
    assert svc.metrics.bodies_refused.labels("timeout", "ROP")._value.get() == 1


def test_metrics_are_not_served_on_the_ingest_app(services: Any) -> None:
    svc, _ = services
    with TestClient(create_app(svc, max_batch=10)) as client:
        assert client.get("/metrics").status_code == 404
        assert client.get("/healthz").status_code == 200
