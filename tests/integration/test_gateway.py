"""`tahawul gateway` and `tahawul credentials` as processes, in front of the real pipeline:
events posted over HTTP end up counted exactly in v_counts_daily; another entity's events,
no key, a wrong key and a revoked key are refused and nothing of them is counted."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path

import httpx
import pytest

from tahawul.runtime.local import Workers, WriterThread
from tahawul.settings import Settings
from tests.integration.gateway_support import Gateway, running_gateway
from tests.integration.producer_support import (
    event_days,
    expected_daily,
    published,
    scalar,
    tahawul,
    wait_outcomes,
)

pytestmark = pytest.mark.integration
MOH = {"entity": "MOH", "service": "MOH-PREARRIVAL-MED", "governorate": "OM-MA"}


@pytest.fixture
def gateway(settings: Settings, tmp_path: Path) -> Iterator[Gateway]:
    with running_gateway(settings, tmp_path, TAHAWUL_GATEWAY_RATE="100000",
                         TAHAWUL_GATEWAY_BURST="100000") as gw:
        yield gw


def issue(settings: Settings, entity: str) -> str:
    done = tahawul(settings, "credentials", "issue", entity, "--note", f"{entity} test system")
    assert done.returncode == 0, done.stderr
    return done.stdout.strip()


def test_gateway_counts_exactly_and_refuses_spoofing_and_revoked_keys(
    settings: Settings, workers: Workers, start_counter: Callable[[], WriterThread], gateway: Gateway
) -> None:
    workers.start()
    ct = start_counter()
    rop_key, moh_key = issue(settings, "ROP"), issue(settings, "MOH")
    rop = {"Authorization": f"Bearer {rop_key}"}
    moh = {"Authorization": f"Bearer {moh_key}"}
    client = httpx.Client(base_url=gateway.url, timeout=60)

    rop_events = event_days(400)
    moh_events = event_days(60, **MOH)
    for start in range(0, 400, 100):
        r = client.post("/v1/transactions", json=rop_events[start:start + 100], headers=rop)
        assert r.status_code == 200, r.text
        assert (r.json()["accepted"], r.json()["duplicate"], r.json()["rejected"]) == (100, 0, 0)
    for ev in moh_events[:10]:  # one event per request
        assert client.post("/v1/transactions", json=ev, headers=moh).json()["accepted"] == 1
    assert client.post("/v1/transactions", json=moh_events[10:], headers=moh).status_code == 200

    # A retried request: every event is a duplicate, nothing is sent again.
    again = client.post("/v1/transactions", json=rop_events[:100], headers=rop).json()
    assert (again["accepted"], again["duplicate"]) == (0, 100)

    # ROP's key cannot count transactions for MOH, not even hidden in a batch of its own.
    spoof = event_days(1, **MOH)[0]
    r = client.post("/v1/transactions", json=[*event_days(3), spoof], headers=rop)
    assert r.status_code == 403 and r.json()["error"] == "foreign_entity" and r.json()["events"] == [3]
    assert gateway.metric('tahawul_gateway_foreign_entity_total{entity="ROP"}') == 1

    # Fields outside the contract (personal data) are refused, the valid event still accepted.
    extra = event_days(1, civil_id="12345678")[0]
    valid = event_days(1)[0]
    r = client.post("/v1/transactions", json=[valid, extra], headers=rop)
    assert r.status_code == 422
    assert [(x["status"], x.get("code")) for x in r.json()["results"]] == [
        ("accepted", None), ("rejected", "unknown_field")]

    # No key, a wrong key: 401.
    assert client.post("/v1/transactions", json=event_days(1)[0]).status_code == 401
    wrong = {"Authorization": "Bearer " + rop_key[:-4] + "AAAA"}
    assert client.post("/v1/transactions", json=event_days(1)[0], headers=wrong).status_code == 401

    # Revoked with the CLI while the gateway runs: refused from the next request on.
    key_id = rop_key.split("_")[1]
    assert tahawul(settings, "credentials", "revoke", key_id).returncode == 0
    r = client.post("/v1/transactions", json=event_days(1)[0], headers=rop)
    assert r.status_code == 401 and "revoked" in r.json()["message"]
    listed = tahawul(settings, "credentials", "list", "--format", "csv").stdout.splitlines()
    assert len(listed) == 2 and listed[1].split(",")[1] == "MOH"
    assert gateway.metric('tahawul_gateway_requests_total{entity="ROP",status="200"}') == 5
    assert gateway.metric('tahawul_gateway_auth_failures_total{reason="revoked"}') == 1

    # Exactly what was accepted is counted: 400 + 60 + 1, no duplicate reached the pipeline.
    accepted = [*rop_events, *moh_events, valid]
    wait_outcomes(ct, counted=461, duplicates=0, rejected=0, timeout=120)
    assert published(ct.store.client) == expected_daily(accepted)
    assert scalar(ct.store.client, "SELECT count() FROM events WHERE entity = 'MOH'") == 60
    client.close()
