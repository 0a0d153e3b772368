"""While `tahawul up` holds the embedded store, it can be read (issue 15 item 3): `tahawul sql`,
`report`, `audit` and `export` go through up's read-only ClickHouse HTTP front, so does
clickhouse-connect with the front record's credentials, every write is refused and the store
stays as it was; and the live page in headless Chromium shows the count moving as events flow,
in English and Arabic.

One `up` (embedded broker, no input) serves the whole module; events are sent to its broker
by `tahawul send` / `tahawul simulate --send` as a producer would."""

from __future__ import annotations

import asyncio
import base64
import json
import os
import re
import signal
import stat
import subprocess
import sys
import threading
import urllib.request
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import aiohttp
import clickhouse_connect
import pytest
from clickhouse_connect.driver.exceptions import DatabaseError
from PIL import Image

from tahawul.sinks.clickhouse.read_front import FrontRecord, read_record, record_path
from tests.integration.conftest import REPO, wait_for
from tests.integration.test_up_stop import Up

pytestmark = pytest.mark.integration

# Headless Chromium as the report's browser test runs it (Debian's package, no network).
FLAGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
         "--disable-background-networking", "--disable-component-update", "--disable-sync",
         "--hide-scrollbars"]


def cli(data: Path, *args: str, timeout: float = 300) -> subprocess.CompletedProcess[str]:
    """A `tahawul` command on ``data`` (the data dir of the running up)."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("TAHAWUL_")}
    env["TAHAWUL_DATA_DIR"] = str(data)
    return subprocess.run([sys.executable, "-m", "tahawul", *args], env=env, cwd=REPO,
                          capture_output=True, text=True, timeout=timeout)


def count_events(data: Path) -> int:
    done = cli(data, "sql", "SELECT count() FROM events", "--format", "csv")
    assert done.returncode == 0, done.stderr
    return int(done.stdout.splitlines()[1])


class Running:
    """The module's `up`, its data dir, the events sent so far and its front record."""

    def __init__(self, up: Up, data: Path, sent: int, record: FrontRecord) -> None:
        self.up = up
        self.data = data
        self.sent = sent
        self.record = record

    def sender(self, *args: str) -> subprocess.Popen[str]:
        """Start sending events to up's broker, signed with up's dev keys (the same data dir)."""
        env = {k: v for k, v in os.environ.items() if not k.startswith("TAHAWUL_")}
        env.update(TAHAWUL_DATA_DIR=str(self.data), TAHAWUL_KAFKA_URL=f"kafka://{self.up.bootstrap}")
        return subprocess.Popen([sys.executable, "-m", "tahawul", *args], env=env, cwd=REPO,
                                stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)

    def send(self, *args: str) -> None:
        proc = self.sender(*args)
        _, err = proc.communicate(timeout=600)
        assert proc.returncode == 0, err


@pytest.fixture(scope="module")
def running(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Running]:
    root = tmp_path_factory.mktemp("live-reads")
    events = root / "events.jsonl"
    env = {k: v for k, v in os.environ.items() if not k.startswith("TAHAWUL_")}
    sim = subprocess.run([sys.executable, "-m", "tahawul", "simulate", "--scale", "0.004", "--seed", "11",
                          "--out", str(events), "--truth", str(root / "truth.csv")],
                         env={**env, "TAHAWUL_DATA_DIR": str(root / "sim")},
                         cwd=REPO, capture_output=True, text=True, timeout=300)
    assert sim.returncode == 0, sim.stderr
    valid = int(re.search(r"\((\d+) valid", sim.stdout).group(1))  # type: ignore[union-attr]
    data = root / "data"
    up = Up(data)
    try:
        wait_for(lambda: any(line.startswith("live page: ") for line in up.lines), 60, "the live page line")
        record = read_record(data / "clickhouse")
        assert record is not None
        run = Running(up, data, valid, record)
        run.send("send", str(events))
        wait_for(lambda: count_events(data) == valid, 300, f"{valid} events counted", every=2)
        yield run
    finally:
        if up.proc.poll() is None:
            up.proc.send_signal(signal.SIGTERM)
            try:
                up.proc.wait(120)
            except subprocess.TimeoutExpired:
                up.proc.kill()


def test_up_prints_its_address_and_records_it_for_its_owner_only(running: Running) -> None:
    line = next(line for line in running.up.lines if line.startswith("live page: "))
    assert f"{running.record.url}/en" in line and f"{running.record.url}/ar" in line
    assert str(record_path(running.data / "clickhouse")) in line
    assert running.record.host == "127.0.0.1"  # loopback only
    assert running.record.pid == running.up.proc.pid
    mode = stat.S_IMODE(record_path(running.data / "clickhouse").stat().st_mode)
    assert mode == 0o600, oct(mode)  # it holds the password


def test_the_commands_read_the_store_while_up_holds_it(running: Running, tmp_path: Path) -> None:
    data = running.data
    assert count_events(data) == running.sent  # `tahawul sql`, no lock error (exit 69) any more

    report = tmp_path / "report.html"
    done = cli(data, "report", "--out", str(report), "--lang", "ar")
    assert done.returncode == 0, done.stderr
    assert 'dir="rtl"' in report.read_text("utf-8")

    done = cli(data, "audit", "reconcile")
    assert done.returncode == 0, done.stdout + done.stderr
    assert "zero drift" in done.stdout

    done = cli(data, "export", "--from", "2025-01-01", "--to", "2025-06-30", "--out", str(tmp_path / "open"))
    assert done.returncode == 0, done.stderr
    files = [Path(p) for p in done.stdout.split()]
    assert files and all(p.is_file() and p.stat().st_size > 0 for p in files)


def client(record: FrontRecord, password: str | None = None) -> Any:
    return clickhouse_connect.get_client(host=record.host, port=record.port, username=record.user,
                                         password=record.password if password is None else password)


def test_clickhouse_connect_reads_through_the_front(running: Running) -> None:
    ch = client(running.record)
    try:
        assert ch.query("SELECT count() FROM events").result_rows == [(running.sent,)]
        # server-side parameters, typed results, Arrow: what the report and export use
        rows = ch.query("SELECT count() FROM events WHERE entity = {e:String} "
                        "AND occurred_at >= {t:DateTime64(3)}",
                        parameters={"e": "no-such-entity", "t": "2025-01-01 00:00:00"}).result_rows
        assert rows == [(0,)]
        table = ch.query_arrow("SELECT governorate, count() AS n FROM events GROUP BY governorate")
        assert sum(table.column("n").to_pylist()) == running.sent
        assert ch.command("SELECT 42") == 42
        assert "events" in [r[0] for r in ch.query("SHOW TABLES").result_rows]
    finally:
        ch.close()


WRITES = [
    ("INSERT INTO events SELECT * FROM events LIMIT 1", 164),
    ("DROP TABLE events", 164),
    ("ALTER TABLE events DELETE WHERE 1", 164),
    ("TRUNCATE TABLE events", 164),
    ("DELETE FROM events WHERE 1", 164),
    ("CREATE TABLE x (a UInt8) ENGINE = Memory", 164),
    ("SYSTEM STOP MERGES", 164),
    ("SELECT 1; DROP TABLE events", 62),
    ("SELECT count() FROM events INTO OUTFILE '/tmp/tahawul-leak.csv'", 164),
    ("SELECT * FROM file('/etc/passwd', 'LineAsString')", 164),
    ("SELECT 1 SETTINGS readonly = 0", 164),
]


def test_every_write_is_refused_and_the_store_is_unchanged(running: Running) -> None:
    ch = client(running.record)
    before = ch.query("SELECT name, total_rows FROM system.tables WHERE database = currentDatabase() "
                      "AND engine LIKE '%MergeTree' ORDER BY name").result_rows
    try:
        for sql, code in WRITES:
            with pytest.raises(DatabaseError) as refused:
                ch.query(sql)
            assert f"code: {code}" in str(refused.value), (sql, str(refused.value))
        with pytest.raises(DatabaseError, match="code: 164"):
            ch.command("DROP TABLE events")
        after = ch.query("SELECT name, total_rows FROM system.tables WHERE database = currentDatabase() "
                         "AND engine LIKE '%MergeTree' ORDER BY name").result_rows
    finally:
        ch.close()
    assert after == before
    assert not Path("/tmp/tahawul-leak.csv").exists()
    done = cli(running.data, "sql", "DROP TABLE events")
    assert done.returncode == 1
    assert "read-only while `tahawul up` runs: DROP refused" in done.stderr, done.stderr
    assert count_events(running.data) == running.sent


def test_the_front_asks_for_the_recorded_password(running: Running) -> None:
    with pytest.raises(DatabaseError, match="code: 516"):
        client(running.record, password="guess")
    url = f"{running.record.url}/?query=SELECT%201"
    with pytest.raises(urllib.error.HTTPError) as denied:
        urllib.request.urlopen(url, timeout=30)
    assert denied.value.code == 401
    auth = base64.b64encode(f"{running.record.user}:{running.record.password}".encode()).decode()
    req = urllib.request.Request(url, headers={"Authorization": f"Basic {auth}"})
    with urllib.request.urlopen(req, timeout=30) as ok:
        assert ok.read() == b"1\n"
        assert ok.headers["X-ClickHouse-Format"] == "TabSeparated"


def test_a_page_asked_for_under_another_name_is_refused(running: Running) -> None:
    """DNS rebinding: a site whose name resolves to 127.0.0.1 must not read the page."""
    req = urllib.request.Request(f"{running.record.url}/live.json", headers={"Host": "evil.example"})
    with pytest.raises(urllib.error.HTTPError) as refused:
        urllib.request.urlopen(req, timeout=30)
    assert refused.value.code == 403
    with urllib.request.urlopen(f"{running.record.url}/live.json", timeout=30) as ok:
        assert json.load(ok)["counted"] >= running.sent


class Page:
    """A page open in headless Chromium, read through the DevTools protocol: the test sees
    the page as it changes in place, not a snapshot."""

    def __init__(self, profile: Path, url: str) -> None:
        profile.mkdir(parents=True, exist_ok=True)
        self.proc = subprocess.Popen(["chromium", *FLAGS, f"--user-data-dir={profile}",
                                      "--remote-debugging-port=0", "--window-size=1400,1900", url],
                                     stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        port_file = profile / "DevToolsActivePort"
        wait_for(lambda: port_file.is_file() and len(port_file.read_text().split()) == 2, 60,
                 "Chromium's DevTools")
        port = int(port_file.read_text().split()[0])
        self.ws_url = ""

        def page_target() -> bool:
            with urllib.request.urlopen(f"http://127.0.0.1:{port}/json/list", timeout=10) as r:
                targets = json.load(r)
            pages = [t for t in targets if t.get("type") == "page" and t.get("url", "").startswith(url)]
            self.ws_url = pages[0]["webSocketDebuggerUrl"] if pages else ""
            return bool(pages)

        wait_for(page_target, 60, "the page in Chromium")
        self.loop = asyncio.new_event_loop()
        self.session = self.loop.run_until_complete(self._connect())
        self.seq = 0
        wait_for(lambda: self.evaluate("document.readyState === 'complete' && "
                                       "document.querySelector('h1') !== null"), 60, "the page to load")

    async def _connect(self) -> tuple[aiohttp.ClientSession, aiohttp.ClientWebSocketResponse]:
        session = aiohttp.ClientSession()
        return session, await session.ws_connect(self.ws_url, max_msg_size=0)

    async def _call(self, method: str, params: dict[str, Any]) -> dict[str, Any]:
        self.seq += 1
        ws = self.session[1]
        await ws.send_json({"id": self.seq, "method": method, "params": params})
        while True:
            msg = await asyncio.wait_for(ws.receive_json(), 60)
            if msg.get("id") == self.seq:
                assert "error" not in msg, msg
                result: dict[str, Any] = msg["result"]
                return result

    def evaluate(self, expression: str) -> Any:
        result = self.loop.run_until_complete(
            self._call("Runtime.evaluate", {"expression": expression, "returnByValue": True}))
        return result["result"].get("value")

    def screenshot(self, path: Path) -> None:
        shot = self.loop.run_until_complete(self._call("Page.captureScreenshot", {"format": "png"}))
        path.write_bytes(base64.b64decode(shot["data"]))

    def close(self) -> None:
        session, ws = self.session
        self.loop.run_until_complete(ws.close())
        self.loop.run_until_complete(session.close())
        self.loop.close()
        self.proc.terminate()
        self.proc.wait(30)


def read_until(record: FrontRecord, stop: threading.Event, counts: list[int]) -> None:
    ch = client(record)
    try:
        while not stop.is_set():
            counts.append(ch.query("SELECT count() FROM events").result_rows[0][0])
    finally:
        ch.close()


COUNTED = ("(function(){var e=document.querySelector('[data-live=\"counted\"]');"
           "return e?Number(e.dataset.value):-1})()")


@pytest.mark.parametrize(("lang", "seed"), [("en", "21"), ("ar", "22")])
def test_the_live_page_counts_as_events_flow(running: Running, lang: str, seed: str, tmp_path: Path) -> None:
    page = Page(tmp_path / "profile", f"{running.record.url}/{lang}")
    try:
        assert page.evaluate("document.documentElement.dir") == ("rtl" if lang == "ar" else "ltr")
        wait_for(lambda: page.evaluate("Number(document.body.dataset.updates)") >= 1, 60, "the first refresh")
        before = page.evaluate(COUNTED)
        assert before >= running.sent
        # Events flow for a while (3,000 at 200 per second) while the page stays open: the
        # number moves before the sender is done, then stops at what the store holds.
        flow = running.sender("simulate", "--send", "--scale", "0.004", "--seed", seed, "--rate", "200",
                              "--limit", "3000")
        # Meanwhile a client reads as fast as it can: the writer's count must stay exact.
        reads: list[int] = []
        reading = threading.Event()
        reader = threading.Thread(target=read_until, args=(running.record, reading, reads), daemon=True)
        reader.start()
        try:
            wait_for(lambda: page.evaluate(COUNTED) > before, 120, "the counted number on the page to move",
                     every=0.5)
            assert flow.poll() is None, "the page moved only after the events had all been sent"
            _, err = flow.communicate(timeout=300)
            assert flow.returncode == 0, err
        finally:
            reading.set()
            if flow.poll() is None:
                flow.kill()
        reader.join(60)
        assert len(reads) > 10 and reads == sorted(reads), reads  # counts only grow
        running.sent = before + 3000
        wait_for(lambda: page.evaluate(COUNTED) == running.sent, 120, "the page to show every event counted")
        assert count_events(running.data) == running.sent
        text = page.evaluate("document.querySelector('[data-live=\"counted\"]').textContent")
        assert text == f"{running.sent:,}"
        heading = page.evaluate("document.querySelector('h1').textContent")
        assert heading == ("تحول: العد المباشر" if lang == "ar" else "Tahawul: live count")
        wait_for(lambda: page.evaluate("(function(){try{return document.getElementById('report')"
                                       ".contentDocument.querySelectorAll('svg.chart').length}"
                                       "catch(e){return 0}})()") >= 1, 60, "the report's charts in the frame")
        shot = tmp_path / f"live-{lang}.png"
        page.screenshot(shot)
        image = Image.open(shot)
        raw = image.convert("RGB").resize((140, 190)).tobytes()
        assert len({raw[i:i + 3] for i in range(0, len(raw), 3)}) > 50  # not a blank page
    finally:
        page.close()


def test_when_up_stops_its_record_goes_and_the_store_opens_directly(running: Running) -> None:
    """Last in the module: it stops the module's up."""
    running.up.proc.send_signal(signal.SIGTERM)
    assert running.up.proc.wait(300) == 0, "\n".join(running.up.lines)
    assert not record_path(running.data / "clickhouse").exists()
    assert count_events(running.data) == running.sent
