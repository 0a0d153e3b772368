"""The report in a real browser: headless Chromium (Debian's package, no network) opens
`tahawul report`'s page in both languages, lays it out, and its charts are drawn; the
screenshot shows the map's take-up colours and the bars."""

from __future__ import annotations

import html
import json
import math
import re
import subprocess
from pathlib import Path
from typing import Any

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


# Appended to a copy of the page: once laid out, every chart's text boxes and circles (centre,
# radius) as the browser measured them, in page pixels, JSON in a body attribute.
MEASURE = """<script>
window.addEventListener('load', function () {
  function box(r) { return [r.left, r.top, r.right, r.bottom]; }
  var charts = Array.prototype.map.call(document.querySelectorAll('svg.chart'), function (svg) {
    var texts = Array.prototype.filter.call(svg.querySelectorAll('text'), function (t) {
      return t.textContent.trim() !== ''; });
    return {
      box: box(svg.getBoundingClientRect()),
      texts: texts.map(function (t) {
        return {text: t.textContent, cls: t.getAttribute('class') || '', box: box(t.getBoundingClientRect()),
                title: t.querySelector('title') ? t.querySelector('title').textContent : null}; }),
      centres: Array.prototype.map.call(svg.querySelectorAll('circle.mark'), function (c) {
        var r = c.getBoundingClientRect();
        return [(r.left + r.right) / 2, (r.top + r.bottom) / 2, (r.right - r.left) / 2]; })
    };
  });
  document.body.setAttribute('data-layout', JSON.stringify(charts));
});
</script>"""


def layout(store_url: str, lang: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
           width: int) -> list[dict[str, Any]]:
    """The report's charts as Chromium lays them out in a window ``width`` pixels wide."""
    monkeypatch.setenv("TAHAWUL_CLICKHOUSE_URL", store_url)
    page = tmp_path / f"report-{lang}.html"
    assert main(["report", "--out", str(page), "--lang", lang]) == 0
    measured = tmp_path / f"measured-{lang}.html"
    measured.write_text(page.read_text("utf-8").replace("</body>", MEASURE + "</body>"), "utf-8")
    dom = chromium(tmp_path / f"m-{lang}-{width}", f"--window-size={width},1500",
                   "--virtual-time-budget=5000", "--dump-dom", measured.as_uri())
    assert dom.returncode == 0, dom.stderr[-2000:]
    found = re.search(r'data-layout="([^"]*)"', dom.stdout)
    assert found, dom.stdout[:500]
    charts: list[dict[str, Any]] = json.loads(html.unescape(found.group(1)))
    return charts


def intersect(a: list[float], b: list[float]) -> bool:
    return a[0] < b[2] - 0.5 and b[0] < a[2] - 0.5 and a[1] < b[3] - 0.5 and b[1] < a[3] - 0.5


@pytest.mark.parametrize("width", [1400, 1000])
@pytest.mark.parametrize("lang", ["en", "ar"])
def test_no_text_covers_another_or_a_bubble(store_url: str, lang: str, width: int, tmp_path: Path,
                                            monkeypatch: pytest.MonkeyPatch) -> None:
    """Measured in the browser: in every chart no two texts (map labels, names, ticks, values,
    legends) intersect, every text lies inside its chart, and no map label reaches into a
    bubble; every governorate has its label."""
    charts = layout(store_url, lang, tmp_path, monkeypatch, width)
    assert len(charts) == 3
    for chart in charts:
        texts = chart["texts"]
        for i, a in enumerate(texts):
            frame = chart["box"]
            assert frame[0] - 0.5 <= a["box"][0] and a["box"][2] <= frame[2] + 0.5, a
            for b in texts[i + 1:]:
                assert not intersect(a["box"], b["box"]), (a, b)
    map_chart = next(c for c in charts if c["centres"])
    labels = [t for t in map_chart["texts"] if t["cls"] == "map-label"]
    assert len(labels) == len(map_chart["centres"]) == 11
    for label in labels:
        left, top, right, bottom = label["box"]
        for x, y, r in map_chart["centres"]:
            nearest = (min(max(x, left), right), min(max(y, top), bottom))
            assert math.dist(nearest, (x, y)) >= r - 0.5, (label, (x, y, r))


@pytest.mark.parametrize("lang", ["en", "ar"])
def test_names_are_shortened_on_a_word_boundary_with_the_full_name(
        store_url: str, lang: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    charts = layout(store_url, lang, tmp_path, monkeypatch, 1400)
    names = [t for c in charts for t in c["texts"] if t["cls"] == "name"]
    assert len(names) == 10
    shortened = 0
    for name in names:
        full, shown = name["title"], name["text"].removeprefix(name["title"])
        assert full, name
        if shown != full:
            shortened += 1
            assert shown.endswith("…"), name
            kept = shown.removesuffix("…")
            assert full.startswith(kept) and full[len(kept)] in " ,", name  # cut between words
    assert shortened >= 1  # the catalogue's longest ministry names do not fit
