"""TAHAWUL_LOG_FORMAT=json: one JSON object a line, in every process that logs through
tahawul.logs (the CLI, up, the worker, the writer)."""

from __future__ import annotations

import json
import logging
import subprocess
import sys

from tahawul.logs import dict_config


def test_json_lines_carry_level_logger_message_and_traceback() -> None:
    code = """
import logging
from tahawul.logs import configure
configure("INFO", "json")
log = logging.getLogger("tahawul.test")
log.info("counted %d events in مسقط", 3)
try:
    1 / 0
except ZeroDivisionError:
    log.exception("failed")
"""
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60,
                          check=True)
    lines = [json.loads(line) for line in done.stderr.splitlines()]
    assert [(e["level"], e["logger"], e["message"]) for e in lines] == [
        ("INFO", "tahawul.test", "counted 3 events in مسقط"), ("ERROR", "tahawul.test", "failed")]
    assert "ZeroDivisionError" in lines[1]["exception"] and lines[0]["time"].endswith("+00:00")


def test_text_is_the_default_for_people() -> None:
    config = dict_config("warning", "text")
    assert config["root"]["level"] == "WARNING"
    assert "%(levelname)s" in config["formatters"]["tahawul"]["format"]
    logging.config.dictConfig(dict_config("WARNING", "text"))  # a valid configuration
