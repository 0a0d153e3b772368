"""`tahawul broker fetch|where`: the local Apache Kafka's jars (tahawul.runtime.apache_kafka).

`fetch` is what `.ci/run` and the README's test command run before the tests, and what a
developer runs once before `tahawul up --broker kafka`; a second run finds the jars in the
per-user cache and downloads nothing.
"""

from __future__ import annotations

import argparse
from typing import Any

from tahawul.settings import Settings


def register(sub: Any) -> None:
    broker = sub.add_parser("broker", help="the local Apache Kafka broker "
                                           "(durable `up --broker kafka`, tests)")
    broker_sub = broker.add_subparsers(dest="broker_command", required=True)
    fetch = broker_sub.add_parser(
        "fetch", help="fetch the pinned Apache Kafka jars with Maven into the per-user cache "
                      "(nothing to do when they are there)")
    fetch.set_defaults(handler=fetch_kafka)
    where = broker_sub.add_parser("where", help="print the version, the jar directory and whether "
                                                "this machine can run it (Java, jars)")
    where.set_defaults(handler=where_kafka)


def fetch_kafka(args: argparse.Namespace, settings: Settings) -> int:
    from tahawul.runtime.apache_kafka import fetch, java_binary, kafka_version

    java_binary()  # no Java: say so now, not at the first `up --broker kafka`
    print(f"Apache Kafka {kafka_version()}: {fetch()}")
    return 0


def where_kafka(args: argparse.Namespace, settings: Settings) -> int:
    from tahawul.runtime.apache_kafka import available, kafka_version, libs_dir

    ready = available()
    state = "ready" if ready else "not runnable here: run `tahawul broker fetch` (needs Java 17+ and Maven)"
    print(f"Apache Kafka {kafka_version()}: {libs_dir()} ({state})")
    return 0 if ready else 1
