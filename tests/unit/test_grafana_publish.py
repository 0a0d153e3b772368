"""`tahawul grafana publish` against a local stub of Grafana's HTTP API.

The stub keeps state like Grafana does and answers in the shapes Grafana's HTTP API
reference documents (data source, folder and dashboard APIs): 404 for unknown UIDs, 409 for
a datasource name or folder UID that exists, 412 for a dashboard saved over without
``overwrite``, 401 without the bearer token. It records every call, so the test can check
that publishing is idempotent: the second run updates, it never duplicates."""

from __future__ import annotations

import json
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest

from tahawul.cli.main import main
from tahawul.dashboards.provisioning import dashboards

TOKEN = "glsa_test_token"


class FakeGrafana:
    def __init__(self) -> None:
        self.calls: list[tuple[str, str, Any]] = []
        self.datasources: dict[str, dict[str, Any]] = {}
        self.folders: dict[str, dict[str, Any]] = {}
        self.dashboards: dict[str, dict[str, Any]] = {}
        self.next_id = 1

    def handle(self, method: str, path: str, body: Any) -> tuple[int, Any]:
        self.calls.append((method, path, body))
        parts = path.strip("/").split("/")
        if parts[:3] == ["api", "datasources", "uid"] and len(parts) == 4:
            uid = parts[3]
            if method == "GET":
                found = self.datasources.get(uid)
                return (200, found) if found else (404, {"message": "Data source not found"})
            if method == "PUT":
                if uid not in self.datasources:
                    return 404, {"message": "Data source not found"}
                self._check_datasource(body)
                self.datasources[uid] = {**body, "id": self.datasources[uid]["id"], "uid": uid}
                return 200, {"datasource": self.datasources[uid], "id": self.datasources[uid]["id"],
                             "message": "Datasource updated", "name": body["name"]}
        if parts == ["api", "datasources"] and method == "POST":
            self._check_datasource(body)
            if any(d["name"] == body["name"] for d in self.datasources.values()):
                return 409, {"message": "data source with the same name already exists"}
            ds = {**body, "id": self._id()}
            self.datasources[body["uid"]] = ds
            return 200, {"datasource": ds, "id": ds["id"], "message": "Datasource added", "name": ds["name"]}
        if parts[:2] == ["api", "folders"]:
            if method == "GET" and len(parts) == 3:
                found = self.folders.get(parts[2])
                return (200, found) if found else (404, {"message": "folder not found"})
            if method == "POST" and len(parts) == 2:
                assert set(body) <= {"uid", "title", "parentUid"} and body["title"]
                if body["uid"] in self.folders:
                    return 409, {"message": "a folder with the same uid already exists"}
                folder = {"id": self._id(), "uid": body["uid"], "title": body["title"]}
                self.folders[body["uid"]] = folder
                return 200, folder
        if parts == ["api", "dashboards", "db"] and method == "POST":
            dash = body["dashboard"]
            assert dash["id"] is None and dash["uid"] and dash["title"] and len(dash["uid"]) <= 40
            if body.get("folderUid") not in self.folders:
                return 400, {"message": "folder not found"}
            if dash["uid"] in self.dashboards and not body.get("overwrite"):
                return 412, {"message": "The dashboard has been changed by someone else",
                             "status": "version-mismatch"}
            version = self.dashboards.get(dash["uid"], {}).get("version", 0) + 1
            self.dashboards[dash["uid"]] = {"dashboard": dash, "folderUid": body["folderUid"],
                                            "version": version}
            return 200, {"id": self._id(), "uid": dash["uid"], "url": f"/d/{dash['uid']}/x",
                         "status": "success", "version": version, "slug": "x"}
        return 404, {"message": "Not found"}

    @staticmethod
    def _check_datasource(body: dict[str, Any]) -> None:
        assert {"name", "type", "access", "uid"} <= set(body)
        assert body["access"] in ("proxy", "direct")

    def _id(self) -> int:
        self.next_id += 1
        return self.next_id


@pytest.fixture
def grafana() -> Iterator[tuple[FakeGrafana, str]]:
    fake = FakeGrafana()

    class Handler(BaseHTTPRequestHandler):
        def _serve(self) -> None:
            length = int(self.headers.get("Content-Length") or 0)
            body = json.loads(self.rfile.read(length)) if length else None
            if self.headers.get("Authorization") != f"Bearer {TOKEN}":
                status, answer = 401, {"message": "Unauthorized"}
            else:
                status, answer = fake.handle(self.command, self.path, body)
            data = json.dumps(answer).encode()
            self.send_response(status)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            self.wfile.write(data)

        do_GET = do_POST = do_PUT = _serve

        def log_message(self, *args: Any) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield fake, f"http://127.0.0.1:{server.server_address[1]}"
    finally:
        server.shutdown()
        server.server_close()


# Every dashboard shipped in grafana/dashboards/<lang>/ (six, in English and Arabic).
SHIPPED = len(list((Path(__file__).resolve().parents[2] / "grafana" / "dashboards").glob("*/*.json")))


def publish(url: str, token: str = TOKEN) -> int:
    return main(["grafana", "publish", "--url", url, "--token", token, "--clickhouse-host", "ch.internal",
                 "--prometheus-url", "http://prom.internal:9090"])


def test_publish_creates_then_updates_without_duplicates(
        grafana: tuple[FakeGrafana, str], monkeypatch: pytest.MonkeyPatch) -> None:
    fake, url = grafana
    monkeypatch.setenv("TAHAWUL_GRAFANA_CLICKHOUSE_PASSWORD", "s3cret")
    assert publish(url) == 0
    first = [(m, p) for m, p, _ in fake.calls if m != "GET"]
    assert first.count(("POST", "/api/datasources")) == 2
    assert first.count(("POST", "/api/folders")) == 2
    assert first.count(("POST", "/api/dashboards/db")) == len(dashboards()) == SHIPPED
    ch = fake.datasources["tahawul-clickhouse"]
    assert ch["type"] == "grafana-clickhouse-datasource"
    assert ch["jsonData"]["host"] == "ch.internal" and ch["secureJsonData"] == {"password": "s3cret"}
    assert fake.datasources["tahawul-prometheus"]["url"] == "http://prom.internal:9090"
    assert {d["folderUid"] for d in fake.dashboards.values()} == {"tahawul-en", "tahawul-ar"}

    fake.calls.clear()
    assert publish(url) == 0
    second = [(m, p) for m, p, _ in fake.calls if m != "GET"]
    assert sorted(second[:2]) == [("PUT", "/api/datasources/uid/tahawul-clickhouse"),
                                  ("PUT", "/api/datasources/uid/tahawul-prometheus")]
    assert ("POST", "/api/folders") not in second
    assert second.count(("POST", "/api/dashboards/db")) == SHIPPED
    assert len(fake.datasources) == 2 and len(fake.folders) == 2 and len(fake.dashboards) == SHIPPED
    assert all(d["version"] == 2 for d in fake.dashboards.values())
    sent = next(b for m, p, b in fake.calls if p == "/api/dashboards/db")
    assert sent["overwrite"] is True and sent["dashboard"]["panels"]


def test_a_wrong_token_is_reported(grafana: tuple[FakeGrafana, str],
                                   capsys: pytest.CaptureFixture[str]) -> None:
    fake, url = grafana
    assert publish(url, token="wrong") == 69
    assert "refused or is unreachable" in capsys.readouterr().err
    assert not fake.datasources


def test_publish_needs_a_token(grafana: tuple[FakeGrafana, str], monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("TAHAWUL_GRAFANA_TOKEN", raising=False)
    assert main(["grafana", "publish", "--url", grafana[1]]) == 2
