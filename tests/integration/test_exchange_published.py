"""The issue's done-when for exchanges: `tahawul up --simulate exchanges-2024` at a small
scale, then `tahawul audit published`, reproduces the integration platform's published
figures exactly: 471,193,222 items scaled half up, 40 providers and 81 consumers unscaled
(docs/exchanges.md, "Simulation profile"). The kills are proven by test_exchanges.py."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from tests.integration.conftest import REPO

pytestmark = pytest.mark.integration

SCALE = "0.0002"


def tahawul(*args: str, data_dir: Path) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("TAHAWUL_")}
    env.update({"TAHAWUL_DATA_DIR": str(data_dir), "TAHAWUL_SESSION_TIMEOUT": "3"})
    return subprocess.run([sys.executable, "-m", "tahawul", *args], env=env, cwd=REPO,
                          capture_output=True, text=True, timeout=600)


def test_up_simulate_exchanges_reproduces_the_platform_figures(tmp_path: Path) -> None:
    data = tmp_path / "data"
    up = tahawul("up", "--simulate", "exchanges-2024", "--scale", SCALE, "--exit-when-done", data_dir=data)
    assert up.returncode == 0, up.stdout + up.stderr
    audit = tahawul("audit", "published", data_dir=data)
    assert audit.returncode == 0, audit.stdout + audit.stderr
    assert f"compared at scale {SCALE} (the scale the store's simulated run recorded)" in audit.stdout
    assert "exchanges held: 2024-01-01 .. 2024-11-30" in audit.stdout
    rows = {line.split()[0]: line.split() for line in audit.stdout.splitlines()
            if line.startswith("integration-")}
    assert rows["integration-data-items-2024-jan-nov"][2:6] == ["94,239", "94,239", "0", "yes"]
    assert rows["integration-providers-2024"][2:6] == ["40", "40", "0", "yes"]
    assert rows["integration-consumers-2024"][2:6] == ["81", "81", "0", "yes"]
    assert "3 of 3 figures within their rounding" in audit.stdout
    # Audited at another scale, the items figure is off by the difference: exit 1.
    wrong = tahawul("audit", "published", "--scale", "0.0004", data_dir=data)
    assert wrong.returncode == 1, wrong.stdout
    assert "2 of 3 figures within their rounding" in wrong.stdout
