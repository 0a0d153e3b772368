#!/bin/bash
# Runs once, when the ClickHouse server's data directory is first created
# (/docker-entrypoint-initdb.d): Grafana's read-only account. It reads the published views,
# the reference tables they join and, for the coverage dashboard, the raw tables behind
# v_rejections_hourly (views run with the reader's rights). Auditors' roles are applied by
# `tahawul db migrate` (deploy/clickhouse/access.sql).
set -euo pipefail
clickhouse client --user "$CLICKHOUSE_USER" --password "$CLICKHOUSE_PASSWORD" --multiquery <<SQL
CREATE DATABASE IF NOT EXISTS tahawul;
CREATE USER IF NOT EXISTS grafana IDENTIFIED WITH sha256_password BY '${GRAFANA_CLICKHOUSE_PASSWORD}'
  SETTINGS readonly = 1, max_execution_time = 60 CHANGEABLE_IN_READONLY;
GRANT SELECT ON tahawul.* TO grafana;
SQL
