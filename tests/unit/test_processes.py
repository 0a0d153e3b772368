"""Stopping child processes (tahawul/runtime/processes.py)."""

from __future__ import annotations

import subprocess
import sys

from tahawul.runtime.processes import stop_processes

IGNORES_SIGTERM = ("import signal, time; signal.signal(signal.SIGTERM, signal.SIG_IGN); "
                   "print('ready', flush=True); time.sleep(60)")


def test_stops_running_processes_and_kills_those_that_ignore_sigterm() -> None:
    polite = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(60)"])
    stubborn = subprocess.Popen([sys.executable, "-c", IGNORES_SIGTERM], stdout=subprocess.PIPE)
    assert stubborn.stdout is not None and stubborn.stdout.readline() == b"ready\n"
    done = subprocess.Popen([sys.executable, "-c", "pass"])
    done.wait()
    stop_processes([polite, stubborn, done], timeout=1.0)
    assert polite.returncode == -15  # SIGTERM
    assert stubborn.returncode == -9  # SIGKILL after the timeout, and reaped
    assert done.returncode == 0
    stubborn.stdout.close()
