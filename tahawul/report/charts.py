"""Inline SVG charts: stacked horizontal bars, a two-series line chart and the map.

Hand-written SVG rather than a charting library: the page must work offline and be
archived as one file, and these three shapes are a few dozen lines each. Every chart is an
``<svg class="chart">`` whose marks carry ``class="mark"``; the page counts them when it
loads (the browser test reads that count).
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from datetime import datetime
from html import escape

DIGITAL, MANUAL = "#1f7a4d", "#c8a24a"

# A schematic outline of Oman (lon, lat), for orientation only: the mainland and the
# Musandam exclave, a few dozen points each. Governorate centres come from reference data.
MAINLAND = [
    (56.37, 24.98), (56.75, 24.35), (57.88, 23.70), (58.59, 23.61), (58.92, 23.26), (59.53, 22.57),
    (59.80, 22.53), (59.83, 22.42), (59.58, 21.85), (58.80, 20.90), (58.30, 20.45), (57.70, 19.66),
    (57.80, 18.99), (56.60, 18.55), (55.60, 17.90), (55.30, 17.45), (54.69, 16.99), (54.09, 17.02),
    (53.43, 16.74), (52.98, 16.65), (52.00, 19.00), (55.00, 20.00), (55.67, 22.00), (55.20, 22.70),
    (55.80, 24.00), (55.95, 24.60),
]
MUSANDAM = [(56.08, 26.05), (56.20, 26.38), (56.40, 26.35), (56.45, 26.00), (56.35, 25.65), (56.15, 25.62)]
LON0, LON1, LAT0, LAT1 = 51.6, 61.2, 16.2, 26.6


def takeup_colour(share: float) -> str:
    """Red (0 %) through yellow (50 %) to green (100 %), like the dashboard's map."""
    s = min(1.0, max(0.0, share))
    stops = [(0.0, (215, 48, 39)), (0.5, (254, 224, 139)), (1.0, (26, 152, 80))]
    (a, ca), (b, cb) = (stops[0], stops[1]) if s <= 0.5 else (stops[1], stops[2])
    f = (s - a) / (b - a)
    r, g, bl = (round(x + (y - x) * f) for x, y in zip(ca, cb, strict=True))
    return f"#{r:02x}{g:02x}{bl:02x}"


def _svg(width: int, height: int, body: list[str], label: str) -> str:
    # Geometry is computed left to right; an Arabic page must not mirror text anchors.
    return (f'<svg class="chart" role="img" aria-label="{escape(label)}" viewBox="0 0 {width} {height}" '
            f'width="100%" style="direction: ltr" xmlns="http://www.w3.org/2000/svg">'
            + "".join(body) + "</svg>")


def number(n: float) -> str:
    return f"{n:,.0f}"


def stacked_bars(rows: Sequence[tuple[str, int, int]], labels: tuple[str, str], title: str,
                 rtl: bool) -> str:
    """One bar per row (name, digital, manual), longest first."""
    width, row_h, label_w = 640, 26, 250
    height = row_h * len(rows) + 34
    top = max((d + m for _, d, m in rows), default=1) or 1
    scale = (width - label_w - 70) / top
    body = []
    for i, (name, digital, manual) in enumerate(rows):
        y = 8 + i * row_h
        w1, w2 = digital * scale, manual * scale
        if rtl:
            x1 = width - label_w - 8 - w1
            x2 = x1 - w2
            body.append(f'<text x="{width - 8}" y="{y + 16}" text-anchor="end">{escape(name[:40])}</text>')
            body.append(f'<text x="{x2 - 6:.1f}" y="{y + 16}" text-anchor="end">'
                        f'{number(digital + manual)}</text>')
        else:
            x1 = label_w
            x2 = x1 + w1
            body.append(f'<text x="{label_w - 8}" y="{y + 16}" text-anchor="end">{escape(name[:40])}</text>')
            body.append(f'<text x="{x2 + w2 + 6:.1f}" y="{y + 16}">{number(digital + manual)}</text>')
        body.append(f'<rect class="mark" x="{x1:.1f}" y="{y}" width="{w1:.1f}" height="{row_h - 6}" '
                    f'fill="{DIGITAL}"/>')
        body.append(f'<rect class="mark" x="{x2:.1f}" y="{y}" width="{w2:.1f}" height="{row_h - 6}" '
                    f'fill="{MANUAL}"/>')
    body.append(_legend(8, height - 10, labels))
    return _svg(width, height, body, title)


def _legend(x: int, y: int, labels: tuple[str, str]) -> str:
    return (f'<rect x="{x}" y="{y - 10}" width="12" height="12" fill="{DIGITAL}"/>'
            f'<text x="{x + 18}" y="{y}">{escape(labels[0])}</text>'
            f'<rect x="{x + 130}" y="{y - 10}" width="12" height="12" fill="{MANUAL}"/>'
            f'<text x="{x + 148}" y="{y}">{escape(labels[1])}</text>')


def trend_lines(points: Sequence[tuple[datetime, str, int]], labels: tuple[str, str], title: str) -> str:
    """Daily digital and manual transactions; ``labels`` are the two series' names as the
    query returns them (digital first)."""
    width, height, pad = 640, 260, 44
    days = sorted({p[0] for p in points})
    if not days:
        return _svg(width, height, [], title)
    index = {d: i for i, d in enumerate(days)}
    top = max(p[2] for p in points) or 1
    sx = (width - 2 * pad) / max(1, len(days) - 1)
    sy = (height - 2 * pad) / top
    body = [f'<line x1="{pad}" y1="{height - pad}" x2="{width - pad}" y2="{height - pad}" stroke="#999"/>',
            f'<text x="{pad}" y="{height - pad + 18}">{days[0]:%Y-%m-%d}</text>',
            f'<text x="{width - pad}" y="{height - pad + 18}" text-anchor="end">{days[-1]:%Y-%m-%d}</text>',
            f'<text x="{pad - 6}" y="{pad}" text-anchor="end">{number(top)}</text>']
    for label, colour in zip(labels, (DIGITAL, MANUAL), strict=True):
        series = sorted((index[d], v) for d, m, v in points if m == label)
        path = " ".join(f"{pad + i * sx:.1f},{height - pad - v * sy:.1f}" for i, v in series)
        if path:
            body.append(f'<polyline class="mark" points="{path}" fill="none" stroke="{colour}" '
                        f'stroke-width="2"/>')
    body.append(_legend(pad, 18, labels))
    return _svg(width, height, body, title)


def takeup_map(governorates: Sequence[tuple[str, float, float, int, int, float]], title: str,
               rtl: bool = False) -> str:
    """Governorate centres on a schematic outline, sized by transactions, coloured by take-up."""
    k = 62.0
    kx = k * math.cos(math.radians(21.0))
    width, height = round((LON1 - LON0) * kx), round((LAT1 - LAT0) * k)

    def xy(lon: float, lat: float) -> tuple[float, float]:
        return (lon - LON0) * kx, (LAT1 - lat) * k

    def polygon(points: list[tuple[float, float]]) -> str:
        return " ".join(f"{x:.1f},{y:.1f}" for x, y in (xy(lon, lat) for lon, lat in points))

    body = [f'<polygon points="{polygon(shape)}" fill="#eef2f0" stroke="#8aa39a" stroke-width="1.5"/>'
            for shape in (MAINLAND, MUSANDAM)]
    top = max((g[4] for g in governorates), default=1) or 1
    direction = ' direction="rtl"' if rtl else ""
    labels: list[tuple[float, float, str, str, float, float]] = []
    for name, lat, lon, digital, total, share in sorted(governorates, key=lambda g: -g[4]):
        x, y = xy(lon, lat)
        r = 7 + 23 * math.sqrt(total / top)
        body.append(f'<circle class="mark" cx="{x:.1f}" cy="{y:.1f}" r="{r:.1f}" '
                    f'fill="{takeup_colour(share)}" fill-opacity="0.85" stroke="#333" stroke-width="0.8">'
                    f'<title>{escape(name)}: {share * 100:.1f}% ({number(digital)} / {number(total)})</title>'
                    f'</circle>')
        west = lon < 56.6 or lon > 59.0  # left of the circle in the west and at the eastern tip
        labels.append((x - r - 4 if west else x + r + 4, y + 4, "end" if west else "start",
                       f"{name} {share * 100:.0f}%", x, y))
    body += _place_labels(labels, direction)
    for i, share in enumerate((0.0, 0.25, 0.5, 0.75, 1.0)):  # colour key
        body.append(f'<rect x="{12 + i * 34}" y="{height - 30}" width="34" height="12" '
                    f'fill="{takeup_colour(share)}"/>'
                    f'<text x="{12 + i * 34}" y="{height - 8}" class="small">{share * 100:.0f}%</text>')
    return _svg(width, height, body, title)


def _place_labels(labels: list[tuple[float, float, str, str, float, float]], direction: str) -> list[str]:
    """Labels beside their circles, moved down when they would overlap one already placed
    (widths estimated from the text length: good enough for eleven names); a moved label
    gets a leader line to its circle's centre."""
    placed: list[tuple[float, float, float, float]] = []
    out = []
    for x, y0, anchor, text, cx, cy in sorted(labels, key=lambda item: item[1]):
        w, y = 6.3 * len(text), y0
        left = x - w if anchor == "end" else x
        while any(left < r and left + w > lft and y - 11 < b and y + 2 > t for lft, t, r, b in placed):
            y += 13
        placed.append((left, y - 11, left + w, y + 2))
        if y != y0:
            out.append(f'<line x1="{x:.1f}" y1="{y - 4:.1f}" x2="{cx:.1f}" y2="{cy:.1f}" '
                       f'stroke="#55625e" stroke-width="0.7"/>')
        out.append(f'<text x="{x:.1f}" y="{y:.1f}" text-anchor="{anchor}" class="map-label"{direction}>'
                   f'{escape(text)}</text>')
    return out
