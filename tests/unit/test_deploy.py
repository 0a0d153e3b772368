"""The production stack files: docker-compose, Kubernetes manifests and Prometheus config
are well formed and say what docs/operations.md says they do. The tools
(promtool, docker-compose) run on them in tests/integration/test_operations.py."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import yaml

from tahawul.dashboards.provisioning import rendered

ROOT = Path(__file__).resolve().parents[2]
DEPLOY = ROOT / "deploy"
K8S = DEPLOY / "k8s"


def docs(path: Path) -> list[dict[str, Any]]:
    return [d for d in yaml.safe_load_all(path.read_text("utf-8")) if d]


def test_compose_runs_two_workers_one_counter_and_the_whole_stack() -> None:
    compose = yaml.safe_load((DEPLOY / "docker-compose.yml").read_text("utf-8"))
    services = compose["services"]
    assert {"kafka-1", "kafka-2", "kafka-3", "kafka-init", "clickhouse", "migrate", "worker", "counter",
            "gateway", "prometheus", "grafana"} <= set(services)
    assert services["worker"]["deploy"]["replicas"] == 2
    assert services["counter"]["deploy"]["replicas"] == 1
    assert services["worker"]["environment"]["TAHAWUL_METRICS_PORT"] == "9400"
    assert services["counter"]["environment"]["TAHAWUL_METRICS_PORT"] == "9401"
    kafka = services["kafka-1"]["environment"]
    assert kafka["KAFKA_PROCESS_ROLES"] == "broker,controller"
    assert "EXTERNAL:SASL_SSL" in kafka["KAFKA_LISTENER_SECURITY_PROTOCOL_MAP"]
    assert kafka["KAFKA_AUTHORIZER_CLASS_NAME"].endswith("StandardAuthorizer")
    assert kafka["KAFKA_TRANSACTION_STATE_LOG_REPLICATION_FACTOR"] == "3"
    assert kafka["KAFKA_LOG_CLEANER_ENABLE"] == "true"
    grafana = services["grafana"]
    assert grafana["environment"]["GF_INSTALL_PLUGINS"] == "grafana-clickhouse-datasource"
    mounts = " ".join(grafana["volumes"])
    assert "../grafana/provisioning:/etc/grafana/provisioning" in mounts
    assert "../grafana/dashboards:/var/lib/grafana/dashboards/tahawul" in mounts
    for path in re.findall(r"\./([\w/.-]+):", " ".join(
            v for s in services.values() for v in s.get("volumes", []) if v.startswith("./"))):
        # Made by the operator, never committed: secrets, backups, signing keys (docs/security.md).
        assert (DEPLOY / path).exists() or path in ("kafka/secrets", "backups") \
            or path.startswith("signing/"), path


def test_grafana_env_matches_the_provisioned_datasources() -> None:
    datasources = rendered()["provisioning/datasources/tahawul.yaml"]
    wanted = set(re.findall(r"\$\{(TAHAWUL_GRAFANA_\w+)\}", datasources))
    compose = yaml.safe_load((DEPLOY / "docker-compose.yml").read_text("utf-8"))
    assert wanted and wanted <= set(compose["services"]["grafana"]["environment"])
    k8s = next(d for d in docs(K8S / "grafana.yaml") if d["kind"] == "Deployment")
    env = {e["name"] for e in k8s["spec"]["template"]["spec"]["containers"][0]["env"]}
    assert wanted <= env
    provider = yaml.safe_load(rendered()["provisioning/dashboards/tahawul.yaml"])
    paths = {p["options"]["path"] for p in provider["providers"]}
    mounts = {m["mountPath"] for m in k8s["spec"]["template"]["spec"]["containers"][0]["volumeMounts"]}
    assert paths <= mounts


REQUIRED = {"Deployment", "StatefulSet", "Job"}


def test_kubernetes_manifests_are_complete_and_consistent() -> None:
    kustomization = yaml.safe_load((K8S / "kustomization.yaml").read_text("utf-8"))
    listed = set(kustomization["resources"])
    on_disk = {p.name for p in K8S.glob("*.yaml")} - {"kustomization.yaml", "secrets.example.yaml"}
    assert listed == on_disk
    for generator in kustomization["configMapGenerator"]:
        for entry in generator["files"]:
            assert (K8S / entry.split("=")[-1]).is_file(), entry
    objects = [d for name in sorted(listed) for d in docs(K8S / name)]
    secret = docs(K8S / "secrets.example.yaml")[0]
    secret_keys = set(secret["stringData"])
    config = next(d for d in objects if d["kind"] == "ConfigMap" and d["metadata"]["name"] == "tahawul-env")
    generated = {g["name"] for g in kustomization["configMapGenerator"]}
    by_kind: dict[str, dict[str, Any]] = {}
    for obj in objects:
        assert {"apiVersion", "kind", "metadata"} <= set(obj) and obj["metadata"]["name"]
        by_kind.setdefault(obj["kind"], {})[obj["metadata"]["name"]] = obj
        if obj["kind"] not in REQUIRED:
            continue
        spec = obj["spec"]
        pod = spec["template"]["spec"]
        if obj["kind"] != "Job":
            assert spec["selector"]["matchLabels"].items() <= spec["template"]["metadata"]["labels"].items()
        for container in pod["containers"]:
            assert container["name"] and container["image"]
            for env in container.get("env", []):
                ref = env.get("valueFrom", {}).get("secretKeyRef")
                if ref:
                    assert ref["name"] == "tahawul-secrets" and ref["key"] in secret_keys, env
        for volume in pod.get("volumes", []):
            if "configMap" in volume:
                assert volume["configMap"]["name"] in generated | {config["metadata"]["name"]}
    deployments = by_kind["Deployment"]
    assert deployments["tahawul-worker"]["spec"]["replicas"] == 2
    counter = deployments["tahawul-counter"]["spec"]
    assert counter["replicas"] == 1 and counter["strategy"]["type"] == "Recreate"
    assert by_kind["StatefulSet"]["kafka"]["spec"]["replicas"] == 3
    for name, port in (("tahawul-worker", "9400"), ("tahawul-counter", "9401")):
        template = deployments[name]["spec"]["template"]
        assert template["metadata"]["annotations"]["prometheus.io/port"] == port
        env = {e["name"]: e.get("value") for e in template["spec"]["containers"][0]["env"]}
        assert env["TAHAWUL_METRICS_PORT"] == port
    for service in by_kind["Service"].values():
        assert service["spec"]["selector"]["app"] in {
            o["spec"]["template"]["metadata"]["labels"]["app"] for k in REQUIRED - {"Job"}
            for o in by_kind.get(k, {}).values()}


def test_prometheus_jobs_are_the_ones_the_alerts_name() -> None:
    alerts = (DEPLOY / "prometheus/alerts.yml").read_text("utf-8")
    compose_jobs = {j["job_name"] for j in
                    yaml.safe_load((DEPLOY / "prometheus/prometheus.yml").read_text())["scrape_configs"]}
    assert {"tahawul-worker", "tahawul-counter", "tahawul-gateway"} <= compose_jobs
    assert 'job=~"tahawul-worker|tahawul-counter"' in alerts
    k8s_apps = {"tahawul-worker", "tahawul-counter", "tahawul-gateway"}  # job = pod label app
    assert all(f'app: {a}' in "".join((K8S / f).read_text() for f in ("worker.yaml", "counter.yaml",
                                                                       "gateway.yaml")) for a in k8s_apps)


def test_gateway_metrics_are_scraped_on_their_own_port_which_is_not_published() -> None:
    compose = yaml.safe_load((DEPLOY / "docker-compose.yml").read_text("utf-8"))["services"]["gateway"]
    assert compose["environment"]["TAHAWUL_GATEWAY_METRICS_PORT"] == "9402"
    assert compose["ports"] == ["8080:8080"]  # the API only
    scrape = {j["job_name"]: j for j in yaml.safe_load(
        (DEPLOY / "prometheus/prometheus.yml").read_text())["scrape_configs"]}
    assert scrape["tahawul-gateway"]["static_configs"][0]["targets"] == ["gateway:9402"]
    k8s = {d["kind"]: d for d in docs(K8S / "gateway.yaml")}
    template = k8s["Deployment"]["spec"]["template"]
    assert template["metadata"]["annotations"]["prometheus.io/port"] == "9402"
    env = {e["name"]: e.get("value") for e in template["spec"]["containers"][0]["env"]}
    assert env["TAHAWUL_GATEWAY_METRICS_PORT"] == "9402"
    assert [p["port"] for p in k8s["Service"]["spec"]["ports"]] == [8080]
