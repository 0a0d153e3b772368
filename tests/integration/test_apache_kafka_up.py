"""`tahawul up --broker kafka`, the durable local option: what `tahawul send` saw
acknowledged survives an `up` killed before counting any of it, and the next `up` on the
same data dir counts all of it, once. (With Tansu, the embedded default, the same kill
loses it: its log is in memory.)"""

from __future__ import annotations

import csv
import os
import re
import signal
import subprocess
import sys
from pathlib import Path

import pytest

from tahawul.keyring import dev_private_dir
from tests.integration.conftest import REPO, wait_for
from tests.integration.test_up_stop import Up, alive, sql

pytestmark = pytest.mark.integration


def worker_pid(up: Up) -> int:
    """The validating worker among the children of `up` (the other is the Kafka JVM), once
    it runs its own program (between fork and exec it still reads as `up`)."""
    found: list[int] = []

    def worker() -> bool:
        for pid in up.children():
            try:
                args = Path(f"/proc/{pid}/cmdline").read_bytes().split(b"\0")
            except OSError:
                continue
            if args[-2:] == [b"worker", b""] and b"tahawul" in args:
                found.append(pid)
                return True
        return False

    wait_for(worker, 60, "the worker of up")
    return found[0]


def test_up_killed_before_counting_loses_nothing_send_had_acknowledged(tmp_path: Path) -> None:
    data = tmp_path / "data"
    events, truth = tmp_path / "events.jsonl", tmp_path / "truth.csv"
    env = {k: v for k, v in os.environ.items() if not k.startswith("TAHAWUL_")}
    sim = subprocess.run([sys.executable, "-m", "tahawul", "simulate", "--scale", "0.01", "--seed", "4",
                          "--out", str(events), "--truth", str(truth)],
                         env={**env, "TAHAWUL_DATA_DIR": str(tmp_path / "sim")},
                         cwd=REPO, capture_output=True, text=True, timeout=120)
    assert sim.returncode == 0, sim.stderr
    valid = int(re.search(r"\((\d+) valid", sim.stdout).group(1))  # type: ignore[union-attr]
    with truth.open() as f:
        transactions = sum(int(row["transactions"]) for row in csv.DictReader(f))

    first = Up(data, "kafka")
    worker = worker_pid(first)
    try:
        # The worker is frozen, so nothing is validated or counted: every event that send
        # sees acknowledged exists only in the broker's log when `up` is killed.
        os.kill(worker, signal.SIGSTOP)
        sent = subprocess.run([sys.executable, "-m", "tahawul", "send", str(events)],
                              env={**env, "TAHAWUL_KAFKA_URL": f"kafka://{first.bootstrap}",
                                   "TAHAWUL_DATA_DIR": str(tmp_path / "sender"),
                                   # signed with the dev keys `up` made for its local broker
                                   "TAHAWUL_SIGNING_KEYS": str(dev_private_dir(data))},
                              cwd=REPO, capture_output=True, text=True, timeout=300)
        assert sent.returncode == 0, sent.stderr
        children = first.children()
        first.proc.send_signal(signal.SIGKILL)
        first.proc.wait(30)
    finally:
        if first.proc.poll() is None:
            first.proc.kill()
        os.kill(worker, signal.SIGKILL)  # frozen, it cannot act on the SIGTERM its parent's death sent
    wait_for(lambda: not any(alive(pid) for pid in children), 60, "the broker and the worker to exit")
    assert int(sql(data, "SELECT count() FROM events")) == 0

    second = Up(data, "kafka")  # same data dir: same Kafka log, same cluster id
    try:
        second.proc.send_signal(signal.SIGTERM)  # stop: count everything the broker holds, exit
        try:
            code = second.proc.wait(300)
        except subprocess.TimeoutExpired:
            raise AssertionError("the second up did not count everything within 300 s:\n"
                                 + "\n".join(second.lines)) from None
        assert code == 0, "\n".join(second.lines)
    finally:
        if second.proc.poll() is None:
            second.proc.kill()
    assert "stopped: everything the broker acknowledged is counted" in second.lines, second.lines
    assert int(sql(data, "SELECT count() FROM events")) == valid
    assert int(sql(data, "SELECT sum(transactions) FROM v_counts_daily")) == transactions
