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
        # Made by the operator, never committed: secrets, certificates, backups, signing keys
        # (docs/security.md, docs/operations.md "Certificates").
        assert (DEPLOY / path).exists() or path in ("kafka/secrets", "backups", "clickhouse-server/certs") \
            or path.startswith(("signing/", "kafka/secrets/", "tls/")), path


def compose_services() -> dict[str, Any]:
    return dict(yaml.safe_load((DEPLOY / "docker-compose.yml").read_text("utf-8"))["services"])


def test_every_kafka_listener_is_sasl_ssl_and_admin_the_only_super_user() -> None:
    services = compose_services()
    for name in ("kafka-1", "kafka-2", "kafka-3"):
        env = services[name]["environment"]
        protocols = dict(p.split(":") for p in env["KAFKA_LISTENER_SECURITY_PROTOCOL_MAP"].split(","))
        assert set(protocols.values()) == {"SASL_SSL"}, protocols
        assert env["KAFKA_SUPER_USERS"] == "User:admin"  # no User:ANONYMOUS
        assert env["KAFKA_ALLOW_EVERYONE_IF_NO_ACL_FOUND"] == "false"
        assert env["KAFKA_SSL_ENDPOINT_IDENTIFICATION_ALGORITHM"] == "https"
        # No silent default password: compose refuses to start without one.
        for key in ("KAFKA_SSL_KEYSTORE_PASSWORD", "KAFKA_SSL_KEY_PASSWORD"):
            assert env[key].startswith("${KAFKA_SSL_KEYSTORE_PASSWORD:?"), env[key]
    text = (DEPLOY / "docker-compose.yml").read_text("utf-8")
    assert ":-changeit" not in text and "ANONYMOUS" not in text
    example = (DEPLOY / "env.example").read_text("utf-8")
    for variable in set(re.findall(r"\$\{(\w+):\?", text)):
        assert re.search(rf"^{variable}=", example, re.M), f"{variable} is not in env.example"


def test_each_service_gets_only_its_own_settings_and_secrets() -> None:
    services = compose_services()
    kafka_users = {}
    for name in ("worker", "counter", "gateway", "kafka-accounts"):
        env = services[name]["environment"]
        assert env["TAHAWUL_KAFKA_SECURITY_PROTOCOL"] == "SASL_SSL"
        assert env["TAHAWUL_KAFKA_CA_FILE"] == "/etc/tahawul/kafka/ca.pem"
        kafka_users[name] = (env["TAHAWUL_KAFKA_USERNAME"], env["TAHAWUL_KAFKA_PASSWORD"])
    assert {n: u for n, (u, _) in kafka_users.items()} == {
        "worker": "worker", "counter": "writer", "gateway": "gateway", "kafka-accounts": "admin"}
    assert len({p for _, p in kafka_users.values()}) == 4  # one password per account
    # Only the counting writer has the ClickHouse writer's URL; only migrate the admin's.
    for name in ("worker", "gateway", "kafka-accounts"):
        assert not any(k.startswith("TAHAWUL_CLICKHOUSE") for k in services[name]["environment"]), name
    counter = services["counter"]["environment"]
    assert "tahawul_writer:${CLICKHOUSE_WRITER_PASSWORD" in counter["TAHAWUL_CLICKHOUSE_URL"]
    migrate = services["migrate"]["environment"]
    assert "tahawul_admin:${CLICKHOUSE_ADMIN_PASSWORD" in migrate["TAHAWUL_CLICKHOUSE_URL"]
    assert not any(k.startswith("TAHAWUL_KAFKA") for k in migrate)
    holders = [n for n, s in services.items() if "CLICKHOUSE_ADMIN_PASSWORD" in str(s.get("environment"))]
    assert sorted(holders) == ["clickhouse", "migrate"]
    # The accounts command names exactly the three service accounts.
    command = services["kafka-accounts"]["command"]
    assert command[:2] == ["kafka", "acls"] and "--passwords-env" in command
    assert [command[i + 1] for i, a in enumerate(command) if a.startswith("--") and a != "--passwords-env"] \
        == ["gateway", "worker", "writer"]


def test_tls_for_the_gateway_grafana_and_clickhouse_https() -> None:
    services = compose_services()
    gateway = services["gateway"]["environment"]
    assert gateway["TAHAWUL_GATEWAY_TLS_CERT_FILE"] and gateway["TAHAWUL_GATEWAY_TLS_KEY_FILE"]
    assert services["grafana"]["environment"]["GF_SERVER_PROTOCOL"] == "https"
    assert services["clickhouse"]["ports"] == ["8443:8443"]  # HTTPS only, as auditors are told
    config = (DEPLOY / "clickhouse-server/tahawul.xml").read_text("utf-8")
    assert "<https_port>8443</https_port>" in config and "<certificateFile>" in config
    assert "8443" in (ROOT / "docs/auditor-guide.md").read_text("utf-8")


def test_clickhouse_accounts_writer_has_no_access_management_and_auditors_cannot_raise_limits() -> None:
    accounts = (DEPLOY / "clickhouse-server/accounts.sh").read_text("utf-8")
    grants = re.findall(r"^GRANT (.+) TO tahawul_writer;", accounts, re.M)
    assert grants == ["SELECT, INSERT, ALTER DELETE ON tahawul.*"]
    sql = accounts.split("<<SQL", 1)[1].upper()
    assert "ACCESS MANAGEMENT" not in sql and "GRANT OPTION" not in sql and "ACCESS_MANAGEMENT" not in sql
    assert "max_execution_time = 60 MAX 60 CHANGEABLE_IN_READONLY" in accounts  # Grafana
    profile = next(line for line in (DEPLOY / "clickhouse/access.sql").read_text("utf-8").splitlines()
                   if "tahawul_auditor_profile" in line)
    for setting in ("max_execution_time", "max_memory_usage", "max_result_rows"):
        value = re.search(rf"{setting} = (\d+) MAX (\d+)", profile)
        assert value is not None and value.group(1) == value.group(2), (setting, profile)


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
    secrets = {d["metadata"]["name"]: set(d["stringData"]) for d in docs(K8S / "secrets.example.yaml")}
    # Made by the operator from certificate files (secrets.example.yaml says how).
    certificates = {"kafka-tls", "tahawul-kafka-ca", "tahawul-gateway-tls", "grafana-tls", "clickhouse-tls",
                    "tahawul-signing-trust", "tahawul-gateway-signing-key"}
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
                    assert ref["key"] in secrets[ref["name"]], env
            for source in container.get("envFrom", []):
                if "secretRef" in source:
                    assert source["secretRef"]["name"] in secrets, source
        for volume in pod.get("volumes", []):
            if "configMap" in volume:
                assert volume["configMap"]["name"] in generated | {config["metadata"]["name"]}
            if "secret" in volume:
                assert volume["secret"]["secretName"] in certificates | set(secrets), volume
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


def test_kubernetes_secrets_are_split_per_workload() -> None:
    """Each workload reads only its own Secret: the gateway and the workers never see the
    ClickHouse writer's URL, only the migrate Job the ClickHouse admin's."""
    secrets = {d["metadata"]["name"]: d["stringData"] for d in docs(K8S / "secrets.example.yaml")}
    assert "tahawul-secrets" not in secrets  # no shared bag of every password

    def secret_names(manifest: str) -> set[str]:
        pod = next(d for d in docs(K8S / manifest) if d["kind"] in REQUIRED)["spec"]["template"]["spec"]
        container = pod["containers"][0]
        return ({s["secretRef"]["name"] for s in container.get("envFrom", []) if "secretRef" in s}
                | {e["valueFrom"]["secretKeyRef"]["name"] for e in container.get("env", [])
                   if "secretKeyRef" in e.get("valueFrom", {})})

    assert secret_names("worker.yaml") == {"tahawul-worker"}
    assert secret_names("gateway.yaml") == {"tahawul-gateway"}
    assert secret_names("counter.yaml") == {"tahawul-counter"}
    assert secret_names("migrate.yaml") == {"tahawul-migrate"}
    for name in ("tahawul-worker", "tahawul-gateway"):
        assert "TAHAWUL_CLICKHOUSE_URL" not in secrets[name]
    assert "tahawul_writer:" in secrets["tahawul-counter"]["TAHAWUL_CLICKHOUSE_URL"]
    assert "tahawul_admin:" in secrets["tahawul-migrate"]["TAHAWUL_CLICKHOUSE_URL"]
    kafka = next(d for d in docs(K8S / "kafka.yaml") if d["kind"] == "StatefulSet")
    env = {e["name"]: e.get("value") for e in kafka["spec"]["template"]["spec"]["containers"][0]["env"]}
    assert env["KAFKA_SUPER_USERS"] == "User:admin"
    protocols = {p.split(":")[1] for p in env["KAFKA_LISTENER_SECURITY_PROTOCOL_MAP"].split(",")}
    assert protocols == {"SASL_SSL"}
    config = next(d for d in docs(K8S / "config.yaml"))["data"]
    assert config["TAHAWUL_KAFKA_SECURITY_PROTOCOL"] == "SASL_SSL"
