"""Scale-out: ``python -m benchmarks.scaleout [--events 300000]``.

A transactions topic of 8 partitions is filled with N simulated events (one record each:
the case where the validating worker is the bottleneck, so adding workers is what helps).
Then, in the same run, each from nothing and each checked exact against the truth:

- as the baseline, one bare Faust agent and then two in one group (parse and count only):
  how far Faust itself scales here, with the broker and the writer's store on the same
  cores;
- the pipeline with one worker process, then with two in one consumer group (4 partitions
  each), both feeding the single counting writer the chDB store needs.

Twice: with records keyed by entity, as producers key them (the national mix of 33
entities puts 43% of the events in one of the 8 partitions, so the worker that owns it
bounds the speed-up), and keyed by event_id (the same events spread evenly), which shows
what the pipeline itself does with two processes. Rates are events per second from the
first event handled to the last. Goal (issue 7): two workers at least 1.6 times one.
"""

from __future__ import annotations

import argparse
import sys

from benchmarks.common import Bench, Filled, Pipeline, bare_faust, check_exact, fill, machine, table
from tahawul.settings import Settings

GOAL = 1.6


def measure(bench: Bench, source: Settings, filled: Filled, timeout: float) -> dict[str, float]:
    rates: dict[str, float] = {}
    for agents in (1, 2):
        print(f"  bare Faust, {agents} agent(s) ...", flush=True)
        seconds, _ = bare_faust(source, filled.events, agents=agents)
        rates[f"faust{agents}"] = filled.events / seconds
    for workers in (1, 2):
        print(f"  pipeline, {workers} worker(s) ...", flush=True)
        with Pipeline(bench.settings(f"scale-{workers}w", share_topic=source)) as p:
            p.start(workers=workers)
            p.wait(filled.acked, timeout)
            rates[f"pipeline{workers}"] = filled.events / p.steady_seconds
            assert p.store is not None
            check_exact(p.store, filled.truth)
        print(f"  exact; {rates[f'pipeline{workers}']:,.0f} events/s", flush=True)
    return rates


def largest_share(filled: Filled) -> float:
    """The share of records in the fullest partition."""
    sizes = [offset + 1 for offset in filled.acked.values()]
    return max(sizes) / sum(sizes)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m benchmarks.scaleout", description=__doc__.split("\n")[0])
    parser.add_argument("--events", type=int, default=300_000, help="events in the topic (default 300,000)")
    parser.add_argument("--key", choices=("entity", "event_id", "both"), default="both")
    parser.add_argument("--timeout", type=float, default=1800)
    args = parser.parse_args(argv)
    print(f"machine: {machine()}", flush=True)
    rows = []
    ratios = {}
    with Bench(partitions=8) as bench:
        for key in ("entity", "event_id"):
            if args.key not in (key, "both"):
                continue
            source = bench.settings(f"scale-{key.replace('_', '')}")
            print(f"[key = {key}] filling {source.topic_transactions} (8 partitions), {args.events:,} events",
                  flush=True)
            filled = fill(source, args.events, key=key)
            share = largest_share(filled)
            print(f"  {filled.events:,} events; the fullest partition holds {share:.0%}", flush=True)
            r = measure(bench, source, filled, args.timeout)
            f1, f2, p1, p2 = r["faust1"], r["faust2"], r["pipeline1"], r["pipeline2"]
            rows += [
                [f"key {key}: bare Faust agents (baseline)", f1, f2, f2 / f1, 1.0, f"{share:.0%}"],
                [f"key {key}: pipeline workers (+ 1 writer)", p1, p2, p2 / p1, p2 / f2, f"{share:.0%}"],
            ]
            ratios[key] = p2 / p1
    print()
    print(f"scale-out on {args.events:,} events, one event per record, 8 partitions (events/s)")
    print(table(["", "1 process", "2 processes", "2 / 1", "x bare Faust (2)", "fullest partition"], rows))
    print()
    for key, ratio in ratios.items():
        print(f"key {key}: two workers / one = {ratio:.2f}; goal >= {GOAL}: "
              + ("met" if ratio >= GOAL else "MISSED"))
    return 0 if any(r >= GOAL for r in ratios.values()) else 1


if __name__ == "__main__":
    sys.exit(main())
