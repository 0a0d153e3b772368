"""A bare Faust agent that only parses and counts: Faust's own ceiling on this machine.

Run by the benchmarks as ``python -m benchmarks.faust_bare`` with the TAHAWUL_* variables
of the topic to read, BENCH_EXPECT (events to count, 0 when several agents share the
topic) and BENCH_OUT (where it reports its progress, every 0.2 s and when done). The same
broker settings as the validating worker (stream_processors/app.py), raw values, one record
at a time through the agent's stream, orjson, a dict of counts; the events of a batched
record (schemas/batch.py) are split on newlines and each counted.
"""

from __future__ import annotations

import json
import os
import time

import faust
import orjson

from benchmarks.common import rss_mb
from tahawul.settings import Settings

settings = Settings()
expect = int(os.environ["BENCH_EXPECT"])
out = os.environ["BENCH_OUT"]
app = faust.App(
    settings.worker_group,
    broker=",".join(f"kafka://{hp}" for hp in (settings.kafka_bootstrap() or "").split(",")),
    store="memory://",
    value_serializer="raw",
    key_serializer="raw",
    topic_partitions=settings.partitions,
    topic_allow_declare=False,
    consumer_auto_offset_reset="earliest",
    broker_session_timeout=settings.session_timeout,
    broker_heartbeat_interval=settings.session_timeout / 4,
    broker_commit_every=settings.batch_max,
    broker_commit_interval=1.0,
    web_enabled=False,
    datadir=str(settings.data_dir / "faust-bare"),
    loghandlers=[],
)
source = app.topic(settings.topic_transactions, value_type=bytes, key_type=bytes,
                   value_serializer="raw", key_serializer="raw", partitions=settings.partitions)
state = {"n": 0, "first": 0.0, "last": 0.0, "done": 0.0}
history: list[tuple[float, int]] = []  # (time, events counted so far), at every report
counts: dict[object, int] = {}


@app.agent(source)
async def count(stream: faust.StreamT) -> None:
    async for value in stream:
        if not state["first"]:
            state["first"] = time.perf_counter()
        for line in value.split(b"\n") if b"\n" in value else (value,):
            try:
                obj = orjson.loads(line)
            except orjson.JSONDecodeError:
                obj = None
            key = obj.get("governorate") if isinstance(obj, dict) else None
            counts[key] = counts.get(key, 0) + 1
            state["n"] += 1
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
