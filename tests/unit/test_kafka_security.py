"""The Kafka security settings without a broker: what is refused at start-up (exit 2, one
line, no secret), what each client library is given, what a child process inherits.
The same settings against a real SASL_SSL broker: tests/integration/test_kafka_security.py."""

from __future__ import annotations

import os
import ssl
from pathlib import Path

import pytest
from pydantic import SecretStr

from tahawul.cli.main import main
from tahawul.kafka_security import KafkaSecurity, KafkaSecurityError
from tahawul.settings import Settings
from tests.integration.tls_support import make_pki

SECRET = "do-not-print-me-0123456789"


def settings(**kw: object) -> Settings:
    return Settings(_env_file=None, **kw)  # type: ignore[arg-type]


@pytest.fixture
def clean_env(monkeypatch: pytest.MonkeyPatch) -> pytest.MonkeyPatch:
    for name in list(os.environ):
        if name.startswith("TAHAWUL_"):
            monkeypatch.delenv(name)
    return monkeypatch


def test_plaintext_is_the_default_only_for_a_broker_on_this_machine() -> None:
    for url in ("kafka://127.0.0.1:9092", "kafka://localhost:9092,127.0.0.2:9093", "kafka://[::1]:9092"):
        assert settings(kafka_url=url).kafka_security().protocol == "PLAINTEXT"
    with pytest.raises(ValueError, match="names a broker on another host"):
        settings(kafka_url="kafka://kafka-1:9092")
    # Asking for plaintext to a remote broker is allowed, when asked for explicitly.
    assert settings(kafka_url="kafka://kafka-1:9092",
                    kafka_security_protocol="PLAINTEXT").kafka_security().protocol == "PLAINTEXT"


def test_sasl_ssl_options_for_kafka_python_and_aiokafka(tmp_path: Path) -> None:
    s = settings(kafka_url="kafka://kafka-1:9093", kafka_security_protocol="SASL_SSL",
                 kafka_username="worker", kafka_password=SecretStr(SECRET))
    options = s.kafka_security().client_options()
    context = options.pop("ssl_context")
    assert options == {"security_protocol": "SASL_SSL", "sasl_mechanism": "SCRAM-SHA-512",
                       "sasl_plain_username": "worker", "sasl_plain_password": SECRET}
    assert isinstance(context, ssl.SSLContext)
    assert context.verify_mode == ssl.CERT_REQUIRED and context.check_hostname
    assert context.minimum_version >= ssl.TLSVersion.TLSv1_2
    assert SECRET not in repr(s.kafka_security()) and SECRET not in repr(s)


@pytest.mark.parametrize(("kw", "message"), [
    ({"kafka_security_protocol": "SASL_SSL"},
     "SASL_SSL needs TAHAWUL_KAFKA_USERNAME and TAHAWUL_KAFKA_PASSWORD"),
    ({"kafka_security_protocol": "SSL", "kafka_cert_file": Path("/x.pem")},
     "needs both TAHAWUL_KAFKA_CERT_FILE"),
    ({"kafka_security_protocol": "SSL", "kafka_ca_file": Path("/nonexistent/ca.pem")},
     "cannot read the CA file TAHAWUL_KAFKA_CA_FILE=/nonexistent/ca.pem"),
    ({"kafka_security_protocol": "PLAINTEXT", "kafka_ca_file": Path("/ca.pem")}, "protocol is PLAINTEXT"),
])
def test_settings_that_cannot_work_are_refused(kw: dict[str, object], message: str) -> None:
    with pytest.raises(ValueError, match=message.replace("(", r"\(")):
        settings(kafka_url="kafka://127.0.0.1:9092", **kw)


def test_a_security_error_is_one_line_without_the_password(clean_env: pytest.MonkeyPatch,
                                                          capsys: pytest.CaptureFixture[str]) -> None:
    clean_env.setenv("TAHAWUL_KAFKA_URL", "kafka://kafka-1:9093")
    clean_env.setenv("TAHAWUL_KAFKA_SECURITY_PROTOCOL", "SASL_SSL")
    clean_env.setenv("TAHAWUL_KAFKA_PASSWORD", SECRET)
    assert main(["worker"]) == 2
    out = capsys.readouterr()
    assert out.err.splitlines() == ["tahawul: invalid settings: SASL_SSL needs TAHAWUL_KAFKA_USERNAME and "
                                    "TAHAWUL_KAFKA_PASSWORD"]
    assert SECRET not in out.err + out.out


def test_a_child_process_reaches_the_cluster_the_same_way(clean_env: pytest.MonkeyPatch,
                                                          tmp_path: Path) -> None:
    ca = make_pki(tmp_path / "pki").ca  # a CA file the TLS context can load
    parent = settings(kafka_url="kafka://kafka-1:9093", kafka_security_protocol="SASL_SSL",
                      kafka_username="worker", kafka_password=SecretStr(SECRET), kafka_ca_file=ca)
    for name, value in parent.pipeline_env().items():
        clean_env.setenv(name, value)
    child = settings()
    assert child.kafka_security() == parent.kafka_security()


def test_the_sdk_value_refuses_what_cannot_work() -> None:
    with pytest.raises(KafkaSecurityError, match="SASL_SSL needs"):
        KafkaSecurity("SASL_SSL", username="entity-rop")
    with pytest.raises(KafkaSecurityError, match="unsupported SASL mechanism"):
        KafkaSecurity("SASL_SSL", mechanism="PLAIN", username="u", password="p")  # type: ignore[arg-type]
    assert KafkaSecurity().client_options() == {"security_protocol": "PLAINTEXT"}
