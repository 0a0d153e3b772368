"""Freshness: ``python -m benchmarks.freshness [--rate R] [--seconds 60] [--batch N]``.

A producer process sends events at a steady rate, each stamped with the time it is sent
(``occurred_at`` = now, millisecond precision), keyed by entity like any producer. The
pipeline (one validating worker, the counting writer in this process) counts them; the time
from send to the event being counted in ``v_counts_daily`` (the writer's batch, progress
row included, confirmed by ClickHouse) is recorded for every event. Baseline in the same
run: a bare aiokafka consumer process reading the same topic records send -> receive, the
floor any consumer of the broker has. Printed: p50/p95/p99/max of both and the ratios.
Goals: p95 at most 1.0 s at 1,000 events/s (records of one event) and at most
2 s at 20,000 events/s (batched records of up to 500, as the gateway and ``tahawul send``
make them); without ``--rate`` both cases run, each on a pipeline of its own.

``--batch N`` sends batched records of up to N events, flushed every 100 ms, as a gateway
client posting ten times a second would.

``--stages`` also runs a bare consumer of the validated topic and prints where the seconds go:
send -> envelope written by the worker (the envelope record's timestamp), -> envelope received
by a consumer (what the writer could have at best), -> counted (the writer's linger, prepare
and write). It is one more process on the machine: the figures of the goals come from runs
without it.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import subprocess
import sys
import time
from datetime import UTC, datetime
from pathlib import Path

import numpy as np
import orjson

from benchmarks.common import Bench, Pipeline, env_for, machine, signer, simulated, table
from tahawul.producers.kafka_sender import EventSender
from tahawul.schemas.verdict import OK
from tahawul.settings import Settings
from tahawul.sinks.clickhouse.store import Store
from tahawul.stream_processors.counter import FETCH_WAIT_MS, CountingWriter, Prepared
from tahawul.stream_processors.envelope import Envelope

GOAL_P95_QUIET = 1.0  # seconds, p95, at up to 1,000 events/s
GOAL_P95_BUSY = 2.0  # above, e.g. 20,000 events/s


def now_ms() -> int:
    return time.time_ns() // 1_000_000


def stamped(data: bytes, ms: int) -> bytes:
    event = orjson.loads(data)
    event["occurred_at"] = datetime.fromtimestamp(ms / 1000, UTC).isoformat(timespec="milliseconds")
    return orjson.dumps(event)


def produce(args: argparse.Namespace) -> int:
    """Send ``rate`` events a second for ``seconds`` seconds, after ``warmup`` events."""
    total = args.warmup + int(args.rate * args.seconds)
    lines = simulated(int(total * 1.1) + 1000, 11, 0.0, 0.0)
    # Signed with the pipeline's dev keys (TAHAWUL_DATA_DIR of env_for), as every producer signs.
    sender = EventSender(args.bootstrap, args.topic, linger_ms=5, batch_events=args.batch,
                         sign=signer(Settings()))
    try:
        for _ in range(args.warmup):
            line = next(lines)
            sender.add(stamped(line.data, now_ms()), (line.entity or "").encode())
        sender.flush()
        Path(args.ready).write_text("ready")
        while not Path(args.go).exists():
            time.sleep(0.01)
        started = time.monotonic()
        sent = 0
        flushed = started
        while sent < total - args.warmup:
            due = min(int((time.monotonic() - started) * args.rate), total - args.warmup)
            while sent < due:
                line = next(lines)
                sender.add(stamped(line.data, now_ms()), (line.entity or "").encode())
                sent += 1
            if args.batch and time.monotonic() - flushed >= 0.1:
                sender.send_batches()
                flushed = time.monotonic()
            time.sleep(0.002)
        sender.flush()
    finally:
        sender.close()
    return 0


def consume(args: argparse.Namespace) -> int:
    """The baseline: send -> receive by a bare consumer, for events stamped after ``since``."""
    from aiokafka import AIOKafkaConsumer, TopicPartition

    async def main() -> list[int] | dict[str, list[int]]:
        # The writer's fetch wait (counter.FETCH_WAIT_MS): Tansu answers a fetch when its wait
        # ends, so with the default 500 ms the floor would be raised by up to half a second.
        consumer = AIOKafkaConsumer(bootstrap_servers=args.bootstrap, enable_auto_commit=False,
                                    auto_offset_reset="latest", fetch_max_wait_ms=FETCH_WAIT_MS)
        await consumer.start()
        try:
            parts = [TopicPartition(args.topic, p) for p in range(args.partitions)]
            consumer.assign(parts)
            await consumer.seek_to_end(*parts)
            for tp in parts:
                await consumer.position(tp)
            Path(args.ready).write_text("ready")
            latencies: list[int] = []
            written: list[int] = []  # envelopes: send -> the envelope record's timestamp
            deadline = time.monotonic() + args.seconds + 60
            while len(latencies) < args.expect and time.monotonic() < deadline:
                polled = await consumer.getmany(timeout_ms=200)
                received = now_ms()
                for records in polled.values():
                    for r in records:
                        if args.envelopes:
                            sent_ms = np.asarray(Envelope.decode(r.value).ok[OK.OCCURRED_MS], dtype=np.int64)
                            sent_ms = sent_ms[sent_ms >= args.since]
                            latencies.extend((received - sent_ms).tolist())
                            written.extend((r.timestamp - sent_ms).tolist())
                            continue
                        for line in r.value.split(b"\n"):
                            sent = _ms(orjson.loads(line)["occurred_at"])
                            if sent >= args.since:
                                latencies.append(received - sent)
            return {"received": latencies, "written": written} if args.envelopes else latencies
        finally:
            await consumer.stop()

    Path(args.out).write_text(json.dumps(asyncio.run(main())))
    return 0


def _ms(occurred_at: str) -> int:
    return int(datetime.fromisoformat(occurred_at).timestamp() * 1000 + 0.5)


def percentiles(latencies_ms: list[int]) -> list[float]:
    a = np.asarray(latencies_ms, dtype=float) / 1000
    return [float(np.percentile(a, 50)), float(np.percentile(a, 95)), float(np.percentile(a, 99)),
            float(a.max())]


def check_all_counted(store: Store, sent: int) -> int:
    """Every event sent (all valid, each sent once) is stored once and counted once."""
    row = store.client.query(
        "SELECT (SELECT count() FROM events), (SELECT uniqExact(event_id) FROM events), "
        "(SELECT count() FROM duplicates), (SELECT count() FROM rejected), "
        "(SELECT sum(transactions) FROM v_counts_daily), "
        "(SELECT sum(quantity) FROM events WHERE status = 'completed')").result_rows[0]
    events, unique, duplicates, rejected, published, completed = (int(x or 0) for x in row)
    if (events, unique, duplicates, rejected) != (sent, sent, 0, 0) or published != completed:
        raise AssertionError(f"sent {sent:,} events; stored {events:,} ({unique:,} distinct), "
                             f"{duplicates:,} duplicates, {rejected:,} rejected; v_counts_daily "
                             f"{published:,} against {completed:,} completed in events")
    return events


def wait_file(path: Path, proc: subprocess.Popen[bytes], what: str, timeout: float = 120) -> None:
    deadline = time.monotonic() + timeout
    while not path.exists():
        if proc.poll() is not None:
            raise RuntimeError(f"{what} exited with {proc.returncode}")
        if time.monotonic() > deadline:
            raise TimeoutError(f"{what} not ready")
        time.sleep(0.05)


def goal_for(rate: float) -> float:
    """The p95 goal (seconds) at ``rate`` events/s: 1 s up to 1,000 events/s, 2 s above."""
    return GOAL_P95_QUIET if rate <= 1000 else GOAL_P95_BUSY


def run_case(rate: float, seconds: float, batch: int,
             stages: bool = False) -> tuple[list[float], list[float]] | None:
    """One case on a pipeline of its own: (pipeline, baseline) p50/p95/p99/max, or None when
    not every event was measured. ``stages``: also where the seconds go (see --stages)."""
    with Bench() as bench:
        settings = bench.settings("fresh")
        work = settings.data_dir
        latencies: list[int] = []
        since = [10**18]

        def on_batch(counter: CountingWriter, prepared: Prepared) -> None:
            stored = now_ms()
            sent = np.asarray(prepared.batch.events.columns[OK.OCCURRED_MS], dtype=np.int64)
            latencies.extend((stored - sent[sent >= since[0]]).tolist())

        bootstrap = settings.kafka_bootstrap() or ""
        common = ["--bootstrap", bootstrap, "--topic", settings.topic_transactions]
        expect = int(rate * seconds)
        children: list[subprocess.Popen[bytes]] = []
        try:
            with Pipeline(settings, on_batch=on_batch) as pipeline:
                pipeline.start(workers=1)
                producer = subprocess.Popen(
                    [sys.executable, "-m", "benchmarks.freshness", "produce", *common, "--rate", str(rate),
                     "--seconds", str(seconds), "--batch", str(batch), "--warmup", "200",
                     "--ready", str(work / "producer.ready"), "--go", str(work / "go")],
                    env=env_for(settings), cwd=Path(__file__).resolve().parents[1])
                children.append(producer)
                wait_file(work / "producer.ready", producer, "the producer")
                # The pipeline is up once the warm-up events are counted.
                deadline = time.monotonic() + 120
                while pipeline.run.counted < 200:
                    if time.monotonic() > deadline:
                        raise TimeoutError("the pipeline did not count the warm-up events")
                    time.sleep(0.05)
                since[0] = now_ms()

                def consumer(name: str, *args: str) -> subprocess.Popen[bytes]:
                    """A consumer process of this case, started and ready (``name``: its
                    files in the work dir); its result goes to ``<name>.json``."""
                    proc = subprocess.Popen(
                        [sys.executable, "-m", "benchmarks.freshness", "consume", *args,
                         "--partitions", str(settings.partitions), "--seconds", str(seconds),
                         "--expect", str(expect), "--since", str(since[0]),
                         "--ready", str(work / f"{name}.ready"), "--out", str(work / f"{name}.json")],
                        env=env_for(settings), cwd=Path(__file__).resolve().parents[1])
                    children.append(proc)
                    wait_file(work / f"{name}.ready", proc, f"the {name} consumer")
                    return proc

                baseline = consumer("baseline", *common)
                if stages:
                    consumer("envelopes", "--envelopes", "--bootstrap", bootstrap,
                             "--topic", settings.topic_validated)
                how = f" in batched records of up to {batch} every 100 ms" if batch else ", one per record"
                print(f"sending {rate:,.0f} events/s for {seconds:g} s{how}", flush=True)
                (work / "go").write_text("go")
                if producer.wait(seconds + 120) != 0:
                    raise RuntimeError("the producer failed")
                deadline = time.monotonic() + 60
                while len(latencies) < expect and time.monotonic() < deadline:
                    time.sleep(0.1)
                if baseline.wait(120) != 0:
                    raise RuntimeError("the baseline consumer failed")
                if stages and children[-1].wait(120) != 0:
                    raise RuntimeError("the envelope consumer failed")
                assert pipeline.store is not None
                stored = check_all_counted(pipeline.store, 200 + expect)
                print(f"exact: every event sent is in events once and counted in v_counts_daily "
                      f"({stored:,}; none rejected, none duplicated)", flush=True)
                worker_us, writer_us = pipeline.steady_cpu_us(stored)
                load = ", ".join(f"{x:.2f}" for x in os.getloadavg())
                print(f"CPU an event, first write to last: worker {worker_us:.1f} us, the writer's "
                      f"process {writer_us:.1f} us; load average now {load}", flush=True)
        finally:
            for child in children:  # never leave a producer sending to a broker that is gone
                if child.poll() is None:
                    child.kill()
                    child.wait()
        floor = json.loads((work / "baseline.json").read_text())
        by_stage = json.loads((work / "envelopes.json").read_text()) if stages else None
    if len(latencies) < expect or len(floor) < expect:
        print(f"only {len(latencies):,} (pipeline) and {len(floor):,} (baseline) of {expect:,} events "
              "measured", file=sys.stderr)
        return None
    mine, base = percentiles(latencies), percentiles(floor)
    print(f"\nfreshness at {rate:,.0f} events/s for {seconds:g} s ({len(latencies):,} events): "
          "seconds from send to ...")
    print(table(["", "p50", "p95", "p99", "max"], [
        ["... received by a bare consumer (baseline)", *base],
        ["... counted in v_counts_daily (pipeline)", *mine],
        ["pipeline - baseline", *[m - b for m, b in zip(mine, base, strict=True)]],
        ["pipeline / baseline", *[m / b if b else float("nan") for m, b in zip(mine, base, strict=True)]],
    ]))
    if by_stage is not None and by_stage["received"]:
        print(table(["where the seconds go: send -> ...", "p50", "p95", "p99", "max"], [
            ["... envelope written by the worker", *percentiles(by_stage["written"])],
            ["... envelope received by a bare consumer", *percentiles(by_stage["received"])],
            ["... counted (writer: linger, prepare, write)", *mine],
        ]))
    print(flush=True)
    return mine, base


def run(args: argparse.Namespace) -> int:
    print(f"machine: {machine()}", flush=True)
    # No --rate: both goals, 1,000 events/s one per record (the SDK's, any Kafka producer's
    # records) and 20,000 events/s in batched records (the gateway's, `tahawul send`'s).
    cases = [(args.rate, args.batch)] if args.rate else [(1000.0, 0), (20000.0, args.batch or 500)]
    verdicts: list[str] = []
    for rate, batch in cases:
        result = run_case(rate, args.seconds, batch, args.stages)
        if result is None:
            return 1
        (_, p95, _, _), (_, base95, _, _) = result
        goal = goal_for(rate)
        met = p95 <= goal
        shape = f"batched records (<= {batch})" if batch else "one event per record"
        ratio = p95 / base95 if base95 else float("nan")
        verdicts.append(f"{rate:,.0f} events/s, {shape}: p95 {p95:.2f} s send -> counted (bare consumer "
                        f"send -> receive, same run: {base95:.2f} s; {ratio:.1f} x); "
                        f"goal <= {goal:g} s: {'met' if met else 'MISSED'}")
    print("\n".join(verdicts))
    return 0 if all(v.endswith(": met") for v in verdicts) else 1


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m benchmarks.freshness",
                                     description=__doc__.split("\n")[0])
    sub = parser.add_subparsers(dest="command")
    parser.add_argument("--rate", type=float, default=0.0,
                        help="events per second of one case (default: both goal cases, 1,000 one per "
                             "record and 20,000 batched)")
    parser.add_argument("--seconds", type=float, default=60.0, help="how long each case sends (default 60)")
    parser.add_argument("--batch", type=int, default=0, help="batched records of up to N events")
    parser.add_argument("--stages", action="store_true",
                        help="also consume the validated topic and print where the seconds go")
    p = sub.add_parser("produce")
    c = sub.add_parser("consume")
    for s in (p, c):
        s.add_argument("--bootstrap", required=True)
        s.add_argument("--topic", required=True)
        s.add_argument("--seconds", type=float, required=True)
        s.add_argument("--ready", required=True)
    p.add_argument("--rate", type=float, required=True)
    p.add_argument("--batch", type=int, default=0)
    p.add_argument("--warmup", type=int, default=200)
    p.add_argument("--go", required=True)
    c.add_argument("--partitions", type=int, required=True)
    c.add_argument("--expect", type=int, required=True)
    c.add_argument("--since", type=int, required=True)
    c.add_argument("--out", required=True)
    c.add_argument("--envelopes", action="store_true",
                   help="the topic holds envelopes (validated): time each event in them")
    args = parser.parse_args(argv)
    if args.command == "produce":
        return produce(args)
    if args.command == "consume":
        return consume(args)
    return run(args)


if __name__ == "__main__":
    sys.exit(main())
