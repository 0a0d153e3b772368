"""Versioned schema migrations, applied in order by `tahawul db migrate` and at start-up.

Files are ``NNN_name.sql`` next to this module; statements are separated by ``;`` at the
end of a line. An applied migration whose text later changed is an error, not a silent skip.
"""

from __future__ import annotations

import hashlib
import re
from dataclasses import dataclass
from importlib import resources

from clickhouse_connect.driver.client import Client

from tahawul.sinks.clickhouse.cluster import for_cluster
from tahawul.sinks.clickhouse.reference import sync_reference

_NAME = re.compile(r"^(\d{3})_([a-z0-9_]+)\.sql$")


@dataclass(frozen=True, slots=True)
class Migration:
    version: int
    name: str
    sql: str

    @property
    def checksum(self) -> str:
        return hashlib.sha256(self.sql.encode()).hexdigest()

    def statements(self) -> list[str]:
        body = "\n".join(line for line in self.sql.splitlines() if not line.lstrip().startswith("--"))
        return [s.strip() for s in re.split(r";\s*$", body, flags=re.M) if s.strip()]


class MigrationError(RuntimeError):
    pass


def bookkeeping_table() -> str:
    """The table of applied migrations, schema_migrations (the printed DDL starts with it)."""
    return ("CREATE TABLE IF NOT EXISTS schema_migrations (version UInt32, name String, "
            "checksum String, applied_at DateTime64(3, 'UTC') DEFAULT now64(3)) "
            "ENGINE = MergeTree ORDER BY version")


def available() -> list[Migration]:
    folder = resources.files("tahawul.sinks").joinpath("clickhouse", "migrations")
    found = []
    for item in folder.iterdir():
        match = _NAME.match(item.name)
        if match:
            found.append(Migration(int(match.group(1)), match.group(2), item.read_text("utf-8")))
    return sorted(found, key=lambda m: m.version)


def migrate(client: Client, cluster: str | None = None) -> list[Migration]:
    """Apply pending migrations, then load the reference catalogue if it changed (views
    join it); return the migrations applied now. With ``cluster``, each statement runs in
    its ON CLUSTER / Replicated form (sinks/clickhouse/cluster.py); checksums stay those of
    the files, so a store migrated either way is recognised as up to date."""

    def form(statement: str) -> str:
        return statement if cluster is None else for_cluster(statement, cluster)

    client.command(form(bookkeeping_table()))
    applied = {
        row[0]: (row[1], row[2])
        for row in client.query("SELECT version, name, checksum FROM schema_migrations").result_rows
    }
    done = []
    for migration in available():
        if migration.version in applied:
            name, checksum = applied[migration.version]
            if checksum != migration.checksum:
                raise MigrationError(
                    f"migration {migration.version:03d}_{name} was changed after it was applied; "
                    "add a new migration instead"
                )
            continue
        for statement in migration.statements():
            client.command(form(statement))
        client.insert("schema_migrations", [[migration.version, migration.name, migration.checksum]],
                      column_names=["version", "name", "checksum"])
        done.append(migration)
    sync_reference(client)
    return done
