"""Prometheus metrics of the gateway, in a registry of its own (one per app instance).

``entity`` labels carry the authenticated caller's entity code (a bounded set from the
credential store), never a value taken from a request body.
"""

from __future__ import annotations

from prometheus_client import CollectorRegistry, Counter, Histogram


class GatewayMetrics:
    def __init__(self) -> None:
        self.registry = CollectorRegistry()
        self.requests = Counter(
            "tahawul_gateway_requests_total", "HTTP requests to POST /v1/transactions by status.",
            ["status", "entity"], registry=self.registry)
        self.events = Counter(
            "tahawul_gateway_events_total", "Events by outcome (accepted, duplicate, rejected).",
            ["outcome", "entity"], registry=self.registry)
        self.rejections = Counter(
            "tahawul_gateway_rejections_total", "Rejected events by contract error code.",
            ["code", "entity"], registry=self.registry)
        self.foreign_entity = Counter(
            "tahawul_gateway_foreign_entity_total",
            "Requests refused (403) because an event named another entity than the caller's.",
            ["entity"], registry=self.registry)
        self.auth_failures = Counter(
            "tahawul_gateway_auth_failures_total",
            "Requests refused 401 (before their body was read), by reason: missing, malformed, "
            "unknown or revoked key. A burst is someone guessing keys (alert "
            "TahawulGatewayUnauthorizedBurst).",
            ["reason"], registry=self.registry)
        self.bodies_refused = Counter(
            "tahawul_gateway_bodies_refused_total",
            "Authenticated requests whose body was refused unread or cut: too_large (413, over "
            "the body cap) or timeout (408, not sent within TAHAWUL_GATEWAY_BODY_TIMEOUT).",
            ["reason", "entity"], registry=self.registry)
        self.header_timeouts = Counter(
            "tahawul_gateway_header_timeouts_total",
            "Connections closed because no complete request head arrived within "
            "TAHAWUL_GATEWAY_HEADER_TIMEOUT.", registry=self.registry)
        self.connections_refused = Counter(
            "tahawul_gateway_connections_refused_total",
            "Connections closed at once because TAHAWUL_GATEWAY_MAX_CONNECTIONS were open.",
            registry=self.registry)
        self.rate_limited = Counter(
            "tahawul_gateway_rate_limited_total", "Requests refused 429 (per-entity rate limit).",
            ["entity"], registry=self.registry)
        self.not_acknowledged = Counter(
            "tahawul_gateway_not_acknowledged_total",
            "Requests answered 503 because Kafka did not acknowledge their events in time.",
            registry=self.registry)
        self.latency = Histogram(
            "tahawul_gateway_request_seconds", "Time to answer POST /v1/transactions.",
            registry=self.registry,
            buckets=(0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0))
