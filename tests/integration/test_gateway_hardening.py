"""`tahawul gateway` as a process under the attacks of issue 13 item 4, over raw sockets: the
slow-body attack (unauthenticated connections announcing 15.9 MB and trickling or stalling)
costs the gateway no memory and gets 401 at once while a legitimate client is served; an
authenticated over-cap body gets 413 before it is read whole; a stalled body is cut at the
body timeout; a silent connection at the head timeout; connections beyond the limit are
closed at once and the gateway stays up; /metrics is on its own port only."""

from __future__ import annotations

import socket
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

import httpx
import orjson
import pytest

from tahawul.producers.gateway.app import max_body_bytes
from tahawul.settings import Settings
from tests.integration.conftest import wait_for
from tests.integration.gateway_support import Gateway, running_gateway
from tests.integration.producer_support import event_days, tahawul

pytestmark = pytest.mark.integration
HEAD_TIMEOUT = 3.0
BODY_TIMEOUT = 3.0
MAX_CONNECTIONS = 24
ANNOUNCED = 15_900_000  # what the attack of the finding announced per connection


@pytest.fixture
def gateway(settings: Settings, tmp_path: Path) -> Iterator[Gateway]:
    with running_gateway(settings, tmp_path, TAHAWUL_GATEWAY_HEADER_TIMEOUT=str(HEAD_TIMEOUT),
                         TAHAWUL_GATEWAY_BODY_TIMEOUT=str(BODY_TIMEOUT),
                         TAHAWUL_GATEWAY_MAX_CONNECTIONS=str(MAX_CONNECTIONS),
                         TAHAWUL_GATEWAY_RATE="100000", TAHAWUL_GATEWAY_BURST="100000") as gw:
        yield gw


@pytest.fixture
def key(settings: Settings) -> str:
    done = tahawul(settings, "credentials", "issue", "ROP", "--note", "hardening test")
    assert done.returncode == 0, done.stderr
    return done.stdout.strip()


def rss_kib(pid: int) -> int:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1])
    raise AssertionError("no VmRSS")


def head(port: int, headers: dict[str, str], target: str = "/v1/transactions") -> socket.socket:
    """A connection that has sent a POST request head (and no body yet)."""
    sock = socket.create_connection(("127.0.0.1", port), timeout=10)
    lines = [f"POST {target} HTTP/1.1", "Host: gateway", "Content-Type: application/json",
             *(f"{k}: {v}" for k, v in headers.items())]
    sock.sendall(("\r\n".join(lines) + "\r\n\r\n").encode())
    return sock


def answer(sock: socket.socket, timeout: float = 10) -> tuple[int, bytes, bool]:
    """Status, everything the server sent, and whether it then closed the connection
    (read until EOF or ``timeout``)."""
    sock.settimeout(timeout)
    data = b""
    closed = False
    try:
        while chunk := sock.recv(65536):
            data += chunk
        closed = True
    except TimeoutError:
        pass
    except ConnectionResetError:
        closed = True
    status = int(data.split(b" ", 2)[1]) if data.startswith(b"HTTP/1.1 ") else 0
    return status, data, closed


@dataclass
class Attacker:
    """One unauthenticated connection announcing ANNOUNCED bytes: it then trickles 64 KiB
    chunks (or stalls, sending nothing) and notes how its request ended."""

    port: int
    headers: dict[str, str]
    trickle: bool
    status: int = 0
    closed: bool = False
    seconds: float = 0.0
    sent: int = 0
    errors: list[str] = field(default_factory=list)

    def run(self) -> None:
        started = time.monotonic()
        sock = head(self.port, {**self.headers, "Content-Length": str(ANNOUNCED)})
        try:
            if self.trickle:
                sock.settimeout(0.2)
                chunk = b" " * 65536
                try:  # until the gateway closes or the kernel buffers are full
                    while self.sent < ANNOUNCED and time.monotonic() - started < 5:
                        self.sent += sock.send(chunk)
                        time.sleep(0.01)
                except OSError as exc:
                    self.errors.append(type(exc).__name__)
            self.status, _, self.closed = answer(sock)
            self.seconds = time.monotonic() - started
        finally:
            sock.close()


def test_slow_unauthenticated_bodies_cost_nothing_and_a_client_is_served_meanwhile(
    gateway: Gateway, key: str
) -> None:
    client = httpx.Client(base_url=gateway.url, timeout=60,
                          headers={"Authorization": f"Bearer {key}"})
    for batch in range(3):  # warm up: the threads and buffers of a served request exist
        assert client.post("/v1/transactions", json=event_days(200)).status_code == 200, batch
    idle = rss_kib(gateway.pid)

    wrong = {"Authorization": "Bearer tahawul_AAAAAAAA_" + "B" * 43}
    attackers = [Attacker(gateway.port, {} if i % 2 else wrong, trickle=i < 6) for i in range(12)]
    threads = [threading.Thread(target=a.run) for a in attackers]
    peak = idle
    for t in threads:
        t.start()
    served = 0
    while any(t.is_alive() for t in threads):
        assert client.post("/v1/transactions", json=event_days(20)).status_code == 200
        served += 1
        peak = max(peak, rss_kib(gateway.pid))
    for t in threads:
        t.join()
    peak = max(peak, rss_kib(gateway.pid))

    for a in attackers:
        # A stalled one reads its 401; a trickling one may see the close as a reset instead
        # (its unread body still in the gateway's socket buffer): closed at once either way.
        assert a.closed and (a.status == 401 or a.trickle), a
        assert a.seconds < 6, a  # answered at once, not after reading or waiting
    assert sum(a.status == 401 for a in attackers) >= 6
    assert served >= 1
    print(f"gateway RSS idle {idle} KiB, peak under attack {peak} KiB, {served} requests served, "
          f"attackers answered within {max(a.seconds for a in attackers):.2f} s")
    assert peak - idle < 8192, f"RSS grew from {idle} to {peak} KiB under the attack"
    assert client.post("/v1/transactions", json=event_days(5)).status_code == 200
    assert gateway.metric('tahawul_gateway_auth_failures_total{reason="missing"}') == 6
    assert gateway.metric('tahawul_gateway_auth_failures_total{reason="malformed"}') + gateway.metric(
        'tahawul_gateway_auth_failures_total{reason="unknown"}') == 6
    client.close()


def test_authenticated_bodies_over_the_cap_are_refused_before_being_read(
    gateway: Gateway, key: str
) -> None:
    auth = {"Authorization": f"Bearer {key}"}
    cap = max_body_bytes(1000)

    # Announced too large: 413 before a byte of the body, and the connection closed.
    sock = head(gateway.port, {**auth, "Content-Length": str(ANNOUNCED)})
    status, data, closed = answer(sock)
    sock.close()
    assert (status, closed) == (413, True), data
    assert orjson.loads(data.split(b"\r\n\r\n", 1)[1])["error"] == "body_too_large"

    # Chunked: refused as soon as it passes the cap (cap + 1 bytes sent), although the body
    # never ends (no last chunk).
    sock = head(gateway.port, {**auth, "Transfer-Encoding": "chunked"})
    sent = 0
    while sent <= cap:
        piece = b" " * min(32768, cap + 1 - sent)
        sock.sendall(b"%x\r\n%s\r\n" % (len(piece), piece))
        sent += len(piece)
    status, data, closed = answer(sock)
    sock.close()
    assert (status, closed) == (413, True), data
    assert gateway.metric('tahawul_gateway_bodies_refused_total{entity="ROP",reason="too_large"}') == 2

    # At the cap it is still read: a full batch of pretty-printed events is accepted.
    events = event_days(1000)
    body = b"[\n" + b",\n".join(orjson.dumps(e, option=orjson.OPT_INDENT_2) for e in events) + b"\n]"
    assert len(body) <= cap
    r = httpx.post(gateway.url + "/v1/transactions", content=body, timeout=60,
                   headers={**auth, "Content-Type": "application/json"})
    assert (r.status_code, r.json()["accepted"]) == (200, 1000), r.text


def test_a_stalled_authenticated_body_is_cut_at_the_body_timeout(gateway: Gateway, key: str) -> None:
    sock = head(gateway.port, {"Authorization": f"Bearer {key}", "Content-Length": "5000"})
    sock.sendall(b'[{"event_id": ')
    started = time.monotonic()
    status, data, closed = answer(sock, timeout=BODY_TIMEOUT + 10)
    sock.close()
    assert (status, closed) == (408, True), data
    assert BODY_TIMEOUT - 0.5 < time.monotonic() - started < BODY_TIMEOUT + 5
    assert gateway.metric('tahawul_gateway_bodies_refused_total{entity="ROP",reason="timeout"}') == 1


def test_silent_and_trickled_heads_are_closed_at_the_head_timeout(gateway: Gateway) -> None:
    silent = socket.create_connection(("127.0.0.1", gateway.port), timeout=10)
    trickled = socket.create_connection(("127.0.0.1", gateway.port), timeout=10)
    started = time.monotonic()
    trickled.settimeout(0.5)
    closed_at = None
    for byte in b"POST /v1/transactions HTTP/1.1\r\nHost: gateway\r\nX-Slow: " + b"a" * 100:
        try:
            trickled.send(bytes([byte]))
            if trickled.recv(1) == b"":
                closed_at = time.monotonic() - started
                break
        except TimeoutError:
            continue  # nothing from the server yet: one more byte
        except OSError:
            closed_at = time.monotonic() - started
            break
    trickled.close()
    assert closed_at is not None and HEAD_TIMEOUT - 0.5 < closed_at < HEAD_TIMEOUT + 5, closed_at
    assert answer(silent, timeout=10)[2]
    silent.close()
    assert gateway.metric("tahawul_gateway_header_timeouts_total") == 2


def test_connections_beyond_the_limit_are_closed_and_the_gateway_stays_up(gateway: Gateway) -> None:
    held = [socket.create_connection(("127.0.0.1", gateway.port), timeout=10)
            for _ in range(MAX_CONNECTIONS)]

    def refused() -> bool:
        extra = socket.create_connection(("127.0.0.1", gateway.port), timeout=10)
        try:
            extra.sendall(b"GET /healthz HTTP/1.1\r\nHost: gateway\r\n\r\n")
            status, _, closed = answer(extra, timeout=2)
            return (status, closed) == (0, True)
        except OSError:
            return True
        finally:
            extra.close()

    wait_for(refused, 30, "a connection beyond the limit to be closed unanswered")
    assert gateway.metric("tahawul_gateway_connections_refused_total") >= 1
    for sock in held:  # the held ones are closed at the head timeout
        assert answer(sock, timeout=HEAD_TIMEOUT + 10)[2]
        sock.close()
    assert httpx.get(gateway.url + "/healthz", timeout=10).status_code == 200


def test_metrics_are_on_their_own_port_only(gateway: Gateway) -> None:
    assert httpx.get(gateway.url + "/metrics", timeout=10).status_code == 404
    r = httpx.get(gateway.metrics_url, timeout=10)
    assert r.status_code == 200 and "tahawul_gateway_requests_total" in r.text
