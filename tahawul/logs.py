"""How tahawul's processes log: plain text for a person at a terminal, or one JSON object a
line (TAHAWUL_LOG_FORMAT=json) for an operations team's log stack, which parses fields
instead of guessing at text. Every process (the CLI, `tahawul up`, the Faust worker, the
counting writer, the gateway) logs through :func:`dict_config`."""

from __future__ import annotations

import json
import logging
import logging.config
from datetime import UTC, datetime
from typing import Any

TEXT_FORMAT = "%(asctime)s %(levelname)s %(name)s: %(message)s"


class JsonFormatter(logging.Formatter):
    """One JSON object a line: time (UTC, ISO 8601), level, logger, message, process, and
    the exception's traceback when there is one."""

    def format(self, record: logging.LogRecord) -> str:
        entry: dict[str, Any] = {
            "time": datetime.fromtimestamp(record.created, UTC).isoformat(timespec="milliseconds"),
            "level": record.levelname,
            "logger": record.name,
            "message": record.getMessage(),
            "process": record.process,
        }
        if record.exc_info:
            entry["exception"] = self.formatException(record.exc_info)
        return json.dumps(entry, ensure_ascii=False)


# The Kafka clients' loggers, which at DEBUG print whole protocol requests and responses,
# record bytes included: never below INFO, whatever TAHAWUL_LOG_LEVEL says, so that no log
# carries an event's values (docs/security.md, "Personal data").
WIRE_LOGGERS = ("aiokafka", "kafka")


def dict_config(level: str, fmt: str) -> dict[str, Any]:
    """A logging.config.dictConfig for ``level`` in ``fmt`` ("text" or "json") on stderr."""
    formatter: dict[str, Any] = {"()": JsonFormatter} if fmt == "json" else {"format": TEXT_FORMAT}
    numeric = logging.getLevelName(level.upper())
    wire = "INFO" if isinstance(numeric, int) and numeric < logging.INFO else level.upper()
    return {
        "version": 1,
        "disable_existing_loggers": False,
        "formatters": {"tahawul": formatter},
        "handlers": {"stderr": {"class": "logging.StreamHandler", "formatter": "tahawul",
                                "stream": "ext://sys.stderr"}},
        "root": {"level": level.upper(), "handlers": ["stderr"]},
        "loggers": {name: {"level": wire} for name in WIRE_LOGGERS},
    }


def configure(level: str, fmt: str) -> None:
    logging.config.dictConfig(dict_config(level, fmt))
