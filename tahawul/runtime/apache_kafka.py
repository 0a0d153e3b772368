"""Apache Kafka on loopback: one KRaft node (broker and controller in one JVM) or a cluster
of three, with its log on disk, from jars that `tahawul broker fetch` puts in a per-user cache.

Used by the integration tests (``--broker kafka``: the same suite on the real broker, the
crash tests with ``kill -9`` and a restart on the same log dirs, replication on three nodes)
and by ``tahawul up --broker kafka``, the durable local option (Tansu keeps its log in
memory). Same interface as :class:`~tahawul.runtime.broker.EmbeddedBroker`: ``.bootstrap``,
``start()``/``stop()``/``kill()``, a context manager; ``start()`` after ``kill()`` or
``stop()`` restarts the node on the same log dir, ports and cluster id.

Other listeners and security (a SASL_SSL-only broker, ACLs)::

    ApacheKafka(
        tmp / "kafka",
        security_protocol="SASL_SSL",          # the client listener is named after it
        properties={                           # server.properties, added or overriding
            "sasl.enabled.mechanisms": "SCRAM-SHA-512",
            "sasl.mechanism.inter.broker.protocol": "SCRAM-SHA-512",
            "listener.name.sasl_ssl.scram-sha-512.sasl.jaas.config":
                'org.apache.kafka.common.security.scram.ScramLoginModule required '
                'username="admin" password="admin-secret";',
            "ssl.keystore.location": str(keystore), "ssl.keystore.password": "...",
            "authorizer.class.name": "org.apache.kafka.metadata.authorizer.StandardAuthorizer",
            "super.users": "User:admin",
        },
        format_args=["--add-scram", "SCRAM-SHA-512=[name=admin,password=admin-secret]"],
        client_config={                        # kafka-python KafkaAdminClient options: how
            "security_protocol": "SASL_SSL",   # start() asks for metadata to know the node
            "sasl_mechanism": "SCRAM-SHA-512", # is ready
            "sasl_plain_username": "admin", "sasl_plain_password": "admin-secret",
            "ssl_cafile": str(ca),
        },
    )

The controller listener stays PLAINTEXT on loopback (only the node itself talks to it).
JAAS settings go in ``listener.name.<listener>.<mechanism>.sasl.jaas.config`` properties as
above; a JAAS file can be given with ``jvm_options=["-Djava.security.auth.login.config=..."]``.
``properties`` may also replace ``listeners``/``advertised.listeners``/
``listener.security.protocol.map`` outright (then ``port`` is whatever they name, and
``bootstrap`` still says ``127.0.0.1:<port>``).
"""

from __future__ import annotations

import base64
import os
import re
import shutil
import subprocess
import tempfile
import time
import uuid
import xml.etree.ElementTree as ET
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import IO, Any, Self

from tahawul.errors import UsageError
from tahawul.kafka_admin import quiet
from tahawul.runtime.broker import BrokerError, free_port
from tahawul.runtime.processes import child_options, stop_processes

POM = Path(__file__).with_name("kafka_broker_pom.xml")

# A small JVM: the test machine has 2 cores shared by everything, and a local broker is
# one part of `tahawul up`. SerialGC and C1 only keep start-up and idle CPU low; the heap
# is bounded so that three nodes fit beside the workers.
JVM_OPTIONS = (
    "-Xms64m", "-XX:+UseSerialGC", "-XX:TieredStopAtLevel=1", "-XX:ReservedCodeCacheSize=64m",
    "-XX:MaxMetaspaceSize=160m", "-Xss512k", "-XX:+ExitOnOutOfMemoryError",
    "-Djava.awt.headless=true",
)

# Warnings and errors only, plus the line that says the node started: a long-running
# `tahawul up` must not fill its data dir with Kafka's INFO lines.
LOG4J2 = """\
Configuration:
  Appenders:
    Console:
      name: STDOUT
      target: SYSTEM_OUT
      PatternLayout:
        pattern: "[%d] %p %m (%c)%n"
  Loggers:
    Root:
      level: WARN
      AppenderRef:
        - ref: STDOUT
    Logger:
      - name: kafka.server.KafkaRaftServer
        level: INFO
"""


class NotInstalled(UsageError):
    """Java, Maven or the fetched jars are missing: like a missing extra, something to
    install (exit 2), not a broker that failed (exit 69)."""


_COORDINATOR_NOT_YET = ("CoordinatorNotAvailable", "NotCoordinator", "CoordinatorLoadInProgress")


def kafka_version() -> str:
    """The pinned Kafka version: ``kafka.version`` in the committed pom."""
    ns = {"m": "http://maven.apache.org/POM/4.0.0"}
    node = ET.parse(POM).getroot().find("m:properties/m:kafka.version", ns)
    if node is None or not node.text:
        raise RuntimeError(f"{POM} names no kafka.version")
    return node.text.strip()


def cache_dir() -> Path:
    """Where the jars of the pinned version live: ``$XDG_CACHE_HOME`` (or ``~/.cache``)
    ``/tahawul/kafka-<version>``, per user, kept between runs."""
    base = Path(os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache")
    return base / "tahawul" / f"kafka-{kafka_version()}"


def libs_dir() -> Path:
    return cache_dir() / "libs"


def java_binary() -> str:
    """The ``java`` to run Kafka with (``$JAVA_HOME/bin/java``, else on PATH); Kafka 4 needs 17+."""
    home = os.environ.get("JAVA_HOME")
    java = str(Path(home) / "bin" / "java") if home else shutil.which("java")
    if not java or not Path(java).exists():
        raise NotInstalled("Apache Kafka needs Java 17 or later, and no `java` was found "
                           "(install e.g. openjdk-17-jre-headless, or set JAVA_HOME)")
    return java


def available() -> bool:
    """True when this machine can run the local Apache Kafka: Java and the fetched jars."""
    try:
        java_binary()
    except NotInstalled:
        return False
    return libs_dir().is_dir()


def fetch(quiet: bool = True) -> Path:
    """Fetch the pinned Kafka's jars with Maven into :func:`libs_dir`, unless already there.

    Maven writes into a temporary directory beside the cache that is renamed into place
    only when complete, so an interrupted fetch never leaves a half set of jars that a
    later run would take for a whole one."""
    libs = libs_dir()
    if libs.is_dir():
        return libs
    mvn = shutil.which("mvn")
    if mvn is None:
        raise NotInstalled("fetching Apache Kafka needs Maven (`mvn`, e.g. apt-get install maven) "
                           "and a reachable Maven Central")
    libs.parent.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(prefix="libs-", dir=libs.parent))
    try:
        cmd = [mvn, "-B", *(["-q"] if quiet else []), "-f", str(POM),
               "dependency:copy-dependencies", f"-DoutputDirectory={tmp}"]
        done = subprocess.run(cmd, capture_output=quiet, text=True, check=False)
        if done.returncode != 0:
            tail = (done.stdout or "").strip().splitlines()[-5:] if quiet else []
            raise BrokerError(f"fetching Apache Kafka {kafka_version()} failed "
                              f"(mvn exit {done.returncode}){': ' + ' | '.join(tail) if tail else ''}")
        try:
            tmp.rename(libs)
        except OSError:  # another fetch finished first: its jars are the same
            if not libs.is_dir():
                raise
    finally:
        if tmp.exists():
            shutil.rmtree(tmp, ignore_errors=True)
    return libs


def new_cluster_id() -> str:
    """A KRaft cluster id: a UUID in URL-safe base64 without padding (22 characters), not
    starting with "-" (kafka-storage would read it as an option; Kafka's own Uuid avoids it
    the same way)."""
    while True:
        text = base64.urlsafe_b64encode(uuid.uuid4().bytes).decode().rstrip("=")
        if not text.startswith("-"):
            return text


def _properties_text(props: Mapping[str, str]) -> str:
    return "".join(f"{k}={v}\n" for k, v in props.items())


class ApacheKafka:
    """One Apache Kafka KRaft node on loopback with its log in ``data_dir/log``.

    ``properties`` are added to (and override) the generated server.properties;
    ``security_protocol`` is the protocol of the client listener (named after it);
    ``format_args`` go to ``kafka-storage format`` (``--add-scram ...``) on first start;
    ``client_config`` is what kafka-python needs to ask this node for metadata, the
    readiness condition of :meth:`start`; ``jvm_options`` and ``env`` add to the JVM's.
    ``voters``/``node_id``/``cluster_id`` are set by :class:`KafkaCluster`."""

    def __init__(self, data_dir: Path, *, port: int | None = None,
                 controller_port: int | None = None, node_id: int = 1,
                 voters: str | None = None, cluster_id: str | None = None,
                 security_protocol: str = "PLAINTEXT",
                 properties: Mapping[str, str] | None = None,
                 format_args: Sequence[str] = (), client_config: Mapping[str, Any] | None = None,
                 heap: str = "384m", jvm_options: Sequence[str] = (),
                 env: Mapping[str, str] | None = None, expected_brokers: int = 1) -> None:
        self.data_dir = data_dir
        self.port = port or free_port()
        self.controller_port = controller_port or free_port()
        self.node_id = node_id
        self.voters = voters or f"{node_id}@127.0.0.1:{self.controller_port}"
        self.cluster_id = cluster_id
        self.security_protocol = security_protocol
        self.properties = dict(properties or {})
        self.format_args = list(format_args)
        self.client_config = dict(client_config or {})
        self.heap = heap
        self.jvm_options = list(jvm_options)
        self.env = dict(env or {})
        self.expected_brokers = expected_brokers
        self.process: subprocess.Popen[bytes] | None = None
        self._log: IO[bytes] | None = None

    # -- where things are ------------------------------------------------------------
    @property
    def bootstrap(self) -> str:
        return f"127.0.0.1:{self.port}"

    @property
    def durable(self) -> bool:
        """What it acknowledged is in its log dir on disk and outlives the process."""
        return True

    @property
    def log_dir(self) -> Path:
        """The node's Kafka log (partitions and the KRaft metadata log): what survives."""
        return self.data_dir / "log"

    @property
    def log_path(self) -> Path:
        """The JVM's output (warnings, errors, the started line)."""
        return self.data_dir / "kafka.log"

    def server_properties(self) -> dict[str, str]:
        listener = self.security_protocol
        props = {
            "process.roles": "broker,controller",
            "node.id": str(self.node_id),
            "controller.quorum.voters": self.voters,
            "listeners": f"{listener}://127.0.0.1:{self.port},CONTROLLER://127.0.0.1:{self.controller_port}",
            "advertised.listeners": f"{listener}://127.0.0.1:{self.port}",
            "listener.security.protocol.map": f"{listener}:{self.security_protocol},CONTROLLER:PLAINTEXT",
            "controller.listener.names": "CONTROLLER",
            "inter.broker.listener.name": listener,
            "log.dirs": str(self.log_dir),
            # One node holds every replica; a cluster sets these to 3 (KafkaCluster).
            "offsets.topic.replication.factor": "1",
            "transaction.state.log.replication.factor": "1",
            "transaction.state.log.min.isr": "1",
            "share.coordinator.state.topic.replication.factor": "1",
            "share.coordinator.state.topic.min.isr": "1",
            # Fewer internal partitions than the 50 default: a local broker on 2 cores.
            "offsets.topic.num.partitions": "8",
            "transaction.state.log.num.partitions": "8",
            # A consumer group that forms starts at once, as it does on Tansu; the tests
            # and `up` start one worker, then maybe another.
            "group.initial.rebalance.delay.ms": "0",
            # Kafka refuses a consumer session timeout under 6 s by default; the tests (and a
            # local `up` that wants a crashed worker's partitions back quickly) use 3 s, as
            # Tansu allows.
            "group.min.session.timeout.ms": "1000",
            # A node restarted after kill -9 waits for its old registration to expire
            # before it serves (9 s by default); 4 s is still far above a heartbeat.
            "broker.session.timeout.ms": "4000",
            "broker.heartbeat.interval.ms": "1000",
        }
        props.update(self.properties)
        return props

    def command(self) -> list[str]:
        return [java_binary(), f"-Xmx{self.heap}", *JVM_OPTIONS, *self.jvm_options,
                f"-Dlog4j2.configurationFile={self.data_dir / 'log4j2.yaml'}",
                "-cp", f"{libs_dir()}/*"]

    # -- lifecycle -------------------------------------------------------------------
    def _prepare(self) -> None:
        """Write the config; format the log dir the first time (kept on restarts)."""
        if not libs_dir().is_dir():
            raise NotInstalled(f"Apache Kafka {kafka_version()} is not fetched (no {libs_dir()}): "
                               "run `tahawul broker fetch`")
        self.data_dir.mkdir(parents=True, exist_ok=True)
        (self.data_dir / "log4j2.yaml").write_text(LOG4J2)
        config = self.data_dir / "server.properties"
        config.write_text(_properties_text(self.server_properties()))
        meta = self.log_dir / "meta.properties"
        if meta.exists():
            found = re.search(r"^cluster\.id=(\S+)", meta.read_text(), re.M)
            self.cluster_id = found.group(1) if found else self.cluster_id
            return
        self.cluster_id = self.cluster_id or new_cluster_id()
        done = subprocess.run(
            [*self.command(), "kafka.tools.StorageTool", "format", "-t", self.cluster_id,
             "-c", str(config), *self.format_args],
            capture_output=True, text=True, check=False, env={**os.environ, **self.env})
        if done.returncode != 0:
            out = (done.stdout + done.stderr).strip().splitlines()[-3:]
            raise BrokerError(f"formatting the Kafka log dir {self.log_dir} failed: {' | '.join(out)}")

    def launch(self) -> Self:
        """Start the JVM without waiting (a cluster launches all nodes, then waits)."""
        if self.process is not None and self.process.poll() is None:
            return self
        self._prepare()
        self._log = self.log_path.open("ab")
        self.process = subprocess.Popen(
            [*self.command(), "kafka.Kafka", str(self.data_dir / "server.properties")],
            stdout=self._log, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL,
            env={**os.environ, **self.env}, **child_options(),
        )
        return self

    def ready(self) -> bool:
        """The readiness condition: the node answers a metadata request, the cluster has its
        ``expected_brokers`` registered and unfenced, and a group coordinator answers (the
        first ask creates __consumer_offsets; until it is loaded every consumer and the
        counting writer would log "coordinator dead" warnings at the user)."""
        from kafka.errors import KafkaError

        from tahawul.kafka_clients import KafkaAdminClient

        try:
            client = KafkaAdminClient(bootstrap_servers=self.bootstrap, request_timeout_ms=5000,
                                      bootstrap_timeout_ms=2000, reconnect_backoff_max_ms=200,
                                      **self.client_config)
        except (KafkaError, OSError):
            return False
        try:
            brokers = client.describe_cluster().get("brokers", [])
            if len([b for b in brokers if not b.get("is_fenced")]) < self.expected_brokers:
                return False
            probe = client.describe_groups(["tahawul-readiness-probe"])["tahawul-readiness-probe"]
            # Any answer but "no coordinator yet" will do (a client without rights to
            # describe groups is told so by a coordinator that is there).
            return not any(e in str(probe.get("error") or "") for e in _COORDINATOR_NOT_YET)
        except (KafkaError, OSError):
            return False
        finally:
            client.close()

    def wait_ready(self, timeout: float = 90.0) -> Self:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.process is None or self.process.poll() is not None:
                code = self.process.returncode if self.process else None
                raise BrokerError(f"Apache Kafka exited with {code}; see {self.log_path}")
            if self.ready():
                return self
            time.sleep(0.2)
        self.stop()
        raise BrokerError(f"Apache Kafka did not answer on {self.bootstrap} within {timeout:g} s; "
                          f"see {self.log_path}")

    def start(self, timeout: float = 90.0) -> Self:
        """Start (or restart, on the same log dir) and wait until it answers metadata."""
        with quiet("kafka"):  # it warns at every refused connection while a node starts
            return self.launch().wait_ready(timeout)

    def kill(self) -> None:
        """SIGKILL, for crash tests: no controlled shutdown, no flush."""
        if self.process and self.process.poll() is None:
            self.process.kill()
            self.process.wait()
        self._close_log()

    def stop(self, timeout: float = 30.0) -> None:
        """SIGTERM (a controlled shutdown), SIGKILL after ``timeout``."""
        if self.process:
            stop_processes([self.process], timeout=timeout)
        self._close_log()

    def _close_log(self) -> None:
        if self._log:
            self._log.close()
            self._log = None

    def __enter__(self) -> Self:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()


class KafkaCluster:
    """Three (``size``) KRaft nodes on loopback, each broker and controller, each with its
    own log dir under ``data_dir/node-<id>``; internal topics replicated three times and
    ``min.insync.replicas`` 2, so that one node can be killed without losing an
    acknowledged record. ``properties`` etc. as for :class:`ApacheKafka`, for every node."""

    def __init__(self, data_dir: Path, size: int = 3, **node_options: Any) -> None:
        self.data_dir = data_dir
        ports = [(free_port(), free_port()) for _ in range(size)]
        voters = ",".join(f"{i + 1}@127.0.0.1:{c}" for i, (_, c) in enumerate(ports))
        replicated = {
            "offsets.topic.replication.factor": str(min(size, 3)),
            "transaction.state.log.replication.factor": str(min(size, 3)),
            "transaction.state.log.min.isr": str(min(size - 1, 2) or 1),
            "share.coordinator.state.topic.replication.factor": str(min(size, 3)),
            "share.coordinator.state.topic.min.isr": str(min(size - 1, 2) or 1),
            "default.replication.factor": str(min(size, 3)),
            "min.insync.replicas": str(min(size - 1, 2) or 1),
        }
        properties = {**replicated, **node_options.pop("properties", {})}
        cluster_id = node_options.pop("cluster_id", None) or new_cluster_id()
        self.nodes = [
            ApacheKafka(data_dir / f"node-{i + 1}", port=p, controller_port=c, node_id=i + 1,
                        voters=voters, cluster_id=cluster_id, properties=properties,
                        expected_brokers=size, **node_options)
            for i, (p, c) in enumerate(ports)
        ]

    @property
    def bootstrap(self) -> str:
        return ",".join(node.bootstrap for node in self.nodes)

    def start(self, timeout: float = 120.0) -> Self:
        """Launch every node, then wait until each sees all of them registered (a KRaft
        quorum needs a majority of controllers up before any node is ready)."""
        try:
            for node in self.nodes:
                node.launch()
            with quiet("kafka"):  # it warns at every refused connection while a node starts
                for node in self.nodes:
                    node.wait_ready(timeout)
        except BaseException:
            self.stop()
            raise
        return self

    def stop(self) -> None:
        procs = [n.process for n in self.nodes if n.process is not None]
        stop_processes(procs, timeout=30)
        for node in self.nodes:
            node._close_log()

    def __enter__(self) -> Self:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()
