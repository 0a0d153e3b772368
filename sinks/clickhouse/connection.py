"""The one place a ClickHouse DSN is parsed and a client is made.

``chdb:///abs/path`` opens the embedded engine in this process (one process per directory);
``http(s)://user:password@host:port/database`` talks to a server. Both give a
clickhouse-connect client, so everything above this module has a single code path.
"""

from __future__ import annotations

from pathlib import Path
from urllib.parse import urlsplit, urlunsplit

import clickhouse_connect
from clickhouse_connect.driver.client import Client

from tahawul.errors import Unavailable


class StoreUnavailable(Unavailable):
    """The store cannot be opened or reached; the message says which and where."""


def redact(dsn: str) -> str:
    """The DSN with any password replaced, for messages and logs."""
    parts = urlsplit(dsn)
    if parts.password is None:
        return dsn
    netloc = f"{parts.username}:***@{parts.hostname}" + (f":{parts.port}" if parts.port else "")
    return urlunsplit((parts.scheme, netloc, parts.path, parts.query, parts.fragment))


def is_embedded(dsn: str) -> bool:
    return dsn.startswith("chdb://")


def connect(dsn: str) -> Client:
    scheme = urlsplit(dsn).scheme
    if scheme == "chdb":
        path = Path(dsn[len("chdb://"):])
        if not path.is_absolute():
            raise StoreUnavailable(f"embedded store path must be absolute: {dsn}")
        path.mkdir(parents=True, exist_ok=True)
        try:
            return clickhouse_connect.get_client(dsn=dsn)
        except Exception as exc:
            raise StoreUnavailable(
                f"cannot open the embedded ClickHouse store at {path}: {exc}. Only one process "
                "may open it at a time; is another tahawul process running on this data dir?"
            ) from exc
    if scheme in ("http", "https"):
        try:
            return clickhouse_connect.get_client(dsn=dsn, connect_timeout=5, send_receive_timeout=60)
        except Exception as exc:
            raise StoreUnavailable(f"cannot reach ClickHouse at {redact(dsn)}: {exc}") from exc
    raise StoreUnavailable(
        f"unsupported ClickHouse URL {redact(dsn)!r}: use chdb:///path or http(s)://host:port/db"
    )
