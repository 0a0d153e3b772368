"""A worker that the broker will not let into its consumer group ends with one clear line.

When the group coordinator refuses a JoinGroup for good (``InvalidSessionTimeoutError``:
the session timeout is outside the broker's ``group.min.session.timeout.ms`` ..
``group.max.session.timeout.ms``; ``InconsistentGroupProtocolError``;
``InvalidGroupIdError``), aiokafka logs one ERROR and hands the exception to the next
``getmany``. Faust calls ``getmany`` only once it has partitions, which it never gets: the
worker would sit there, alive and idle, holding no partitions and counting nothing, while
`tahawul up`, systemd or Kubernetes see a healthy process. That log record is the only
signal, so this handler watches for it and ends the process (exit 78, EX_CONFIG: a setting
to change, not a crash to retry)."""

from __future__ import annotations

import logging
from collections.abc import Callable
from typing import Any, Final

CONFIG_EXIT: Final = 78  # sysexits EX_CONFIG
COORDINATOR_LOGGER: Final = "aiokafka.consumer.group_coordinator"
# aiokafka's message (group_coordinator.py, CoordinatorGroupRebalance._on_join_...).
FATAL_JOIN: Final = "Attempt to join group failed due to fatal error"


def refusal_reason(error: str, group: str, session_timeout: float) -> str:
    """The one line a person reads: what the broker refused and what to change."""
    if "InvalidSessionTimeout" in error:
        return (f"the broker refused to let this process join group {group!r}: its session "
                f"timeout, TAHAWUL_SESSION_TIMEOUT={session_timeout:g} s, is outside the "
                f"broker's group.min.session.timeout.ms .. group.max.session.timeout.ms "
                f"(Kafka's defaults: 6 s .. 30 min); set TAHAWUL_SESSION_TIMEOUT within them "
                f"({error})")
    return f"the broker refused to let this process join group {group!r} for good: {error}"


class GroupJoinRefused(logging.Handler):
    """Ends the process when aiokafka logs a fatal JoinGroup error (see the module)."""

    def __init__(self, group: str, session_timeout: float,
                 exit: Callable[[int, str], Any]) -> None:
        super().__init__(logging.ERROR)
        self.group = group
        self.session_timeout = session_timeout
        self.exit = exit

    def emit(self, record: logging.LogRecord) -> None:
        if not str(record.msg).startswith(FATAL_JOIN):
            return
        error = " ".join(f"{type(a).__name__}: {a}" if isinstance(a, BaseException) else str(a)
                         for a in record.args or ())
        self.exit(CONFIG_EXIT, refusal_reason(error or record.getMessage(), self.group,
                                              self.session_timeout))


def exit_when_refused(group: str, session_timeout: float,
                      exit: Callable[[int, str], Any]) -> GroupJoinRefused:
    """Watch aiokafka's coordinator log for a fatal JoinGroup error (at ERROR whatever
    TAHAWUL_LOG_LEVEL says: the record must reach the handler)."""
    logger = logging.getLogger(COORDINATOR_LOGGER)
    if logger.getEffectiveLevel() > logging.ERROR:
        logger.setLevel(logging.ERROR)
    handler = GroupJoinRefused(group, session_timeout, exit)
    logger.addHandler(handler)
    return handler
