"""`tahawul grafana build|publish`: dashboards and datasources as code (tahawul/dashboards)."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import Any

from tahawul.cli.common import EXIT_FAILED, EXIT_OK, EXIT_UNAVAILABLE, EXIT_USAGE
from tahawul.settings import Settings

DEFAULT_ROOT = Path("grafana")


def register(sub: Any) -> None:
    grafana = sub.add_parser("grafana", help="Grafana dashboards and datasources as code")
    actions = grafana.add_subparsers(dest="grafana_action", required=True)
    build = actions.add_parser("build", help="write grafana/dashboards and grafana/provisioning")
    build.add_argument("--root", type=Path, default=DEFAULT_ROOT, help="the grafana/ folder")
    build.add_argument("--check", action="store_true",
                       help="write nothing; exit 1 if the files differ from what the code builds")
    build.set_defaults(handler=run_build)
    pub = actions.add_parser("publish", help="push datasources and dashboards through the HTTP API")
    pub.add_argument("--url", required=True, help="Grafana base URL, e.g. https://grafana.example")
    pub.add_argument("--token", help="service-account token (default: TAHAWUL_GRAFANA_TOKEN)")
    pub.add_argument("--clickhouse-host", default="clickhouse", help="as Grafana reaches it")
    pub.add_argument("--clickhouse-port", type=int, default=8123,
                     help="port of ClickHouse as Grafana reaches it")
    pub.add_argument("--clickhouse-protocol", choices=("http", "native"), default="http",
                     help="protocol of the Grafana ClickHouse datasource")
    pub.add_argument("--clickhouse-secure", action="store_true", help="TLS to ClickHouse")
    pub.add_argument("--clickhouse-user", default="grafana",
                     help="read-only ClickHouse user of the datasource")
    pub.add_argument("--clickhouse-database", default="tahawul", help="database holding the views")
    pub.add_argument("--prometheus-url", default="http://prometheus:9090",
                     help="Prometheus as Grafana reaches it")
    pub.set_defaults(handler=run_publish)


def run_build(args: argparse.Namespace, settings: Settings) -> int:
    from tahawul.dashboards.provisioning import rendered, write

    if args.check:
        stale = [rel for rel, text in rendered().items()
                 if not (args.root / rel).exists() or (args.root / rel).read_text("utf-8") != text]
        for rel in stale:
            print(f"out of date: {args.root / rel}", file=sys.stderr)
        return EXIT_FAILED if stale else EXIT_OK
    for path in write(args.root):
        print(f"wrote {path}")
    return EXIT_OK


def run_publish(args: argparse.Namespace, settings: Settings) -> int:
    from grafana_client import GrafanaApi
    from grafana_client.client import GrafanaException

    from tahawul.dashboards.provisioning import clickhouse_datasource, dashboards, prometheus_datasource
    from tahawul.dashboards.publish import publish

    token = args.token or (settings.grafana_token.get_secret_value() if settings.grafana_token else None)
    if not token:
        print("a Grafana token is needed: --token or TAHAWUL_GRAFANA_TOKEN", file=sys.stderr)
        return EXIT_USAGE
    password = settings.grafana_clickhouse_password
    datasources = [
        clickhouse_datasource(args.clickhouse_host, args.clickhouse_port, args.clickhouse_user,
                              password.get_secret_value() if password else None, args.clickhouse_secure,
                              args.clickhouse_database, args.clickhouse_protocol),
        prometheus_datasource(args.prometheus_url),
    ]
    api = GrafanaApi.from_url(args.url, credential=token, timeout=30)
    try:
        done = publish(api, datasources, dashboards())
    except (GrafanaException, OSError) as exc:
        print(f"tahawul: Grafana at {args.url} refused or is unreachable: {exc}", file=sys.stderr)
        return EXIT_UNAVAILABLE
    print(f"datasources created {done.datasources_created or '-'}, "
          f"updated {done.datasources_updated or '-'}; "
          f"folders created {done.folders_created or '-'}; {len(done.dashboards)} dashboards saved")
    return EXIT_OK
