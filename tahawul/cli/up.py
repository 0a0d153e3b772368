"""`tahawul up`: the whole pipeline on one machine, with a live view.

Starts the local pipeline (:mod:`tahawul.runtime.local`: the embedded broker unless
TAHAWUL_KAFKA_URL points at a cluster, the topics, the store, a worker and the counting
writer), feeds the given input and shows a live view. With ``--exit-when-done`` it waits
until every acknowledged input record is applied in the store, prints the totals and exits.

Stopping loses nothing acknowledged. The embedded broker keeps its log in memory, so what
it acknowledged (to this run's input, or to a `tahawul send` pointed at it) exists nowhere
else until it is counted: on the first Ctrl-C or SIGTERM `up` takes no more input, counts
every record the broker holds, and exits. With ``--broker kafka`` (TAHAWUL_LOCAL_BROKER)
the local broker is Apache Kafka with its log on disk under the data dir: what it
acknowledged also survives an `up` that is killed, and the next `up` counts it. A second
Ctrl-C stops at once and says how many acknowledged records were not counted. Children
(the broker, the worker) die with `up` whatever signal it gets
(tahawul.runtime.processes.child_options).
"""

from __future__ import annotations

import logging
import signal
import sys
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from types import FrameType
from typing import TextIO

from tahawul.cli.console import LiveView, totals_table
from tahawul.kafka_admin import group_positions, last_offsets
from tahawul.keyring import producer_signers
from tahawul.producers.kafka_sender import EventSender
from tahawul.runtime.feed_process import SIMULATION_BATCH, FeedProcess, SimulationSpec
from tahawul.runtime.feeds import Feed, send_feed
from tahawul.runtime.local import LocalPipeline, Run
from tahawul.runtime.rates import EventRate
from tahawul.runtime.read_server import ReadServer, run_state, serve_reads
from tahawul.runtime.stall import StallWatch, stall_report, uncounted_partitions
from tahawul.settings import Settings
from tahawul.sinks.clickhouse.connection import is_embedded
from tahawul.sinks.clickhouse.exchanges import exchange_summary
from tahawul.sinks.clickhouse.read_front import record_path
from tahawul.sinks.clickhouse.runs import RunRecord, record_run

EXIT_WRITER_FAILED = 3
EXIT_FEED_FAILED = 4
EXIT_INTERRUPTED = 130
# A simulation is fed at most this many batched records (1M events) ahead of what is counted:
# generating is faster than counting, and what is sent and not counted waits in the producer's
# buffer (where it expires after delivery_timeout) and in the broker's log (in memory for the
# embedded broker). docs/performance.md ("National scale").
SIMULATION_MAX_AHEAD = 2_000
# A stop that has counted nothing for this long says on stderr what it waits for, and again
# as long as that lasts (tahawul.runtime.stall).
STOP_STALL_SECONDS = 30.0


@contextmanager
def stop_requests() -> Iterator[threading.Event]:
    """An event set by the first SIGINT or SIGTERM; the second raises KeyboardInterrupt (stop
    at once). The previous handlers come back afterwards."""
    requested = threading.Event()

    def handler(signum: int, frame: FrameType | None) -> None:
        if requested.is_set():
            raise KeyboardInterrupt
        requested.set()

    previous = {sig: signal.signal(sig, handler) for sig in (signal.SIGINT, signal.SIGTERM)}
    try:
        yield requested
    finally:
        for sig, old in previous.items():
            signal.signal(sig, old)


def _quiet_kafka_clients() -> None:
    """From here on, the Kafka clients of this process are being closed: kafka-python logs
    races of its own I/O thread at ERROR then (a selector key gone, a connection refused by
    a broker that stopped first), which say nothing to a user. Our own lines say what was
    and was not counted."""
    logging.getLogger("kafka").setLevel(logging.CRITICAL)


def uncounted(run: Run, topic: str, targets: dict[int, int] | None) -> int | None:
    """Acknowledged source records not yet applied (None if the targets are not known)."""
    if targets is None:
        return None
    return sum(last - applied for applied, last in uncounted_partitions(run, topic, targets).values())


def stop_stall(pipeline: LocalPipeline, run: Run, targets: dict[int, int], writer_alive: bool) -> str:
    """Why a stop has counted nothing for STOP_STALL_SECONDS (tahawul.runtime.stall): what is
    not counted, whether the worker group has read it, the workers' and the writer's state."""
    settings = pipeline.settings
    try:
        group: tuple[str, dict[int, int]] | str = group_positions(
            pipeline.bootstrap, settings.worker_group, settings.topic_transactions,
            settings.kafka_security())
    except Exception as exc:  # a diagnosis must not end the stop it explains
        group = f"{type(exc).__name__}: {exc}"
    return stall_report(STOP_STALL_SECONDS, run, settings.topic_transactions, targets, group,
                        pipeline.workers, writer_alive)


def serve_live(settings: Settings, run: Run, meter: EventRate) -> ReadServer | None:
    """The live page and the read-only ClickHouse HTTP front of the embedded store, on
    loopback (tahawul.runtime.read_server); their address goes to stderr. A ClickHouse server
    serves its own reads: then there is neither (see docs/operations.md)."""
    dsn = settings.clickhouse_dsn()
    if not is_embedded(dsn):
        return None
    store_dir = Path(dsn[len("chdb://"):])
    reads = serve_reads(store_dir, run_state(run, meter), settings.live_port)
    print(f"live page: {reads.url}/en (Arabic: {reads.url}/ar); the store, read-only, for ClickHouse "
          f"clients: {reads.url} (user and password in {record_path(store_dir)})", file=sys.stderr)
    return reads


def up(settings: Settings, feed_factory: Callable[[], Feed] | None, exit_when_done: bool,
       out: TextIO = sys.stdout, run_record: RunRecord | None = None,
       max_ahead: int | None = None) -> int:
    """``run_record``: the simulated run being fed, recorded in the store when it starts and
    when all it sent is counted (the scale `tahawul audit published` compares at).
    ``max_ahead``: the feed waits while more records than this are sent but not counted
    (tahawul.runtime.feeds.wait_for_room)."""
    settings.data_dir.mkdir(parents=True, exist_ok=True)
    pipeline = LocalPipeline(settings)
    topic = settings.topic_transactions
    run = Run()
    targets: dict[int, int] | None = None  # at a stop: the last offset of every partition
    started = time.monotonic()
    meter = EventRate()  # events/s for the live view and the live page
    reads: ReadServer | None = None
    feeder: FeedProcess | None = None
    stall = StallWatch(STOP_STALL_SECONDS)
    with stop_requests() as stopping:
        try:
            pipeline.start_broker()
            if pipeline.broker is not None:
                kind = "local Apache Kafka" if pipeline.settings.local_broker == "kafka" else "embedded"
                print(f"{kind} broker on {pipeline.broker.bootstrap} (log: {pipeline.broker.log_path})",
                      file=sys.stderr)
            if run_record is not None:
                record_run(pipeline.open_store().client, run_record)
            writer = pipeline.start_writer(run=run)
            reads = serve_live(settings, run, meter)
            workers = pipeline.start_workers(1)
            if isinstance(feed_factory, SimulationSpec):
                # A simulation is fed from a process of its own, beside the counting writer
                # rather than sharing this process's GIL with it (runtime/feed_process.py).
                feeder = FeedProcess(pipeline.settings, feed_factory, run, stopping, max_ahead,
                                     pipeline.log_dir).start()
            elif feed_factory is not None:
                # Simulated events travel in batched records per entity, as `tahawul send`
                # sends files: one record each is Faust's per-record cost for every event
                # (about 4,000 events/s here instead of tens of thousands).
                # Every record signed (TAHAWUL_SIGNING_KEYS, else the local dev keys).
                sender = EventSender(pipeline.bootstrap, topic, batch_events=SIMULATION_BATCH,
                                     sign=producer_signers(pipeline.settings).sign_keyed,
                                     security=pipeline.settings.kafka_security())
                threading.Thread(target=send_feed, args=(sender, feed_factory(), run, stopping, max_ahead),
                                 name="feed", daemon=True).start()
            else:
                run.feed_done = True
            with LiveView(run, started, out, meter) as view:
                while True:
                    time.sleep(0.25)
                    view.refresh()
                    for proc in workers.exited():
                        print(f"worker exited with {proc.returncode}; restarting "
                              f"(log: {pipeline.log_dir})", file=sys.stderr)
                        workers.restart(proc)
                    if not writer.thread.is_alive():
                        print("the counting writer stopped unexpectedly; see the log", file=sys.stderr)
                        return EXIT_WRITER_FAILED
                    if run.feed_error:
                        print(f"could not send input: {run.feed_error}", file=sys.stderr)
                        return EXIT_FEED_FAILED
                    if stopping.is_set():
                        if targets is None and run.feed_done:
                            targets = last_offsets(pipeline.bootstrap, topic,
                                                   pipeline.settings.kafka_security())
                            left = uncounted(run, topic, targets)
                            print(f"stopping: no more input; counting the {left} record(s) the broker "
                                  "holds that are not counted yet (Ctrl-C again to stop at once)",
                                  file=sys.stderr)
                        left = uncounted(run, topic, targets)
                        if targets is not None and left == 0:
                            print("stopped: everything the broker acknowledged is counted", file=sys.stderr)
                            break
                        if targets is not None and stall.due(left):  # never a silent wait
                            print(stop_stall(pipeline, run, targets, writer.thread.is_alive()),
                                  file=sys.stderr)
                    elif exit_when_done and run.caught_up(topic):
                        break
            _quiet_kafka_clients()  # closing them may log internal races; what counts is said below
            writer.halt()
            if run_record is not None:
                record_run(writer.store.client, run_record.finished(run.fed))
            elapsed = time.monotonic() - started
            print(f"processed {run.fed} input records in {elapsed:.1f} s: {run.counted} counted, "
                  f"{run.duplicates} duplicates, {run.rejected} rejected", file=out)
            print(totals_table(writer.store.client), file=out)
            exchanges = exchange_summary(writer.store.client)  # (docs/exchanges.md)
            if exchanges is not None:
                print(exchanges, file=out)
            return 0
        except KeyboardInterrupt:
            _quiet_kafka_clients()
            left = uncounted(run, topic, targets)
            where = ("they were held only by the embedded broker, in memory, and are lost: send them "
                     "again" if pipeline.broker is not None and not pipeline.broker.durable else
                     "they stay in Kafka and are counted when the pipeline runs again")
            what = (f"{left} acknowledged record(s) not counted" if left is not None
                    else "records the broker acknowledged may not all be counted")
            print(f"stopped at once: {what}; {where}", file=sys.stderr)
            return EXIT_INTERRUPTED
        finally:
            _quiet_kafka_clients()
            if feeder is not None:
                feeder.close()
            if reads is not None:
                reads.close()
            pipeline.close()
