"""Connection limits of the gateway that uvicorn does not have: a deadline for a request's
head and a cap on open connections.

uvicorn's ``timeout_keep_alive`` only runs *between* requests and is reset by every byte
received, so a client that opens a connection and sends nothing, or trickles a request line
one byte at a time, holds it for ever (slowloris); an ASGI app cannot help, because it is
only called once the head is complete. And uvicorn's ``limit_concurrency`` answers 503 only
once a head arrives, so stalled connections are never turned away. Hence this subclass of
uvicorn's h11 protocol (the implementation uvicorn picks without httptools):

* a connection gets ``header_timeout`` seconds, from its opening or from the previous answer
  on it, to deliver a complete request head; then it is closed. The body's own deadline is
  the app's (TAHAWUL_GATEWAY_BODY_TIMEOUT: 408), which runs only after authentication;
* a connection beyond ``max_connections`` is closed as soon as it is accepted, before any
  byte is read, so stalled connections cost a bounded amount of memory and file handles.

Head size is bounded by h11 itself (uvicorn's ``h11_max_incomplete_event_size``, 16 KiB:
more is answered 400).
"""

from __future__ import annotations

import asyncio
from typing import Any

from uvicorn.protocols.http.h11_impl import H11Protocol

from tahawul.producers.gateway.metrics import GatewayMetrics


class GuardedH11Protocol(H11Protocol):
    """uvicorn's h11 protocol with a request-head deadline and a connection cap (set by
    :func:`guarded_protocol`)."""

    header_timeout: float = 10.0
    max_connections: int = 256
    metrics: GatewayMetrics | None = None

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self._head_timer: asyncio.TimerHandle | None = None
        self._head_of: object | None = None  # the cycle current when the timer was armed

    def connection_made(self, transport: asyncio.Transport) -> None:  # type: ignore[override]
        super().connection_made(transport)
        if len(self.connections) > self.max_connections:
            if self.metrics is not None:
                self.metrics.connections_refused.inc()
            transport.close()
            return
        self._arm()

    def connection_lost(self, exc: Exception | None) -> None:
        self._disarm()
        super().connection_lost(exc)

    def handle_events(self) -> None:
        super().handle_events()
        # A new request cycle means its head arrived complete: the head deadline is met.
        if self._head_timer is not None and self.cycle is not self._head_of:
            self._disarm()

    def on_response_complete(self) -> None:
        # Armed before uvicorn goes on to a pipelined request, whose head then disarms it.
        self._arm()
        super().on_response_complete()
        if self.transport.is_closing():
            self._disarm()

    def _arm(self) -> None:
        self._disarm()
        self._head_of = self.cycle
        self._head_timer = self.loop.call_later(self.header_timeout, self._head_too_slow)

    def _disarm(self) -> None:
        if self._head_timer is not None:
            self._head_timer.cancel()
            self._head_timer = None

    def _head_too_slow(self) -> None:
        self._head_timer = None
        if not self.transport.is_closing():
            if self.metrics is not None:
                self.metrics.header_timeouts.inc()
            self.transport.close()


def guarded_protocol(header_timeout: float, max_connections: int,
                     metrics: GatewayMetrics | None) -> type[GuardedH11Protocol]:
    """The protocol class to give uvicorn (``http=``), with the gateway's settings."""
    return type("GatewayH11Protocol", (GuardedH11Protocol,), {
        "header_timeout": header_timeout, "max_connections": max_connections, "metrics": metrics})
