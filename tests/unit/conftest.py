"""Unit fixtures. chDB is the ClickHouse engine in-process (no server); one store
directory may be open per process at a time, so each test gets its own and closes it."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from clickhouse_connect.driver.client import Client

from tahawul.sinks.clickhouse.connection import connect
from tahawul.sinks.clickhouse.store import Store


@pytest.fixture
def ch_client(tmp_path: Path) -> Iterator[Client]:
    client = connect(f"chdb://{tmp_path / 'store'}")
    try:
        yield client
    finally:
        client.close()


@pytest.fixture
def store(ch_client: Client) -> Store:
    s = Store(ch_client, "unit-cluster")
    s.migrate()
    return s
