#!/bin/bash
# Runs once, when the ClickHouse server's data directory is first created
# (/docker-entrypoint-initdb.d), as the administrator (CLICKHOUSE_USER, the only account with
# access management; `tahawul db migrate` uses it). Makes the two service accounts:
# - tahawul_writer, the counting writer: reads, inserts into and deletes from (lightweight
#   DELETE, recovery) the tables of the tahawul database, and nothing more: no DDL, no
#   access management, no other database;
# - grafana, read-only, holding the role tahawul_dashboards: the published views and what
#   they read (views run with the reader's rights), and of `rejected` only the columns
#   v_rejections_hourly reads, never payloads or reasons; it may lower its query time
#   limit, never raise it. `tahawul db migrate` grants the
#   role its privileges (deploy/clickhouse/access.sql), as it does the auditors' roles.
set -euo pipefail
: "${CLICKHOUSE_WRITER_PASSWORD:?CLICKHOUSE_WRITER_PASSWORD is not set}"
: "${GRAFANA_CLICKHOUSE_PASSWORD:?GRAFANA_CLICKHOUSE_PASSWORD is not set}"
clickhouse client --user "$CLICKHOUSE_USER" --password "$CLICKHOUSE_PASSWORD" --multiquery <<SQL
CREATE DATABASE IF NOT EXISTS tahawul;
CREATE USER IF NOT EXISTS tahawul_writer IDENTIFIED WITH sha256_password BY '${CLICKHOUSE_WRITER_PASSWORD}';
GRANT SELECT, INSERT, ALTER DELETE ON tahawul.* TO tahawul_writer;
CREATE USER IF NOT EXISTS grafana IDENTIFIED WITH sha256_password BY '${GRAFANA_CLICKHOUSE_PASSWORD}'
  SETTINGS readonly = 1, max_execution_time = 60 MAX 60 CHANGEABLE_IN_READONLY;
CREATE ROLE IF NOT EXISTS tahawul_dashboards;
GRANT tahawul_dashboards TO grafana;
SET DEFAULT ROLE tahawul_dashboards TO grafana;
SQL
