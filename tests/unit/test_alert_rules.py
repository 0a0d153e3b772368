"""Every alert rule is explained to operators, unit-tested by promtool and reads metrics that
the worker and the counting writer really export (a renamed metric would silence an alert
without any error). promtool runs the tests in tests/integration/test_operations.py."""

from __future__ import annotations

import re
from pathlib import Path

import yaml
from prometheus_client import REGISTRY

import tahawul.stream_processors.metrics  # noqa: F401  (registers the metrics)
from tahawul.producers.gateway.metrics import GatewayMetrics

ROOT = Path(__file__).resolve().parents[2]
PROMETHEUS = ROOT / "deploy" / "prometheus"


def rules() -> list[dict[str, str]]:
    groups = yaml.safe_load((PROMETHEUS / "alerts.yml").read_text("utf-8"))["groups"]
    return [rule for group in groups for rule in group["rules"]]


def test_every_alert_is_documented_and_tested() -> None:
    operations = (ROOT / "docs" / "operations.md").read_text("utf-8")
    tested = {t["alertname"] for case in yaml.safe_load((PROMETHEUS / "alerts.test.yml").read_text("utf-8"))[
        "tests"] for t in case["alert_rule_test"]}
    for rule in rules():
        assert f"| `{rule['alert']}` (" in operations, rule["alert"]
    for name in ("TahawulWorkerStuck", "TahawulDeadLettersQuarantined", "TahawulCounterOffsetGap",
                 "TahawulGatewayUnauthorizedBurst", "TahawulGatewayForeignEntity",
                 "TahawulSignatureFailures"):
        assert name in tested, name


def test_pipeline_alerts_read_metrics_that_exist() -> None:
    exported = {metric.name for metric in REGISTRY.collect()}
    exported |= {metric.name for metric in GatewayMetrics().registry.collect()}
    exported |= {f"{name}_total" for name in exported}
    for rule in rules():
        for name in re.findall(r"\b(tahawul_(?:worker|counter|gateway)_\w+)", rule["expr"]):
            assert name in exported, (rule["alert"], name)
