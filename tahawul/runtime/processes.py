"""Stopping child processes: the embedded broker, workers, and the processes tests and
benchmarks start."""

from __future__ import annotations

import subprocess
from collections.abc import Iterable
from typing import Any


def stop_processes(procs: Iterable[subprocess.Popen[Any]], timeout: float = 15.0) -> None:
    """SIGTERM every process still running, then wait up to ``timeout`` seconds for each
    and SIGKILL (and reap) any that has not exited. All are asked before any is waited for,
    so they shut down side by side rather than one timeout after another."""
    procs = list(procs)
    for proc in procs:
        if proc.poll() is None:
            proc.terminate()
    for proc in procs:
        try:
            proc.wait(timeout)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()
