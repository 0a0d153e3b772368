"""Every tahawul process on an Apache Kafka broker configured as deploy/docker-compose.yml
configures its brokers: SASL_SSL on every listener (SCRAM-SHA-512 for clients, a CA made by
the test), the StandardAuthorizer, nothing allowed that no ACL grants, admin the only super
user; each process with its own account from `tahawul kafka acls`:

- the SDK, `tahawul send`, `simulate --send`, the gateway, a Faust worker, the counting
  writer and the admin calls all connect and do their job: the events are counted exactly;
- an entity's account can write the transactions topic and nothing else: it reads no topic,
  cannot write the validated or dead-letter topic, cannot create topics, cannot read or
  change ACLs or credentials; the worker's and the writer's accounts have only what they need;
- a wrong password and a CA that did not sign the broker's certificate fail with one clear
  line; a rotated password replaces the old one at once.

One broker for the module (CPU is scarce); each test has its own topics and groups."""

from __future__ import annotations

import contextlib
import shutil
import ssl
import subprocess
import sys
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

import httpx
import orjson
import pytest
from kafka import KafkaConsumer, KafkaProducer, TopicPartition
from kafka.admin import (
    ACL,
    ACLFilter,
    ACLOperation,
    ACLPermissionType,
    ACLResourcePatternType,
    NewTopic,
    ResourcePattern,
    ResourcePatternFilter,
    ResourceType,
    ScramMechanism,
    UserScramCredentialUpsertion,
)
from kafka.errors import (
    ClusterAuthorizationFailedError,
    GroupAuthorizationFailedError,
    KafkaError,
    TopicAuthorizationFailedError,
)
from pydantic import SecretStr

from tahawul.kafka_admin import KafkaUnavailable, admin
from tahawul.kafka_security import KafkaSecurity
from tahawul.keyring import dev_private_dir, dev_trust_path, keys_dir
from tahawul.producers.kafka_config import producer_config
from tahawul.runtime.apache_kafka import ApacheKafka
from tahawul.runtime.broker import free_port
from tahawul.runtime.local import Workers, WriterThread, child_env, open_store, start_writer
from tahawul.sdk import Producer
from tahawul.settings import Settings
from tahawul.sinks.clickhouse.connection import connect
from tests.integration.conftest import REPO, wait_for
from tests.integration.producer_support import event_days, stop, tahawul, wait_outcomes
from tests.integration.tls_support import (
    ADMIN,
    ADMIN_PASSWORD,
    Pki,
    broker_properties,
    give_admin_scram,
    make_pki,
    plain_admin_config,
)

pytestmark = pytest.mark.integration

ENTITY, GATEWAY, WORKER, WRITER = "entity-rop", "gateway", "worker", "writer"


@dataclass(frozen=True)
class Secured:
    kafka: ApacheKafka
    pki: Pki
    passwords: Path  # one file per account, as `tahawul kafka acls --passwords` reads them


@pytest.fixture(scope="module")
def secured(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Secured]:
    """A SASL_SSL-only broker with a fresh CA, and the passwords of the four accounts."""
    base = tmp_path_factory.mktemp("secured")
    pki = make_pki(base / "pki")
    passwords = base / "passwords"
    passwords.mkdir(mode=0o700)
    for name in (ENTITY, GATEWAY, WORKER, WRITER):
        (passwords / name).write_text(f"{name}-{uuid.uuid4().hex}\n")
    with ApacheKafka(base / "kafka", security_protocol="SASL_SSL", properties=broker_properties(pki),
                     client_config=plain_admin_config(pki)) as kafka:
        give_admin_scram(kafka.bootstrap, pki)
        yield Secured(kafka, pki, passwords)


def password(secured: Secured, name: str) -> str:
    return (secured.passwords / name).read_text().strip()


@pytest.fixture
def admin_settings(secured: Secured, tmp_path: Path, dev_keys: Path) -> Settings:
    """The administrator's settings for one test: its own topics and groups, the dev signing
    keys in its data dir (workers verify, producers sign)."""
    tag = uuid.uuid4().hex[:8]
    shutil.copytree(keys_dir(dev_keys), keys_dir(tmp_path / "data"))
    return Settings(
        data_dir=tmp_path / "data",
        signing_trust=dev_trust_path(tmp_path / "data"),
        kafka_url=f"kafka://{secured.kafka.bootstrap}",
        kafka_security_protocol="SASL_SSL",
        kafka_username=ADMIN,
        kafka_password=SecretStr(ADMIN_PASSWORD),
        kafka_ca_file=secured.pki.ca,
        topic_transactions=f"tx-{tag}",
        topic_validated=f"validated-{tag}",
        topic_dead_letter=f"dlq-{tag}",
        worker_group=f"worker-{tag}",
        counter_group=f"counter-{tag}",
        session_timeout=3.0,
        batch_max=1000,
        batch_within=0.2,
        _env_file=None,
    )


def as_account(settings: Settings, name: str, secret: str) -> Settings:
    return settings.model_copy(update={"kafka_username": name, "kafka_password": SecretStr(secret)})


def apply_acls(settings: Settings, secured: Secured, passwords: Path | None = None) -> str:
    """`tahawul kafka acls` for the four accounts, run by the administrator as a user would."""
    done = tahawul(settings, "kafka", "acls", "--producer", ENTITY, "--producer", GATEWAY,
                   "--worker", WORKER, "--writer", WRITER,
                   "--passwords", str(passwords or secured.passwords), timeout=120)
    assert done.returncode == 0, done.stderr
    return done.stdout


@pytest.fixture
def accounts(admin_settings: Settings, secured: Secured) -> dict[str, Settings]:
    """The topics created and the accounts and ACLs applied; each account's settings."""
    out = apply_acls(admin_settings, secured)
    assert out.splitlines() == [f"{ENTITY}: producer, credential set", f"{GATEWAY}: producer, credential set",
                                f"{WORKER}: worker, credential set", f"{WRITER}: writer, credential set",
                                "9 ACL(s) in force for 4 account(s)"]
    return {name: as_account(admin_settings, name, password(secured, name))
            for name in (ENTITY, GATEWAY, WORKER, WRITER)}


@pytest.fixture
def writer(accounts: dict[str, Settings]) -> Iterator[Callable[[], WriterThread]]:
    """The counting writer (run_counter, as `tahawul counter` runs it) as the writer account."""
    started: list[WriterThread] = []
    s = accounts[WRITER]
    client = connect(s.clickhouse_dsn())

    def start() -> WriterThread:
        ct = start_writer(s, open_store(client, s.kafka_bootstrap() or "", s.kafka_security()))
        started.append(ct)
        return ct

    yield start
    for ct in started:
        ct.stop.set()
        ct.thread.join(30)
    client.close()


@contextlib.contextmanager
def https_gateway(settings: Settings, pki: Pki, tmp_path: Path) -> Iterator[str]:
    """`tahawul gateway` serving HTTPS (TAHAWUL_GATEWAY_TLS_*), until ready; its https URL."""
    port = free_port()
    log_path = tmp_path / "gateway.log"
    with log_path.open("wb") as log:
        proc = subprocess.Popen(
            [sys.executable, "-m", "tahawul", "gateway"], cwd=REPO, stdout=log, stderr=subprocess.STDOUT,
            env=child_env(settings, TAHAWUL_GATEWAY_PORT=str(port),
                          TAHAWUL_GATEWAY_METRICS_PORT=str(free_port()),
                          TAHAWUL_GATEWAY_RATE="100000", TAHAWUL_GATEWAY_BURST="100000",
                          TAHAWUL_GATEWAY_TLS_CERT_FILE=str(pki.server_cert),
                          TAHAWUL_GATEWAY_TLS_KEY_FILE=str(pki.server_key)))
        url = f"https://127.0.0.1:{port}"

        def ready() -> bool:
            assert proc.poll() is None, log_path.read_text()
            try:
                trusted = ssl.create_default_context(cafile=pki.ca)
                return httpx.get(url + "/readyz", timeout=2, verify=trusted).status_code == 200
            except httpx.HTTPError:
                return False

        try:
            wait_for(ready, 90, "the gateway to serve HTTPS")
            yield url
        finally:
            stop(proc)


def test_every_process_connects_over_sasl_ssl_and_the_events_are_counted_exactly(
    accounts: dict[str, Settings], secured: Secured, writer: Callable[[], WriterThread], tmp_path: Path
) -> None:
    workers = Workers(accounts[WORKER], tmp_path, cwd=REPO)  # `tahawul worker`, worker account
    try:
        workers.start()
        ct = writer()
        entity = accounts[ENTITY]

        # The SDK, with a client certificate as well (mutual TLS is optional, and works).
        security = KafkaSecurity("SASL_SSL", username=ENTITY, password=password(secured, ENTITY),
                                 ca_file=secured.pki.ca, cert_file=secured.pki.client_cert,
                                 key_file=secured.pki.client_key)
        with Producer(secured.kafka.bootstrap, tmp_path / "spool", topic=entity.topic_transactions,
                      signing_key=dev_private_dir(entity.data_dir) / "ROP.key", security=security) as sdk:
            sdk.send_many(event_days(200))
            assert sdk.flush(60.0) == 0, sdk.last_error

        # `tahawul send FILE` and `tahawul simulate --send` with the entity's account.
        backfill = tmp_path / "backfill.jsonl"
        backfill.write_bytes(b"\n".join(orjson.dumps(e) for e in event_days(150)) + b"\n")
        sent = tahawul(entity, "send", str(backfill), "--no-progress")
        assert sent.returncode == 0, sent.stderr
        assert "150 acknowledged by Kafka" in sent.stdout
        simulated = tahawul(entity, "simulate", "--send", "--scale", "0.0005", "--seed", "3",
                            "--duplicates", "0", "--invalid", "0", "--rate", "20000")
        assert simulated.returncode == 0, simulated.stderr
        n_simulated = int(simulated.stdout.split("sent ", 1)[1].split(" ", 1)[0])
        assert n_simulated > 100

        # The gateway, with its own account, forwarding what an entity's system posts to it
        # over HTTPS (its certificate verified against the test CA).
        issued = tahawul(accounts[GATEWAY], "credentials", "issue", "ROP", "--note", "sasl test")
        assert issued.returncode == 0, issued.stderr
        with https_gateway(accounts[GATEWAY], secured.pki, tmp_path) as url:
            r = httpx.post(url + "/v1/transactions", json=event_days(80), timeout=60,
                           verify=ssl.create_default_context(cafile=secured.pki.ca),
                           headers={"Authorization": f"Bearer {issued.stdout.strip()}"})
            assert r.status_code == 200, r.text
            assert r.json()["accepted"] == 80
            with pytest.raises(httpx.HTTPError):  # no plain HTTP on that port
                httpx.get(url.replace("https:", "http:") + "/readyz", timeout=10)

        wait_outcomes(ct, counted=200 + 150 + n_simulated + 80, duplicates=0, rejected=0, timeout=240)
        assert workers.exited() == []  # the worker ran throughout on its account
    finally:
        workers.stop_all()


def _all_acls() -> ACLFilter:
    anything = ResourcePatternFilter(ResourceType.ANY, None, ACLResourcePatternType.ANY)
    return ACLFilter(principal=None, host=None, operation=ACLOperation.ANY,
                     permission_type=ACLPermissionType.ANY, resource_pattern=anything)


def _records(settings: Settings, topic: str, group: str | None = None) -> int:
    """How many records ``settings``' account reads from partition 0 of ``topic``, from the
    start; raises the broker's refusal. ``group``: read as a member of that group."""
    consumer = KafkaConsumer(bootstrap_servers=settings.kafka_bootstrap(), group_id=group,
                             enable_auto_commit=False, auto_offset_reset="earliest",
                             **settings.kafka_security().client_options())
    try:
        if group is None:
            tp = TopicPartition(topic, 0)
            consumer.assign([tp])
            consumer.seek(tp, 0)
        else:
            consumer.subscribe([topic])
        got = 0
        for _ in range(10):
            got += sum(len(r) for r in consumer.poll(timeout_ms=1000).values())
            if got:
                break
        return got
    finally:
        consumer.close()


def _write(settings: Settings, topic: str) -> None:
    producer = KafkaProducer(**producer_config(settings.kafka_bootstrap() or "", linger_ms=0,
                                               delivery_timeout_ms=15_000, request_timeout_ms=5000,
                                               max_block_ms=15_000, security=settings.kafka_security()))
    try:
        producer.send(topic, b'{"x": 1}', partition=0).get(30)  # where _records reads
    finally:
        producer.close()


def test_each_account_may_do_its_job_and_nothing_more(
    accounts: dict[str, Settings], admin_settings: Settings
) -> None:
    s = admin_settings
    tx, validated, dlq = s.topic_transactions, s.topic_validated, s.topic_dead_letter
    for topic in (tx, validated, dlq):
        _write(admin_settings, topic)  # something to read in every topic
    entity, worker, writer_ = accounts[ENTITY], accounts[WORKER], accounts[WRITER]

    # An entity's account writes the transactions topic (idempotently: producer_config) ...
    _write(entity, tx)
    assert _records(admin_settings, tx) >= 1
    # ... and nothing else: no topic can be read, alone or in any group,
    for topic in (tx, validated, dlq):
        with pytest.raises((TopicAuthorizationFailedError, GroupAuthorizationFailedError)):
            _records(entity, topic, group=s.worker_group)
        # kafka-python may fetch nothing or say why; either way not one record.
        with contextlib.suppress(TopicAuthorizationFailedError):
            assert _records(entity, topic) == 0
    # no other topic can be written,
    for topic in (validated, dlq):
        with pytest.raises(TopicAuthorizationFailedError):
            _write(entity, topic)
    client = admin(entity.kafka_bootstrap() or "", security=entity.kafka_security())
    try:
        # ACLs can be neither added nor read nor deleted,
        grant_all = ACL(f"User:{ENTITY}", "*", ACLOperation.ALL, ACLPermissionType.ALLOW,
                        ResourcePattern(ResourceType.TOPIC, validated, ACLResourcePatternType.LITERAL))
        assert client.create_acls([grant_all])["failed"] == [ClusterAuthorizationFailedError]
        with pytest.raises(ClusterAuthorizationFailedError):
            client.describe_acls(_all_acls())
        [(_, deleted, error)] = client.delete_acls([_all_acls()])
        assert (deleted, error) == ([], ClusterAuthorizationFailedError)
        # nor credentials changed (its own or the admin's), nor topics created.
        for user in (ENTITY, ADMIN):
            try:
                outcome = client.alter_user_scram_credentials(
                    [UserScramCredentialUpsertion(user, ScramMechanism.SCRAM_SHA_512, "x" * 20)])
            except ClusterAuthorizationFailedError:
                continue
            assert outcome[user] is not None and "needs ALTER permission" in outcome[user], outcome
        with pytest.raises(TopicAuthorizationFailedError):
            client.create_topics([NewTopic(f"evil-{uuid.uuid4().hex[:6]}", 1, 1)])
        seen = set(client.list_topics())  # it does not even see the others
        assert tx in seen and not seen & {validated, dlq}
    finally:
        client.close()
    # The ACLs are still exactly the nine the administrator applied.
    client = admin(s.kafka_bootstrap() or "", security=s.kafka_security())
    try:
        acls, _ = client.describe_acls(_all_acls())
        mine = [a for a in acls if a.resource_pattern.resource_name in
                {tx, validated, dlq, s.worker_group, s.counter_group}]
        assert len(mine) == 9
    finally:
        client.close()

    # The worker reads transactions in its group and writes validated and dead letters;
    # it cannot write the transactions topic nor read the validated one.
    assert _records(worker, tx, group=s.worker_group) >= 1
    _write(worker, validated)
    _write(worker, dlq)
    with pytest.raises(TopicAuthorizationFailedError):
        _write(worker, tx)
    with pytest.raises((TopicAuthorizationFailedError, GroupAuthorizationFailedError)):
        _records(worker, validated, group=s.counter_group)
    # The writer reads validated in its group (and transactions, to check gaps); it writes nothing.
    assert _records(writer_, validated, group=s.counter_group) >= 1
    assert _records(writer_, tx) >= 1
    for topic in (tx, validated, dlq):  # refused at once: no producer id for an account writing nothing
        with pytest.raises(KafkaError, match="AuthorizationFailed"):
            _write(writer_, topic)


def test_a_wrong_password_or_ca_is_one_clear_line_and_a_rotated_password_replaces_the_old(
    accounts: dict[str, Settings], admin_settings: Settings, secured: Secured, tmp_path: Path
) -> None:
    worker = accounts[WORKER]
    wrong = tahawul(as_account(worker, WORKER, "not-the-password-0123"), "worker", timeout=120)
    assert wrong.returncode == 69
    assert wrong.stderr.strip().splitlines() == [
        f"tahawul: Kafka at {secured.kafka.bootstrap} refused the login of '{WORKER}' (SCRAM-SHA-512): "
        "check TAHAWUL_KAFKA_USERNAME and TAHAWUL_KAFKA_PASSWORD"]
    assert "not-the-password" not in wrong.stdout + wrong.stderr

    other_ca = accounts[ENTITY].model_copy(update={"kafka_ca_file": secured.pki.other_ca})
    backfill = tmp_path / "one.jsonl"
    backfill.write_bytes(orjson.dumps(event_days(1)[0]) + b"\n")
    refused = tahawul(other_ca, "send", str(backfill), "--no-progress", timeout=120)
    assert refused.returncode == 69
    lines = refused.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith(
        f"tahawul: the certificate of Kafka at {secured.kafka.bootstrap} does not verify ("), lines
    assert f"TAHAWUL_KAFKA_CA_FILE={secured.pki.other_ca}" in lines[0]

    # A password that is too short is refused before anything is changed.
    short = tahawul(admin_settings, "kafka", "acls", "--producer", ENTITY, "--passwords-env",
                    TAHAWUL_KAFKA_PASSWORD_ENTITY_ROP="short")
    assert short.returncode == 2 and "shorter than 16 characters" in short.stderr

    # An account pointed at a topic it has no ACL on is told so, in one line.
    elsewhere = accounts[GATEWAY].model_copy(update={"topic_transactions": f"other-{uuid.uuid4().hex[:6]}"})
    denied = tahawul(elsewhere, "simulate", "--send", "--scale", "0.0005", timeout=120)
    assert denied.returncode == 69
    assert denied.stderr.strip().splitlines() == [
        f"tahawul: {GATEWAY} may not use the topic {elsewhere.topic_transactions} on Kafka at "
        f"{secured.kafka.bootstrap} (or it does not exist): the administrator creates it and grants "
        "access with `tahawul kafka acls`"]

    # Plaintext to the SASL_SSL listener is no way round: the broker does not answer it.
    plain = admin_settings.model_copy(update={"kafka_security_protocol": "PLAINTEXT",
                                              "kafka_username": None, "kafka_password": None,
                                              "kafka_ca_file": None})
    assert tahawul(plain, "kafka", "acls", "--producer", ENTITY, timeout=120).returncode == 69

    # Rotation: the administrator sets a new password; the old one is refused from then on.
    # (--passwords-env, as docker-compose passes them; the other tests use --passwords files)
    new = f"rotated-{uuid.uuid4().hex}"
    done = tahawul(admin_settings, "kafka", "acls", "--producer", ENTITY, "--passwords-env",
                   TAHAWUL_KAFKA_PASSWORD_ENTITY_ROP=new)
    assert done.returncode == 0 and f"{ENTITY}: producer, credential set" in done.stdout, done.stderr
    old = accounts[ENTITY]
    with pytest.raises(KafkaUnavailable, match="refused the login"):
        admin(old.kafka_bootstrap() or "", timeout=10, security=old.kafka_security()).close()
    _write(as_account(old, ENTITY, new), old.topic_transactions)
    wait_for(lambda: _records(admin_settings, old.topic_transactions) >= 1, 30, "the rotated write")
