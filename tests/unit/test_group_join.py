"""The worker's exit on a JoinGroup the broker refuses for good (stream_processors/group_join.py),
without a broker: the handler against aiokafka's own log record."""

from __future__ import annotations

import logging

from aiokafka.errors import InvalidSessionTimeoutError

from tahawul.stream_processors.group_join import (
    CONFIG_EXIT,
    COORDINATOR_LOGGER,
    FATAL_JOIN,
    exit_when_refused,
)


def test_a_fatal_join_error_exits_with_the_setting_to_change() -> None:
    exits: list[tuple[int, str]] = []
    logger = logging.getLogger(COORDINATOR_LOGGER)
    handler = exit_when_refused("worker-g", 0.5, lambda code, why: exits.append((code, why)))
    try:
        logger.error("Some other error: %s", "x")  # not a refused join: ignored
        assert exits == []
        logger.error(FATAL_JOIN + ": %s", InvalidSessionTimeoutError())
    finally:
        logger.removeHandler(handler)
    [(code, why)] = exits
    assert code == CONFIG_EXIT
    assert "'worker-g'" in why and "TAHAWUL_SESSION_TIMEOUT=0.5 s" in why
    assert "InvalidSessionTimeoutError" in why and "\n" not in why
