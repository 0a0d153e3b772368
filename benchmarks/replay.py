"""Replay throughput: ``python -m benchmarks.replay [--events 1000000]``.

N simulated events (1% resends, 1% invalid) are put in the transactions topic twice, as
records of one event (the SDK, or any Kafka producer) and as batched records of up to
``--batch`` events (the gateway and `tahawul send`). For each topic, in the same run:

- a bare aiokafka consumer reads, parses and counts them (the ceiling of Python here);
- a bare Faust agent does only parse-and-count (Faust's own ceiling, benchmarks/faust_bare.py);
- the pipeline (one validating worker process, the counting writer) starts from nothing and
  runs until every event is applied in ClickHouse, which is then checked cell for cell
  against the simulator's truth.

Rates are events per second from the first event handled to the last (start-up excluded,
the same for all three); the pipeline's rate with start-up included (process start to the
last batch stored) is printed too. Goals, each printed with its figure, its
baseline of the same run and the ratio: the pipeline at least 1.0 x the bare Faust agent
on records of one event (the worker does little a bare agent does not, besides verifying
each record's signature), and at least 150,000 events/s on batched records, exact (the
worker and the counting writer each under about 6 us of CPU an event; both are printed).
``--profile`` records the worker and the counting writer with py-spy (when installed) and
prints where their time goes. ``--lean`` adds the worker's work under a lean aiokafka
consumer instead of Faust's per-message path (benchmarks/lean_worker.py: a measurement, not a
worker), with its rate against the bare Faust agent's and its CPU an event.
"""

from __future__ import annotations

import argparse
import os
import sys
import time

from benchmarks.common import (
    Bench,
    Filled,
    Pipeline,
    Spy,
    bare_aiokafka,
    bare_faust,
    check_exact,
    cpu_seconds,
    fill,
    machine,
    spy_available,
    table,
)
from benchmarks.lean_worker import lean_worker
from tahawul.settings import Settings

GOAL_RATIO = 1.0
GOAL_BATCHED = 150_000


def run_topic(bench: Bench, name: str, filled: Filled, settings_of: Settings, profile: bool,
              timeout: float, lean: bool = False) -> dict[str, float]:
    """Baselines and the pipeline on one filled topic; returns the measured figures."""
    events = filled.events
    out: dict[str, float] = {}
    print(f"[{name}] bare aiokafka consumer ...", flush=True)
    out["aiokafka"] = events / bare_aiokafka(settings_of, events)
    print(f"[{name}] bare Faust agent ...", flush=True)
    faust_run = bare_faust(settings_of, events)
    out["faust_rss"] = faust_run.rss_mb
    out["faust"] = events / faust_run.seconds
    if lean:
        print(f"[{name}] lean consumer doing the worker's work ...", flush=True)
        run = lean_worker(bench.settings(f"{name}-lean", share_topic=settings_of), filled.records, timeout)
        if run.rejected != filled.truth.invalid or run.valid + run.rejected != events:
            raise AssertionError(f"lean consumer: {run.valid:,} valid and {run.rejected:,} rejected events, "
                                 f"expected {events - filled.truth.invalid:,} and {filled.truth.invalid:,}")
        out["lean"] = run.counted / max(run.seconds, 1e-9)
        out["lean_cpu_us"] = run.cpu_us
    print(f"[{name}] pipeline (1 worker, counting writer) ...", flush=True)
    pipeline_settings = bench.settings(f"{name}-pipeline", share_topic=settings_of)
    with Pipeline(pipeline_settings) as p:
        own_cpu = time.process_time()  # this process runs the counting writer's thread
        p.start(workers=1)
        spies: list[tuple[str, Spy]] = []
        if profile:
            # Profile the middle of the run: after start-up (the first batch stored; a
            # loaded machine can take many seconds to start the worker), for about half of it.
            expected = events / max(out["faust"], 1.0)
            started = time.monotonic()
            while not p.first_batch and time.monotonic() - started < 120:
                time.sleep(0.1)
            time.sleep(min(5.0, expected * 0.1))
            duration = max(5.0, min(60.0, expected * 0.5))
            where = pipeline_settings.data_dir
            spies = [("worker", Spy(p.worker_pids[0], where / "worker.spy", duration)),
                     ("counting writer", Spy(os.getpid(), where / "counter.spy", duration))]
        p.wait(filled.acked, timeout)
        out["pipeline"] = events / p.steady_seconds
        out["pipeline_wall"] = events / p.wall_seconds
        out["worker_cpu_us_all"] = cpu_seconds(p.worker_pids[0]) / events * 1e6
        out["writer_cpu_us_all"] = (time.process_time() - own_cpu) / events * 1e6
        out["worker_cpu_us"], out["writer_cpu_us"] = p.steady_cpu_us(events)
        assert p.store is not None
        check_exact(p.store, filled.truth)
        print(f"[{name}] exact: v_counts_daily equals the truth cell for cell "
              f"({filled.truth.valid:,} counted, {filled.truth.duplicate:,} duplicates, "
              f"{filled.truth.invalid:,} rejected)", flush=True)
        for who, spy in spies:
            print(f"[{name}] profile of the {who} (py-spy, {spy.out}):\n"
                  f"{spy.summary(thread='counter' if who == 'counting writer' else None)}", flush=True)
    return out


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m benchmarks.replay", description=__doc__.split("\n")[0])
    parser.add_argument("--events", type=int, default=1_000_000, help="events per topic (default 1,000,000)")
    parser.add_argument("--batch", type=int, default=500, help="events per batched record (default 500)")
    parser.add_argument("--only", choices=("single", "batched"), help="run one of the two topics")
    parser.add_argument("--profile", action="store_true", help="py-spy the worker and the writer")
    parser.add_argument("--lean", action="store_true",
                        help="also the worker's work under a lean aiokafka consumer (a measurement)")
    parser.add_argument("--timeout", type=float, default=1800)
    args = parser.parse_args(argv)
    if args.profile and not spy_available():
        print("--profile needs py-spy (pip install py-spy)", file=sys.stderr)
        return 2
    print(f"machine: {machine()}", flush=True)
    rows = []
    verdicts = []
    with Bench() as bench:
        for name, batch in (("single", 0), ("batched", args.batch)):
            if args.only and args.only != name:
                continue
            settings = bench.settings(name)
            print(f"[{name}] filling {settings.topic_transactions} with {args.events:,} events"
                  + (f" in batched records of up to {batch}" if batch else " (one record each)") + " ...",
                  flush=True)
            filled = fill(settings, args.events, batch=batch)
            print(f"[{name}] {filled.events:,} events in {filled.records:,} records, "
                  f"sent in {filled.seconds:.0f} s", flush=True)
            r = run_topic(bench, name, filled, settings, args.profile, args.timeout, args.lean)
            label = "one event per record" if not batch else f"batched records (<= {batch} events)"
            rows += [
                [f"{label}: bare aiokafka consumer", r["aiokafka"], r["aiokafka"] / r["faust"], 1.0, None],
                [f"{label}: bare Faust agent", r["faust"], 1.0, r["faust"] / r["aiokafka"], None],
                [f"{label}: pipeline", r["pipeline"], r["pipeline"] / r["faust"],
                 r["pipeline"] / r["aiokafka"], r["pipeline_wall"]],
            ]
            if "lean" in r:
                rows.append([f"{label}: lean consumer, the worker's work (not the worker)", r["lean"],
                             r["lean"] / r["faust"], r["lean"] / r["aiokafka"], None])
                print(f"[{name}] lean consumer: {r['lean_cpu_us']:.1f} us of CPU an event after start-up, "
                      f"{r['lean'] / r['faust']:.2f} x the bare Faust agent's rate (the worker: "
                      f"{r['worker_cpu_us']:.1f} us, {r['pipeline'] / r['faust']:.2f} x)", flush=True)
            if batch:
                verdicts.append(f"batched: pipeline {r['pipeline']:,.0f} events/s, exact (bare Faust agent "
                                f"{r['faust']:,.0f}: {r['pipeline'] / r['faust']:.2f} x; worker "
                                f"{r['worker_cpu_us']:.1f} us and writer {r['writer_cpu_us']:.1f} us of CPU "
                                f"an event); goal >= {GOAL_BATCHED:,}: "
                                + ("met" if r["pipeline"] >= GOAL_BATCHED else "MISSED"))
            else:
                ratio = r["pipeline"] / r["faust"]
                verdicts.append(f"single: pipeline / bare Faust = {ratio:.2f} (pipeline "
                                f"{r['pipeline']:,.0f} events/s, exact; bare Faust agent {r['faust']:,.0f}); "
                                f"goal >= {GOAL_RATIO}: " + ("met" if ratio >= GOAL_RATIO else "MISSED"))
            print(f"[{name}] CPU an event from the first batch stored to the last: worker "
                  f"{r['worker_cpu_us']:.1f} us, counting writer {r['writer_cpu_us']:.1f} us (with start-up: "
                  f"{r['worker_cpu_us_all']:.1f} us and {r['writer_cpu_us_all']:.1f} us)", flush=True)
    print()
    print(f"replay of {args.events:,} events (events/s from the first event handled to the last)")
    print(table(["path", "events/s", "x bare Faust", "x bare aiokafka", "events/s incl. start-up"], rows))
    print()
    for v in verdicts:
        print(v)
    return 0 if all(v.endswith("met") for v in verdicts) else 1


if __name__ == "__main__":
    sys.exit(main())
