"""A test CA and the certificates of a SASL_SSL-only Apache Kafka node, made with
`cryptography` for each test module (nothing shared, nothing checked in), and the
server.properties that node runs with, as deploy/docker-compose.yml configures its brokers:
SASL_SSL on every listener (the controller's too), clients logging in with SCRAM-SHA-512,
the node itself as admin with PLAIN (controllers cannot read SCRAM credentials), the
StandardAuthorizer with nothing allowed that no ACL grants, ``User:admin`` the only super
user (no ``User:ANONYMOUS``). The admin's SCRAM credential is set after start, over PLAIN,
as deploy/kafka/init.sh does."""

from __future__ import annotations

import datetime as dt
import ipaddress
from dataclasses import dataclass
from pathlib import Path

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.hazmat.primitives.serialization import pkcs12
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

ADMIN = "admin"
ADMIN_PASSWORD = "admin-secret-for-tests-only"
KEYSTORE_PASSWORD = "keystore-password-for-tests-only"


@dataclass(frozen=True)
class Pki:
    ca: Path  # the CA certificate clients verify the broker with
    server_keystore: Path  # the broker's key and certificate chain (PKCS#12, password-protected)
    client_cert: Path
    client_key: Path
    other_ca: Path  # a CA that signed nothing the broker shows
    server_cert: Path  # the same server certificate and key in PEM, for the gateway's HTTPS
    server_key: Path


def _name(cn: str) -> x509.Name:
    return x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, cn)])


def _ca(cn: str) -> tuple[ec.EllipticCurvePrivateKey, x509.Certificate]:
    key = ec.generate_private_key(ec.SECP256R1())
    now = dt.datetime.now(dt.UTC)
    cert = (x509.CertificateBuilder().subject_name(_name(cn)).issuer_name(_name(cn))
            .public_key(key.public_key()).serial_number(x509.random_serial_number())
            .not_valid_before(now - dt.timedelta(minutes=5)).not_valid_after(now + dt.timedelta(days=2))
            .add_extension(x509.BasicConstraints(ca=True, path_length=0), critical=True)
            .add_extension(x509.KeyUsage(digital_signature=True, key_cert_sign=True, crl_sign=True,
                                         content_commitment=False, key_encipherment=False,
                                         data_encipherment=False, key_agreement=False,
                                         encipher_only=False, decipher_only=False), critical=True)
            .sign(key, hashes.SHA256()))
    return key, cert


def _leaf(ca_key: ec.EllipticCurvePrivateKey, ca: x509.Certificate, cn: str, server: bool
          ) -> tuple[ec.EllipticCurvePrivateKey, x509.Certificate]:
    key = ec.generate_private_key(ec.SECP256R1())
    now = dt.datetime.now(dt.UTC)
    builder = (x509.CertificateBuilder().subject_name(_name(cn)).issuer_name(ca.subject)
               .public_key(key.public_key()).serial_number(x509.random_serial_number())
               .not_valid_before(now - dt.timedelta(minutes=5)).not_valid_after(now + dt.timedelta(days=1))
               .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
               .add_extension(x509.ExtendedKeyUsage(
                   [ExtendedKeyUsageOID.SERVER_AUTH, ExtendedKeyUsageOID.CLIENT_AUTH] if server
                   else [ExtendedKeyUsageOID.CLIENT_AUTH]), critical=False))
    if server:
        builder = builder.add_extension(x509.SubjectAlternativeName(
            [x509.DNSName("localhost"), x509.IPAddress(ipaddress.ip_address("127.0.0.1"))]), critical=False)
    return key, builder.sign(ca_key, hashes.SHA256())


def _pem(cert: x509.Certificate) -> bytes:
    return cert.public_bytes(serialization.Encoding.PEM)


def make_pki(directory: Path) -> Pki:
    directory.mkdir(parents=True, exist_ok=True)
    ca_key, ca = _ca("tahawul test CA")
    server_key, server = _leaf(ca_key, ca, "localhost", server=True)
    client_key, client = _leaf(ca_key, ca, "tahawul-test-client", server=False)
    _, other = _ca("some other CA")
    pki = Pki(directory / "ca.pem", directory / "server.p12", directory / "client.pem",
              directory / "client.key", directory / "other-ca.pem", directory / "server.pem",
              directory / "server.key")
    pki.ca.write_bytes(_pem(ca))
    pki.other_ca.write_bytes(_pem(other))
    # A PKCS#12 keystore as deployments use (KAFKA_SSL_KEYSTORE_PASSWORD), in the encryption
    # every JDK reads (Java 17 cannot read a PBES2-encrypted PEM key).
    encryption = (serialization.PrivateFormat.PKCS12.encryption_builder()
                  .kdf_rounds(50000).key_cert_algorithm(pkcs12.PBES.PBESv1SHA1And3KeyTripleDESCBC)
                  .hmac_hash(hashes.SHA1()).build(KEYSTORE_PASSWORD.encode()))
    pki.server_keystore.write_bytes(pkcs12.serialize_key_and_certificates(
        b"broker", server_key, server, [ca], encryption))
    pki.server_cert.write_bytes(_pem(server) + _pem(ca))
    pki.server_key.write_bytes(server_key.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()))
    pki.client_cert.write_bytes(_pem(client))
    pki.client_key.write_bytes(client_key.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()))
    for path in (pki.server_keystore, pki.client_key, pki.server_key):
        path.chmod(0o600)
    return pki


def broker_properties(pki: Pki) -> dict[str, str]:
    """server.properties of a node whose only client listener is SASL_SSL (named SASL_SSL by
    the launcher) and whose controller listener takes only admin, by PLAIN, on loopback."""
    plain_admin = (f'org.apache.kafka.common.security.plain.PlainLoginModule required '
                   f'username="{ADMIN}" password="{ADMIN_PASSWORD}" user_{ADMIN}="{ADMIN_PASSWORD}";')
    return {
        "listener.security.protocol.map": "SASL_SSL:SASL_SSL,CONTROLLER:SASL_SSL",
        "sasl.enabled.mechanisms": "SCRAM-SHA-512",
        "sasl.mechanism.inter.broker.protocol": "PLAIN",
        "sasl.mechanism.controller.protocol": "PLAIN",
        "listener.name.sasl_ssl.sasl.enabled.mechanisms": "SCRAM-SHA-512,PLAIN",
        "listener.name.sasl_ssl.plain.sasl.jaas.config": plain_admin,
        "listener.name.sasl_ssl.scram-sha-512.sasl.jaas.config":
            "org.apache.kafka.common.security.scram.ScramLoginModule required;",
        "listener.name.controller.sasl.enabled.mechanisms": "PLAIN",
        "listener.name.controller.plain.sasl.jaas.config": plain_admin,
        "ssl.keystore.type": "PKCS12",
        "ssl.keystore.location": str(pki.server_keystore),
        "ssl.keystore.password": KEYSTORE_PASSWORD,
        "ssl.truststore.type": "PEM",
        "ssl.truststore.location": str(pki.ca),
        "ssl.client.auth": "requested",
        "ssl.endpoint.identification.algorithm": "https",
        "authorizer.class.name": "org.apache.kafka.metadata.authorizer.StandardAuthorizer",
        "allow.everyone.if.no.acl.found": "false",
        "super.users": f"User:{ADMIN}",
        # The tests' groups use 3 s sessions (below Kafka's 6 s minimum) to rebalance fast.
        "group.min.session.timeout.ms": "1000",
    }


def plain_admin_config(pki: Pki) -> dict[str, str]:
    """kafka-python options of the admin's PLAIN login (the node's readiness check, and the
    one call that gives the admin its SCRAM credential)."""
    return {"security_protocol": "SASL_SSL", "sasl_mechanism": "PLAIN",
            "sasl_plain_username": ADMIN, "sasl_plain_password": ADMIN_PASSWORD,
            "ssl_cafile": str(pki.ca)}


def give_admin_scram(bootstrap: str, pki: Pki) -> None:
    """What deploy/kafka/init.sh does with kafka-configs: the admin's SCRAM-SHA-512
    credential, set over the PLAIN login, so that `tahawul kafka acls` can log in."""
    from kafka import KafkaAdminClient
    from kafka.admin import ScramMechanism, UserScramCredentialUpsertion

    client = KafkaAdminClient(bootstrap_servers=bootstrap, **plain_admin_config(pki))
    try:
        outcome = client.alter_user_scram_credentials(
            [UserScramCredentialUpsertion(ADMIN, ScramMechanism.SCRAM_SHA_512, ADMIN_PASSWORD,
                                          iterations=8192)])
        assert outcome == {ADMIN: None}, outcome
    finally:
        client.close()
