"""Starting `tahawul gateway` as a process for the gateway tests (test_gateway.py,
test_gateway_hardening.py): its API and its own metrics port, both on free loopback ports."""

from __future__ import annotations

import subprocess
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import httpx

from tahawul.runtime.broker import free_port
from tahawul.runtime.local import child_env
from tahawul.settings import Settings
from tests.integration.conftest import REPO, wait_for
from tests.integration.producer_support import stop


@dataclass(frozen=True)
class Gateway:
    url: str  # the public API, e.g. http://127.0.0.1:PORT
    metrics_url: str  # http://127.0.0.1:METRICS_PORT/metrics
    port: int
    pid: int

    def metric(self, series: str) -> float:
        """The value of one series (name and labels as exported), 0 when absent."""
        for line in httpx.get(self.metrics_url, timeout=10).text.splitlines():
            if line.startswith(series + " "):
                return float(line.rsplit(" ", 1)[1])
        return 0.0


@contextmanager
def running_gateway(settings: Settings, tmp_path: Path, **env: str) -> Iterator[Gateway]:
    """`tahawul gateway` on the broker of ``settings`` with ``env`` added, until ready (it
    signs with the dev gateway key of the data dir, which the workers trust)."""
    port, metrics_port = free_port(), free_port()
    log_path = tmp_path / "gateway.log"
    log = log_path.open("wb")
    proc = subprocess.Popen(
        [sys.executable, "-m", "tahawul", "gateway"],
        env=child_env(settings, TAHAWUL_GATEWAY_PORT=str(port),
                      TAHAWUL_GATEWAY_METRICS_PORT=str(metrics_port), **env),
        stdout=log, stderr=subprocess.STDOUT, cwd=REPO)
    url = f"http://127.0.0.1:{port}"

    def ready() -> bool:
        assert proc.poll() is None, log_path.read_text()
        try:
            return httpx.get(url + "/readyz", timeout=2).status_code == 200
        except httpx.HTTPError:
            return False

    try:
        wait_for(ready, 90, "the gateway to be ready")
        yield Gateway(url, f"http://127.0.0.1:{metrics_port}/metrics", port, proc.pid)
    finally:
        stop(proc)
        log.close()
