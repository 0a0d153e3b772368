"""Shared steps of the producer-path tests (SDK, gateway, files, signing): run the CLI and
workers with extra settings, run a counting writer on any broker, compute expected counts."""

from __future__ import annotations

import subprocess
import sys
from collections import defaultdict
from collections.abc import Iterable, Mapping
from datetime import datetime
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

from clickhouse_connect.driver.client import Client

from tahawul.runtime.local import WriterThread, child_env, open_store, start_writer, worker_command
from tahawul.runtime.processes import stop_processes
from tahawul.schemas.event import InvalidEvent, parse
from tahawul.schemas.reference import load_catalogue
from tahawul.settings import Settings
from tests.integration.conftest import REPO, wait_for

MUSCAT = ZoneInfo("Asia/Muscat")
Cell = tuple[str, str, str, str, str, str]


def tahawul(settings: Settings, *args: str, timeout: float = 300, **extra: str
            ) -> subprocess.CompletedProcess[str]:
    """Run the CLI as a user does, with the test's settings (and extra TAHAWUL_* variables)."""
    return subprocess.run([sys.executable, "-m", "tahawul", *args], env=child_env(settings, **extra),
                          cwd=REPO, capture_output=True, text=True, timeout=timeout)


def start_worker(settings: Settings, log: Path, **extra: str) -> subprocess.Popen[bytes]:
    with log.open("ab") as fh:
        return subprocess.Popen(worker_command(), env=child_env(settings, **extra), stdout=fh,
                                stderr=subprocess.STDOUT, cwd=REPO)


def stop(proc: subprocess.Popen[Any]) -> None:
    stop_processes([proc])


def counter_on(settings: Settings, client: Client) -> WriterThread:
    """A counting writer for the broker of ``settings`` on an open store client."""
    return start_writer(settings, open_store(client, settings.kafka_bootstrap() or ""))


def wait_outcomes(ct: WriterThread, counted: int, duplicates: int, rejected: int, timeout: float) -> None:
    """Wait until the writer applied exactly this many events, duplicates and rejections."""
    def reached() -> bool:
        with ct.run.lock:
            return (ct.run.counted, ct.run.duplicates, ct.run.rejected) >= (counted, duplicates, rejected) \
                and ct.run.counted + ct.run.duplicates + ct.run.rejected >= counted + duplicates + rejected
    wait_for(reached, timeout, f"{counted} counted, {duplicates} duplicates, {rejected} rejected")
    assert (ct.run.counted, ct.run.duplicates, ct.run.rejected) == (counted, duplicates, rejected)


def expected_daily(events: Iterable[Mapping[str, Any] | bytes]) -> dict[Cell, int]:
    """v_counts_daily as it must be for these (valid, distinct) events."""
    catalogue = load_catalogue()
    out: dict[Cell, int] = defaultdict(int)
    for item in events:
        import orjson

        payload = item if isinstance(item, bytes) else orjson.dumps(item)
        try:
            ev = parse(payload, catalogue)
        except InvalidEvent as exc:  # pragma: no cover - a test bug
            raise AssertionError(f"expected_daily got an invalid event: {exc.message}") from None
        if ev.status != "completed":
            continue
        day = ev.occurred_at.astimezone(MUSCAT).date().isoformat()
        out[(day, ev.governorate, ev.entity, ev.service, ev.channel, ev.mode)] += ev.quantity
    return dict(out)


def published(client: Client) -> dict[Cell, int]:
    rows = client.query(
        "SELECT toString(day), governorate, entity, service, channel, mode, transactions "
        "FROM v_counts_daily WHERE transactions > 0").result_rows
    return {(r[0], r[1], r[2], r[3], r[4], r[5]): int(r[6]) for r in rows}


def scalar(client: Client, sql: str) -> int:
    return int(client.query(sql).result_rows[0][0])


def event_days(n: int, **overrides: Any) -> list[dict[str, Any]]:
    """n valid ROP events spread over days, channels and quantities (all completed)."""
    import uuid

    channels = ("portal", "mobile_app", "counter", "kiosk")
    out = []
    for i in range(n):
        ev = {
            "event_id": str(uuid.uuid4()), "schema_version": 1,
            "occurred_at": datetime(2025, 3, 1 + i % 20, 8 + i % 10, i % 60, tzinfo=MUSCAT).isoformat(),
            "entity": "ROP", "service": "ROP-VEH-FIRST-REG", "governorate": "OM-BS",
            "channel": channels[i % 4], "status": "completed", "quantity": 1 + i % 3, "automated": False,
        }
        ev.update(overrides)
        out.append(ev)
    return out
