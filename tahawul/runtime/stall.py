"""Noticing a wait that makes no progress, so that it is never silent.

`tahawul up` waits after a stop until every record the broker acknowledged is counted. If
nothing is counted for a while, a user must see why rather than a terminal that seems to
hang: what is not counted (per partition, against the worker group's committed offsets,
which say whether the workers read it), and whether the workers and the counting writer
run (tahawul.cli.up)."""

from __future__ import annotations

import time
from collections.abc import Callable, Mapping
from typing import TYPE_CHECKING

from tahawul.stream_processors.writer_stall import QuietTimer

if TYPE_CHECKING:
    from tahawul.runtime.local import Run, Workers


class StallWatch:
    """Says when a count of things left has not changed for ``after`` seconds (and again
    every ``after`` seconds while it stays so); a count of zero, or None (not known yet), is
    never a stall. The writer's timer of polls that bring nothing, fed by changes of the
    count (stream_processors/writer_stall.py)."""

    def __init__(self, after: float, clock: Callable[[], float] = time.monotonic) -> None:
        self.left: int | None = None
        self.timer = QuietTimer(after, clock)  # since ``left`` last changed, or the last report

    def due(self, left: int | None) -> bool:
        if left != self.left:
            self.left = left
            self.timer.brought()
            return False
        return bool(left) and self.timer.due()


def uncounted_partitions(run: Run, topic: str, targets: Mapping[int, int]) -> dict[int, tuple[int, int]]:
    """Per partition with acknowledged records not yet applied: (last applied offset, last
    acknowledged offset)."""
    with run.lock:
        return {p: (run.progress.get((topic, p), -1), last) for p, last in sorted(targets.items())
                if run.progress.get((topic, p), -1) < last}


def stall_report(seconds: float, run: Run, topic: str, targets: Mapping[int, int],
                 group: tuple[str, dict[int, int]] | str, workers: Workers | None,
                 writer_alive: bool) -> str:
    """One line for stderr: what is not counted after ``seconds`` without progress, where
    each such partition stands in the worker group (``group``: its state and committed
    offsets, or why they are not known), and the workers' and the writer's state."""
    behind = uncounted_partitions(run, topic, targets)
    left = sum(last - applied for applied, last in behind.values())
    parts = []
    for p, (applied, last) in behind.items():
        read = ""
        if not isinstance(group, str):
            offset = group[1].get(p)
            read = (", the workers committed none" if offset is None or offset < 0
                    else f", the workers committed to {offset - 1}")
        parts.append(f"partition {p}: {last - applied} (counted to offset {applied} of {last}{read})")
    states = [f"worker group not described ({group})" if isinstance(group, str)
              else f"worker group {group[0]}"]
    if workers is not None:
        states.append(", ".join(
            f"worker {i} " + ("running" if proc.poll() is None else f"exited with {proc.returncode}")
            + f" (pid {proc.pid})" for i, proc in enumerate(workers.procs)))
    states.append(f"counting writer {'running' if writer_alive else 'stopped'}"
                  + (f" (logs: {workers.log_dir})" if workers is not None else ""))
    return (f"stopping: nothing counted for {seconds:.0f} s; {left} record(s) not counted, "
            + "; ".join(parts + states))

