"""Opening a store to read it: what `tahawul sql`, `report`, `audit` and `export` use.

Reading never creates or migrates a store. A typo in TAHAWUL_DATA_DIR must not quietly make
an empty embedded store and report nothing, and an auditor's read-only account cannot
migrate anyway: a store that is missing, or whose schema is older than this tahawul, is a
usage error that says what to run.
"""

from __future__ import annotations

import logging
from pathlib import Path

from clickhouse_connect.driver.client import Client

from tahawul.errors import UsageError
from tahawul.sinks.clickhouse.connection import connect, is_embedded, redact
from tahawul.sinks.clickhouse.migrations import available
from tahawul.sinks.clickhouse.read_front import read_record

log = logging.getLogger(__name__)


class StoreNotReady(UsageError):
    """No tahawul store at the configured place, or one with an older schema."""


def connect_for_reading(dsn: str) -> Client:
    """A client on an existing store whose schema is up to date (else StoreNotReady). An
    embedded store that a running `tahawul up` holds is read through that process's
    read-only HTTP front (:func:`via_running_up`), since chDB lets one process open it.

    The schema is checked on the embedded store only: on a server, an auditor's account
    may read the views and nothing else (not schema_migrations), and the server's schema is
    the operators' `tahawul db migrate`."""
    if not is_embedded(dsn):
        return connect(dsn)
    store_dir = Path(dsn[len("chdb://"):])
    if not store_dir.is_dir():
        raise StoreNotReady(f"no tahawul store at {store_dir} (TAHAWUL_DATA_DIR or "
                            "TAHAWUL_CLICKHOUSE_URL): run `tahawul up` there first, or point them at one")
    client = via_running_up(store_dir) or connect(dsn)
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


def via_running_up(store_dir: Path) -> Client | None:
    """A client on the read front of the `tahawul up` that holds ``store_dir``, or None when
    no `up` runs on it (no front record, its process gone, or its port not answering: then
    the store is opened directly, and a real lock conflict says so)."""
    record = read_record(store_dir)
    if record is None:
        return None
    import clickhouse_connect

    try:
        client = clickhouse_connect.get_client(host=record.host, port=record.port, username=record.user,
                                               password=record.password, connect_timeout=5,
                                               send_receive_timeout=300)
    except Exception as exc:
        log.debug("no read front at %s (%s): opening the store directly", record.url, exc)
        return None
    log.info("the store is held by a running `tahawul up` (pid %d): reading through %s",
             record.pid, record.url)
    return client
