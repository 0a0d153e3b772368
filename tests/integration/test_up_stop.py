"""`tahawul up` stops as a user needs it to: what the embedded broker acknowledged is counted
before it exits, and no child process outlives it, whatever signal it got."""

from __future__ import annotations

import os
import re
import signal
import subprocess
import sys
import threading
from collections.abc import Callable
from pathlib import Path

import pytest

from tahawul.keyring import dev_private_dir
from tahawul.runtime.local import child_env
from tahawul.settings import Settings
from tests.integration.conftest import REPO, wait_for

# Both brokers: Tansu (log in memory: the stop must count it all) and Apache Kafka (`up
# --broker kafka`, log on disk), whose restart test is in test_apache_kafka_up.py.
pytestmark = [pytest.mark.integration, pytest.mark.both_brokers]


class Up:
    """`tahawul up --broker BROKER` (no input) as a user starts it, with its stderr collected
    line by line."""

    def __init__(self, data: Path, broker: str = "tansu") -> None:
        settings = Settings(data_dir=data, session_timeout=3.0, _env_file=None)  # type: ignore[call-arg]
        env = child_env(settings)
        env.pop("TAHAWUL_KAFKA_URL", None)  # the local broker
        # A session of its own, as a terminal gives it: a Ctrl-C there goes to its whole
        # process group (os.killpg below does the same).
        self.proc = subprocess.Popen([sys.executable, "-m", "tahawul", "up", "--broker", broker],
                                     env=env, cwd=REPO,
                                     stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                                     start_new_session=True)
        self.lines: list[str] = []
        threading.Thread(target=self._read, daemon=True).start()
        wait_for(lambda: len(self.children()) >= 2 or self.proc.poll() is not None, 60,
                 "the local broker and the worker")
        assert self.bootstrap is not None, self.lines

    def _read(self) -> None:
        assert self.proc.stderr is not None
        for line in self.proc.stderr:
            self.lines.append(line.rstrip("\n"))

    @property
    def bootstrap(self) -> str | None:
        for line in self.lines:
            if m := re.search(r"broker on (\S+)", line):
                return m.group(1)
        return None

    def children(self) -> set[int]:
        """Pids of the processes `up` started (the broker, the worker)."""
        out: set[int] = set()
        try:
            for task in Path(f"/proc/{self.proc.pid}/task").iterdir():
                out.update(int(pid) for pid in (task / "children").read_text().split())
        except OSError:  # up has exited
            pass
        return out


def alive(pid: int) -> bool:
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except OSError:
        return False
    return state != "Z"


def sql(data: Path, query: str) -> str:
    env = {**clean_env(), "TAHAWUL_DATA_DIR": str(data)}
    done = subprocess.run([sys.executable, "-m", "tahawul", "sql", query, "--format", "csv"], env=env,
                          cwd=REPO, capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr
    return done.stdout.splitlines()[1]


def clean_env() -> dict[str, str]:
    """This process's environment without its TAHAWUL_* settings."""
    return {k: v for k, v in os.environ.items() if not k.startswith("TAHAWUL_")}


def simulated(tmp_path: Path, scale: str, seed: str) -> tuple[Path, int]:
    """A simulated input file and how many valid events it holds."""
    events = tmp_path / "events.jsonl"
    sim = subprocess.run([sys.executable, "-m", "tahawul", "simulate", "--scale", scale, "--seed", seed,
                          "--out", str(events), "--truth", str(tmp_path / "truth.csv")],
                         env={**clean_env(), "TAHAWUL_DATA_DIR": str(tmp_path / "sim")},
                         cwd=REPO, capture_output=True, text=True, timeout=120)
    assert sim.returncode == 0, sim.stderr
    return events, int(re.search(r"\((\d+) valid", sim.stdout).group(1))  # type: ignore[union-attr]


def stop_with_sigterm(proc: subprocess.Popen[str]) -> None:
    proc.send_signal(signal.SIGTERM)  # `kill PID`, a service manager


def stop_with_ctrl_c(proc: subprocess.Popen[str]) -> None:
    os.killpg(proc.pid, signal.SIGINT)  # Ctrl-C at a terminal: every process of the group


@pytest.mark.parametrize("stop", [stop_with_sigterm, stop_with_ctrl_c], ids=["sigterm", "ctrl-c"])
def test_a_stop_counts_what_send_had_acknowledged_then_exits_without_orphans(
        tmp_path: Path, stop: Callable[[subprocess.Popen[str]], None], broker_kind: str) -> None:
    data = tmp_path / "data"
    env = clean_env()
    events, valid = simulated(tmp_path, "0.01", "3")

    up = Up(data, broker_kind)
    try:
        children = up.children()  # the broker and the worker
        sent = subprocess.run([sys.executable, "-m", "tahawul", "send", str(events)],
                              env={**env, "TAHAWUL_KAFKA_URL": f"kafka://{up.bootstrap}",
                                   "TAHAWUL_DATA_DIR": str(tmp_path / "sender"),
                                   # signed with the dev keys `up` made for its local broker
                                   "TAHAWUL_SIGNING_KEYS": str(dev_private_dir(data))},
                              cwd=REPO, capture_output=True, text=True, timeout=300)
        assert sent.returncode == 0, sent.stderr
        stop(up.proc)  # at once: most events are not counted yet
        try:
            code = up.proc.wait(300)
        except subprocess.TimeoutExpired:  # say where it stood rather than only that it hung
            logs = sorted(data.glob("*.log"))  # the workers' and the broker's (up's log dir)
            tails = [f"{log.name}: " + " | ".join(log.read_text(errors="replace").splitlines()[-8:])
                     for log in logs]
            raise AssertionError("up did not exit within 300 s of the stop; its lines:\n"
                                 + "\n".join(up.lines[-30:] + tails)) from None
        assert code == 0, "\n".join(up.lines)
    finally:
        if up.proc.poll() is None:
            up.proc.kill()
    assert any(line.startswith("stopping: no more input") for line in up.lines), up.lines
    assert "stopped: everything the broker acknowledged is counted" in up.lines
    assert not [line for line in up.lines if "ERROR" in line], up.lines  # our lines, not the client's
    wait_for(lambda: not any(alive(pid) for pid in children), 30, "the broker and the worker to exit")
    assert int(sql(data, "SELECT count() FROM events")) == valid


def test_children_die_with_a_killed_up(tmp_path: Path, broker_kind: str) -> None:
    up = Up(tmp_path / "data", broker_kind)
    try:
        children = up.children()
        up.proc.send_signal(signal.SIGKILL)
        up.proc.wait(30)
    finally:
        if up.proc.poll() is None:
            up.proc.kill()
    wait_for(lambda: not any(alive(pid) for pid in children), 30, "the children of a killed up to exit")


# `up` run with the counting writer's first Kafka consumer dead from the start: it polls and
# gets nothing, for ever, as kafka-python 3.0.12's did once after the broker stood still past
# the session timeout (docs/brokers.md). The broker, the worker and the store are real.
DEAD_FIRST_CONSUMER = """
import itertools, sys
import tahawul.stream_processors.counter as counter
import tahawul.stream_processors.writer_stall as writer_stall
writer_stall.WRITER_STALL_SECONDS = float(sys.argv[1])
made = itertools.count()
class FirstDead(counter.KafkaConsumer):
    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)  # the writer's consumer subscribes to the validated topic
        self.dead = bool(args) and "validated" in str(args[0]) and next(made) == 0
    def poll(self, *args, **kwargs):
        return {} if self.dead else super().poll(*args, **kwargs)
counter.KafkaConsumer = FirstDead
from tahawul.cli.main import main
sys.exit(main(["up", "--broker", sys.argv[2], "--input", sys.argv[3], "--exit-when-done"]))
"""


def test_a_writer_whose_consumer_reads_nothing_gets_a_new_one_and_counts_everything(
        tmp_path: Path, broker_kind: str) -> None:
    env = clean_env()
    events, valid = simulated(tmp_path, "0.001", "5")
    data = tmp_path / "data"
    done = subprocess.run([sys.executable, "-c", DEAD_FIRST_CONSUMER, "3", broker_kind, str(events)],
                          env={**env, "TAHAWUL_DATA_DIR": str(data), "TAHAWUL_SESSION_TIMEOUT": "3"},
                          cwd=REPO, capture_output=True, text=True, timeout=240)
    assert done.returncode == 0, done.stderr[-3000:]
    restarts = [line for line in done.stderr.splitlines()
                if "replacing its Kafka consumer" in line]
    # At least once: on a loaded machine the new consumer may not have brought anything
    # within the test's 3 s either, and is replaced again, which is harmless.
    assert restarts, done.stderr[-3000:]
    assert "polls have brought nothing for 3 s while the workers delivered" in restarts[0]
    assert int(sql(data, "SELECT count() FROM events")) == valid

