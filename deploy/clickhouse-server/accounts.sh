#!/bin/bash
# Runs once, when the ClickHouse server's data directory is first created
# (/docker-entrypoint-initdb.d): Grafana's read-only account, holding the role
# tahawul_dashboards: the published views and what they read (views run with the reader's
# rights), and of `rejected` only the columns v_rejections_hourly reads, never payloads or
# reasons. `tahawul db migrate` grants the role its privileges (deploy/clickhouse/access.sql),
# as it does the auditors' roles.
set -euo pipefail
clickhouse client --user "$CLICKHOUSE_USER" --password "$CLICKHOUSE_PASSWORD" --multiquery <<SQL
CREATE DATABASE IF NOT EXISTS tahawul;
CREATE USER IF NOT EXISTS grafana IDENTIFIED WITH sha256_password BY '${GRAFANA_CLICKHOUSE_PASSWORD}'
  SETTINGS readonly = 1, max_execution_time = 60 CHANGEABLE_IN_READONLY;
CREATE ROLE IF NOT EXISTS tahawul_dashboards;
GRANT tahawul_dashboards TO grafana;
SET DEFAULT ROLE tahawul_dashboards TO grafana;
SQL
