"""Running the gateway: wire its services from the settings and serve with uvicorn."""

from __future__ import annotations

import logging
import sys

import uvicorn
from kafka.errors import KafkaError
from prometheus_client import start_http_server

from tahawul.kafka_admin import KafkaUnavailable, ensure_topics
from tahawul.keyring import gateway_signer
from tahawul.producers.gateway.app import Services, create_app
from tahawul.producers.gateway.connections import guarded_protocol
from tahawul.producers.gateway.credentials import CredentialStore, credentials_path
from tahawul.producers.gateway.delivery import KafkaDelivery
from tahawul.producers.gateway.metrics import GatewayMetrics
from tahawul.producers.gateway.ratelimit import RateLimiter
from tahawul.producers.gateway.seen import DeliveredIndex
from tahawul.schemas.reference import load_catalogue
from tahawul.settings import Settings

log = logging.getLogger(__name__)


def build_services(settings: Settings, bootstrap: str) -> Services:
    ensure_topics(bootstrap, settings)
    signer = gateway_signer(settings)  # no key: refuse to start (UsageError), never forward unsigned
    try:
        delivery = KafkaDelivery(bootstrap, settings.topic_transactions, settings.gateway_ack_timeout,
                                 signer,
                                 security=settings.kafka_security())
    except KafkaError as exc:
        raise KafkaUnavailable(f"cannot reach Kafka at {bootstrap}: {exc}") from None
    if settings.gateway_burst < settings.gateway_max_batch:
        log.warning("TAHAWUL_GATEWAY_BURST (%d) is below TAHAWUL_GATEWAY_MAX_BATCH (%d): full "
                    "batches will always be refused", settings.gateway_burst, settings.gateway_max_batch)
    return Services(
        credentials=CredentialStore(credentials_path(settings.data_dir, settings.credentials_path)),
        seen=DeliveredIndex(settings.data_dir / "gateway-seen.sqlite"),
        delivery=delivery,
        limiter=RateLimiter(settings.gateway_rate, settings.gateway_burst),
        catalogue=load_catalogue(),
        metrics=GatewayMetrics(),
    )


def serve(settings: Settings, bootstrap: str, host: str, port: int) -> int:
    """Serve the API on ``host:port`` and the gateway's /metrics on its own port
    (TAHAWUL_GATEWAY_METRICS_PORT on TAHAWUL_METRICS_HOST, loopback unless set): per-entity
    figures are for Prometheus, not for whoever reaches the public port."""
    services = build_services(settings, bootstrap)
    app = create_app(services, settings.gateway_max_batch, settings.gateway_body_timeout)
    try:
        metrics_server, _thread = start_http_server(
            settings.gateway_metrics_port, addr=settings.metrics_host,
            registry=services.metrics.registry)
    except OSError as exc:
        raise SystemExit(f"tahawul: cannot serve the gateway's /metrics on {settings.metrics_host}:"
                         f"{settings.gateway_metrics_port} ({exc}); set another "
                         "TAHAWUL_GATEWAY_METRICS_PORT") from exc
    tls = {} if settings.gateway_tls_cert_file is None else {
        "ssl_certfile": str(settings.gateway_tls_cert_file),
        "ssl_keyfile": str(settings.gateway_tls_key_file)}
    scheme = "https" if tls else "http"
    print(f"gateway on {scheme}://{host}:{port} -> {bootstrap} topic {settings.topic_transactions}; "
          f"metrics on http://{settings.metrics_host}:{metrics_server.server_address[1]}/metrics",
          file=sys.stderr, flush=True)
    protocol = guarded_protocol(settings.gateway_header_timeout, settings.gateway_max_connections,
                                services.metrics)
    try:
        uvicorn.run(app, host=host, port=port, log_level=settings.log_level.lower(),
                    access_log=False, timeout_graceful_shutdown=10, http=protocol,
                    **tls)  # type: ignore[arg-type]
    finally:
        metrics_server.shutdown()
        metrics_server.server_close()
        services.delivery.close()
        services.seen.close()
    return 0
