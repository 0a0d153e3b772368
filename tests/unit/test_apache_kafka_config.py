"""The Apache Kafka launcher's configuration, without starting a JVM: the pinned version,
cluster ids that kafka-storage accepts, and the server properties a caller can override
(another listener, SASL_SSL) on top of loopback defaults."""

from __future__ import annotations

from pathlib import Path

import pytest

from tahawul.runtime import apache_kafka
from tahawul.runtime.apache_kafka import ApacheKafka, KafkaCluster, NotInstalled, new_cluster_id


def test_the_version_is_pinned_once_in_the_shipped_pom() -> None:
    assert apache_kafka.POM.is_file()
    version = apache_kafka.kafka_version()
    assert version.count(".") == 2 and all(part.isdigit() for part in version.split("."))
    assert apache_kafka.cache_dir().name == f"kafka-{version}"


def test_cache_dir_follows_xdg_cache_home(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path))
    assert apache_kafka.libs_dir() == tmp_path / "tahawul" / f"kafka-{apache_kafka.kafka_version()}" / "libs"


def test_cluster_ids_are_22_url_safe_characters_never_read_as_an_option() -> None:
    ids = [new_cluster_id() for _ in range(2000)]
    assert all(len(i) == 22 and not i.startswith("-") for i in ids)
    assert len(set(ids)) == len(ids)


def test_defaults_listen_on_loopback_only_and_accept_short_sessions(tmp_path: Path) -> None:
    props = ApacheKafka(tmp_path, port=19092, controller_port=19093).server_properties()
    assert props["listeners"] == "PLAINTEXT://127.0.0.1:19092,CONTROLLER://127.0.0.1:19093"
    assert props["controller.quorum.voters"] == "1@127.0.0.1:19093"
    assert props["log.dirs"] == str(tmp_path / "log")
    assert int(props["group.min.session.timeout.ms"]) <= 3000  # the tests' and up's 3 s sessions


def test_a_sasl_ssl_listener_and_extra_properties_override_the_defaults(tmp_path: Path) -> None:
    props = ApacheKafka(tmp_path, port=19094, security_protocol="SASL_SSL",
                        properties={"sasl.enabled.mechanisms": "SCRAM-SHA-512",
                                    "offsets.topic.num.partitions": "1"}).server_properties()
    assert props["listeners"].startswith("SASL_SSL://127.0.0.1:19094,")
    assert props["listener.security.protocol.map"] == "SASL_SSL:SASL_SSL,CONTROLLER:PLAINTEXT"
    assert props["inter.broker.listener.name"] == "SASL_SSL"
    assert props["sasl.enabled.mechanisms"] == "SCRAM-SHA-512"
    assert props["offsets.topic.num.partitions"] == "1"


def test_a_cluster_shares_voters_and_id_and_replicates_three_times(tmp_path: Path) -> None:
    cluster = KafkaCluster(tmp_path, size=3)
    voters = {node.voters for node in cluster.nodes}
    assert len(voters) == 1 and voters.pop().count("@127.0.0.1:") == 3
    assert len({node.cluster_id for node in cluster.nodes}) == 1
    props = cluster.nodes[0].server_properties()
    assert props["default.replication.factor"] == "3" and props["min.insync.replicas"] == "2"
    assert cluster.bootstrap.count(",") == 2


def test_starting_without_fetched_jars_says_what_to_run(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path,
) -> None:
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "empty-cache"))
    with pytest.raises(NotInstalled, match="tahawul broker fetch"):
        ApacheKafka(tmp_path / "node").start()
