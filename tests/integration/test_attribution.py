"""Attribution attacks against the real pipeline (embedded broker, worker process, counting
writer, chDB store): anyone who can write to the transactions topic tries to get events
counted for an entity whose private key they do not hold. Only events signed by their own
entity, or by a gateway the trust file lets vouch for it, with an unrevoked key, count; every
other one is rejected (``signature_missing``/``signature_invalid``) and counted nowhere.

The keys are the test's dev keys (conftest: as `tahawul up` makes them), plus a gateway key
and a rotated-then-revoked ROP key made with `tahawul credentials`, as an operator would."""

from __future__ import annotations

import os
import subprocess
import sys
import uuid
from collections.abc import Callable
from pathlib import Path
from typing import Any

import orjson
import pytest
from kafka import KafkaProducer

from tahawul.keyring import dev_private_dir, load_signing_key
from tahawul.runtime.local import Workers, WriterThread, child_env
from tahawul.schemas.batch import BATCH_FORMAT, encode
from tahawul.schemas.headers import BATCH_HEADER, SIGNATURE_HEADER
from tahawul.schemas.signing import SigningKey
from tahawul.settings import Settings
from tests.integration.conftest import REPO
from tests.integration.producer_support import event_days, tahawul, wait_outcomes
from tests.integration.test_pipeline import consume_all

pytestmark = pytest.mark.integration

MOH = {"entity": "MOH", "service": "MOH-PREARRIVAL-MED", "governorate": "OM-MA"}


def one(**overrides: Any) -> dict[str, Any]:
    return event_days(1, **overrides)[0]


def counted_ids(ct: WriterThread) -> set[str]:
    rows = ct.store.client.query("SELECT toString(event_id) FROM events").result_rows
    return {str(r[0]) for r in rows}


def test_only_events_signed_by_their_entity_or_a_trusted_gateway_count(
    settings: Settings, workers: Workers, start_counter: Callable[[], WriterThread], tmp_path: Path
) -> None:
    trust = str(settings.signing_trust)
    # An operator's keys: a gateway that may vouch for ROP only, and a second ROP key that is
    # then revoked (ROP's dev key stays valid).
    made = tahawul(settings, "credentials", "gateway-key", "gw-rop", "--entities", "ROP",
                   "--trust", trust, "--out", str(tmp_path / "gw.key"))
    assert made.returncode == 0, made.stderr
    made = tahawul(settings, "credentials", "signing-key", "ROP", "--trust", trust,
                   "--out", str(tmp_path / "rop-new.key"))
    assert made.returncode == 0, made.stderr
    revoked_key = load_signing_key(tmp_path / "rop-new.key")
    done = tahawul(settings, "credentials", "revoke-signing-key", "ROP", revoked_key.key_id, "--trust", trust)
    assert done.returncode == 0, done.stderr
    listed = tahawul(settings, "credentials", "signing-keys", "--trust", trust, "--format", "csv")
    rows = [line.split(",") for line in listed.stdout.splitlines()]
    assert [r[5] != "" for r in rows if r[0] == "ROP"] == [False, True]  # dev1 valid, the new one revoked
    assert [r[1:4] for r in rows if r[0] == "gw-rop"] == [["gateway", "k1", "ROP"]]

    keys = dev_private_dir(settings.data_dir)
    rop, moh = load_signing_key(keys / "ROP.key"), load_signing_key(keys / "MOH.key")
    gateway = load_signing_key(tmp_path / "gw.key")
    workers.start()
    ct = start_counter()

    # What an attacker with write access to the topic can send, with a plain Kafka client.
    producer = KafkaProducer(bootstrap_servers=settings.kafka_bootstrap(), acks="all")
    futures = []

    def send(value: bytes, key: bytes | None, signature: bytes | None = None,
             headers: list[tuple[str, bytes]] | None = None) -> None:
        sent = [*(headers or []), *([(SIGNATURE_HEADER, signature)] if signature else [])]
        futures.append(producer.send(settings.topic_transactions, value, key, sent))

    missing: list[bytes] = []
    invalid: list[bytes] = []
    good: list[dict[str, Any]] = []
    # The attack: a record keyed ROP, naming MOH, no signature; and unsigned events
    # of three entities.
    missing.append(orjson.dumps(one(**MOH, quantity=77777)))
    send(missing[-1], b"ROP")
    third = {"entity": "MOE", "service": "MOE-SCHOOL-ENROL", "governorate": "OM-DA"}
    for fields in ({}, MOH, third):
        missing.append(orjson.dumps(one(**fields)))
        send(missing[-1], str(fields.get("entity", "ROP")).encode())
    # MOH's event signed with ROP's private key: as ROP, and under MOH's name.
    invalid.append(orjson.dumps(one(**MOH, quantity=77777)))
    send(invalid[-1], b"MOH", rop.sign(invalid[-1]))
    invalid.append(orjson.dumps(one(**MOH, quantity=77777)))
    send(invalid[-1], b"MOH", SigningKey("MOH", moh.key_id, rop.private).sign(invalid[-1]))
    # A record keyed ROP naming MOH, signed by ROP.
    invalid.append(orjson.dumps(one(**MOH)))
    send(invalid[-1], b"ROP", rop.sign(invalid[-1]))
    # A properly signed event whose payload was altered afterwards.
    original = orjson.dumps(one())
    invalid.append(original.replace(b'"quantity":1', b'"quantity":9'))
    assert invalid[-1] != original
    send(invalid[-1], b"ROP", rop.sign(original))
    # The gateway vouching for an entity it may not (MOH), and a revoked key.
    invalid.append(orjson.dumps(one(**MOH)))
    send(invalid[-1], b"MOH", gateway.sign(invalid[-1]))
    invalid.append(orjson.dumps(one()))
    send(invalid[-1], b"ROP", revoked_key.sign(invalid[-1]))
    # Properly signed: by the entity, by the gateway for ROP, a batched record signed once;
    # the first one sent twice (counted once).
    good.append(one(quantity=2))
    send(orjson.dumps(good[-1]), b"ROP", rop.sign(orjson.dumps(good[-1])))
    send(orjson.dumps(good[-1]), b"ROP", rop.sign(orjson.dumps(good[-1])))
    good.append(one(**MOH))
    send(orjson.dumps(good[-1]), b"MOH", moh.sign(orjson.dumps(good[-1])))
    good.append(one())
    send(orjson.dumps(good[-1]), b"ROP", gateway.sign(orjson.dumps(good[-1])))
    batch = event_days(20)
    value = encode([orjson.dumps(e) for e in batch])
    send(value, b"ROP", rop.sign(value), [(BATCH_HEADER, BATCH_FORMAT)])
    good += batch
    producer.flush()
    for future in futures:
        assert future.get(60).offset >= 0
    producer.close()

    wait_outcomes(ct, counted=len(good), duplicates=1, rejected=len(missing) + len(invalid), timeout=180)
    reasons = {str(code): int(n) for code, n in ct.store.client.query(
        "SELECT reason_code, count() FROM rejected GROUP BY reason_code").result_rows}
    assert reasons == {"signature_missing": len(missing), "signature_invalid": len(invalid)}
    assert counted_ids(ct) == {e["event_id"] for e in good}
    assert int(ct.store.client.query("SELECT max(quantity) FROM events").result_rows[0][0]) < 77777
    # Each rejection is dead-lettered with its reason.
    dead = consume_all(settings, settings.topic_dead_letter, len(missing) + len(invalid))
    assert sorted(dict(r.headers)["tahawul-reason"].decode() for r in dead) == sorted(
        ["signature_missing"] * len(missing) + ["signature_invalid"] * len(invalid))

    # The gateway's key revoked while the worker runs: refused from its next batch, no restart.
    done = tahawul(settings, "credentials", "revoke-signing-key", "gw-rop", "k1", "--trust", trust)
    assert done.returncode == 0, done.stderr
    late = orjson.dumps(one())
    producer = KafkaProducer(bootstrap_servers=settings.kafka_bootstrap(), acks="all")
    producer.send(settings.topic_transactions, late, b"ROP", [(SIGNATURE_HEADER, gateway.sign(late))]).get(60)
    producer.close()
    wait_outcomes(ct, counted=len(good), duplicates=1, rejected=len(missing) + len(invalid) + 1, timeout=120)
    assert orjson.loads(late)["event_id"] not in counted_ids(ct)


def test_a_worker_without_a_trust_file_refuses_to_start(settings: Settings, tmp_path: Path) -> None:
    """On a broker it did not start itself, a worker has no dev keys: no trust file, no
    worker (exit 2, one line saying how to make one). Never an unsigned mode."""
    env = {k: v for k, v in child_env(settings).items() if k != "TAHAWUL_SIGNING_TRUST"}
    assert "TAHAWUL_SIGNING_TRUST" not in os.environ or env.get("TAHAWUL_SIGNING_TRUST") is None
    done = subprocess.run([sys.executable, "-m", "tahawul", "worker"], env=env, cwd=REPO,
                          capture_output=True, text=True, timeout=120)
    assert done.returncode == 2, done.stderr
    lines = done.stderr.strip().splitlines()
    assert len(lines) == 1 and "TAHAWUL_SIGNING_TRUST" in lines[0]
    assert "tahawul credentials signing-key" in lines[0]
    env["TAHAWUL_SIGNING_TRUST"] = str(tmp_path / f"{uuid.uuid4().hex}.json")
    done = subprocess.run([sys.executable, "-m", "tahawul", "worker"], env=env, cwd=REPO,
                          capture_output=True, text=True, timeout=120)
    assert done.returncode == 2 and "does not exist" in done.stderr, done.stderr
