"""Child processes of tahawul: the embedded broker, workers, and the processes tests and
benchmarks start. They are started so that they die with their parent, and stopped in one
way."""

from __future__ import annotations

import ctypes
import ctypes.util
import signal
import subprocess
import threading
from collections.abc import Callable, Iterable
from typing import Any

_PR_SET_PDEATHSIG = 1


def _load_prctl() -> Callable[[], None] | None:
    """prctl(PR_SET_PDEATHSIG, SIGTERM), resolved once in the parent (the function that
    runs between fork and exec must do as little as possible), or None off Linux."""
    try:
        libc = ctypes.CDLL(ctypes.util.find_library("c") or "libc.so.6", use_errno=True)
        prctl = libc.prctl
    except (OSError, AttributeError):
        return None

    def die_with_parent() -> None:
        prctl(_PR_SET_PDEATHSIG, signal.SIGTERM, 0, 0, 0)

    return die_with_parent


_die_with_parent = _load_prctl()


def child_options() -> dict[str, Any]:
    """Popen options for every child tahawul starts (the broker, workers).

    ``preexec_fn``: the kernel sends the child SIGTERM when the thread that started it dies,
    however it dies (kill -9 included), so no broker or worker outlives a `tahawul up`, a
    test or a benchmark. Because it is the starting *thread* that counts, it is set only
    for children started from the main thread, which lives as long as the process; one
    started from another thread (a test's timer restarting a broker) would die with that
    thread at once.

    ``process_group=0``: a Ctrl-C at the terminal goes to the whole foreground group, and a
    broker that got it too would be gone before `up` could count what it holds; `up` alone
    decides when its children stop."""
    on_main = threading.current_thread() is threading.main_thread()
    return {"preexec_fn": _die_with_parent if on_main else None, "process_group": 0}


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
