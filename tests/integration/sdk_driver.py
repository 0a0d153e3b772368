"""A producing process for the SDK tests: a Producer driven by commands on stdin, so a test
can make it send, flush, and then SIGKILL it like a crashing integrating system.

Commands (one per line): ``send FILE`` (send_many of a JSONL file; answers ``spooled N``),
``flush SECONDS`` (answers ``pending N``), ``close`` (answers ``pending N`` and exits).
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from tahawul.sdk import Producer


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--bootstrap", required=True)
    parser.add_argument("--spool", type=Path, required=True)
    parser.add_argument("--topic", required=True)
    parser.add_argument("--signing-key", type=Path, required=True, help="the entity's private key file")
    parser.add_argument("--batch-events", type=int, default=1000, help="events per batched record")
    args = parser.parse_args()
    producer = Producer(args.bootstrap, args.spool, topic=args.topic, signing_key=args.signing_key,
                        delivery_timeout=3.0, retry_backoff=0.3, max_retry_backoff=1.0,
                        batch_events=args.batch_events)
    print(f"ready pending {producer.pending}", flush=True)
    for line in sys.stdin:
        command, _, arg = line.strip().partition(" ")
        if command == "send":
            n = producer.send_many(Path(arg).read_bytes().splitlines())
            print(f"spooled {n}", flush=True)
        elif command == "flush":
            print(f"pending {producer.flush(float(arg))}", flush=True)
        elif command == "close":
            print(f"pending {producer.close(30)}", flush=True)
            return


if __name__ == "__main__":
    main()
