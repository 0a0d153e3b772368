"""The auditor guide's completeness example ("Is this all of it?") gives the output the guide
shows: the simulated run it names, with its losses on purpose, applied through the real
validation and counting path (what `tahawul up --simulate ... --lose-fraction` feeds), then
`tahawul audit completeness --entity MOH` as written."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from tahawul.cli.main import main
from tahawul.sinks.clickhouse.connection import connect
from tahawul.sinks.clickhouse.store import Store
from tests.unit.simulated_store import fill

GUIDE = Path(__file__).resolve().parents[2] / "docs" / "auditor-guide.md"


def example() -> tuple[list[str], list[str]]:
    """The commands ($ lines) and the output of the guide's console example."""
    section = GUIDE.read_text("utf-8").split("## Is this all of it? Completeness", 1)[1]
    (block,) = re.findall(r"```console\n(.*?)```", section, flags=re.S)
    lines = block.splitlines()
    return [line[2:] for line in lines if line.startswith("$ ")], [
        line for line in lines if not line.startswith("$ ")]


def test_the_completeness_example_gives_the_stated_output(tmp_path: Path, capsys: pytest.CaptureFixture[str],
                                                          monkeypatch: pytest.MonkeyPatch) -> None:
    (up, audit), shown = example()
    options = dict(re.findall(r"--([a-z-]+) (\S+)", up))
    assert up.startswith("tahawul up --simulate oman-2025-h1 ") and up.endswith(" --exit-when-done")
    assert options == {"simulate": "oman-2025-h1", "scale": "0.001", "seed": "5", "lose-fraction": "0.02"}
    client = connect(f"chdb://{tmp_path / 'store'}")
    try:
        store = Store(client, "simulated")
        store.migrate()
        # up --simulate's feed: no duplicates or invalid lines unless asked for
        fill(store, scale=0.001, seed=5, duplicates=0.0, invalid=0.0, profile="oman-2025-h1",
             lose_fraction=0.02)
    finally:
        client.close()
    monkeypatch.setenv("TAHAWUL_CLICKHOUSE_URL", f"chdb://{tmp_path / 'store'}")
    assert audit == "tahawul audit completeness --entity MOH"
    capsys.readouterr()
    assert main(audit.split()[1:]) == 1
    printed = [line.rstrip() for line in capsys.readouterr().out.splitlines()]
    assert printed == shown
    assert main([*audit.split()[1:], "--tolerance", "1"]) == 0
