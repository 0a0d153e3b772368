"""Errors a user can cause get one clear line and the documented exit code; --help describes
every command and option. No servers: these are the paths that stop before any."""

from __future__ import annotations

import argparse
from pathlib import Path
from types import SimpleNamespace

import pytest

from tahawul.cli.common import EXIT_USAGE
from tahawul.cli.console import totals_table
from tahawul.cli.main import build_parser, main


@pytest.fixture(autouse=True)
def clean_env(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    import os

    for name in list(os.environ):
        if name.startswith("TAHAWUL_"):
            monkeypatch.delenv(name)
    monkeypatch.setenv("TAHAWUL_DATA_DIR", str(tmp_path / "data"))


@pytest.mark.parametrize("command", [
    ["report", "--out", "r.html"], ["audit", "reconcile"], ["sql", "SELECT 1"],
    ["export", "--from", "2025-01-01", "--to", "2025-01-31", "--out", "x"],
])
def test_reading_a_data_dir_without_a_store_is_a_usage_error(
        command: list[str], tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(command) == EXIT_USAGE
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "no tahawul store at" in err[0] and "tahawul up" in err[0]
    assert not (tmp_path / "data").exists()  # reading never creates a store


def test_a_store_without_the_schema_is_a_usage_error(tmp_path: Path, capsys: pytest.CaptureFixture[str]
                                                     ) -> None:
    (tmp_path / "data" / "clickhouse").mkdir(parents=True)
    assert main(["audit", "reconcile"]) == EXIT_USAGE  # not 1, which means "drift found"
    assert "has no tahawul schema: run `tahawul db migrate`" in capsys.readouterr().err


def test_a_malformed_kafka_url_is_a_settings_error(monkeypatch: pytest.MonkeyPatch,
                                                   capsys: pytest.CaptureFixture[str]) -> None:
    monkeypatch.setenv("TAHAWUL_KAFKA_URL", "kafka://localhost:9O92")
    assert main(["worker"]) == EXIT_USAGE
    err = capsys.readouterr().err.strip().splitlines()
    assert err == ["tahawul: invalid setting TAHAWUL_KAFKA_URL='kafka://localhost:9O92': 'localhost:9O92' "
                   "is not host:port; expected kafka://host:port[,host:port] (e.g. kafka://kafka-1:9092)"]


def test_a_bad_secret_setting_is_reported_without_its_value(monkeypatch: pytest.MonkeyPatch,
                                                            capsys: pytest.CaptureFixture[str]) -> None:
    monkeypatch.setenv("TAHAWUL_METRICS_PORT", "not-a-port")
    monkeypatch.setenv("TAHAWUL_GRAFANA_TOKEN", "")
    assert main(["sql", "SELECT 1"]) == EXIT_USAGE
    err = capsys.readouterr().err
    assert "TAHAWUL_METRICS_PORT='not-a-port'" in err
    from tahawul.settings import Settings

    assert Settings.secret_fields() >= {"clickhouse_url", "grafana_token"}


def test_a_wrong_flag_shows_the_subcommand_usage(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as exit_:
        main(["audit", "reconcile", "--frm", "2025-01-01"])
    assert exit_.value.code == EXIT_USAGE
    err = capsys.readouterr().err
    assert err.startswith("usage: tahawul audit reconcile")
    assert "tahawul audit reconcile: error: unrecognized arguments: --frm" in err


def _parsers(parser: argparse.ArgumentParser, path: str = "tahawul"
             ) -> list[tuple[str, argparse.ArgumentParser]]:
    out = [(path, parser)]
    for action in parser._actions:
        if isinstance(action, argparse._SubParsersAction):
            for name, child in action.choices.items():
                out += _parsers(child, f"{path} {name}")
    return out


def test_help_describes_every_command_and_option_with_defaults() -> None:
    for path, parser in _parsers(build_parser()):
        assert parser.description, f"`{path} --help` says nothing about what it does"
        for action in parser._actions:
            if action.option_strings and action.dest != "help":
                assert action.help, f"{path} {action.option_strings[0]} has no help"
    up = dict(_parsers(build_parser()))["tahawul up"].format_help()
    assert "(default: 0.01)" in up and "(default: 7)" in up and "oman-2025-h1" in up
    simulate = dict(_parsers(build_parser()))["tahawul simulate"].format_help()
    assert "{oman-2025-h1" in simulate.replace("\n", " ").replace(" ", "") or "oman-2025-h1" in simulate


def test_totals_of_an_empty_store_say_so() -> None:
    client = SimpleNamespace(query=lambda sql: SimpleNamespace(result_rows=[]))
    text = totals_table(client)  # type: ignore[arg-type]
    assert "None" not in text
    assert text.splitlines()[0] == "completed transactions in v_counts_daily, none yet"


def test_store_up_is_set_by_a_successful_write() -> None:
    import threading

    from prometheus_client import REGISTRY

    from tahawul.stream_processors import metrics
    from tahawul.stream_processors.counter import write_with_retry

    class Store:
        def write(self, batch: object) -> None:
            pass

    metrics.STORE_UP.set(0)
    assert write_with_retry(Store(), object(), threading.Event())  # type: ignore[arg-type]
    assert REGISTRY.get_sample_value("tahawul_store_up") == 1.0
