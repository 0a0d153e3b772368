"""The one settings object, read from ``TAHAWUL_*`` environment variables.

Built once in :func:`tahawul.cli.main` and passed down; nothing reads the environment at
import time. Every setting is documented where it is declared, with its variable.
"""

from __future__ import annotations

import ipaddress
from pathlib import Path
from typing import Literal

from pydantic import Field, SecretStr, field_validator, model_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

from tahawul.kafka_security import KafkaSecurity, KafkaSecurityError
from tahawul.schemas import topics


class Settings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="TAHAWUL_", frozen=True, extra="ignore",
                                      hide_input_in_errors=True)  # inputs hold secrets

    data_dir: Path = Field(
        Path(".tahawul"),
        description="TAHAWUL_DATA_DIR: where the embedded store, broker logs and run files live.",
    )
    kafka_url: str | None = Field(
        None,
        description="TAHAWUL_KAFKA_URL: kafka://host:port[,host:port]. Unset: `tahawul up` starts "
        "an embedded Tansu broker on a free loopback port.",
    )
    local_broker: Literal["tansu", "kafka"] = Field(
        "tansu",
        description="TAHAWUL_LOCAL_BROKER: the broker `tahawul up` starts when TAHAWUL_KAFKA_URL is "
        "unset (`up --broker` overrides it). tansu: embedded, its log in memory, so what it "
        "acknowledged and `up` did not count is gone when `up` stops. kafka: Apache Kafka from "
        "`tahawul broker fetch` (needs Java 17+), its log on disk in <data dir>/kafka, kept across "
        "restarts of `up`.",
    )
    # --- Kafka connection security (every client: SDK, send, gateway, workers, writer, admin) ---
    kafka_security_protocol: Literal["PLAINTEXT", "SSL", "SASL_SSL"] | None = Field(
        None,
        description="TAHAWUL_KAFKA_SECURITY_PROTOCOL: SASL_SSL (TLS and a SCRAM login: what a "
        "deployment uses), SSL (TLS, optionally with a client certificate) or PLAINTEXT. Unset: "
        "PLAINTEXT, allowed only when every broker of TAHAWUL_KAFKA_URL is on this machine "
        "(the embedded broker, tests); a remote broker needs it set.",
    )
    kafka_sasl_mechanism: Literal["SCRAM-SHA-512", "SCRAM-SHA-256"] = Field(
        "SCRAM-SHA-512", description="TAHAWUL_KAFKA_SASL_MECHANISM: SCRAM mechanism of SASL_SSL."
    )
    kafka_username: str | None = Field(
        None, description="TAHAWUL_KAFKA_USERNAME: this process's Kafka account (SASL_SSL)."
    )
    kafka_password: SecretStr | None = Field(
        None, description="TAHAWUL_KAFKA_PASSWORD: that account's password (SASL_SSL; never printed)."
    )
    kafka_ca_file: Path | None = Field(
        None,
        description="TAHAWUL_KAFKA_CA_FILE: PEM file of the CA that signed the brokers' "
        "certificates (SSL/SASL_SSL). Unset: the system's trusted roots. Certificates and host "
        "names are always verified.",
    )
    kafka_cert_file: Path | None = Field(
        None, description="TAHAWUL_KAFKA_CERT_FILE: PEM client certificate for mutual TLS (optional)."
    )
    kafka_key_file: Path | None = Field(
        None, description="TAHAWUL_KAFKA_KEY_FILE: PEM private key of TAHAWUL_KAFKA_CERT_FILE."
    )
    clickhouse_url: SecretStr | None = Field(
        None,
        description="TAHAWUL_CLICKHOUSE_URL: chdb:///path for the embedded store or "
        "http(s)://user:password@host:8123/database for a server. Unset: chdb under the data dir.",
    )
    topic_transactions: str = Field(
        topics.TRANSACTIONS, description="TAHAWUL_TOPIC_TRANSACTIONS: raw events, keyed by entity."
    )
    topic_validated: str = Field(
        topics.VALIDATED,
        description="TAHAWUL_TOPIC_VALIDATED: per-partition batches from the validating workers "
        "to the single counting writer.",
    )
    topic_dead_letter: str = Field(
        topics.DEAD_LETTER,
        description="TAHAWUL_TOPIC_DEAD_LETTER: rejected payloads with the reason in headers.",
    )
    partitions: int = Field(
        8, ge=1, le=256,
        description="TAHAWUL_PARTITIONS: partition count used when tahawul creates its topics.",
    )
    worker_group: str = Field(
        "tahawul-worker", description="TAHAWUL_WORKER_GROUP: Faust app id / consumer group of workers."
    )
    counter_group: str = Field(
        "tahawul-counter", description="TAHAWUL_COUNTER_GROUP: consumer group of the counting writer."
    )
    # How long the counting writer lingers for more envelopes before a write adapts to load
    # (stream_processors/counter.py, Linger): a store write costs ClickHouse a new part per
    # table whatever its size, so under load a few large writes beat many small ones, while
    # a quiet stream is best written at once.
    counter_linger_ratio: float = Field(
        3.0, ge=0, le=100,
        description="TAHAWUL_COUNTER_LINGER_RATIO: the writer waits for more envelopes up to this "
                    "many times as long as its previous write took (small writes of a quiet stream "
                    "go at once; large, slow ones under load gather more), so writing takes at most "
                    "about 1/(1 + ratio) of its time. 0 writes what each poll brings at once. At 3 "
                    "(was 1) the writer leaves two workers 0.1 of a core more on two cores, for "
                    "about 0.2 s more freshness (docs/performance.md).",
    )
    counter_linger_max: float = Field(
        0.5, ge=0, le=10,
        description="TAHAWUL_COUNTER_LINGER_MAX: the most seconds a write waits for more envelopes "
                    "after its first (a bound on what lingering adds to freshness).",
    )
    counter_batch_events: int = Field(
        50_000, ge=100, le=1_000_000,
        description="TAHAWUL_COUNTER_BATCH_EVENTS: events after which the writer stops gathering "
                    "and writes (bounds a write's memory and duration).",
    )
    batch_max: int = Field(
        2000, ge=1, description="TAHAWUL_BATCH_MAX: records after which a worker's batch closes (a "
        "fetch brings at most this many, so a batch holds less than twice as many)."
    )
    batch_within: float = Field(
        0.3, gt=0,
        description="TAHAWUL_BATCH_WITHIN: the most seconds a worker's batch stays open for more "
                    "records after its first (stream_processors/batching.py).",
    )
    batch_window_ratio: float = Field(
        1.0, ge=0, le=100,
        description="TAHAWUL_BATCH_WINDOW_RATIO: a worker's batch stays open for more records up "
                    "to this many times as long as its previous batch took to validate and deliver "
                    "(at most TAHAWUL_BATCH_WITHIN): a quiet stream's records go on almost at once, "
                    "under load batches fill. 0 takes what has arrived at once.",
    )
    batch_quiet: float = Field(
        0.01, gt=0, le=10,
        description="TAHAWUL_BATCH_QUIET: a worker's batch closes early once no record came for "
                    "this many seconds (a stream with nothing more to give is not waited on).",
    )
    session_timeout: float = Field(
        6.0, gt=0,
        description="TAHAWUL_SESSION_TIMEOUT: consumer-group session timeout in seconds "
        "(heartbeat is a quarter of it); the first assignment arrives after about half of it.",
    )
    log_level: str = Field("WARNING", description="TAHAWUL_LOG_LEVEL: logging level.")
    log_format: Literal["text", "json"] = Field(
        "text",
        description="TAHAWUL_LOG_FORMAT: `text` (for a person) or `json` (one object a line: time, "
        "level, logger, message, process; for a log stack) in every tahawul process.",
    )
    dead_letter_max_bytes: int = Field(
        256 * 1024, ge=1024, le=900 * 1024,
        description="TAHAWUL_DEAD_LETTER_MAX_BYTES: most bytes of a dead letter's value, the "
        "redacted form of a rejected payload (a few hundred bytes; docs/security.md); a longer "
        "one is cut. The payload's true size and keyed hash travel in headers. A dead letter "
        "must fit the worker's producer (2 MiB a request) and a broker's default "
        "message.max.bytes (1 MB), whatever was read.",
    )
    redaction_key: SecretStr | None = Field(
        None,
        description="TAHAWUL_REDACTION_KEY: the key (at least 32 characters) under which workers "
        "hash rejected payloads (HMAC-SHA256, schemas/redaction.py): the dead-letter topic and "
        "the `rejected` table keep only a payload's redacted form and this hash, never its bytes, "
        "and support matches a hash with the event its sender kept. Unset with a broker on this "
        "machine (the embedded default): generated once into <data dir>/redaction.key (mode 600). "
        "Required with any other broker (every worker must hash alike; generate it with "
        "`python -c 'import secrets; print(secrets.token_urlsafe(32))'`).",
    )
    rejected_retention_days: int = Field(
        30, ge=1, le=3650,
        description="TAHAWUL_REJECTED_RETENTION_DAYS: days a row of the `rejected` table is kept "
        "(ClickHouse TTL on its expires_at column, set when the row is written; migration 013).",
    )
    completeness_grace_seconds: int = Field(
        900, ge=0, le=31 * 86_400,
        description="TAHAWUL_COMPLETENESS_GRACE_SECONDS: how long after an entity's control total "
        "is stored its events may still be on their way; transactions still missing after it count "
        "in tahawul_completeness_missing_transactions (alert TahawulEventsMissing).",
    )
    completeness_check_seconds: float = Field(
        60.0, gt=0,
        description="TAHAWUL_COMPLETENESS_CHECK_SECONDS: how often the counting writer computes "
        "tahawul_completeness_missing_transactions from the store.",
    )
    dead_letter_retention_days: float = Field(
        30, gt=0, le=3650,
        description="TAHAWUL_DEAD_LETTER_RETENTION_DAYS: retention.ms of the dead-letter topic "
        "when tahawul creates it (an existing topic keeps its own configuration).",
    )
    dead_letter_retry_seconds: float = Field(
        30.0, gt=0,
        description="TAHAWUL_DEAD_LETTER_RETRY_SECONDS: how long a worker retries a dead letter "
        "the broker does not acknowledge before it writes it to the quarantine file "
        "(<data dir>/quarantine/dead-letters.jsonl, fsynced; metric "
        "tahawul_worker_dead_letters_quarantined_total) and lets its batch finish. The dead "
        "letter is a copy: the rejection itself travels in the envelope, which is retried until "
        "acknowledged.",
    )
    worker_stuck_seconds: float = Field(
        120.0, gt=0,
        description="TAHAWUL_WORKER_STUCK_SECONDS: a worker whose batch has not been delivered "
        "after this long exits (code 75) instead of holding its partitions while it heartbeats, "
        "so that the group gives them to another worker (and `tahawul up` restarts it). Nothing "
        "of the batch was committed: the next owner re-sends it. Keep it above "
        "TAHAWUL_DEAD_LETTER_RETRY_SECONDS and a broker restart's duration.",
    )
    worker_idle_seconds: float = Field(
        120.0, gt=0,
        description="TAHAWUL_WORKER_IDLE_SECONDS: a worker that owns partitions of the "
        "transactions topic with records beyond its group's committed offset, and has read "
        "none of them for this long between batches, exits (code 75) so that a new consumer "
        "fetches them (`tahawul up`, systemd or Kubernetes restart it): Faust can hold "
        "partitions it never fetches after a rebalance, while it heartbeats. Seen from the "
        "broker's end offsets and the group's committed offsets, not from the worker's own "
        "fetcher (stream_processors/liveness.py).",
    )
    worker_stop_seconds: float = Field(
        5.0, gt=0, le=9.0,
        description="TAHAWUL_WORKER_STOP_SECONDS: after SIGTERM/SIGINT a worker that has not "
        "stopped by itself within this many seconds (Faust waits for the batch in progress, "
        "which may be waiting on the broker) exits at once (code 143) without committing that "
        "batch, which is re-sent by the next owner.",
    )
    clickhouse_cluster: str | None = Field(
        None,
        description="TAHAWUL_CLICKHOUSE_CLUSTER: name of a ClickHouse cluster (remote_servers) to "
        "migrate ON CLUSTER with Replicated tables; unset for chDB or a single server.",
    )
    export_min_cell: int = Field(
        10, ge=1,
        description="TAHAWUL_EXPORT_MIN_CELL: `tahawul export` suppresses counts from 1 to one "
        "below this (and the ratios built on them) so that no small cell can identify a person.",
    )

    @classmethod
    def secret_fields(cls) -> set[str]:
        """Settings whose values are never printed, not even in an error about them."""
        return {name for name, field in cls.model_fields.items() if "SecretStr" in str(field.annotation)}

    def clickhouse_dsn(self) -> str:
        """The store's DSN, defaulting to the embedded chDB directory under the data dir."""
        if self.clickhouse_url is not None:
            return self.clickhouse_url.get_secret_value()
        return f"chdb://{(self.data_dir / 'clickhouse').resolve()}"

    @field_validator("kafka_url")
    @classmethod
    def _kafka_url_is_a_host_list(cls, value: str | None) -> str | None:
        """A malformed broker address is a settings error at start-up (exit 2), not a
        traceback from deep inside a Kafka client."""
        if not value:
            return value
        hosts = _strip_scheme(value)
        for host in hosts.split(","):
            name, sep, port = host.strip().rpartition(":")
            if not sep or not name or not port.isdigit() or not 0 < int(port) < 65536:
                raise ValueError(f"{host.strip()!r} is not host:port; expected "
                                 "kafka://host:port[,host:port] (e.g. kafka://kafka-1:9092)")
        return value

    @model_validator(mode="after")
    def _kafka_security_is_complete(self) -> Settings:
        """Security settings that cannot work are a settings error at start-up (exit 2), and
        plaintext to a remote broker is refused unless asked for: a secure default."""
        if self.kafka_security_protocol is None and self.kafka_url and not all(
                _loopback(host) for host in _strip_scheme(self.kafka_url).split(",")):
            raise ValueError("TAHAWUL_KAFKA_URL names a broker on another host: set "
                             "TAHAWUL_KAFKA_SECURITY_PROTOCOL=SASL_SSL (with TAHAWUL_KAFKA_USERNAME, "
                             "TAHAWUL_KAFKA_PASSWORD, TAHAWUL_KAFKA_CA_FILE), or PLAINTEXT explicitly")
        try:
            self.kafka_security().ssl_context()  # the certificate files load
        except KafkaSecurityError as exc:
            raise ValueError(str(exc)) from None
        return self

    @model_validator(mode="after")
    def _gateway_tls_is_complete(self) -> Settings:
        if (self.gateway_tls_cert_file is None) != (self.gateway_tls_key_file is None):
            raise ValueError("HTTPS for the gateway needs both TAHAWUL_GATEWAY_TLS_CERT_FILE and "
                             "TAHAWUL_GATEWAY_TLS_KEY_FILE")
        return self

    def kafka_security(self) -> KafkaSecurity:
        """How this process's Kafka clients authenticate and encrypt."""
        return KafkaSecurity(
            protocol=self.kafka_security_protocol or "PLAINTEXT",
            mechanism=self.kafka_sasl_mechanism,
            username=self.kafka_username,
            password=self.kafka_password.get_secret_value() if self.kafka_password else None,
            ca_file=self.kafka_ca_file,
            cert_file=self.kafka_cert_file,
            key_file=self.kafka_key_file,
        )

    def broker_is_local(self) -> bool:
        """Whether every broker is on this machine (or unset: the embedded one)."""
        return not self.kafka_url or all(_loopback(h) for h in _strip_scheme(self.kafka_url).split(","))

    def kafka_bootstrap(self) -> str | None:
        """host:port list for Kafka clients, from kafka_url (scheme optional)."""
        if not self.kafka_url:
            return None
        return _strip_scheme(self.kafka_url)

    def pipeline_env(self) -> dict[str, str]:
        """The ``TAHAWUL_*`` variables that give a child process (a worker, the counting
        writer) the same pipeline as these settings: data dir, broker, topics, groups,
        partitions, batching, session timeout, log level, how a worker bounds dead letters
        and a stuck batch, and which signers a worker trusts (what it counts must not
        depend on which process started it), and how it connects to Kafka (protocol,
        account, password, certificate files). Other secrets and the settings of one process
        (ports, the gateway) are not passed: a child takes those from its own environment."""
        env = {
            "TAHAWUL_DATA_DIR": str(self.data_dir),
            "TAHAWUL_KAFKA_URL": self.kafka_url or "",
            "TAHAWUL_TOPIC_TRANSACTIONS": self.topic_transactions,
            "TAHAWUL_TOPIC_VALIDATED": self.topic_validated,
            "TAHAWUL_TOPIC_DEAD_LETTER": self.topic_dead_letter,
            "TAHAWUL_WORKER_GROUP": self.worker_group,
            "TAHAWUL_COUNTER_GROUP": self.counter_group,
            "TAHAWUL_PARTITIONS": str(self.partitions),
            "TAHAWUL_SESSION_TIMEOUT": str(self.session_timeout),
            "TAHAWUL_BATCH_MAX": str(self.batch_max),
            "TAHAWUL_BATCH_WITHIN": str(self.batch_within),
            "TAHAWUL_BATCH_WINDOW_RATIO": str(self.batch_window_ratio),
            "TAHAWUL_BATCH_QUIET": str(self.batch_quiet),
            "TAHAWUL_LOG_LEVEL": self.log_level,
            "TAHAWUL_LOG_FORMAT": self.log_format,
            "TAHAWUL_DEAD_LETTER_MAX_BYTES": str(self.dead_letter_max_bytes),
            "TAHAWUL_DEAD_LETTER_RETRY_SECONDS": str(self.dead_letter_retry_seconds),
            "TAHAWUL_REJECTED_RETENTION_DAYS": str(self.rejected_retention_days),
            "TAHAWUL_WORKER_STUCK_SECONDS": str(self.worker_stuck_seconds),
            "TAHAWUL_WORKER_STOP_SECONDS": str(self.worker_stop_seconds),
            "TAHAWUL_WORKER_IDLE_SECONDS": str(self.worker_idle_seconds),
        }
        if self.signing_trust is not None:
            env["TAHAWUL_SIGNING_TRUST"] = str(self.signing_trust)
        if self.signing_keys is not None:
            env["TAHAWUL_SIGNING_KEYS"] = str(self.signing_keys)
        # The child reaches the same cluster the same way: its Kafka account is the one
        # secret passed on (a worker cannot read the source topic without it).
        optional = {
            "TAHAWUL_KAFKA_SECURITY_PROTOCOL": self.kafka_security_protocol,
            "TAHAWUL_KAFKA_SASL_MECHANISM": self.kafka_sasl_mechanism,
            "TAHAWUL_KAFKA_USERNAME": self.kafka_username,
            "TAHAWUL_KAFKA_PASSWORD": self.kafka_password.get_secret_value() if self.kafka_password else None,
            # Every worker hashes rejected payloads under the same key.
            "TAHAWUL_REDACTION_KEY": self.redaction_key.get_secret_value() if self.redaction_key else None,
            "TAHAWUL_KAFKA_CA_FILE": self.kafka_ca_file,
            "TAHAWUL_KAFKA_CERT_FILE": self.kafka_cert_file,
            "TAHAWUL_KAFKA_KEY_FILE": self.kafka_key_file,
        }
        env.update((name, str(value)) for name, value in optional.items() if value is not None)
        return env

    # --- producers: HTTP gateway, credentials, signing ---
    credentials_path: Path | None = Field(
        None,
        description="TAHAWUL_CREDENTIALS_PATH: SQLite file of gateway API keys (stored hashed). "
        "Unset: <data dir>/credentials.sqlite. Kept apart from the chDB store, which only one "
        "process may open.",
    )
    gateway_host: str = Field(
        "127.0.0.1", description="TAHAWUL_GATEWAY_HOST: address `tahawul gateway` listens on."
    )
    gateway_port: int = Field(
        8080, ge=0, le=65535, description="TAHAWUL_GATEWAY_PORT: port `tahawul gateway` listens on."
    )
    gateway_max_batch: int = Field(
        1000, ge=1, le=10_000,
        description="TAHAWUL_GATEWAY_MAX_BATCH: most events in one POST /v1/transactions.",
    )
    gateway_rate: float = Field(
        500.0, gt=0,
        description="TAHAWUL_GATEWAY_RATE: events per second each entity may send through the "
        "gateway on average (token bucket; over it: 429 with Retry-After).",
    )
    gateway_burst: int = Field(
        5000, ge=1,
        description="TAHAWUL_GATEWAY_BURST: events an entity may send at once above its rate.",
    )
    gateway_ack_timeout: float = Field(
        30.0, gt=0,
        description="TAHAWUL_GATEWAY_ACK_TIMEOUT: seconds the gateway waits for the broker to "
        "acknowledge a request's events before answering 503 (safe to retry).",
    )
    gateway_tls_cert_file: Path | None = Field(
        None,
        description="TAHAWUL_GATEWAY_TLS_CERT_FILE: PEM certificate (chain) the gateway serves "
        "HTTPS with; with TAHAWUL_GATEWAY_TLS_KEY_FILE. Unset: plain HTTP (loopback, tests, or "
        "behind a TLS-terminating proxy).",
    )
    gateway_tls_key_file: Path | None = Field(
        None, description="TAHAWUL_GATEWAY_TLS_KEY_FILE: the PEM private key of that certificate."
    )
    gateway_metrics_port: int = Field(
        9402, ge=0, le=65535,
        description="TAHAWUL_GATEWAY_METRICS_PORT: port of the gateway's Prometheus /metrics, apart "
        "from the public ingest port (which answers 404 there); it listens on "
        "TAHAWUL_METRICS_HOST (loopback unless set). 0 = any free port (logged).",
    )
    gateway_header_timeout: float = Field(
        10.0, gt=0,
        description="TAHAWUL_GATEWAY_HEADER_TIMEOUT: seconds a connection has to send a complete "
        "request line and headers, from its opening or the previous answer; then it is closed "
        "(a client trickling headers cannot hold a connection).",
    )
    gateway_body_timeout: float = Field(
        30.0, gt=0,
        description="TAHAWUL_GATEWAY_BODY_TIMEOUT: seconds an authenticated request has to send "
        "its whole body; then 408 and the connection is closed.",
    )
    gateway_max_connections: int = Field(
        256, ge=1,
        description="TAHAWUL_GATEWAY_MAX_CONNECTIONS: open connections the gateway accepts at "
        "once; one more is closed as soon as it is accepted.",
    )
    signing_trust: Path | None = Field(
        None,
        description="TAHAWUL_SIGNING_TRUST: trust file of the signers' Ed25519 public keys "
        "(entity -> key id -> key, and gateways with the entities they may vouch for; "
        "`tahawul credentials signing-key`). A worker counts only events signed by their "
        "entity or a gateway trusted for it, and refuses to start without this file; "
        "`tahawul up` with the embedded broker uses dev keys it makes under <data dir>/keys.",
    )
    signing_keys: Path | None = Field(
        None,
        description="TAHAWUL_SIGNING_KEYS: private key file of an entity, or a directory of "
        "them (*.key), that `tahawul send`, `up --input` and `simulate --send` sign with. "
        "Unset: the local dev keys under <data dir>/keys/private, if made.",
    )
    gateway_signing_key: Path | None = Field(
        None,
        description="TAHAWUL_GATEWAY_SIGNING_KEY: the gateway's own private key file (`tahawul "
        "credentials gateway-key`); it signs every record the gateway forwards. Unset: the "
        "local dev gateway key under <data dir>/keys/private, if made.",
    )

    # --- operations: Prometheus metrics endpoint ---
    metrics_port: int | None = Field(
        None, ge=0, le=65535,
        description="TAHAWUL_METRICS_PORT: port on which `tahawul worker`, `tahawul counter` and "
        "`tahawul up` serve Prometheus /metrics (0 = any free port). Unset: no endpoint. Two "
        "processes on one host need two ports; `tahawul up` gives its worker the next port.",
    )
    metrics_host: str = Field(
        "127.0.0.1",
        description="TAHAWUL_METRICS_HOST: address the /metrics endpoint listens on (0.0.0.0 in "
        "containers, so that Prometheus can reach it).",
    )
    live_port: int = Field(
        0, ge=0, le=65535,
        description="TAHAWUL_LIVE_PORT: port on 127.0.0.1 (never another address) where `tahawul "
        "up` serves the live page (/en, /ar) and the embedded store's read-only ClickHouse HTTP "
        "interface, which `tahawul sql`, `report`, `audit` and `export` use while `up` holds the "
        "store. 0 = any free port; the address is printed at start.",
    )
    grafana_token: SecretStr | None = Field(
        None,
        description="TAHAWUL_GRAFANA_TOKEN: service-account token `tahawul grafana publish` uses "
        "when --token is not given (keeps it out of the process list).",
    )
    grafana_clickhouse_password: SecretStr | None = Field(
        None,
        description="TAHAWUL_GRAFANA_CLICKHOUSE_PASSWORD: password of the read-only ClickHouse user "
        "the published Grafana datasource connects as (the provisioning file reads the same variable).",
    )


def _loopback(host_port: str) -> bool:
    """True for a broker address on this machine (localhost, 127.0.0.0/8, ::1)."""
    host = host_port.strip().rpartition(":")[0].strip("[]").lower()
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def _strip_scheme(url: str) -> str:
    """host:port[,host:port] of a broker URL (the scheme is optional)."""
    for scheme in ("kafka://", "tcp://", "plaintext://"):
        if url.startswith(scheme):
            url = url[len(scheme):]
    return url.rstrip("/")
