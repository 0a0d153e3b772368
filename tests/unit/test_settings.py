"""Settings handed to child processes through the environment."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from tahawul.settings import Settings

PIPELINE = ("data_dir", "kafka_url", "topic_transactions", "topic_validated", "topic_dead_letter",
            "worker_group", "counter_group", "partitions", "session_timeout", "batch_max",
            "batch_within", "batch_window_ratio", "batch_quiet")


def test_a_child_reading_pipeline_env_has_the_same_pipeline(monkeypatch: pytest.MonkeyPatch,
                                                            tmp_path: Path) -> None:
    parent = Settings(data_dir=tmp_path / "run", kafka_url="kafka://127.0.0.1:9", topic_transactions="tx-1",
                      topic_validated="val-1", topic_dead_letter="dlq-1", worker_group="w-1",
                      counter_group="c-1", partitions=3, session_timeout=2.5, batch_max=17,
                      batch_within=0.05, batch_window_ratio=2.5, batch_quiet=0.02, metrics_port=9400,
                      _env_file=None)  # type: ignore[call-arg]
    for name in list(os.environ):
        if name.startswith("TAHAWUL_"):
            monkeypatch.delenv(name)
    for name, value in parent.pipeline_env().items():
        monkeypatch.setenv(name, value)
    child = Settings(_env_file=None)  # type: ignore[call-arg]
    assert {f: getattr(child, f) for f in PIPELINE} == {f: getattr(parent, f) for f in PIPELINE}
    assert child.metrics_port is None  # one process's own settings are not passed on
