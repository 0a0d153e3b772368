"""No personal data at rest and event ids per entity, through the real pipeline (issue 13
items 2 and 3; issue 15 item 9): events carrying personal data leave no value in any column
of any ClickHouse table, in the dead-letter topic (values, keys and headers read raw) or in
the logs of the workers and the writer; dead letters carry Kafka Connect's context headers;
one entity sending another's event ids first blocks none of the other's events."""

from __future__ import annotations

import logging
import uuid
from collections.abc import Callable
from pathlib import Path
from typing import Any

import httpx
import orjson
import pytest
from kafka import KafkaProducer

from tahawul.runtime.local import Workers, WriterThread
from tahawul.schemas.batch import BATCH_FORMAT
from tahawul.schemas.headers import (
    BATCH_HEADER,
    CONNECT_EXCEPTION_CLASS_HEADER,
    CONNECT_EXCEPTION_MESSAGE_HEADER,
    CONNECT_OFFSET_HEADER,
    CONNECT_PARTITION_HEADER,
    CONNECT_TOPIC_HEADER,
    SIGNATURE_HEADER,
    SOURCE_HEADER,
)
from tahawul.settings import Settings
from tests.integration.gateway_support import running_gateway
from tests.integration.helpers import scalar, sign_for, wait_applied
from tests.integration.producer_support import event_days, expected_daily, published, wait_outcomes
from tests.integration.test_gateway import issue
from tests.integration.test_pipeline import consume_all
from tests.unit.factories import payload

pytestmark = pytest.mark.integration

MOH = {"entity": "MOH", "service": "MOH-PREARRIVAL-MED", "governorate": "OM-MA"}


class Sent:
    """Records sent one by one, each signed as its entity, with where the broker put it."""

    def __init__(self, settings: Settings) -> None:
        self.settings = settings
        self.sign = sign_for(settings)
        self.producer = KafkaProducer(bootstrap_servers=settings.kafka_bootstrap(), acks="all")
        self.at: dict[tuple[int, int], tuple[bytes, int]] = {}  # (partition, offset) -> key, ms
        self.acked: dict[int, int] = {}

    def send(self, value: bytes, key: bytes, headers: list[tuple[str, bytes]] | None = None
             ) -> tuple[int, int]:
        signature = self.sign(key, value)
        all_headers = list(headers or []) + ([(SIGNATURE_HEADER, signature)] if signature else [])
        meta = self.producer.send(self.settings.topic_transactions, value, key=key,
                                  headers=all_headers).get(60)
        self.at[(meta.partition, meta.offset)] = (key, meta.timestamp)
        self.acked[meta.partition] = max(self.acked.get(meta.partition, -1), meta.offset)
        return meta.partition, meta.offset

    def close(self) -> None:
        self.producer.close()


def every_cell_holding(ct: WriterThread, marker: str) -> dict[str, int]:
    """table.column -> rows whose value (as text) holds ``marker``, over every column of
    every table of the store (views are made of these)."""
    client = ct.store.client
    columns = client.query(
        "SELECT c.table, c.name FROM system.columns AS c INNER JOIN system.tables AS t "
        "ON t.database = c.database AND t.name = c.table WHERE c.database = currentDatabase() "
        "AND t.engine NOT LIKE '%View%'").result_rows
    assert {"rejected", "events", "duplicates"} <= {table for table, _ in columns}
    found = {}
    for table, column in columns:
        n = client.query(f"SELECT countIf(position(toString(`{column}`), {{m:String}}) > 0) "
                         f"FROM `{table}`", parameters={"m": marker}).result_rows[0][0]
        if n:
            found[f"{table}.{column}"] = int(n)
    return found


def test_personal_data_leaves_no_value_in_the_store_the_dead_letters_or_the_logs(
    settings: Settings, workers: Workers, start_counter: Callable[..., WriterThread], tmp_path: Path,
    caplog: pytest.LogCaptureFixture,
) -> None:
    caplog.set_level(logging.DEBUG, logger="tahawul")  # the writer (this test's clients log too)
    workers.start(TAHAWUL_LOG_LEVEL="DEBUG")
    ct = start_counter()
    marker = f"PD{uuid.uuid4().hex[:12]}"
    personal = {"national_id": f"{marker}-19870412345", "citizen_name": f"Aisha {marker}",
                "phone": f"+968 {marker}"}
    bad: list[tuple[bytes, list[tuple[str, bytes]] | None]] = [
        (payload(**personal), None),  # fields outside the contract
        (payload(service=f"Aisha {marker}"), None),  # personal data in contract fields
        (payload(channel=marker, occurred_at=marker), None),
        (payload(event_id=f"{marker}-0000-4000-8000-000000000001"), None),
        (payload(status=marker, satisfaction=marker), None),
        (b'{"national_id": "' + marker.encode(), None),  # not JSON
        (orjson.dumps([marker]), None),  # not an object
        (payload(**personal) + b"\n" + payload(citizen_name=marker), [(BATCH_HEADER, BATCH_FORMAT)]),
        (payload(), [(BATCH_HEADER, marker.encode())]),  # an unknown batch format
        # Free text in the source header and another header: not kept either.
        (payload(national_id=marker), [(SOURCE_HEADER, f"Aisha {marker}".encode()),
                                       ("x-note", marker.encode())]),
    ]
    sender = Sent(settings)
    bad_places = set()
    try:
        for i, (value, headers) in enumerate(bad):
            bad_places.add(sender.send(value, b"ROP", [(SOURCE_HEADER, f"pd-{i}.jsonl:{i}".encode()),
                                                       *(headers or [])]))
        # A record keyed by something that is no entity code.
        bad_places.add(sender.send(payload(citizen_name=marker), f"Aisha {marker}".encode()))
        for _ in range(5):
            sender.send(payload(), b"ROP")
        sent_at = dict(sender.at)
    finally:
        sender.close()
    rejections = len(bad) + 2  # the batched record holds two rejected events; the odd key
    wait_applied(ct, settings, sender.acked, 180)
    assert scalar(ct, "SELECT count() FROM rejected") == rejections
    assert scalar(ct, "SELECT count() FROM events") == 5
    # Every String (and every other) column of every table, as text: no value.
    assert every_cell_holding(ct, marker) == {}
    assert every_cell_holding(ct, "19870412345") == {} and every_cell_holding(ct, "Aisha") == {}
    # The rejections still say what was wrong and of whose event.
    entities = dict(ct.store.client.query(
        "SELECT reason_code, any(entity) FROM rejected GROUP BY reason_code").result_rows)
    assert entities["unknown_field"] == "ROP" and entities["not_json"] == ""

    # The dead-letter topic, read raw: values, keys and headers.
    dead = consume_all(settings, settings.topic_dead_letter, rejections)
    assert len(dead) == rejections
    for record in dead:
        raw = b"\n".join([record.value or b"", record.key or b""]
                         + [name.encode() + b"=" + (value or b"") for name, value in record.headers])
        assert marker.encode() not in raw and b"19870412345" not in raw and b"Aisha" not in raw
        assert orjson.loads(record.value)["redacted"] == "tahawul-redacted-v1"
    # Kafka Connect's context: the source topic, partition and offset of the record, the
    # reason, and the source record's key and timestamp.
    places = []
    for record in dead:
        headers = dict(record.headers)
        assert headers[CONNECT_TOPIC_HEADER] == settings.topic_transactions.encode()
        assert headers[CONNECT_EXCEPTION_CLASS_HEADER] and headers[CONNECT_EXCEPTION_MESSAGE_HEADER]
        place = (int(headers[CONNECT_PARTITION_HEADER]), int(headers[CONNECT_OFFSET_HEADER]))
        key, timestamp = sent_at[place]
        assert record.timestamp == timestamp
        assert record.key == (key if key == b"ROP" else None)
        places.append(place)
    assert set(places) == bad_places

    # The logs of the workers (DEBUG) and of the writer in this process.
    logs = "".join(p.read_text("utf-8", "replace") for p in tmp_path.glob("worker-*.log"))
    assert logs, "the worker wrote no log"
    assert marker not in logs and "Aisha" not in logs
    writer = "\n".join(r.getMessage() for r in caplog.records if r.name.startswith("tahawul"))
    assert marker not in writer and "Aisha" not in writer


def test_an_entity_sending_anothers_event_ids_first_blocks_none_of_its_events(
    settings: Settings, workers: Workers, start_counter: Callable[..., WriterThread],
) -> None:
    """Issue 13 item 3 as reproduced: ROP sends the ids of MOH's tally lines before MOH does.
    MOH's events are all counted; ROP's count as ROP's; nobody gets a conflict or a
    duplicate, so nothing tells ROP that MOH used the ids."""
    workers.start()
    ct = start_counter()
    moh = [payload(quantity=3, **MOH) for _ in range(20)]
    ids = [orjson.loads(p)["event_id"] for p in moh]
    sender = Sent(settings)
    try:
        for event_id in ids:
            sender.send(payload(event_id=event_id), b"ROP")
        for value in moh:
            sender.send(value, b"MOH")
        sender.send(moh[0], b"MOH")  # MOH's own resend: a duplicate of MOH's
    finally:
        sender.close()
    wait_applied(ct, settings, sender.acked, 180)
    assert scalar(ct, "SELECT sum(quantity) FROM events WHERE entity = 'MOH'") == 60
    assert scalar(ct, "SELECT count() FROM events WHERE entity = 'ROP'") == 20
    assert scalar(ct, "SELECT sum(transactions) FROM v_counts_daily WHERE entity = 'MOH'") == 60
    assert scalar(ct, "SELECT count() FROM rejected") == 0
    rows: list[Any] = ct.store.client.query("SELECT entity, count() FROM duplicates GROUP BY entity"
                                            ).result_rows
    assert rows == [("MOH", 1)]


def test_through_the_gateway_an_entitys_answer_tells_nothing_of_anothers_ids(
    settings: Settings, workers: Workers, start_counter: Callable[..., WriterThread], tmp_path: Path,
) -> None:
    """ROP posts events under the ids MOH will use, first: every answer is "accepted", as
    for any new event; MOH's events are then all accepted and counted, and MOH's own resend
    is MOH's duplicate. The answers of the one never depend on the other's events."""
    workers.start()
    ct = start_counter()
    with running_gateway(settings, tmp_path, TAHAWUL_GATEWAY_RATE="100000",
                         TAHAWUL_GATEWAY_BURST="100000") as gateway:
        rop = {"Authorization": f"Bearer {issue(settings, 'ROP')}"}
        moh = {"Authorization": f"Bearer {issue(settings, 'MOH')}"}
        moh_events = event_days(30, **MOH)
        rop_events = [e | {"event_id": m["event_id"]} for e, m in
                      zip(event_days(30), moh_events, strict=True)]
        with httpx.Client(base_url=gateway.url, timeout=60) as client:
            first = client.post("/v1/transactions", json=rop_events, headers=rop)
            assert first.status_code == 200, first.text
            answer = first.json()
            assert (answer["accepted"], answer["duplicate"], answer["rejected"]) == (30, 0, 0)
            assert {tuple(sorted(r)) for r in answer["results"]} == {("event_id", "index", "status")}
            second = client.post("/v1/transactions", json=moh_events, headers=moh).json()
            assert (second["accepted"], second["duplicate"], second["rejected"]) == (30, 0, 0)
            again = client.post("/v1/transactions", json=moh_events[:5], headers=moh).json()
            assert (again["accepted"], again["duplicate"]) == (0, 5)
    wait_outcomes(ct, counted=60, duplicates=0, rejected=0, timeout=180)
    assert published(ct.store.client) == expected_daily([*rop_events, *moh_events])
    assert scalar(ct, "SELECT count() FROM events WHERE entity = 'MOH'") == 30
    assert scalar(ct, "SELECT count() FROM rejected") == 0
