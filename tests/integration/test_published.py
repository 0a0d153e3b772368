"""Each programme profile, run end to end at a small scale, reproduces every published
figure of its period, as `tahawul audit published` reports them (docs/programme.md)."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from tests.integration.conftest import REPO

pytestmark = pytest.mark.integration

SCALE = "0.002"
EXPECTED = {
    "oman-2023": {"national-digital-2023", "intakhib-voters-2023"},
    "oman-2024": {"national-digital-2024-jan-nov", "entities-2024-jan-nov", "satisfaction-2024"},
    "oman-2025": {
        "national-digital-2025-jan-may", "entities-2025-jan-may", "admin-digital-OM-BS-2025-h1",
        "admin-digital-OM-ZA-2025-h1", "admin-digital-OM-MA-2025-jan-oct",
        "admin-digital-OM-DA-2025-jan-oct", "admin-new-services-OM-ZA-2025-h1",
        "admin-new-services-OM-MA-2025-jan-oct", "admin-new-services-OM-DA-2025-jan-oct",
        "tawtheeq-2025-first-two-months",
    },
}


def tahawul(*args: str, data_dir: Path) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("TAHAWUL_")}
    env.update({"TAHAWUL_DATA_DIR": str(data_dir), "TAHAWUL_SESSION_TIMEOUT": "3"})
    return subprocess.run([sys.executable, "-m", "tahawul", *args], env=env, cwd=REPO,
                          capture_output=True, text=True, timeout=600)


def figure_rows(stdout: str) -> dict[str, list[str]]:
    """Table rows of `audit published` by figure id (columns split on whitespace)."""
    rows = {}
    for line in stdout.splitlines():
        tokens = line.split()
        if tokens and tokens[0] in {f for names in EXPECTED.values() for f in names}:
            rows[tokens[0]] = tokens
    return rows


@pytest.mark.parametrize("profile", sorted(EXPECTED))
def test_profile_reproduces_every_published_figure_of_its_period(profile: str, tmp_path: Path) -> None:
    data = tmp_path / "data"
    up = tahawul("up", "--simulate", profile, "--scale", SCALE, "--exit-when-done", data_dir=data)
    assert up.returncode == 0, up.stderr
    # No --scale: `up --simulate` recorded its run, and the audit reads the scale from it.
    audit = tahawul("audit", "published", data_dir=data)
    assert audit.returncode == 0, audit.stdout + audit.stderr
    assert f"compared at scale {SCALE} (the scale the store's simulated run recorded)" in audit.stdout
    rows = figure_rows(audit.stdout)
    assert set(rows) == EXPECTED[profile]
    assert all(r[-1] != "NO" and "yes" in r for r in rows.values()), audit.stdout
    n = len(EXPECTED[profile])
    assert f"{n} of {n} figures within their rounding" in audit.stdout
    if profile == "oman-2023":
        # The same store audited at another scale: exact figures differ, exit 1.
        wrong = tahawul("audit", "published", "--scale", "0.001", data_dir=data)
        assert wrong.returncode == 1, wrong.stdout
        assert "NO" in wrong.stdout and "0 of 2 figures within" in wrong.stdout
