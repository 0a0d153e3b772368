"""The loopback HTTP server of `tahawul up`: the store's read front and the live page.

One port on 127.0.0.1 (TAHAWUL_LIVE_PORT; 0, the default, picks a free one), printed at
start and written to the front record beside the store (sinks.clickhouse.read_front), where
`tahawul sql`, `report`, `audit` and `export` find it when `up` holds the store:

- ``/`` and ``/ping``: ClickHouse's HTTP interface, read-only, with the user and password of
  the front record (clickhouse-connect, DBeaver, Grafana's ClickHouse datasource over HTTP);
- ``/en`` and ``/ar``: the live page (tahawul.report.live), ``/live.json`` its numbers,
  ``/en/report`` and ``/ar/report`` the report of the store. These show published aggregates
  only, as `tahawul report` does, and need no password: a browser on this machine opens them.

Requests are handled each in its own thread; queries run on the front's read-only handles,
never on the counting writer's.
"""

from __future__ import annotations

import json
import logging
import os
import threading
from collections.abc import Callable
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import TYPE_CHECKING, Any
from urllib.parse import parse_qsl, urlsplit

from tahawul.report.live import live_page, report_page
from tahawul.sinks.clickhouse.read_front import (
    AUTHENTICATION_FAILED,
    FrontRecord,
    ReadFront,
    Refused,
    remove_record,
    write_record,
)

if TYPE_CHECKING:
    from tahawul.runtime.local import Run
    from tahawul.runtime.rates import EventRate

log = logging.getLogger(__name__)

LOOPBACK = "127.0.0.1"
MAX_QUERY_BYTES = 1 << 20
State = Callable[[], dict[str, Any]]


class _Server(ThreadingHTTPServer):
    daemon_threads = True
    front: ReadFront
    state: State


class _Handler(BaseHTTPRequestHandler):
    server: _Server
    protocol_version = "HTTP/1.1"
    server_version = "tahawul-up"
    # Headers and body are two writes: with Nagle's algorithm a kept-alive connection waits
    # for the client's delayed ACK between them (40 ms a query).
    disable_nagle_algorithm = True

    def log_message(self, format: str, *args: Any) -> None:
        log.debug("read front: %s", format % args)

    def _send(self, status: int, body: bytes, headers: dict[str, str] | None = None,
              content_type: str = "text/plain; charset=UTF-8") -> None:
        self.send_response(status)
        self.send_header("Content-Type", content_type)
        self.send_header("Content-Length", str(len(body)))
        self.send_header("Cache-Control", "no-store")
        for key, value in (headers or {}).items():
            self.send_header(key, value)
        self.end_headers()
        if self.command != "HEAD":
            self.wfile.write(body)

    def _refuse(self, refused: Refused) -> None:
        extra = {"X-ClickHouse-Exception-Code": str(refused.code)}
        if refused.code == AUTHENTICATION_FAILED:
            extra["WWW-Authenticate"] = 'Basic realm="tahawul read front"'
        self._send(refused.status, refused.body(), extra)

    def _local_host(self) -> bool:
        """A browser sends the name it was given in Host: a page of another site whose name
        was made to resolve to 127.0.0.1 (DNS rebinding) names that site, and gets 403."""
        port = self.server.server_address[1]
        host = (self.headers.get("Host") or "").lower()
        if host in (f"127.0.0.1:{port}", f"localhost:{port}", "127.0.0.1", "localhost"):
            return True
        self._send(403, b"forbidden: open this address as 127.0.0.1 or localhost\n")
        return False

    def do_GET(self) -> None:
        if not self._local_host():
            return
        parts = urlsplit(self.path)
        params = dict(parse_qsl(parts.query, keep_blank_values=True))
        path = parts.path.rstrip("/") or "/"
        if path == "/" and "query" in params:
            self._query(params, params["query"])
        elif path in ("/", "/ping"):
            self._send(200, b"Ok.\n")
        elif path in ("/en", "/ar"):
            page = live_page(path[1:], self.server.state())  # type: ignore[arg-type]
            self._send(200, page.encode(), content_type="text/html; charset=UTF-8")
        elif path in ("/en/report", "/ar/report"):
            self._report(path[1:3])
        elif path == "/live.json":
            self._send(200, json.dumps(self.server.state()).encode(), content_type="application/json")
        else:
            self._send(404, b"not found: try /en, /ar, /live.json or ClickHouse's /?query=\n")

    do_HEAD = do_GET

    def do_POST(self) -> None:
        if not self._local_host():
            self.close_connection = True
            return
        parts = urlsplit(self.path)
        params = dict(parse_qsl(parts.query, keep_blank_values=True))
        if (parts.path.rstrip("/") or "/") != "/":
            self._send(404, b"not found: ClickHouse queries are POSTed to /\n")
            return
        try:
            length = int(self.headers.get("Content-Length") or 0)
        except ValueError:
            length = -1
        if length < 0 or length > MAX_QUERY_BYTES:
            self.close_connection = True
            self._refuse(Refused(62, f"a query body of at most {MAX_QUERY_BYTES} bytes is accepted", 413))
            return
        body = self.rfile.read(length)
        if self.headers.get("Content-Encoding") or self.headers.get_content_type().startswith("multipart/"):
            self._refuse(Refused(62, "send the query as plain text (no compression, no multipart form)", 400))
            return
        try:
            text = body.decode()
        except UnicodeDecodeError:
            self._refuse(Refused(62, "the query is not UTF-8", 400))
            return
        query = "\n".join(q for q in (params.get("query", ""), text) if q)
        self._query(params, query)

    def _query(self, params: dict[str, str], query: str) -> None:
        front = self.server.front
        if not front.authorised(dict(self.headers.items()), params):
            self._refuse(Refused(AUTHENTICATION_FAILED, "tahawul: wrong or missing user and password "
                                 "(see the front record beside the store)", 401))
            return
        try:
            body, headers = front.run(query, params)
        except Refused as refused:
            self._refuse(refused)
            return
        content_type = headers.pop("Content-Type")
        self._send(200, body, headers, content_type)

    def _report(self, lang: str) -> None:
        import clickhouse_connect

        front = self.server.front
        host, port = self.server.server_address[:2]
        try:
            client = clickhouse_connect.get_client(host=str(host), port=int(port), username=front.user,
                                                   password=front.password, connect_timeout=5)
            try:
                page = report_page(client, lang)  # type: ignore[arg-type]
            finally:
                client.close()
        except Exception as exc:
            log.warning("live page: the report could not be rendered: %s", exc)
            self._send(500, f"the report could not be rendered: {exc}\n".encode())
            return
        self._send(200, page.encode(), content_type="text/html; charset=UTF-8")


@dataclass
class ReadServer:
    """The running server, its front and where it was recorded."""

    server: _Server
    front: ReadFront
    store_dir: Path
    thread: threading.Thread

    @property
    def url(self) -> str:
        port = self.server.server_address[1]
        return f"http://{LOOPBACK}:{port}"

    @property
    def live_url(self) -> str:
        return f"{self.url}/en"

    def close(self) -> None:
        remove_record(self.store_dir, os.getpid())
        self.server.shutdown()
        self.server.server_close()
        self.front.close()


def serve_reads(store_dir: Path, state: State, port: int = 0) -> ReadServer:
    """Serve the store at ``store_dir`` (opened in this process) and the live page on
    127.0.0.1:``port``, and record where. A port in use is an error at start-up."""
    front = ReadFront(store_dir)
    try:
        server = _Server((LOOPBACK, port), _Handler)
    except OSError as exc:
        front.close()
        raise SystemExit(f"tahawul: cannot serve the live page and read front on {LOOPBACK}:{port} "
                         f"({exc}); set another TAHAWUL_LIVE_PORT") from exc
    server.front = front
    server.state = state
    thread = threading.Thread(target=server.serve_forever, name="read-front", daemon=True)
    thread.start()
    running = ReadServer(server, front, store_dir, thread)
    write_record(store_dir, FrontRecord(url=running.url, user=front.user, password=front.password,
                                        pid=os.getpid(), live_page=running.live_url))
    log.info("read front and live page on %s", running.url)
    return running


def run_state(run: Run, meter: EventRate) -> State:
    """The live page's numbers from the counting writer's tallies (no query)."""
    from tahawul.report.live import live_state

    def state() -> dict[str, Any]:
        with run.lock:
            counted, duplicates, rejected = run.counted, run.duplicates, run.rejected
            completed = dict(run.completed)
        return live_state(counted, duplicates, rejected, run.fed, meter.rate(), completed)

    return state
