"""A bare Faust agent that only parses and counts: Faust's own ceiling on this machine.

Run by the benchmarks as ``python -m benchmarks.faust_bare`` with the TAHAWUL_* variables
of the topic to read, BENCH_EXPECT (events to count, 0 when several agents share the
topic) and BENCH_OUT (where it reports its progress, every 0.2 s and when done). It reads
the topic as the validating worker does (``stream_processors.app.consumer_options``), one
record at a time through the agent's stream, and parses and counts as the bare aiokafka
baseline does (``benchmarks.common.count_values``: orjson, a dict of counts; the events of
a batched record are split on newlines and each counted).
"""

from __future__ import annotations

import json
import os
import time

import faust

from benchmarks.common import count_values, rss_mb
from tahawul.settings import Settings
from tahawul.stream_processors.app import consumer_options, source_topic

settings = Settings()
expect = int(os.environ["BENCH_EXPECT"])
out = os.environ["BENCH_OUT"]
app = faust.App(settings.worker_group, **consumer_options(settings),
                datadir=str(settings.data_dir / "faust-bare"))
source = source_topic(app, settings)
state = {"n": 0, "first": 0.0, "last": 0.0, "done": 0.0}
history: list[tuple[float, int]] = []  # (time, events counted so far), at every report
counts: dict[object, int] = {}


@app.agent(source)
async def count(stream: faust.StreamT) -> None:
    async for value in stream:
        if not state["first"]:
            state["first"] = time.perf_counter()
        state["n"] += count_values((value,), counts)
        state["last"] = time.perf_counter()
        if expect and state["n"] >= expect and not state["done"]:
            state["done"] = 1.0
            report()


@app.timer(0.2)
async def progress() -> None:
    report()


def report() -> None:
    """Events counted, the monotonic times of the first and the latest, and the history of
    (time of the latest, events counted) at each report (perf_counter is system-wide on
    Linux, so several agents' times compare)."""
    if state["n"] and (not history or history[-1][1] != state["n"]):
        history.append((state["last"], int(state["n"])))
    with open(out + ".tmp", "w") as fh:
        json.dump({"events": state["n"], "first": state["first"], "last": state["last"],
                   "rss_mb": rss_mb(os.getpid()), "history": history}, fh)
    os.replace(out + ".tmp", out)


if __name__ == "__main__":
    faust.Worker(app, loglevel="warning", quiet=True, redirect_stdouts=False).execute_from_commandline()
