"""Exactness on Apache Kafka where Tansu cannot be the broker: the broker itself SIGKILLed
and restarted on its own log dirs, and one node of a three-node KRaft cluster SIGKILLed
while producers send (replication). Counts must equal the simulator's truth cell for cell
and reconciliation must find no drift, as on Tansu (test_outages, test_pipeline)."""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from kafka.admin import NewTopic

from tahawul.kafka_admin import admin, ensure_topics
from tahawul.runtime.apache_kafka import ApacheKafka, KafkaCluster
from tahawul.runtime.broker import EmbeddedBroker
from tahawul.runtime.local import Workers, WriterThread
from tahawul.settings import Settings
from tests.integration.helpers import assert_exact, feed, wait_applied

pytestmark = pytest.mark.integration


@pytest.fixture(scope="module")
def broker(tmp_path_factory: pytest.TempPathFactory) -> Iterator[EmbeddedBroker]:
    """The conftest's ``settings`` name the test's topics and groups on the module's broker;
    the tests here start (and kill) Apache Kafka brokers of their own and move the settings
    there, so this one is an idle Tansu, whatever --broker says (it is not parametrized)."""
    with EmbeddedBroker(tmp_path_factory.mktemp("idle") / "broker.log") as idle:
        yield idle


def restart_later(node: ApacheKafka, delay: float, errors: list[BaseException]) -> threading.Event:
    """Start ``node`` again on its log dir after ``delay`` seconds, from a timer thread; the
    event is set when it answers again (or failed: ``errors`` says why)."""
    done = threading.Event()

    def restart() -> None:
        try:
            node.start()
        except BaseException as exc:
            errors.append(exc)
        finally:
            done.set()

    threading.Timer(delay, restart).start()
    return done


def on_cluster(settings: Settings, bootstrap: str) -> Settings:
    """The test's topics and groups, on another broker or cluster."""
    return settings.model_copy(update={"kafka_url": f"kafka://{bootstrap}"})


def test_kafka_killed_and_restarted_on_its_log_dirs_is_exact(
    settings: Settings, start_counter: Callable[..., WriterThread], tmp_path: Path,
) -> None:
    """kill -9 the broker while producers send, restart it on the same log dir 3 s later:
    what it acknowledged is on disk, the producers resend what it did not, the workers
    carry on, and the counts are exact."""
    kafka = ApacheKafka(tmp_path / "kafka").start()
    durable = on_cluster(settings, kafka.bootstrap)
    ensure_topics(kafka.bootstrap, durable)
    workers = Workers(durable, tmp_path)
    restarted: list[threading.Event] = []
    errors: list[BaseException] = []
    try:
        workers.start()
        ct = start_counter(using=durable)

        def crash(n: int) -> None:
            if n == 15_000:
                kafka.kill()
                restarted.append(restart_later(kafka, 3.0, errors))

        truth, acked = feed(durable, 0.03, 23, on_sent=crash)
        assert len(restarted) == 1 and restarted[0].wait(120) and not errors, errors
        assert (kafka.log_dir / "meta.properties").exists()  # the same log dir, not a new one
        for proc in workers.exited():  # a worker that lost its broker may have exited
            workers.restart(proc)
        wait_applied(ct, durable, acked, 300)
        assert_exact(ct, truth)
    finally:
        workers.stop_all()
        kafka.stop()


def test_three_node_cluster_loses_a_node_and_stays_exact(
    settings: Settings, start_counter: Callable[..., WriterThread], tmp_path: Path,
) -> None:
    """Topics replicated three times (min.insync.replicas 2): a node SIGKILLed mid-run and
    brought back later costs nothing acknowledged and counts nothing twice."""
    cluster = KafkaCluster(tmp_path / "cluster", size=3, heap="256m").start()
    replicated = on_cluster(settings, cluster.bootstrap)
    client = admin(cluster.bootstrap)
    try:
        client.create_topics([NewTopic(t, replicated.partitions, 3) for t in (
            replicated.topic_transactions, replicated.topic_validated, replicated.topic_dead_letter)])
    finally:
        client.close()
    ensure_topics(cluster.bootstrap, replicated)  # checks the topics as `up` and workers do
    workers = Workers(replicated, tmp_path)
    victim = cluster.nodes[0]
    back: list[threading.Event] = []
    errors: list[BaseException] = []
    try:
        workers.start()
        ct = start_counter(using=replicated)

        def crash(n: int) -> None:
            if n == 10_000:
                victim.kill()
                back.append(restart_later(victim, 5.0, errors))

        truth, acked = feed(replicated, 0.02, 31, on_sent=crash)
        assert len(back) == 1 and back[0].wait(120) and not errors, errors
        for proc in workers.exited():
            workers.restart(proc)
        wait_applied(ct, replicated, acked, 300)
        assert_exact(ct, truth)
    finally:
        workers.stop_all()
        cluster.stop()
