"""Inputs of the producer paths without servers: CSV rows, file validation and reports, the
SDK's validation, credentials and rate limits."""

from __future__ import annotations

import csv
import math
from pathlib import Path

import orjson
import pytest

from tahawul.producers.csv_events import CsvHeaderError, iter_csv, row_event_id
from tahawul.producers.file_send import RejectionReport, send_file
from tahawul.producers.gateway.credentials import AuthError, CredentialStore
from tahawul.producers.gateway.ratelimit import RateLimiter
from tahawul.schemas.batch import events_of
from tahawul.schemas.event import parse
from tahawul.schemas.headers import BATCH_HEADER, SIGNATURE_HEADER
from tahawul.schemas.reference import load_catalogue
from tahawul.schemas.signing import Signers, SigningKey, Trust
from tahawul.sdk import BatchRejected, InvalidEvent, Producer, SpoolFull
from tests.unit.factories import event, payload

HEADER = "occurred_at,entity,service,governorate,channel,status,quantity,automated,satisfaction,event_id"


def rows(text: str, source: str = "tallies.csv") -> list[tuple[int, object]]:
    return [(n, orjson.loads(p) if isinstance(p, bytes) else p)
            for n, p in iter_csv(text.splitlines(True), source)]


def test_csv_rows_become_contract_events_with_defaults_and_tally_days() -> None:
    got = rows(HEADER + "\n"
               "2025-03-04,ROP,ROP-VEH-FIRST-REG,OM-BS,counter,,14,,,\n"
               "\n"
               "2025-03-04T09:15:00+04:00,ROP,ROP-VEH-FIRST-REG,OM-BS,portal,abandoned,1,yes,4,"
               "0F1E2D3C-0000-4000-8000-000000000001\n")
    assert got == [
        (2, {"schema_version": 1, "occurred_at": "2025-03-04T12:00:00+04:00", "entity": "ROP",
             "service": "ROP-VEH-FIRST-REG", "governorate": "OM-BS", "channel": "counter", "quantity": 14,
             "status": "completed", "event_id": row_event_id("tallies.csv", 2, "ROP")}),
        (4, {"schema_version": 1, "occurred_at": "2025-03-04T09:15:00+04:00", "entity": "ROP",
             "service": "ROP-VEH-FIRST-REG", "governorate": "OM-BS", "channel": "portal",
             "status": "abandoned", "quantity": 1, "automated": True, "satisfaction": 4,
             "event_id": "0F1E2D3C-0000-4000-8000-000000000001"}),
    ]
    catalogue = load_catalogue()
    for _, obj in got:
        parse(orjson.dumps(obj), catalogue)  # both are valid contract events


def test_row_ids_are_deterministic_per_entity_source_and_line() -> None:
    assert row_event_id("a.csv", 2, "ROP") == row_event_id("a.csv", 2, "ROP")
    assert len({row_event_id("a.csv", 2, "ROP"), row_event_id("a.csv", 3, "ROP"),
                row_event_id("b.csv", 2, "ROP")}) == 3
    # Two entities' files of the same name never share ids (issue 13 item 3: MOH's tallies
    # were blocked by ids another entity could compute and send first).
    assert row_event_id("tallies.csv", 2, "MOH") != row_event_id("tallies.csv", 2, "ROP")


@pytest.mark.parametrize(("header", "message"), [
    ("occurred_at,entity,service,governorate,channel,national_id", "national_id"),
    ("occurred_at,entity,service,channel", r"missing required column\(s\): governorate"),
    ("occurred_at,entity,service,governorate,channel,channel", "given twice: channel"),
    ("", "empty"),
])
def test_unusable_csv_headers_refuse_the_whole_file(header: str, message: str) -> None:
    with pytest.raises(CsvHeaderError, match=message):
        rows(header + "\n" if header else "")


def payload_of(path: Path, line: int) -> bytes:
    return path.read_bytes().split(b"\n")[line - 1]


def test_file_validation_reports_lines_with_pipeline_codes(tmp_path: Path) -> None:
    path = tmp_path / "events.jsonl"
    path.write_bytes(payload() + b"\n\n" + b"nope\n" + payload(channel="fax") + b"\n" + payload() + b"\n")
    sent: list[tuple[bytes, bytes, object]] = []
    report = RejectionReport(tmp_path / "report.csv")
    key = SigningKey.generate("ROP", "k1")
    result = send_file(path, "jsonl", path.name, load_catalogue(), Signers.of([key]),
                       lambda v, k, h: sent.append((v, k, h)), report)
    report.close()
    assert (result.lines, result.sent, result.rejected) == (4, 2, 2)
    assert result.codes == {"not_json": 1, "unknown_channel": 1}
    # The two valid lines travel as one batched record of ROP, signed with ROP's key, keyed
    # by a batch id of ROP's (batches spread over the partitions; partition_keys.py).
    assert len(sent) == 1 and sent[0][1].startswith(b"ROP/batch-")
    value, _, headers = sent[0]
    assert events_of(value, dict(headers or [])[BATCH_HEADER]) == [payload_of(path, 1), payload_of(path, 5)]
    trust = Trust().with_key("ROP", "k1", key.public_bytes())
    trust.check("ROP", value, dict(headers or [])[SIGNATURE_HEADER])  # as a worker checks
    with report.path.open() as fh:
        assert [(r["line"], r["code"]) for r in csv.DictReader(fh)] == [
            ("3", "not_json"), ("4", "unknown_channel")]


def test_sdk_validates_with_the_pipelines_messages_before_spooling(tmp_path: Path) -> None:
    producer = Producer("127.0.0.1:1", tmp_path / "spool", spool_max_bytes=64 * 1024,
                        signing_key=SigningKey.generate("ROP", "k1"))
    try:
        with pytest.raises(InvalidEvent) as exc:
            producer.send(event(service="ROP-NOPE"))
        assert (exc.value.code, exc.value.message) == (
            "unknown_service", "service is not a code of the reference catalogue")
        # A producer signs as its entity: an event of another would only be refused.
        with pytest.raises(InvalidEvent, match="signs as ROP") as other:
            producer.send(event(entity="MOH", service="MOH-PREARRIVAL-MED", governorate="OM-MA"))
        assert other.value.code == "signature_invalid"
        with pytest.raises(BatchRejected) as batch:
            producer.send_many([event(), event(passport="X1"), event(quantity=0)])
        assert [(r.index, r.code) for r in batch.value.rejections] == [
            (1, "unknown_field"), (2, "bad_quantity")]
        assert producer.pending == 0  # all or nothing
        # No broker at that address: events wait in the bounded spool, then it says it is full.
        n = 0
        with pytest.raises(SpoolFull, match="is full"):
            while True:
                producer.send(event())
                n += 1
        assert producer.pending == n > 100
        assert producer.flush(0.2) == n
    finally:
        assert producer.close(0) == n


def test_credentials_are_hashed_per_entity_and_revocable(tmp_path: Path) -> None:
    store = CredentialStore(tmp_path / "credentials.sqlite")
    key_id, token = store.issue("ROP", "vehicle system")
    assert token.startswith(f"thw_{key_id}_")
    assert store.authenticate(token) == ("ROP", key_id)
    raw = (tmp_path / "credentials.sqlite").read_bytes()
    assert token.split("_", 2)[2].encode() not in raw  # only the hash is stored
    with pytest.raises(AuthError) as wrong:
        store.authenticate(token[:-1] + ("A" if token[-1] != "A" else "B"))
    assert wrong.value.reason == "unknown"
    assert store.revoke(key_id)
    with pytest.raises(AuthError) as revoked:
        store.authenticate(token)
    assert revoked.value.reason == "revoked"
    assert [c.key_id for c in store.list(include_revoked=True)] == [key_id]
    assert store.list() == []


def test_rate_limiter_is_per_entity_and_refills() -> None:
    now = [0.0]
    limiter = RateLimiter(rate=10.0, burst=20, clock=lambda: now[0])
    assert limiter.take("ROP", 20) == 0.0
    assert limiter.take("ROP", 5) == pytest.approx(0.5)
    assert limiter.take("MOH", 20) == 0.0
    now[0] = 0.5
    assert limiter.take("ROP", 5) == 0.0
    assert math.isinf(limiter.take("ROP", 21))
