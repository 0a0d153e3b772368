"""Server-side SQL: cluster DDL and auditor access, generated from one source, parsed by
the real ClickHouse parser (chDB's formatQuery), applied on servers and skipped on chDB."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from clickhouse_connect.driver.client import Client

from tahawul.cli.main import main
from tahawul.sinks.clickhouse import access, ddl
from tahawul.sinks.clickhouse.connection import connect
from tahawul.sinks.clickhouse.migrations import available, migrate
from tahawul.sinks.clickhouse.reference import sync_reference
from tahawul.sinks.clickhouse.store import Store

ROOT = Path(__file__).resolve().parents[2]


def parses(client: Client, statement: str) -> bool:
    return bool(client.query("SELECT formatQuery({q:String})", parameters={"q": statement}).result_rows)


def test_cluster_ddl_is_the_migrations_on_cluster_and_replicated(ch_client: Client) -> None:
    plain = [s for m in available() for s in m.statements()]
    clustered = [s for m in available() for s in ddl.statements(m, "prod")]
    assert len(plain) == len(clustered)
    for before, after in zip(plain, clustered, strict=True):
        assert " ON CLUSTER 'prod'" in after
        assert ("ENGINE = MergeTree" in before) == ("ENGINE = ReplicatedMergeTree(" in after)
        assert parses(ch_client, after)
    summing = "CREATE TABLE IF NOT EXISTS t (a UInt8) ENGINE = SummingMergeTree(a) ORDER BY a"
    assert ddl.for_cluster(summing, "c") == ("CREATE TABLE IF NOT EXISTS t ON CLUSTER 'c' (a UInt8) ENGINE = "
                                    "ReplicatedSummingMergeTree('/clickhouse/tables/{shard}/{database}/t', "
                                    "'{replica}', a) ORDER BY a")
    for statement in ddl.distributed_tables("prod", "tahawul"):
        assert parses(ch_client, statement)


def test_access_sql_grants_views_and_events_only(ch_client: Client) -> None:
    statements = access.statements("tahawul", entities=["ROP", "MUSCAT-MUN"])
    for statement in statements:
        assert parses(ch_client, statement), statement
    grants = {s.split(" ON ", 1)[1].split(" TO ")[0] for s in statements if s.startswith("GRANT SELECT ")}
    views = set(access.published_views())
    assert {"v_digital_takeup_governorate_daily", "v_service_indicators_yearly", "v_counts_daily"} <= views
    assert grants == {f"tahawul.{n}" for n in (*views, *access.READABLE_TABLES, *access.AUDITOR_TABLES)}
    assert not {"tahawul.rejected", "tahawul.duplicates", "tahawul.ingest_progress"} & grants
    # Grafana's role reads what the auditors read, and of `rejected` only the three columns
    # v_rejections_hourly reads: never a payload, a reason or a source.
    column_grants = [s for s in statements if s.startswith("GRANT SELECT(")]
    assert column_grants == ["GRANT SELECT(rejected_at, reason_code, entity) ON tahawul.rejected "
                             "TO tahawul_dashboards"]
    assert ("CREATE ROW POLICY OR REPLACE tahawul_auditor_muscat_mun ON tahawul.events FOR SELECT "
            "USING entity = 'MUSCAT-MUN' TO tahawul_auditor_muscat_mun") in statements
    assert ("CREATE ROW POLICY OR REPLACE tahawul_all_rows ON tahawul.events FOR SELECT USING 1 "
            "TO ALL EXCEPT tahawul_entity_auditor") in statements
    assert any(s.startswith("CREATE QUOTA OR REPLACE tahawul_auditor_quota") for s in statements)
    assert any("readonly = 2" in s for s in statements)
    on_cluster = access.statements("tahawul", cluster="prod", entities=["ROP"])
    assert all(" ON CLUSTER 'prod'" in s for s in on_cluster)
    for statement in on_cluster:
        assert parses(ch_client, statement), statement


class Recorder:
    """Stands in for a server client: records commands, answers queries with no rows."""

    database = "tahawul"

    def __init__(self) -> None:
        self.commands: list[str] = []

    def command(self, sql: str, **_: Any) -> None:
        self.commands.append(sql)

    def query(self, sql: str, **_: Any) -> Any:
        return type("R", (), {"result_rows": []})()

    def insert(self, *_: Any, **__: Any) -> None:
        return None


def test_access_is_applied_on_a_server_and_skipped_on_chdb() -> None:
    server = Recorder()
    applied = access.apply_access(server, "https://u:p@ch.example:8443/tahawul")  # type: ignore[arg-type]
    assert applied == len(server.commands)
    assert server.commands == access.statements("tahawul")
    embedded = Recorder()
    assert access.apply_access(embedded, "chdb:///tmp/x") is None  # type: ignore[arg-type]
    assert embedded.commands == []


def test_migrate_on_a_cluster_sends_the_cluster_form() -> None:
    server = Recorder()
    migrate(server, cluster="prod")  # type: ignore[arg-type]
    ddl_sent = [c for c in server.commands if c.startswith(("CREATE", "ALTER"))]
    assert ddl_sent and all(" ON CLUSTER 'prod'" in c for c in ddl_sent)
    assert ddl_sent[0] == ddl.for_cluster(ddl.bookkeeping_table(), "prod")


def test_deploy_files_are_current() -> None:
    folder = ROOT / "deploy" / "clickhouse"
    assert (folder / "schema-single-node.sql").read_text("utf-8") == ddl.render(None)
    assert (folder / "schema-cluster.sql").read_text("utf-8") == ddl.render("tahawul")
    assert (folder / "access.sql").read_text("utf-8") == access.render("tahawul")
    assert (folder / "access-cluster.sql").read_text("utf-8") == access.render("tahawul", "tahawul")


def test_single_node_ddl_builds_the_same_schema_as_migrate(tmp_path: Path, ch_client: Client) -> None:
    for statement in ddl.render(None).split(";\n"):
        body = "\n".join(x for x in statement.splitlines() if not x.startswith("--")).strip()
        if body:
            ch_client.command(body)
    sync_reference(ch_client)
    tables = "SELECT name, engine FROM system.tables WHERE database = currentDatabase() ORDER BY name"
    built = ch_client.query(tables).result_rows
    ch_client.close()
    other = Store(connect(f"chdb://{tmp_path / 'other'}"), "x")
    try:
        other.migrate()
        assert other.client.query(tables).result_rows == built
    finally:
        other.client.close()


def test_db_migrate_on_chdb_skips_access(tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
                                         capsys: pytest.CaptureFixture[str]) -> None:
    monkeypatch.setenv("TAHAWUL_CLICKHOUSE_URL", f"chdb://{tmp_path / 'store'}")
    assert main(["db", "migrate"]) == 0
    out = capsys.readouterr().out
    assert "applied 008_coverage_and_late_data" in out
    assert "server-side access SQL (auditor roles, row policies, quotas) skipped" in out
