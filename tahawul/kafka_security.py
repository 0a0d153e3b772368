"""How every tahawul Kafka client authenticates and encrypts: one value, one builder per library.

The SDK, `tahawul send`, `simulate --send`, the gateway, the Faust workers, the counting
writer and the admin calls all reach the broker with the same :class:`KafkaSecurity`
(built from the ``TAHAWUL_KAFKA_*`` settings by :meth:`tahawul.settings.Settings.kafka_security`,
or given to the SDK's ``Producer`` directly). Keeping the translation to each library's
keyword arguments here means a client cannot be forgotten when the rules change: kafka-python
and aiokafka take the same names; Faust takes ``broker_credentials`` (built in
:mod:`tahawul.stream_processors.app` from :meth:`KafkaSecurity.ssl_context`, because this
module must not import Faust: the SDK imports it).

Certificates are always verified, host names always checked: a broker whose certificate does
not chain to ``ca_file`` (or, without one, to the system's trusted roots) is refused. The
password is kept out of ``repr`` so that no log line or traceback prints it.
"""

from __future__ import annotations

import ssl
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Final, Literal

Protocol = Literal["PLAINTEXT", "SSL", "SASL_SSL"]
Mechanism = Literal["SCRAM-SHA-512", "SCRAM-SHA-256"]

PROTOCOLS: Final = ("PLAINTEXT", "SSL", "SASL_SSL")
MECHANISMS: Final = ("SCRAM-SHA-512", "SCRAM-SHA-256")


class KafkaSecurityError(ValueError):
    """The security settings cannot work (missing password, unreadable certificate...)."""


@dataclass(frozen=True, slots=True)
class KafkaSecurity:
    """How to authenticate to the brokers and check who they are.

    ``PLAINTEXT``: neither (only for a broker on this machine, see the settings).
    ``SSL``: TLS, the broker's certificate verified against ``ca_file``; ``cert_file`` and
    ``key_file`` (PEM) add a client certificate (mutual TLS).
    ``SASL_SSL``: the same TLS, and the client logs in as ``username`` with ``password``
    by SCRAM (``mechanism``), which never sends the password itself.
    """

    protocol: Protocol = "PLAINTEXT"
    mechanism: Mechanism = "SCRAM-SHA-512"
    username: str | None = None
    password: str | None = field(default=None, repr=False)
    ca_file: Path | None = None
    cert_file: Path | None = None
    key_file: Path | None = None

    def __post_init__(self) -> None:
        if self.protocol not in PROTOCOLS:
            raise KafkaSecurityError(f"unknown security protocol {self.protocol!r}; expected one of "
                                     f"{', '.join(PROTOCOLS)}")
        if self.mechanism not in MECHANISMS:
            raise KafkaSecurityError(f"unsupported SASL mechanism {self.mechanism!r}; expected one of "
                                     f"{', '.join(MECHANISMS)}")
        if self.protocol == "SASL_SSL" and not (self.username and self.password):
            raise KafkaSecurityError("SASL_SSL needs TAHAWUL_KAFKA_USERNAME and TAHAWUL_KAFKA_PASSWORD")
        if (self.cert_file is None) != (self.key_file is None):
            raise KafkaSecurityError("a client certificate needs both TAHAWUL_KAFKA_CERT_FILE and "
                                     "TAHAWUL_KAFKA_KEY_FILE")
        if self.protocol == "PLAINTEXT" and (self.ca_file or self.cert_file):
            raise KafkaSecurityError("certificate files are set but the protocol is PLAINTEXT; set "
                                     "TAHAWUL_KAFKA_SECURITY_PROTOCOL=SASL_SSL (or SSL)")

    @property
    def tls(self) -> bool:
        return self.protocol != "PLAINTEXT"

    def ssl_context(self) -> ssl.SSLContext | None:
        """A TLS context that verifies the broker's certificate and host name (TLS 1.2 at
        least), with the client certificate when one is set; None for PLAINTEXT. Raises
        :class:`KafkaSecurityError` naming the file that cannot be read."""
        if not self.tls:
            return None
        try:
            context = ssl.create_default_context(
                cafile=str(self.ca_file) if self.ca_file is not None else None)
        except (OSError, ssl.SSLError) as exc:
            raise KafkaSecurityError(f"cannot read the CA file TAHAWUL_KAFKA_CA_FILE={self.ca_file} "
                                     f"({_reason(exc)})") from None
        context.minimum_version = ssl.TLSVersion.TLSv1_2
        context.check_hostname = True
        context.verify_mode = ssl.CERT_REQUIRED
        if self.cert_file is not None and self.key_file is not None:
            try:
                context.load_cert_chain(str(self.cert_file), str(self.key_file))
            except (OSError, ssl.SSLError) as exc:
                raise KafkaSecurityError(
                    f"cannot load the client certificate TAHAWUL_KAFKA_CERT_FILE={self.cert_file} with "
                    f"TAHAWUL_KAFKA_KEY_FILE={self.key_file} ({_reason(exc)})") from None
        return context

    def client_options(self) -> dict[str, Any]:
        """Keyword arguments for a kafka-python or aiokafka client (both take these names)."""
        options: dict[str, Any] = {"security_protocol": self.protocol}
        if self.tls:
            options["ssl_context"] = self.ssl_context()
        if self.protocol == "SASL_SSL":
            options.update(sasl_mechanism=self.mechanism, sasl_plain_username=self.username,
                           sasl_plain_password=self.password)
        return options

    def describe(self) -> str:
        """Who connects how, for error messages (never the password)."""
        if self.protocol == "SASL_SSL":
            return f"SASL_SSL as {self.username!r} ({self.mechanism})"
        return self.protocol


PLAINTEXT: Final = KafkaSecurity()


def _reason(exc: BaseException) -> str:
    return getattr(exc, "strerror", None) or getattr(exc, "reason", None) or str(exc) or type(exc).__name__
