"""Shared parts of the pipeline benchmarks: a broker, a filled topic, the pipeline, baselines.

Everything runs on this machine with the embedded parts the tests use (a Tansu broker on a
memory store, chDB, worker processes), so a figure measured here is comparable only with a
baseline measured in the same run: every benchmark prints both and their ratio.
"""

from __future__ import annotations

import asyncio
import collections
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
import urllib.request
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Self

import orjson

from tahawul.kafka_admin import ensure_topics
from tahawul.keyring import ensure_dev_keys, producer_signers
from tahawul.producers.batching import Sign
from tahawul.producers.kafka_sender import EventSender, entity_key
from tahawul.producers.simulator import SimulatedLine, Truth, iter_simulation
from tahawul.runtime.broker import EmbeddedBroker, free_port
from tahawul.runtime.local import LocalPipeline, Run, child_env
from tahawul.runtime.processes import stop_processes
from tahawul.settings import Settings
from tahawul.sinks.clickhouse.store import Store
from tahawul.stream_processors.counter import CountingWriter, Prepared

REPO = Path(__file__).resolve().parents[1]
PROFILE = "oman-2025-h1"
# Valid events of the profile at scale 1 (the simulator's totals are exact for any scale).
EVENTS_AT_SCALE_1 = 1_124_565


def scale_for(events: int) -> float:
    return events / EVENTS_AT_SCALE_1


def rss_mb(pid: int) -> float:
    """Resident set size of a process, MiB (Linux /proc)."""
    with open(f"/proc/{pid}/status") as fh:
        for line in fh:
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) / 1024
    return 0.0


def cpu_seconds(pid: int) -> float:
    """User + system CPU time a process has used so far."""
    with open(f"/proc/{pid}/stat") as fh:
        fields = fh.read().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def machine() -> str:
    """One line about where the figures come from."""
    model = "unknown CPU"
    try:
        with open("/proc/cpuinfo") as fh:
            model = next(line.split(":", 1)[1].strip() for line in fh if line.startswith("model name"))
    except (OSError, StopIteration):
        pass
    mem = os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES") / 2**30
    load = ", ".join(f"{x:.2f}" for x in os.getloadavg())
    return (f"{os.cpu_count()} cores ({model}), {mem:.0f} GiB RAM, Python {sys.version.split()[0]}, "
            f"load average at start {load}")


def table(headers: list[str], rows: list[list[Any]]) -> str:
    """A plain text table: first column left-aligned, the others right-aligned."""
    cells = [list(headers)] + [[_fmt(c) for c in r] for r in rows]
    widths = [max(len(r[i]) for r in cells) for i in range(len(headers))]
    out = []
    for n, r in enumerate(cells):
        parts = [c.ljust(w) if i == 0 else c.rjust(w) for i, (c, w) in enumerate(zip(r, widths, strict=True))]
        out.append("  ".join(parts).rstrip())
        if n == 0:
            out.append("  ".join("-" * w for w in widths))
    return "\n".join(out)


def _fmt(value: Any) -> str:
    if value is None:
        return ""
    if isinstance(value, float):
        return f"{value:,.2f}" if abs(value) < 100 else f"{value:,.0f}"
    if isinstance(value, int):
        return f"{value:,}"
    return str(value)


def window_rate(history: list[tuple[float, int]], total: int, lo: float = 0.1, hi: float = 0.9) -> float:
    """Events per second while the count went from ``lo`` to ``hi`` of ``total``.

    ``history`` is (time, events so far), in time order. The window leaves out start-up
    (processes starting, joining the group, the first rebalance) and the tail (the last
    partitions finishing alone), which weigh on a short run but not on a long replay: it is
    the rate a run of any length settles at, for the pipeline and the baselines alike."""
    lo_at = next(((t, n) for t, n in history if n >= lo * total), None)
    hi_at = next(((t, n) for t, n in history if n >= hi * total), None)
    if lo_at is None or hi_at is None or hi_at[0] <= lo_at[0]:
        raise ValueError(f"not enough progress samples for a {lo:.0%}-{hi:.0%} window")
    return (hi_at[1] - lo_at[1]) / (hi_at[0] - lo_at[0])


def steady_or_overall(history: list[tuple[float, int]], total: int, overall: float) -> float:
    """window_rate, or ``overall`` (first event to last) with a note when a run is too short
    to have a steady part (a few batches: small ``--events``)."""
    try:
        return window_rate(history, total)
    except ValueError:
        print(f"  (only {len(history)} progress samples: no steady window, first event to last used)",
              flush=True)
        return overall


def merge_histories(histories: list[list[tuple[float, int]]]) -> list[tuple[float, int]]:
    """The total of several processes' (time, events so far) series, at every sample time."""
    points = sorted((t, i, n) for i, h in enumerate(histories) for t, n in h)
    latest = [0] * len(histories)
    out = []
    for t, i, n in points:
        latest[i] = n
        out.append((t, sum(latest)))
    return out


class Bench:
    """A fresh memory broker and a scratch directory; ``settings()`` gives each pipeline its
    own topics, groups and store (``share_topic`` reuses another's transactions topic)."""

    def __init__(self, partitions: int = 8, keep: bool = False) -> None:
        self.dir = Path(tempfile.mkdtemp(prefix="tahawul-bench-"))
        self.partitions = partitions
        self.keep = keep
        self.broker = EmbeddedBroker(self.dir / "broker.log")

    def __enter__(self) -> Bench:
        self.broker.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.broker.stop()
        if not self.keep:
            shutil.rmtree(self.dir, ignore_errors=True)

    def broker_cpu(self) -> float:
        """CPU seconds the broker process has used so far."""
        assert self.broker.process is not None
        return cpu_seconds(self.broker.process.pid)

    def settings(self, name: str, share_topic: Settings | None = None, **overrides: Any) -> Settings:
        tag = f"{name}-{uuid.uuid4().hex[:6]}"
        values: dict[str, Any] = dict(
            data_dir=self.dir / tag,
            kafka_url=f"kafka://{self.broker.bootstrap}",
            topic_transactions=share_topic.topic_transactions if share_topic else f"tx-{tag}",
            topic_validated=f"validated-{tag}",
            topic_dead_letter=f"dlq-{tag}",
            worker_group=f"worker-{tag}",
            counter_group=f"counter-{tag}",
            partitions=self.partitions,
            session_timeout=3.0,
            _env_file=None,
        )
        values.update(overrides)
        # Signed events, as everywhere: dev keys in the pipeline's data dir (as `tahawul up`
        # makes them), or those of the topic's filler; the workers verify every record, so
        # that cost is in every figure.
        values.setdefault("signing_trust", share_topic.signing_trust if share_topic
                          else ensure_dev_keys(values["data_dir"]))
        s = Settings(**values)
        s.data_dir.mkdir(parents=True, exist_ok=True)
        ensure_topics(self.broker.bootstrap, s)
        return s


def env_for(settings: Settings, **extra: str) -> dict[str, str]:
    """A child's environment (tahawul.runtime.local.child_env) with this checkout on the
    path, so that ``-m benchmarks...`` works from the scratch directories children run in."""
    return child_env(settings, PYTHONPATH=str(REPO), **extra)


# ---- filling the transactions topic -----------------------------------------------------


@dataclass
class Filled:
    truth: Truth
    acked: dict[int, int]
    records: int
    seconds: float

    @property
    def events(self) -> int:
        return self.truth.lines


def simulated(events: int, seed: int, duplicates: float, invalid: float) -> Iterator[SimulatedLine]:
    return iter_simulation(PROFILE, scale_for(events), seed, duplicates, invalid)


def event_id_key(line: SimulatedLine) -> bytes | None:
    """The event's id as its key (every copy of an event shares it); the entity otherwise."""
    try:
        obj = orjson.loads(line.data)
    except orjson.JSONDecodeError:
        obj = None
    if isinstance(obj, dict) and isinstance(obj.get("event_id"), str):
        return str(obj["event_id"]).encode()
    return line.entity.encode() if line.entity else None


def signer(settings: Settings) -> Sign:
    """Signs each record with the dev key of the entity its payload names (records keyed by
    event id too), else of its key's entity (a batched record)."""
    signers = producer_signers(settings)

    def sign(key: bytes | None, value: bytes) -> bytes | None:
        return signers.sign_keyed(entity_key(value) or key, value)
    return sign


def fill(settings: Settings, events: int, seed: int = 7, duplicates: float = 0.01,
         invalid: float = 0.01, batch: int = 0, progress: bool = True, key: str = "entity") -> Filled:
    """Send a simulated run (about ``events`` lines, 1% duplicates and 1% invalid by default)
    to the transactions topic: one record per event, or (``batch`` > 0) batched records of up
    to ``batch`` events of one entity, as the gateway and `tahawul send` make them. Records
    are keyed by entity, as producers do, or (``key="event_id"``, single records only) by the
    event's id, which spreads them evenly over the partitions."""
    if key not in ("entity", "event_id") or (key == "event_id" and batch):
        raise ValueError("key is entity, or event_id for records of one event")
    truth = Truth()
    sender = EventSender(settings.kafka_bootstrap() or "", settings.topic_transactions,
                         linger_ms=50, batch_events=batch, sign=signer(settings))
    started = time.perf_counter()
    try:
        for n, line in enumerate(simulated(events, seed, duplicates, invalid), start=1):
            if key == "entity":
                sender.add(line.data, line.entity.encode() if line.entity else None)
            else:
                sender.add(line.data, event_id_key(line))
            truth.add(line)
            if progress and n % 1_000_000 == 0:
                print(f"  ... {n:,} events sent", flush=True)
        sender.flush()
        return Filled(truth, dict(sender.acked), sender.records_sent, time.perf_counter() - started)
    finally:
        sender.close()


# ---- the pipeline ---------------------------------------------------------------------


class Pipeline(LocalPipeline):
    """The local pipeline (tahawul.runtime.local, as `tahawul up` and the tests run it) on
    one settings' topics and store, timing every write of the counting writer."""

    def __init__(self, settings: Settings, on_batch: Callable[[CountingWriter, Prepared], None] | None = None
                 ) -> None:
        super().__init__(settings, log_dir=settings.data_dir, worker_cwd=settings.data_dir,
                         worker_env={"PYTHONPATH": str(REPO)})  # children run in scratch directories
        self.on_batch = on_batch
        self.run = Run()
        self.started = 0.0
        self.first_batch = 0.0
        self.last_batch = 0.0
        self.history: list[tuple[float, int]] = []  # (time, events applied)
        # CPU seconds of each worker and of this process when the first batch was stored,
        # and the events applied by then: CPU an event after start-up (see steady_cpu_us).
        self.cpu_at_first: dict[int, float] = {}
        self.own_cpu_at_first = 0.0
        self.applied_at_first = 0

    @property
    def store(self) -> Store | None:
        return self.writer.store if self.writer is not None else None

    def _timed(self, writer: CountingWriter, prepared: Prepared) -> None:
        now = time.perf_counter()
        if not self.first_batch:
            self.first_batch = now
            self.own_cpu_at_first = time.process_time()
            self.cpu_at_first = {pid: cpu_seconds(pid) for pid in self.worker_pids}
            self.applied_at_first = self.run.applied
        self.last_batch = now
        self.history.append((now, self.run.applied))
        if self.on_batch is not None:
            self.on_batch(writer, prepared)

    def start(self, workers: int = 1, on_batch: Callable[[CountingWriter, Prepared], None] | None = None,
              run: Run | None = None) -> Self:
        self.started = time.perf_counter()
        super().start(workers, self._timed, self.run)
        return self

    def applied(self) -> int:
        return self.run.applied

    def wait(self, acked: dict[int, int], timeout: float) -> None:
        """Wait until every acknowledged source record is applied in the store."""
        self.run.acked = acked
        self.run.feed_done = True
        self.wait_caught_up(timeout)

    @property
    def worker_pids(self) -> list[int]:
        return [p.pid for p in self.workers.procs] if self.workers is not None else []

    @property
    def wall_seconds(self) -> float:
        """From starting the processes to the last batch in the store (start-up included)."""
        return self.last_batch - self.started

    @property
    def steady_seconds(self) -> float:
        """From the first batch in the store to the last (start-up excluded, as the baselines).
        A run small enough to be written in one batch has no such span: start-up included."""
        if len(self.history) < 2:
            return self.wall_seconds
        return self.last_batch - self.first_batch

    def steady_rate(self, events: int) -> float:
        """Events/s from 10% to 90% of ``events`` applied (see steady_or_overall)."""
        return steady_or_overall(self.history, events, events / self.steady_seconds)

    def steady_cpu_us(self, events: int) -> tuple[float, float]:
        """CPU microseconds an event of the first worker and of this process (the counting
        writer's thread, mostly) from the first batch stored to now, start-up excluded as
        the rates exclude it; over the whole run for a run written in one batch."""
        pid = self.worker_pids[0]
        after = max(1, events - self.applied_at_first)
        if len(self.history) < 2:
            return cpu_seconds(pid) / events * 1e6, time.process_time() / events * 1e6
        return ((cpu_seconds(pid) - self.cpu_at_first.get(pid, 0.0)) / after * 1e6,
                (time.process_time() - self.own_cpu_at_first) / after * 1e6)


def check_exact(store: Store, truth: Truth) -> None:
    """v_counts_daily equals the truth cell for cell; events, duplicates and rejections too."""
    rows = store.client.query(
        "SELECT toString(day), governorate, entity, service, channel, mode, transactions "
        "FROM v_counts_daily WHERE transactions > 0").result_rows
    got = {tuple(r[:6]): int(r[6]) for r in rows}
    want = {(r[0].isoformat(), *r[1:6]): int(r[6]) for r in truth.rows()}
    if got != want:
        raise AssertionError(f"published counts differ from the truth in "
                             f"{sum(got.get(k) != v for k, v in want.items())} cells")
    q = store.client.query("SELECT (SELECT count() FROM events), (SELECT count() FROM duplicates), "
                           "(SELECT count() FROM rejected)").result_rows[0]
    if tuple(q) != (truth.valid, truth.duplicate, truth.invalid):
        raise AssertionError(f"events/duplicates/rejected {tuple(q)} != "
                             f"{(truth.valid, truth.duplicate, truth.invalid)}")


# ---- baselines ----------------------------------------------------------------------------


def count_values(values: Any, counts: dict[Any, int]) -> int:
    """What both baselines do per record: parse its event(s) and count by governorate."""
    n = 0
    for value in values:
        for line in value.split(b"\n") if b"\n" in value else (value,):
            try:
                obj = orjson.loads(line)
            except orjson.JSONDecodeError:
                obj = None
            key = obj.get("governorate") if isinstance(obj, dict) else None
            counts[key] = counts.get(key, 0) + 1
            n += 1
    return n


def bare_aiokafka(settings: Settings, events: int, timeout: float = 600) -> float:
    """Seconds from the first to the last event for a bare aiokafka consumer (no group, all
    partitions) that reads, parses and counts: the ceiling of Python on this machine."""
    from aiokafka import AIOKafkaConsumer, TopicPartition

    async def main() -> float:
        consumer = AIOKafkaConsumer(bootstrap_servers=settings.kafka_bootstrap(), enable_auto_commit=False,
                                    auto_offset_reset="earliest", max_partition_fetch_bytes=8 << 20,
                                    fetch_max_bytes=64 << 20)
        await consumer.start()
        try:
            consumer.assign([TopicPartition(settings.topic_transactions, p)
                             for p in range(settings.partitions)])
            counts: dict[Any, int] = {}
            n = 0
            first = 0.0
            deadline = time.monotonic() + timeout
            while n < events and time.monotonic() < deadline:
                polled = await consumer.getmany(timeout_ms=500, max_records=10_000)
                for records in polled.values():
                    if not first:
                        first = time.perf_counter()
                    n += count_values((r.value for r in records), counts)
            if n < events:
                raise TimeoutError(f"bare aiokafka consumer read {n} of {events}")
            return time.perf_counter() - first
        finally:
            await consumer.stop()

    return asyncio.run(main())


@dataclass
class FaustRun:
    seconds: float  # from the first event counted to the last, over all agents
    rss_mb: float  # the largest agent's resident memory at the end
    history: list[tuple[float, int]]  # (time, events counted by all agents)

    def steady_rate(self, events: int) -> float:
        """Events/s from 10% to 90% of ``events`` counted (see steady_or_overall)."""
        return steady_or_overall(self.history, events, events / self.seconds)


def bare_faust(settings: Settings, events: int, agents: int = 1, timeout: float = 1200) -> FaustRun:
    """``agents`` bare Faust agent processes in one group that only parse and count
    (benchmarks/faust_bare.py): Faust's own ceiling."""
    group = f"{settings.worker_group}-bare-{uuid.uuid4().hex[:4]}"
    outs = [settings.data_dir / f"faust-bare-{group}-{i}.json" for i in range(agents)]
    procs = []
    logs = []
    try:
        for i, out in enumerate(outs):
            env = env_for(settings, BENCH_EXPECT=str(events if agents == 1 else 0), BENCH_OUT=str(out),
                          TAHAWUL_WORKER_GROUP=group)
            logs.append((settings.data_dir / f"faust-bare-{i}.log").open("wb"))
            procs.append(subprocess.Popen([sys.executable, "-m", "benchmarks.faust_bare"], env=env, cwd=REPO,
                                          stdout=logs[-1], stderr=subprocess.STDOUT))
        deadline = time.monotonic() + timeout
        while True:
            reports = [json.loads(o.read_text()) for o in outs if o.exists()]
            if len(reports) == agents and sum(r["events"] for r in reports) >= events:
                break
            for p in procs:
                if p.poll() is not None:
                    raise RuntimeError(f"a Faust baseline agent exited with {p.returncode}; "
                                       f"see {settings.data_dir}/faust-bare-*.log")
            if time.monotonic() > deadline:
                raise TimeoutError("the Faust baseline did not finish")
            time.sleep(0.1)
        first = min(r["first"] for r in reports if r["first"])
        last = max(r["last"] for r in reports)
        history = merge_histories([[(t, n) for t, n in r["history"]] for r in reports])
        return FaustRun(last - first, max(r["rss_mb"] for r in reports), history)
    finally:
        stop_processes(procs)
        for log in logs:
            log.close()


# ---- metrics of a process ------------------------------------------------------------------


def metric_port() -> int:
    return free_port()


def scrape(port: int) -> dict[str, float]:
    """Samples of a /metrics endpoint: ``name{labels}`` -> value (0 when unreachable)."""
    try:
        body = urllib.request.urlopen(f"http://127.0.0.1:{port}/metrics", timeout=2).read().decode()
    except OSError:
        return {}
    out: dict[str, float] = {}
    for line in body.splitlines():
        if line and not line.startswith("#"):
            name, _, value = line.rpartition(" ")
            try:
                out[name] = float(value)
            except ValueError:
                continue
    return out


# ---- profiles (py-spy, when installed) -----------------------------------------------------


def py_spy() -> str | None:
    """The py-spy executable: on PATH, or next to this Python (a virtualenv's bin)."""
    beside = Path(sys.executable).parent / "py-spy"
    return shutil.which("py-spy") or (str(beside) if beside.exists() else None)


def spy_available() -> bool:
    return py_spy() is not None


class Spy:
    """``py-spy record`` of a process for some seconds, in collapsed-stack form."""

    def __init__(self, pid: int, out: Path, seconds: float, rate: int = 100) -> None:
        self.out = out
        self.proc = subprocess.Popen(
            [py_spy() or "py-spy", "record", "-p", str(pid), "-d", str(int(seconds)), "-r", str(rate),
             "-f", "raw", "-o", str(out), "--nonblocking"],
            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)

    def summary(self, top: int = 12, thread: str | None = None) -> str:
        """The functions with most samples (self time), and the share of each area."""
        try:
            self.proc.wait(120)
        except subprocess.TimeoutExpired:
            self.proc.kill()
        if not self.out.exists():
            return "(no profile: py-spy could not attach)"
        own: collections.Counter[str] = collections.Counter()
        areas: collections.Counter[str] = collections.Counter()
        total = 0
        for line in self.out.read_text().splitlines():
            stack, _, n = line.rpartition(" ")
            if thread and thread not in stack:
                continue
            frames = stack.split(";")
            total += int(n)
            own[frames[-1]] += int(n)
            areas[_area(frames)] += int(n)
        if not total:
            return "(no samples)"
        lines = [f"  {n / total:6.1%}  {name}" for name, n in own.most_common(top)]
        parts = ", ".join(f"{name} {n / total:.0%}" for name, n in areas.most_common())
        return f"  by area: {parts}\n  top functions (own time):\n" + "\n".join(lines)


AREAS = (  # first match from the innermost frame outwards
    ("validation", ("schemas/event.py", "stream_processors/validation.py", "schemas/batch.py",
                    "stream_processors/columnar.py", "schemas/signing.py", "nacl/")),
    ("envelopes", ("stream_processors/envelope.py",)),
    ("counting", ("stream_processors/counter.py", "stream_processors/seen.py")),
    ("metrics", ("prometheus_client", "stream_processors/metrics.py")),
    ("ClickHouse insert", ("clickhouse_connect", "chdb", "sinks/clickhouse")),
    ("Kafka client", ("kafka/", "aiokafka")),
    ("Faust and asyncio", ("faust", "mode/", "asyncio", "selectors")),
)


def _area(frames: list[str]) -> str:
    for frame in reversed(frames):
        for name, needles in AREAS:
            if any(n in frame for n in needles):
                return name
    return "other"
