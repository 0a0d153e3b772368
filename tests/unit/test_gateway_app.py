"""The gateway's HTTP behaviour with an in-memory delivery (the broker path is covered by
tests/integration/test_gateway.py): auth, spoofing, limits, per-event results, OpenAPI."""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import Any

import orjson
import pytest
from fastapi.testclient import TestClient
from prometheus_client import generate_latest

from tahawul.producers.gateway.app import Services, create_app, render_openapi
from tahawul.producers.gateway.credentials import CredentialStore
from tahawul.producers.gateway.delivery import NotAcknowledged, Record, signed
from tahawul.producers.gateway.metrics import GatewayMetrics
from tahawul.producers.gateway.ratelimit import RateLimiter
from tahawul.producers.gateway.seen import DeliveredIndex
from tahawul.schemas.batch import BATCH_FORMAT, events_of
from tahawul.schemas.headers import BATCH_HEADER, SIGNATURE_HEADER
from tahawul.schemas.reference import load_catalogue
from tahawul.schemas.signing import SigningKey, Trust
from tahawul.settings import Settings
from tests.unit.factories import event

REPO = Path(__file__).resolve().parents[2]
MOH = {"entity": "MOH", "service": "MOH-PREARRIVAL-MED"}
GATEWAY_KEY = SigningKey.generate("gw", "k1")


class MemoryDelivery:
    def __init__(self) -> None:
        self.records: list[Record] = []
        self.fail = False

    def events(self) -> list[bytes]:
        """The event payloads sent, in order, out of plain and batched records alike."""
        out: list[bytes] = []
        for value, _, headers in self.records:
            fmt = dict(headers or []).get(BATCH_HEADER)
            out += [value] if fmt is None else events_of(value, fmt)
        return out

    def deliver(self, records: Sequence[Record]) -> None:
        if self.fail:
            raise NotAcknowledged("broker down")
        # Signed as KafkaDelivery signs: with the gateway's own key, over each record's value.
        self.records.extend((v, k, signed(GATEWAY_KEY, v, h)) for v, k, h in records)

    def ready(self) -> bool:
        return not self.fail

    def close(self) -> None:
        pass


@pytest.fixture
def gw(tmp_path: Path) -> Iterator[tuple[TestClient, Services, MemoryDelivery, dict[str, str]]]:
    delivery = MemoryDelivery()
    services = Services(
        credentials=CredentialStore(tmp_path / "credentials.sqlite"),
        seen=DeliveredIndex(tmp_path / "seen.sqlite"),
        delivery=delivery,
        limiter=RateLimiter(rate=1000.0, burst=50),
        catalogue=load_catalogue(),
        metrics=GatewayMetrics(),
    )
    keys = {e: services.credentials.issue(e)[1] for e in ("ROP", "MOH")}
    with TestClient(create_app(services, max_batch=20)) as client:
        yield client, services, delivery, keys
    services.seen.close()


def post(client: TestClient, body: Any, key: str | None) -> Any:
    headers = {"Authorization": f"Bearer {key}"} if key else {}
    content = body if isinstance(body, bytes) else orjson.dumps(body)
    return client.post("/v1/transactions", content=content, headers=headers)


def metric(client: TestClient, line_start: str) -> float:
    """A value of the gateway's registry (served on its own metrics port, not by the app)."""
    registry = client.app.state.services.metrics.registry  # type: ignore[attr-defined]
    for line in generate_latest(registry).decode().splitlines():
        if line.startswith(line_start + " "):
            return float(line.rsplit(" ", 1)[1])
    return 0.0


def test_a_batch_is_sent_keyed_signed_and_answered_per_event(gw: Any) -> None:
    client, _, delivery, keys = gw
    events = [event() for _ in range(3)]
    r = post(client, events, keys["ROP"])
    assert r.status_code == 200, r.text
    body = r.json()
    assert (body["accepted"], body["duplicate"], body["rejected"]) == (3, 0, 0)
    assert [x["event_id"] for x in body["results"]] == [e["event_id"] for e in events]
    assert [orjson.loads(v) for v in delivery.events()] == events
    assert {k for _, k, _ in delivery.records} == {b"ROP"}
    # The three travel as one batched record, signed as a whole with the gateway's key.
    assert len(delivery.records) == 1 and dict(delivery.records[0][2] or [])[BATCH_HEADER] == BATCH_FORMAT
    policy = Trust().with_key("gw", "k1", GATEWAY_KEY.public_bytes(), gateway=True, vouches_for=["ROP"])
    for value, _, headers in delivery.records:  # as a worker checks
        policy.check("ROP", value, dict(headers or [])[SIGNATURE_HEADER])
    # A single event (an object) works too, as a plain record; the retry of the batch is all
    # duplicates.
    assert post(client, event(), keys["ROP"]).json()["accepted"] == 1
    assert BATCH_HEADER not in dict(delivery.records[1][2] or [])
    again = post(client, events, keys["ROP"]).json()
    assert (again["accepted"], again["duplicate"]) == (0, 3)
    assert len(delivery.events()) == 4
    assert metric(client, 'tahawul_gateway_events_total{entity="ROP",outcome="duplicate"}') == 3


def test_invalid_events_are_rejected_with_the_pipeline_codes_and_the_rest_sent(gw: Any) -> None:
    client, _, delivery, keys = gw
    good = event()
    same_id_other_content = event(event_id=good["event_id"], quantity=2)
    body = [good, event(national_id="12345678"), event(service="NOPE"), "x", same_id_other_content]
    r = post(client, body, keys["ROP"])
    assert r.status_code == 422
    results = r.json()["results"]
    assert [(x["status"], x.get("code")) for x in results] == [
        ("accepted", None), ("rejected", "unknown_field"), ("rejected", "unknown_service"),
        ("rejected", "not_an_object"), ("rejected", "event_id_conflict")]
    assert "national_id" in results[1]["reason"] and "personal data" in results[1]["reason"]
    assert [orjson.loads(v) for v in delivery.events()] == [good]  # no extra field passed on
    assert metric(client, 'tahawul_gateway_rejections_total{code="unknown_field",entity="ROP"}') == 1


@pytest.mark.parametrize(("auth", "reason"), [
    (None, "missing"),
    ("thw_0123456789abcdef_" + "A" * 43, "unknown"),
    ("not-a-key", "malformed"),
])
def test_without_a_valid_key_401(gw: Any, auth: str | None, reason: str) -> None:
    client, _, delivery, _ = gw
    r = post(client, event(), auth)
    assert r.status_code == 401
    assert r.json()["error"] == "unauthorized"
    assert r.headers["www-authenticate"] == "Bearer"
    assert delivery.records == []
    assert metric(client, f'tahawul_gateway_auth_failures_total{{reason="{reason}"}}') == 1


def test_a_revoked_key_is_refused_at_once(gw: Any) -> None:
    client, services, delivery, keys = gw
    assert post(client, event(), keys["ROP"]).status_code == 200
    key_id = keys["ROP"].split("_")[1]
    assert services.credentials.revoke(key_id)
    r = post(client, event(), keys["ROP"])
    assert r.status_code == 401 and "revoked" in r.json()["message"]
    assert len(delivery.records) == 1
    assert not services.credentials.revoke(key_id)


def test_an_event_of_another_entity_refuses_the_whole_request(gw: Any) -> None:
    client, _, delivery, keys = gw
    r = post(client, [event(), event(**MOH), event()], keys["ROP"])
    assert r.status_code == 403
    assert r.json() == {"error": "foreign_entity", "events": [1], "message": (
        "this API key sends for ROP only; 1 event(s) name another entity. Nothing of this request was sent.")}
    assert delivery.records == []
    assert metric(client, 'tahawul_gateway_foreign_entity_total{entity="ROP"}') == 1
    assert metric(client, 'tahawul_gateway_requests_total{entity="ROP",status="403"}') == 1
    assert post(client, event(**MOH), keys["MOH"]).status_code == 200


def test_bad_requests_get_clear_4xx(gw: Any) -> None:
    client, _, delivery, keys = gw
    key = keys["ROP"]
    cases = [
        (b"{not json", 400, "not_json"),
        (b"[]", 400, "empty_batch"),
        (b"42", 400, "not_an_event"),
        (orjson.dumps([event() for _ in range(21)]), 413, "batch_too_large"),
        (b"[" + b" " * (20 * 16384 + 2000) + b"]", 413, "body_too_large"),
    ]
    for body, status, error in cases:
        r = post(client, body, key)
        assert (r.status_code, r.json()["error"]) == (status, error), body[:40]
    assert delivery.records == []


def test_rate_limit_per_entity_refuses_whole_requests(gw: Any) -> None:
    client, services, delivery, keys = gw
    services.limiter = RateLimiter(rate=0.001, burst=30)
    assert post(client, [event() for _ in range(20)], keys["ROP"]).status_code == 200
    r = post(client, [event() for _ in range(20)], keys["ROP"])
    assert r.status_code == 429 and int(r.headers["retry-after"]) >= 1
    assert post(client, [event(**MOH) for _ in range(20)], keys["MOH"]).status_code == 200
    assert len(delivery.events()) == 40


def test_broker_not_acknowledging_is_503_and_nothing_remembered(gw: Any) -> None:
    client, _, delivery, keys = gw
    events = [event(), event()]
    delivery.fail = True
    r = post(client, events, keys["ROP"])
    assert r.status_code == 503 and r.json()["error"] == "not_acknowledged"
    assert client.get("/readyz").status_code == 503
    delivery.fail = False
    assert post(client, events, keys["ROP"]).json()["accepted"] == 2  # the retry is not a "duplicate"
    assert client.get("/readyz").json() == {"ready": True, "checks": {"kafka": True, "credentials": True}}
    assert client.get("/healthz").json() == {"status": "ok"}


def test_committed_openapi_document_is_what_the_app_generates() -> None:
    default_batch = Settings.model_fields["gateway_max_batch"].default
    committed = (REPO / "schemas" / "gateway-openapi.json").read_text(encoding="utf-8")
    assert committed == render_openapi(default_batch), (
        "regenerate: tahawul gateway --write-openapi schemas/gateway-openapi.json")
    doc = orjson.loads(committed)
    body = doc["paths"]["/v1/transactions"]["post"]["requestBody"]["content"]["application/json"]["schema"]
    assert body["oneOf"][1]["maxItems"] == default_batch
    assert doc["components"]["schemas"]["EventV1"]["additionalProperties"] is False
    assert "HTTPBearer" in doc["components"]["securitySchemes"]


def test_control_totals_go_through_the_same_endpoint(gw: Any) -> None:
    """Issue 17: a control total is accepted by kind beside events, checked with its own
    contract, never a duplicate (a restatement is sent again), and only for the caller's
    entity."""
    client, _, delivery, keys = gw
    total = {"kind": "control_total", "schema_version": 1, "entity": "ROP", "day": "2025-03-04",
             "service": "ROP-VEH-FIRST-REG", "channel": "portal", "completed": 12,
             "stated_at": "2025-03-05T00:00:00+04:00"}
    ev = event()
    r = post(client, [ev, total, {**total, "completed": -1}], keys["ROP"])
    assert r.status_code == 422, r.text
    body = r.json()
    assert [(x["status"], x["event_id"], x.get("code")) for x in body["results"]] == [
        ("accepted", ev["event_id"], None), ("accepted", None, None), ("rejected", None, "bad_completed")]
    assert [orjson.loads(v) for v in delivery.events()] == [ev, total]
    again = post(client, [ev, total], keys["ROP"]).json()
    assert (again["accepted"], again["duplicate"]) == (1, 1)  # the total restated, the event not
    assert post(client, total, keys["MOH"]).status_code == 403
