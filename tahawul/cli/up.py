"""`tahawul up`: the whole pipeline on one machine, with a live view.

Starts the local pipeline (:mod:`tahawul.runtime.local`: the embedded broker unless
TAHAWUL_KAFKA_URL points at a cluster, the topics, the store, a worker and the counting
writer), feeds the given input and shows a live view. With ``--exit-when-done`` it waits
until every acknowledged input record is applied in the store, prints the totals and exits.
"""

from __future__ import annotations

import sys
import threading
import time
from collections.abc import Callable
from typing import TextIO

from tahawul.cli.console import LiveView, totals_table
from tahawul.producers.kafka_sender import EventSender
from tahawul.runtime.feeds import Feed, send_feed
from tahawul.runtime.local import LocalPipeline, Run
from tahawul.settings import Settings

EXIT_WRITER_FAILED = 3
EXIT_FEED_FAILED = 4
EXIT_INTERRUPTED = 130


def up(settings: Settings, feed_factory: Callable[[], Feed] | None, exit_when_done: bool,
       out: TextIO = sys.stdout) -> int:
    settings.data_dir.mkdir(parents=True, exist_ok=True)
    pipeline = LocalPipeline(settings)
    run = Run()
    started = time.monotonic()
    try:
        pipeline.start_broker()
        if pipeline.broker is not None:
            print(f"embedded broker on {pipeline.broker.bootstrap} (log: {pipeline.broker.log_path})",
                  file=sys.stderr)
        writer = pipeline.start_writer(run=run)
        workers = pipeline.start_workers(1)
        if feed_factory is not None:
            sender = EventSender(pipeline.bootstrap, settings.topic_transactions)
            threading.Thread(target=send_feed, args=(sender, feed_factory(), run), name="feed",
                             daemon=True).start()
        else:
            run.feed_done = True
        with LiveView(run, started, out) as view:
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
                if exit_when_done and run.caught_up(settings.topic_transactions):
                    break
        writer.halt()
        elapsed = time.monotonic() - started
        print(f"processed {run.fed} input records in {elapsed:.1f} s: {run.counted} counted, "
              f"{run.duplicates} duplicates, {run.rejected} rejected", file=out)
        print(totals_table(writer.store.client), file=out)
        return 0
    except KeyboardInterrupt:
        return EXIT_INTERRUPTED
    finally:
        pipeline.close()
