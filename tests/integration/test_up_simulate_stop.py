"""`tahawul up --simulate` feeds from a process of its own (tahawul.runtime.feed_process), and a
Ctrl-C still stops it as before: no more input, every event the feed sent is counted, then
`up` exits with no child left. Tansu only: the feed and the stop are the same on either
broker (test_up_stop.py covers both for the broker's side)."""

from __future__ import annotations

import json
import os
import re
import signal
import subprocess
import sys
import threading
import urllib.request
from pathlib import Path

import pytest

from tests.integration.conftest import REPO, wait_for

pytestmark = pytest.mark.integration

SCALE = "0.1"  # 3,446,060 events: far more than are fed before the stop
EVENTS_AT_SCALE = 3_446_060


def test_ctrl_c_during_a_simulation_counts_every_event_fed_then_exits(tmp_path: Path) -> None:
    env = {k: v for k, v in os.environ.items() if not k.startswith("TAHAWUL_")}
    env["TAHAWUL_DATA_DIR"] = str(tmp_path / "data")
    stdout = (tmp_path / "stdout").open("w")
    proc = subprocess.Popen([sys.executable, "-m", "tahawul", "up", "--simulate", "oman-2024",
                             "--scale", SCALE, "--broker", "tansu"], env=env, cwd=REPO, stdout=stdout,
                            stderr=subprocess.PIPE, text=True, start_new_session=True)
    lines: list[str] = []

    def read_stderr() -> None:
        assert proc.stderr is not None
        lines.extend(line.rstrip("\n") for line in proc.stderr)

    reader = threading.Thread(target=read_stderr, daemon=True)
    reader.start()
    try:
        wait_for(lambda: any("live page: " in line for line in lines) or proc.poll() is not None, 120,
                 "the live page")
        url = next(re.search(r"live page: (\S+)/en", line).group(1)  # type: ignore[union-attr]
                   for line in lines if "live page: " in line)

        def sent() -> int:
            with urllib.request.urlopen(f"{url}/live.json", timeout=10) as page:
                return int(json.load(page)["sent"])

        feeders: list[int] = []

        def feeder_started() -> bool:
            feeders[:] = [p for p in children(proc.pid) if b"tahawul.runtime.feed_process" in cmdline(p)]
            return bool(feeders) or proc.poll() is not None

        wait_for(feeder_started, 120, "the feed process")  # the simulation is fed from a process of its own
        assert len(feeders) == 1
        wait_for(lambda: sent() > 0 or proc.poll() is not None, 120, "the feed to send")
        os.killpg(proc.pid, signal.SIGINT)  # Ctrl-C at a terminal: up's whole process group
        proc.wait(300)
    finally:
        if proc.poll() is None:
            proc.kill()
        stdout.close()
    reader.join(30)  # up's stderr is closed: every line of it is read
    assert proc.returncode == 0, lines
    assert any(line.startswith("stopping: no more input") for line in lines), lines
    assert "stopped: everything the broker acknowledged is counted" in lines
    m = re.search(r"processed (\d+) input records in [\d.]+ s: (\d+) counted, 0 duplicates, 0 rejected",
                  (tmp_path / "stdout").read_text())
    assert m is not None, (tmp_path / "stdout").read_text()
    fed, counted = int(m.group(1)), int(m.group(2))
    assert 0 < fed < EVENTS_AT_SCALE  # stopped early ...
    assert counted == fed  # ... and every event the feed sent was counted
    wait_for(lambda: not cmdline(feeders[0]), 30, "the feed process to exit")


def children(pid: int) -> list[int]:
    found: list[int] = []
    try:
        for task in Path(f"/proc/{pid}/task").iterdir():
            found += [int(child) for child in (task / "children").read_text().split()]
    except OSError:  # up has exited
        pass
    return found


def cmdline(pid: int) -> bytes:
    try:
        return Path(f"/proc/{pid}/cmdline").read_bytes()
    except OSError:
        return b""
