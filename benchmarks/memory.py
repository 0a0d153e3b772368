"""Memory: ``python -m benchmarks.memory [--events 10000000]``.

N simulated events go into the transactions topic in batched records (so that 10 million
pass through in minutes; ``--batch 0`` for one record each), then a validating worker and a
counting writer (``tahawul worker`` and ``tahawul counter``, separate processes, as in
production) process them. Their resident memory is sampled as events pass, read from the
processes' own Prometheus metrics (events consumed by the worker, applied by the writer):
the figures are RSS after the first ``--checkpoint`` events (the baseline of the same run)
and after all of them, and the growth between. At the end the store is checked exact.

The writer keeps an index of every counted event_id (stream_processors/seen.py). Its cost
per event is printed from the writer's RSS growth, next to the same ids measured in this
process in the compact index and in a plain ``dict[str, int]`` (what the writer used to
keep). Goal: the worker's RSS grows under 10% from 1 M to 10 M events (a worker that runs for
months must not grow with what it has seen).
"""

from __future__ import annotations

import argparse
import gc
import subprocess
import sys
import time
import tracemalloc
import uuid

import numpy as np

from benchmarks.common import (
    Bench,
    check_exact,
    env_for,
    fill,
    machine,
    metric_port,
    rss_mb,
    scrape,
    table,
)
from tahawul.kafka_admin import cluster_id
from tahawul.runtime.processes import stop_processes
from tahawul.sinks.clickhouse.connection import connect
from tahawul.sinks.clickhouse.store import Store
from tahawul.stream_processors.seen import CountedIndex, entity_tags, uuid_halves

GOAL = 0.10


def index_costs(n: int = 1_000_000) -> tuple[float, float]:
    """Bytes an event of n random ids in a dict[str, int] and in the CountedIndex."""
    ids = [str(uuid.uuid4()) for _ in range(n)]
    fps = np.random.default_rng(1).integers(0, 2**63, n, dtype=np.uint64)
    fp_list = fps.tolist()
    gc.collect()
    tracemalloc.start()
    before = tracemalloc.get_traced_memory()[0]
    as_dict = {i: f for i, f in zip(ids, fp_list, strict=True)}
    after = tracemalloc.get_traced_memory()[0]
    tracemalloc.stop()
    # The table itself, plus the key strings and fingerprint ints it holds (made before).
    dict_bytes = (after - before + sum(sys.getsizeof(i) for i in ids)
                  + sum(sys.getsizeof(f) for f in fp_list)) / n
    del as_dict
    index = CountedIndex()
    hi, lo = uuid_halves(ids)
    index.add(hi, lo, entity_tags(["ROP"] * n), fps)
    return dict_bytes, index.nbytes / n


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m benchmarks.memory", description=__doc__.split("\n")[0])
    parser.add_argument("--events", type=int, default=10_000_000, help="events (default 10,000,000)")
    parser.add_argument("--checkpoint", type=int, default=1_000_000, help="first sample (default 1,000,000)")
    parser.add_argument("--batch", type=int, default=500, help="events per batched record; 0: one each")
    parser.add_argument("--timeout", type=float, default=3600)
    args = parser.parse_args(argv)
    print(f"machine: {machine()}", flush=True)
    dict_bytes, index_bytes = index_costs()
    with Bench() as bench:
        settings = bench.settings("memory")
        print(f"filling {settings.topic_transactions} with {args.events:,} events ...", flush=True)
        filled = fill(settings, args.events, batch=args.batch)
        total = filled.events
        print(f"{total:,} events in {filled.records:,} records, sent in {filled.seconds:.0f} s", flush=True)
        ports = {"worker": metric_port(), "counter": metric_port()}
        procs = {}
        logs = []
        for who in ("counter", "worker"):
            logs.append((settings.data_dir / f"{who}.log").open("wb"))
            procs[who] = subprocess.Popen([sys.executable, "-m", "tahawul", who], cwd=settings.data_dir,
                                          env=env_for(settings, TAHAWUL_METRICS_PORT=str(ports[who])),
                                          stdout=logs[-1], stderr=subprocess.STDOUT)
        samples: list[tuple[float, int, float, int, float]] = []  # t, worker events, rss, writer events, rss
        at_checkpoint: dict[str, float] = {}
        started = time.monotonic()
        try:
            while True:
                for who, p in procs.items():
                    if p.poll() is not None:
                        raise RuntimeError(f"the {who} exited with {p.returncode}; see {settings.data_dir}")
                w = scrape(ports["worker"])
                c = scrape(ports["counter"])
                consumed = int(w.get("tahawul_worker_events_consumed_total", 0))
                applied = int(sum(v for k, v in c.items() if k.startswith("tahawul_counter_events_total{")))
                sample = (time.monotonic() - started, consumed, rss_mb(procs["worker"].pid), applied,
                          rss_mb(procs["counter"].pid))
                samples.append(sample)
                if "worker" not in at_checkpoint and consumed >= args.checkpoint:
                    at_checkpoint["worker"] = sample[2]
                if "counter" not in at_checkpoint and applied >= args.checkpoint:
                    at_checkpoint["counter"] = sample[4]
                if applied >= total:
                    break
                if time.monotonic() - started > args.timeout:
                    raise TimeoutError(f"not done after {args.timeout} s ({applied:,} of {total:,} applied)")
                time.sleep(1.0)
            end = {"worker": rss_mb(procs["worker"].pid), "counter": rss_mb(procs["counter"].pid)}
            seconds = samples[-1][0]
        finally:
            stop_processes(procs.values(), timeout=30)
            for log in logs:
                log.close()
        client = connect(settings.clickhouse_dsn())
        try:
            check_exact(Store(client, cluster_id(settings.kafka_bootstrap() or "")), filled.truth)
        finally:
            client.close()
        print(f"exact: v_counts_daily equals the truth ({filled.truth.valid:,} events counted)", flush=True)
    print()
    print(f"{total:,} events in {seconds:.0f} s ({total / seconds:,.0f} events/s); RSS samples (MiB):")
    step = max(1, len(samples) // 12)
    print(table(["s", "worker: events", "worker RSS", "writer: events", "writer RSS"],
                [[f"{s[0]:.0f}", s[1], s[2], s[3], s[4]] for s in samples[::step] + samples[-1:]]))
    w1, w2, c1, c2 = at_checkpoint["worker"], end["worker"], at_checkpoint["counter"], end["counter"]
    growth = w2 / w1 - 1
    per_event = (c2 - c1) * 2**20 / max(1, total - args.checkpoint)
    print()
    w_peak, c_peak = max(s[2] for s in samples), max(s[4] for s in samples)
    print(table(["process", f"RSS after {args.checkpoint:,}", f"after {total:,}", "growth", "peak"], [
        ["validating worker", f"{w1:.0f} MiB", f"{w2:.0f} MiB", f"{growth:+.1%}", f"{w_peak:.0f} MiB"],
        ["counting writer", f"{c1:.0f} MiB", f"{c2:.0f} MiB", f"{c2 / c1 - 1:+.1%}", f"{c_peak:.0f} MiB"],
    ]))
    print(f"\ncounting writer: {per_event:.0f} bytes of RSS an event counted (index, chDB caches and all);"
          f" the index of counted ids alone: {index_bytes:.0f} bytes an event (a dict[str, int] of the same"
          f" ids: {dict_bytes:.0f}, {dict_bytes / index_bytes:.1f} times as much)")
    met = growth < GOAL
    print(f"worker RSS growth {growth:+.1%}; goal < {GOAL:.0%}: {'met' if met else 'MISSED'}")
    return 0 if met else 1


if __name__ == "__main__":
    sys.exit(main())
