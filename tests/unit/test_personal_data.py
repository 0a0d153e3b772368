"""No personal data at rest (issue 13 item 2) and event ids per entity (item 3), without
servers: the redacted form of a rejected payload, reasons that never echo an input value,
the redaction key, and deduplication by (entity, event_id) in the counting writer and the
gateway. Through the real pipeline: tests/integration/test_personal_data.py."""

from __future__ import annotations

import base64
import hmac
import string
from pathlib import Path
from typing import Any

import orjson
import pytest
from clickhouse_connect.driver.client import Client
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from tahawul.errors import UsageError
from tahawul.kafka_admin import topic_configs
from tahawul.logs import dict_config
from tahawul.producers.csv_events import iter_csv
from tahawul.producers.gateway.app import _not_yet_delivered, _validate
from tahawul.producers.gateway.seen import DeliveredIndex
from tahawul.schemas.batch import BATCH_FORMAT
from tahawul.schemas.event import FIELDS, InvalidEvent, parse
from tahawul.schemas.headers import BATCH_HEADER, ORIGINAL_BYTES_HEADER
from tahawul.schemas.redaction import FORM, redact
from tahawul.settings import Settings
from tahawul.sinks.clickhouse import migrations
from tahawul.sinks.clickhouse.store import Store
from tahawul.stream_processors.app import dead_letter_message
from tahawul.stream_processors.counter import CountingWriter
from tahawul.stream_processors.envelope import Envelope
from tahawul.stream_processors.redaction_key import redaction_key
from tahawul.stream_processors.validation import judge_records
from tests.unit.factories import CAT, NOW, apply, envelopes, event, payload
from tests.unit.test_counter import scalar

KEY = b"unit-test-redaction-key-of-32-bytes!"
PERSONAL = {"national_id": "19870412345", "citizen_name": "Aisha Salim Al-Harthy",
            "phone": "+968 9912 3456"}


def every_text(verdicts: list[Any], dead: list[Any]) -> bytes:
    """Everything a rejection leaves anywhere: verdict rows (envelope, `rejected` table) and
    the dead letters as the worker would send them (value and headers)."""
    out = [orjson.dumps([row for _, _, row in verdicts])]
    for letter in dead:
        _, key, value, _, headers, _ = dead_letter_message("dlq", "tx", 0, letter, 256 * 1024)
        out += [value or b"", key or b""] + [n.encode() + b"=" + v for n, v in headers or []]
    return b"\n".join(out)


# ---- the redacted form -------------------------------------------------------------------


def test_a_payload_with_personal_fields_leaves_no_value_in_its_redacted_form() -> None:
    raw = payload(**PERSONAL)
    redacted = redact(raw, KEY, CAT, NOW)
    for value in PERSONAL.values():
        assert value.encode() not in redacted
    form = orjson.loads(redacted)
    assert form["redacted"] == FORM and form["bytes"] == len(raw) and form["json"] == "object"
    assert form["hmac_sha256"] == hmac.new(KEY, raw, "sha256").hexdigest()
    fields = {f["name"]: (f["type"], f["size"]) for f in form["fields"]}
    assert fields["national_id"] == ("string", len('"19870412345"'))
    assert fields["citizen_name"] == ("string", len(orjson.dumps(PERSONAL["citizen_name"])))
    # Contract values that passed their own check are kept: codes and numbers, no free text.
    assert form["kept"]["entity"] == "ROP" and form["kept"]["service"] == "ROP-VEH-FIRST-REG"
    assert set(form["kept"]) <= {f.name for f in FIELDS}
    # ... and the worker's verdict and dead letter hold nothing more.
    verdicts, dead = judge_records([(0, raw, None)], CAT, NOW, redaction_key=KEY)
    assert [row[1] for _, _, row in verdicts] == ["unknown_field"]
    text = every_text(verdicts, dead)
    for value in PERSONAL.values():
        assert value.encode() not in text


def test_a_contract_field_holding_free_text_is_not_kept() -> None:
    raw = payload(service="Aisha Salim Al-Harthy", channel="+968 9912 3456", occurred_at="Aisha",
                  quantity=10**9, event_id="Aisha-19870412345")
    form = orjson.loads(redact(raw, KEY, CAT, NOW))
    assert set(form["kept"]) == {"schema_version", "entity", "governorate", "status", "automated"}
    assert b"Aisha" not in redact(raw, KEY, CAT, NOW)


@pytest.mark.parametrize("raw", [None, b"", b"\xff\xfe national id", b"[1, 2, 3]", b'"Aisha"',
                                 b"{not json Aisha", b"x" * 100_000])
def test_anything_at_all_has_a_bounded_redacted_form_without_its_bytes(raw: bytes | None) -> None:
    redacted = redact(raw, KEY, CAT, NOW)
    form = orjson.loads(redacted)
    assert form["bytes"] == len(raw or b"") and len(redacted) < 400
    assert b"Aisha" not in redacted and b"national" not in redacted


def test_the_redacted_form_of_many_fields_is_bounded() -> None:
    wide = orjson.dumps({f"{'n' * 500}{i}": "v" * 100 for i in range(1000)})
    form = orjson.loads(redact(wide, KEY, CAT, NOW))
    assert form["fields_total"] == 1000 and len(form["fields"]) == 50
    assert all(len(f["name"]) == 64 for f in form["fields"])


# ---- reasons never echo an input value ---------------------------------------------------

MARKER = "Zq7MARKERxK"
markers = st.text(alphabet=string.ascii_letters + string.digits + " -:+.", max_size=12).map(
    lambda noise: f"{noise}{MARKER}{noise[::-1]}")
NAMES = [f.name for f in FIELDS]


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(name=st.sampled_from(NAMES), marker=markers,
       extra=st.dictionaries(st.sampled_from(["national_id", "citizen_name", "phone"]), markers,
                             max_size=2),
       batched=st.booleans())
def test_no_reason_echoes_an_input_value(name: str, marker: str, extra: dict[str, str],
                                         batched: bool) -> None:
    """Whatever field holds the marker (as a string where a code, number, time or UUID
    belongs), no reason, verdict, dead letter or redacted form carries it."""
    raw = payload(**{name: marker}, **extra)
    batch = [(0, raw + b"\n" + payload(), [(BATCH_HEADER, BATCH_FORMAT)])]
    records = batch if batched else [(0, raw, None)]
    verdicts, dead = judge_records(records, CAT, NOW, redaction_key=KEY)
    assert dead and not verdicts[0][1]
    assert MARKER.encode() not in every_text(verdicts, dead)
    # The gateway answers with the same reasons.
    results, _ = _validate(CAT, [orjson.loads(raw)])
    assert MARKER not in orjson.dumps(results).decode().replace(f'"event_id":"{marker}"', "")


@pytest.mark.parametrize("records", [
    [(0, b"{}", [(BATCH_HEADER, MARKER.encode())])],  # unknown batch format
    [(0, b"{}", [(ORIGINAL_BYTES_HEADER, MARKER.encode())])],  # a producer's cut record
    [(0, b'{"event_id": "' + MARKER.encode() + b'"', None)],  # not JSON
    [(0, orjson.dumps([MARKER]), None)],  # not an object
    [(0, orjson.dumps(event(occurred_at="2025-02-30T10:00:00+04:00", service=MARKER)), None)],
    [(0, orjson.dumps(event(occurred_at="1999-12-31T10:00:00+04:00", channel=MARKER)), None)],
    [(0, orjson.dumps(event(occurred_at="2099-12-31T10:00:00+04:00", satisfaction=MARKER)), None)],
    [(0, orjson.dumps(event(quantity=0, service=MARKER) | {"schema_version": 7}), None)],
    [(0, orjson.dumps(event(status=MARKER, satisfaction=9)), None)],
])
def test_no_rule_echoes_its_input(records: list[Any]) -> None:
    verdicts, dead = judge_records(records, CAT, NOW, redaction_key=KEY)
    assert dead
    assert MARKER.encode() not in every_text(verdicts, dead)


def test_csv_rows_are_refused_without_their_cells() -> None:
    lines = ["occurred_at,entity,service,governorate,channel,quantity\n",
             f"2025-03-04,ROP,ROP-VEH-FIRST-REG,OM-BS,counter,5,{MARKER}\n",
             f"2025-03-04,ROP,ROP-VEH-FIRST-REG,OM-BS,{MARKER},5\n"]
    out = list(iter_csv(lines, "tallies.csv"))
    assert isinstance(out[0][1], InvalidEvent) and MARKER not in out[0][1].message
    assert isinstance(out[1][1], bytes)
    with pytest.raises(InvalidEvent) as refused:
        parse(out[1][1], CAT, NOW)
    assert MARKER not in refused.value.message


# ---- the redaction key -------------------------------------------------------------------


def test_the_local_key_is_made_once_owner_only_and_a_remote_broker_needs_one(tmp_path: Path) -> None:
    local = Settings(data_dir=tmp_path, kafka_url="kafka://127.0.0.1:9092")
    key = redaction_key(local)
    assert len(key) >= 32 and redaction_key(local) == key
    assert (tmp_path / "redaction.key").stat().st_mode & 0o777 == 0o600
    remote = Settings(data_dir=tmp_path, kafka_url="kafka://kafka-1:9092",
                      kafka_security_protocol="PLAINTEXT")
    with pytest.raises(UsageError, match="TAHAWUL_REDACTION_KEY is required"):
        redaction_key(remote)
    given_key = "k" * 40
    keyed_remote = Settings(data_dir=tmp_path, kafka_url="kafka://kafka-1:9092",
                            kafka_security_protocol="PLAINTEXT", redaction_key=given_key)
    assert redaction_key(keyed_remote) == given_key.encode()
    # Every worker `tahawul up` starts hashes under the one key.
    keyed = Settings(data_dir=tmp_path, redaction_key=given_key)
    assert keyed.pipeline_env()["TAHAWUL_REDACTION_KEY"] == given_key
    with pytest.raises(UsageError, match="at least 32"):
        redaction_key(Settings(data_dir=tmp_path, redaction_key="short"))


# ---- event ids per entity ----------------------------------------------------------------


def test_another_entity_sending_an_id_first_blocks_nothing(store: Store) -> None:
    """Issue 13 item 3, as reproduced: ROP sends the ids of MOH's tally lines first; MOH's
    events are all counted, ROP's copies count as ROP's own, and neither gets a conflict."""
    counter = CountingWriter(store)
    moh = [payload(entity="MOH", service="MOH-PREARRIVAL-MED", governorate="OM-MA") for _ in range(5)]
    stolen = [payload(event_id=orjson.loads(p)["event_id"]) for p in moh]
    apply(counter, envelopes(0, 0, stolen))
    apply(counter, envelopes(0, 5, moh))
    assert scalar(store, "SELECT count() FROM events WHERE entity = 'MOH'") == 5
    assert scalar(store, "SELECT count() FROM events WHERE entity = 'ROP'") == 5
    assert scalar(store, "SELECT count() FROM rejected") == 0
    assert scalar(store, "SELECT count() FROM duplicates") == 0
    # Within one entity the id is still the idempotency key: a resend is a duplicate (of
    # MOH), other content under it a conflict whose reason names no id.
    changed = orjson.loads(moh[0]) | {"quantity": 2}
    apply(counter, envelopes(0, 10, [moh[1], orjson.dumps(changed)]))
    assert store.client.query("SELECT entity FROM duplicates").result_rows == [("MOH",)]
    rows = store.client.query("SELECT reason_code, reason, entity FROM rejected").result_rows
    assert [(r[0], r[2]) for r in rows] == [("event_id_conflict", "MOH")]
    assert orjson.loads(moh[0])["event_id"] not in rows[0][1]
    # A restarted writer rebuilds the same index from the store.
    again = CountingWriter(store)
    assert len(again.seen) == 10
    apply(again, envelopes(0, 12, [*moh, *stolen]))
    assert scalar(store, "SELECT count() FROM events") == 10
    assert scalar(store, "SELECT count() FROM duplicates") == 11


def test_the_gateway_answers_each_entity_about_its_own_events_only(tmp_path: Path) -> None:
    index = DeliveredIndex(tmp_path / "delivered.sqlite")
    mine = parse(payload(entity="MOH", service="MOH-PREARRIVAL-MED", governorate="OM-MA"), CAT)
    index.remember([(mine.event_id, mine.fingerprint(), "MOH")])
    theirs = payload(event_id=mine.event_id)  # ROP, same id, other content
    results, valid = _validate(CAT, [orjson.loads(theirs)])
    to_send = _not_yet_delivered(index, "ROP", valid, results)
    assert [r["status"] for r in results] == ["accepted"] and len(to_send) == 1
    # MOH's own resend is a duplicate, its reuse a conflict that names no id.
    again = orjson.loads(payload(entity="MOH", service="MOH-PREARRIVAL-MED", governorate="OM-MA",
                                 event_id=mine.event_id, occurred_at=mine.occurred_at.isoformat()))
    results, valid = _validate(CAT, [again, again | {"quantity": 2}])
    _not_yet_delivered(index, "MOH", valid, results)
    assert [r["status"] for r in results] == ["duplicate", "rejected"]
    assert results[1]["code"] == "event_id_conflict" and mine.event_id not in results[1]["reason"]


def test_rejections_of_envelopes_from_before_redaction_are_redacted_by_the_writer(store: Store) -> None:
    """Envelopes of versions 1 and 2 (workers of before) carry the payload's first bytes:
    the writer stores their redacted form, never the bytes."""
    raw = payload(**PERSONAL)
    old = orjson.dumps({"v": 2, "topic": "tahawul.transactions", "partition": 0, "first": 0, "last": 0,
                        "ok": [[] for _ in range(13)],
                        "bad": [[0, "unknown_field", "field(s) not in contract v1: national_id",
                                 base64.b64encode(raw).decode(), len(raw), ""]]})
    apply(CountingWriter(store), [Envelope.decode(old)])
    payload_text, entity, size = store.client.query(
        "SELECT payload, entity, payload_bytes FROM rejected").result_rows[0]
    assert (orjson.loads(payload_text)["bytes"], entity, size) == (len(raw), "ROP", len(raw))
    for value in PERSONAL.values():
        assert value not in payload_text


def test_migration_013_scrubs_rows_written_before_redaction_and_sets_their_expiry(
        ch_client: Client, monkeypatch: pytest.MonkeyPatch) -> None:
    every, sync = migrations.available(), migrations.sync_reference
    monkeypatch.setattr(migrations, "available", lambda: [m for m in every if m.version < 13])
    # (Reference data of later migrations' tables is loaded with them, at the second step.)
    monkeypatch.setattr(migrations, "sync_reference", lambda client: None)
    migrations.migrate(ch_client)
    monkeypatch.setattr(migrations, "sync_reference", sync)
    ch_client.command(
        "INSERT INTO rejected (rejected_at, reason_code, reason, payload, payload_bytes, source, "
        "src_cluster, src_topic, src_partition, src_offset) VALUES (now64(3), 'unknown_field', "
        "'field(s) not in contract v1: national_id; 19870412345', {p:String}, 10, '', 'c', 't', 0, 1)",
        parameters={"p": payload(**PERSONAL).decode()})
    monkeypatch.setattr(migrations, "available", lambda: every)
    assert 13 in [m.version for m in migrations.migrate(ch_client)]
    row = ch_client.query("SELECT payload, reason, entity, dateDiff('day', rejected_at, expires_at) "
                          "FROM rejected").result_rows[0]
    assert orjson.loads(row[0])["removed_by"] == "migration 013"
    assert "19870412345" not in row[1] and row[2] == "ROP" and row[3] == 30
    assert "TTL" in ch_client.query("SHOW CREATE TABLE rejected").result_rows[0][0]
    assert ch_client.query("SELECT entity, rejections FROM v_rejections_hourly").result_rows == [("ROP", 1)]


def test_the_dead_letter_topic_is_created_with_its_retention(tmp_path: Path) -> None:
    s = Settings(data_dir=tmp_path, dead_letter_retention_days=30)
    assert topic_configs(s, s.topic_dead_letter) == {"retention.ms": str(30 * 86_400_000)}
    assert topic_configs(s, s.topic_transactions) == {}


def test_the_kafka_clients_never_log_protocol_bytes() -> None:
    """At DEBUG, aiokafka and kafka-python print whole fetch and produce requests, record
    bytes included (seen in a worker's log by test_personal_data.py): capped at INFO."""
    for level, wire in (("DEBUG", "INFO"), ("INFO", "INFO"), ("WARNING", "WARNING")):
        config = dict_config(level, "text")
        assert config["root"]["level"] == level
        assert {config["loggers"][name]["level"] for name in ("aiokafka", "kafka")} == {wire}
