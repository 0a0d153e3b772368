"""Opening a store to read it: what `tahawul sql`, `report`, `audit` and `export` use.

Reading never creates or migrates a store. A typo in TAHAWUL_DATA_DIR must not quietly make
an empty embedded store and report nothing, and an auditor's read-only account cannot
migrate anyway: a store that is missing, or whose schema is older than this tahawul, is a
usage error that says what to run.
"""

from __future__ import annotations

from pathlib import Path

from clickhouse_connect.driver.client import Client

from tahawul.errors import UsageError
from tahawul.sinks.clickhouse.connection import connect, is_embedded, redact
from tahawul.sinks.clickhouse.migrations import available


class StoreNotReady(UsageError):
    """No tahawul store at the configured place, or one with an older schema."""


def connect_for_reading(dsn: str) -> Client:
    """A client on an existing store whose schema is up to date (else StoreNotReady).

    The schema is checked on the embedded store only: on a server, an auditor's account
    may read the views and nothing else (not schema_migrations), and the server's schema is
    the operators' `tahawul db migrate`."""
    if not is_embedded(dsn):
        return connect(dsn)
    if not Path(dsn[len("chdb://"):]).is_dir():
        raise StoreNotReady(f"no tahawul store at {dsn[len('chdb://'):]} (TAHAWUL_DATA_DIR or "
                            "TAHAWUL_CLICKHOUSE_URL): run `tahawul up` there first, or point them at one")
    client = connect(dsn)
    try:
        latest = max(m.version for m in available())
        tables = client.query("SELECT count() FROM system.tables WHERE database = currentDatabase() "
                              "AND name = 'schema_migrations'").result_rows[0][0]
        version = (client.query("SELECT max(version) FROM schema_migrations").result_rows[0][0]
                   if tables else 0)
    except Exception:
        client.close()
        raise
    if version < latest:
        client.close()
        state = "has no tahawul schema" if not version else f"has schema version {version}, not {latest}"
        raise StoreNotReady(f"the store at {redact(dsn)} {state}: run `tahawul db migrate` (or `tahawul up`) "
                            "with the same settings first")
    return client
