"""The Prometheus /metrics endpoint of the long-running processes.

`tahawul worker`, `tahawul counter` and `tahawul up` call :func:`serve_metrics` once at
start-up. It serves the default prometheus-client registry (where stream_processors.metrics
registers) from a daemon thread, so it never delays or blocks the pipeline, and it is off
unless TAHAWUL_METRICS_PORT is set: tests and laptops run many processes side by side and
must not fight over a port. The gateway serves its own registry at its own /metrics.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from wsgiref.simple_server import WSGIServer

from prometheus_client import start_http_server

from tahawul.settings import Settings

log = logging.getLogger(__name__)


@dataclass(frozen=True, slots=True)
class MetricsEndpoint:
    host: str
    port: int
    server: WSGIServer

    @property
    def url(self) -> str:
        return f"http://{self.host}:{self.port}/metrics"

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()


def serve_metrics(settings: Settings) -> MetricsEndpoint | None:
    """Start the endpoint if TAHAWUL_METRICS_PORT is set (0 picks a free port). A port in
    use is an error the caller sees at start-up, not a silent gap in monitoring."""
    if settings.metrics_port is None:
        return None
    port = settings.metrics_port
    try:
        server, _thread = start_http_server(port, addr=settings.metrics_host)
    except OSError as exc:
        raise SystemExit(f"tahawul: cannot serve /metrics on {settings.metrics_host}:{port} ({exc}); "
                         "set another TAHAWUL_METRICS_PORT") from exc
    bound = server.server_address[1]
    log.info("serving Prometheus metrics on http://%s:%d/metrics", settings.metrics_host, bound)
    return MetricsEndpoint(settings.metrics_host, int(bound), server)
