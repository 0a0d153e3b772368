"""The report in a real browser: headless Chromium (Debian's package, no network) opens
`tahawul report`'s page in both languages, lays it out, and its charts are drawn; the
screenshot shows the map's take-up colours and the bars."""

from __future__ import annotations

import re
import subprocess
from pathlib import Path

import pytest
from PIL import Image

from tahawul.cli.main import main
from tahawul.report.charts import DIGITAL, takeup_colour
from tests.unit.simulated_store import simulated_store_url

pytestmark = pytest.mark.integration

FLAGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
         "--disable-background-networking", "--disable-component-update", "--disable-sync",
         "--hide-scrollbars"]


def chromium(profile: Path, *args: str) -> subprocess.CompletedProcess[str]:
    """Chromium with a fresh profile; it must exist (a missing browser fails the test)."""
    profile.mkdir(parents=True, exist_ok=True)
    return subprocess.run(["chromium", *FLAGS, f"--user-data-dir={profile}", *args],
                          capture_output=True, text=True, timeout=120)


@pytest.fixture(scope="module")
def store_url(tmp_path_factory: pytest.TempPathFactory) -> str:
    return simulated_store_url(tmp_path_factory.mktemp("report-browser") / "store")


def share_of(image: Image.Image, colour: str, tolerance: int = 12) -> float:
    """Fraction of the screenshot's pixels within ``tolerance`` of ``colour``."""
    target = tuple(int(colour[i:i + 2], 16) for i in (1, 3, 5))
    small = image.convert("RGB").resize((image.width // 2, image.height // 2), Image.Resampling.NEAREST)
    raw = small.tobytes()
    pixels = [raw[i:i + 3] for i in range(0, len(raw), 3)]
    near = sum(1 for p in pixels if all(abs(a - b) <= tolerance for a, b in zip(p, target, strict=True)))
    return near / len(pixels)


@pytest.mark.parametrize("lang", ["en", "ar"])
def test_report_renders_its_charts_in_chromium(store_url: str, lang: str, tmp_path: Path,
                                               monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("TAHAWUL_CLICKHOUSE_URL", store_url)
    page = tmp_path / f"report-{lang}.html"
    assert main(["report", "--out", str(page), "--lang", lang]) == 0

    dom = chromium(tmp_path / "p1", "--virtual-time-budget=5000", "--dump-dom", page.as_uri())
    assert dom.returncode == 0, dom.stderr[-2000:]
    body = re.search(r"<body[^>]*>", dom.stdout)
    assert body, dom.stdout[:500]
    assert 'data-charts="3"' in body.group(0) and 'data-charts-rendered="3"' in body.group(0), body.group(0)

    shot = tmp_path / f"report-{lang}.png"
    result = chromium(tmp_path / "p2", "--window-size=1400,1500", f"--screenshot={shot}", page.as_uri())
    assert result.returncode == 0 and shot.is_file(), result.stderr[-2000:]
    image = Image.open(shot)
    assert image.size == (1400, 1500)
    assert share_of(image, DIGITAL) > 0.01  # the digital bars and line
    # Governorate circles in take-up colours (most governorates are 60-90 % digital).
    assert max(share_of(image, takeup_colour(x / 10), tolerance=30) for x in range(5, 11)) > 0.002
    raw = image.convert("RGB").resize((140, 150)).tobytes()
    assert len({raw[i:i + 3] for i in range(0, len(raw), 3)}) > 50  # not a blank page
