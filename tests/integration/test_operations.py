"""Operations files under real tools, and a real Prometheus scraping real processes.

promtool (Debian's prometheus package) checks the rules and config and runs the rules'
unit tests; docker-compose validates the compose file; a Prometheus on loopback scrapes a
running validating worker and counting writer, finds their metrics, loads the alert rules
and answers every PromQL query of the pipeline-health dashboard. A missing tool or server
is an error, never a skip."""

from __future__ import annotations

import json
import subprocess
import sys
import time
import urllib.parse
import urllib.request
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import yaml

from tahawul.dashboards.provisioning import dashboards
from tahawul.producers.kafka_sender import EventSender
from tahawul.runtime.broker import free_port
from tahawul.runtime.local import child_env
from tahawul.runtime.processes import stop_processes
from tahawul.settings import Settings
from tests.integration.conftest import REPO, wait_for
from tests.integration.helpers import sign_for
from tests.unit.factories import payload

pytestmark = pytest.mark.integration
PROMETHEUS_DIR = REPO / "deploy" / "prometheus"


def run(*cmd: str, cwd: Path = REPO) -> subprocess.CompletedProcess[str]:
    return subprocess.run(cmd, cwd=cwd, capture_output=True, text=True, timeout=120)


def declared_rules() -> list[str]:
    """The alert names that deploy/prometheus/alerts.yml declares."""
    groups = yaml.safe_load((PROMETHEUS_DIR / "alerts.yml").read_text())["groups"]
    return [rule["alert"] for group in groups for rule in group["rules"]]


def test_promtool_checks_rules_config_and_rule_tests() -> None:
    rules = run("promtool", "check", "rules", "alerts.yml", cwd=PROMETHEUS_DIR)
    assert rules.returncode == 0, rules.stdout + rules.stderr
    # promtool read every rule of the file (none dropped as unparseable).
    declared = declared_rules()
    assert len(declared) >= 15 and f"SUCCESS: {len(declared)} rules found" in rules.stdout, rules.stdout
    config = run("promtool", "check", "config", "prometheus.yml", cwd=PROMETHEUS_DIR)
    assert config.returncode == 0, config.stdout + config.stderr
    tests = run("promtool", "test", "rules", "alerts.test.yml", cwd=PROMETHEUS_DIR)
    assert tests.returncode == 0 and "SUCCESS" in tests.stdout, tests.stdout + tests.stderr


def test_docker_compose_config_validates(tmp_path: Path) -> None:
    ok = run("docker-compose", "--env-file", "deploy/env.example", "-f", "deploy/docker-compose.yml",
             "config", "-q")
    assert ok.returncode == 0, ok.stderr
    services = run("docker-compose", "--env-file", "deploy/env.example", "-f", "deploy/docker-compose.yml",
                   "config", "--services")
    wanted = {"worker", "counter", "gateway", "grafana", "prometheus", "clickhouse"}
    assert wanted <= set(services.stdout.split())
    # Without the operator's .env, the passwords are missing and compose refuses to start.
    (tmp_path / "empty.env").write_text("")
    missing = run("docker-compose", "--env-file", str(tmp_path / "empty.env"),
                  "-f", "deploy/docker-compose.yml", "config", "-q")
    assert missing.returncode != 0 and "in deploy/.env" in missing.stderr


class Prometheus:
    def __init__(self, workdir: Path, targets: dict[str, str]) -> None:
        self.port = free_port()
        config = {
            "global": {"scrape_interval": "1s", "evaluation_interval": "1s"},
            "rule_files": [str(PROMETHEUS_DIR / "alerts.yml")],
            "scrape_configs": [{"job_name": job, "static_configs": [{"targets": [target]}]}
                               for job, target in targets.items()],
        }
        (workdir / "prometheus.yml").write_text(json.dumps(config))  # JSON is YAML
        self.log = (workdir / "prometheus.log").open("wb")
        self.proc = subprocess.Popen(
            ["prometheus", f"--config.file={workdir / 'prometheus.yml'}",
             f"--storage.tsdb.path={workdir / 'tsdb'}", f"--web.listen-address=127.0.0.1:{self.port}"],
            stdout=self.log, stderr=subprocess.STDOUT)
        wait_for(self.ready, 30, "Prometheus to start", every=0.3)

    def ready(self) -> bool:
        if self.proc.poll() is not None:
            raise RuntimeError(f"prometheus exited with {self.proc.returncode}")
        try:
            return urllib.request.urlopen(f"http://127.0.0.1:{self.port}/-/ready", timeout=2).status == 200
        except OSError:
            return False

    def api(self, path: str, **params: str) -> Any:
        url = f"http://127.0.0.1:{self.port}/api/v1/{path}?{urllib.parse.urlencode(params)}"
        answer = json.loads(urllib.request.urlopen(url, timeout=10).read())
        assert answer["status"] == "success", answer
        return answer["data"]

    def value(self, query: str) -> float:
        result = self.api("query", query=query)["result"]
        return sum(float(r["value"][1]) for r in result)

    def stop(self) -> None:
        self.proc.terminate()
        self.proc.wait(15)
        self.log.close()


@pytest.fixture
def processes(settings: Settings, tmp_path: Path) -> Iterator[dict[str, str]]:
    """A validating worker and a counting writer, each serving /metrics on its own port."""
    ports = {"tahawul-worker": free_port(), "tahawul-counter": free_port()}
    procs = []
    for job, command in (("tahawul-worker", "worker"), ("tahawul-counter", "counter")):
        env = {**child_env(settings), "TAHAWUL_METRICS_PORT": str(ports[job]),
               "TAHAWUL_CLICKHOUSE_URL": f"chdb://{tmp_path / 'store'}"}
        log = (tmp_path / f"{command}.log").open("wb")
        procs.append((subprocess.Popen([sys.executable, "-m", "tahawul", command], env=env, cwd=REPO,
                                       stdout=log, stderr=subprocess.STDOUT), log))
    try:
        yield {job: f"127.0.0.1:{port}" for job, port in ports.items()}
    finally:
        stop_processes((proc for proc, _ in procs), timeout=20)
        for _, log in procs:
            log.close()


def test_real_prometheus_scrapes_worker_and_counter(settings: Settings, processes: dict[str, str],
                                                    tmp_path: Path) -> None:
    sender = EventSender(settings.kafka_bootstrap() or "", settings.topic_transactions,
                         sign=sign_for(settings))
    valid = [payload(entity="ROP", service="ROP-VEH-FIRST-REG") for _ in range(40)]
    invalid = [payload(service="NO-SUCH-SERVICE") for _ in range(3)]
    for value in valid + invalid:
        sender.send(value, b"ROP")
    sender.flush()
    sender.close()
    (tmp_path / "prom").mkdir()
    prometheus = Prometheus(tmp_path / "prom", processes)
    try:
        # Each target is scraped on its own schedule: wait until both were, after the counting.
        wait_for(lambda: prometheus.value('tahawul_counter_events_total{outcome="counted"}') >= 40
                 and prometheus.value("tahawul_worker_events_consumed_total") >= 43
                 and prometheus.value('up{job="tahawul-worker"}') == 1, 120,
                 "Prometheus to see the counter's counted events and the worker's consumed ones", every=1)
        assert prometheus.value('up{job="tahawul-worker"}') == 1
        assert prometheus.value('up{job="tahawul-counter"}') == 1
        assert prometheus.value("tahawul_worker_events_consumed_total") >= 43
        assert prometheus.value('tahawul_worker_events_rejected_total{reason="unknown_service"}') >= 3
        assert prometheus.value('tahawul_counter_entity_events_total{entity="ROP"}') == 40
        assert prometheus.value("tahawul_event_freshness_seconds_count") >= 40
        assert prometheus.value("tahawul_store_write_seconds_count") >= 1
        assert prometheus.api("query", query="tahawul_consumer_lag_records")["result"]
        rules = [r["name"] for g in prometheus.api("rules")["groups"] for r in g["rules"]]
        assert sorted(rules) == sorted(declared_rules()) and "TahawulFreshnessP95High" in rules
        time.sleep(3)  # a few more scrapes, so that rate() has two points
        pipeline = next(d for d in dashboards() if d.uid == "tahawul-pipeline-en")
        answered = 0
        for panel in pipeline.panels:
            for expr in panel.exprs:
                data = prometheus.api("query", query=expr.replace("$__rate_interval", "1m"))
                answered += bool(data["result"])
        assert answered >= 8  # gateway panels are empty here: no gateway runs in this test
    finally:
        prometheus.stop()
