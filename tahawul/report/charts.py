"""Inline SVG charts: stacked horizontal bars, a two-series line chart and the map.

Hand-written SVG rather than a charting library: the page must work offline and be
archived as one file, and these three shapes are a few dozen lines each. Every chart is an
``<svg class="chart">`` whose marks carry ``class="mark"``; the page counts them when it
loads (the browser test reads that count). The bars and the lines have a value axis with
ticks, so a reader can read any mark, not only the largest; names too long for their
space are shortened on a word boundary with the full name as the element's ``<title>``
(shown on hover); map labels are placed where they cover no other label and no bubble.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from datetime import date, datetime, timedelta
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


MONTHS = {
    "en": ("Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"),
    "ar": ("يناير", "فبراير", "مارس", "أبريل", "مايو", "يونيو", "يوليو", "أغسطس", "سبتمبر",
           "أكتوبر", "نوفمبر", "ديسمبر"),
}


def day_text(day: date, lang: str) -> str:
    """A day as an official reads it: "30 Jun 2025" or "30 يونيو 2025". Month names rather
    than 2025-06-30, whose parts an Arabic (right-to-left) line reorders into 30-06-2025."""
    return f"{day.day} {MONTHS[lang][day.month - 1]} {day.year}"


def isolate(text: str) -> str:
    """Left-to-right text (a number with its % sign) kept whole inside right-to-left text:
    Unicode's LEFT-TO-RIGHT ISOLATE ... POP DIRECTIONAL ISOLATE."""
    return f"\u2066{text}\u2069"


def shorten(name: str, limit: int) -> str:
    """``name`` cut to at most ``limit`` characters on a word boundary, with an ellipsis;
    never mid-word (a single over-long word is the only thing ever cut inside)."""
    if len(name) <= limit:
        return name
    cut = name[:limit - 1]
    space = cut.rfind(" ")
    if name[limit - 1] != " " and space > 0:  # the cut fell inside a word: drop its start
        cut = cut[:space]
    return cut.rstrip(" ,;:-–(") + "…"


def _name(x: float, y: float, name: str, limit: int, rtl: bool) -> str:
    """A name ending at ``x`` (English) or starting there (Arabic, right to left), shortened
    to ``limit``, with the full name in its <title>. In an rtl text, "start" is the right."""
    direction = ' direction="rtl" text-anchor="start"' if rtl else ' text-anchor="end"'
    return (f'<text x="{x:.1f}" y="{y:.1f}"{direction} class="name">'
            f'<title>{escape(name)}</title>{escape(shorten(name, limit))}</text>')


def nice_ticks(top: float, count: int = 5) -> list[float]:
    """Round tick values from 0 to at least ``top`` (1, 2 or 5 times a power of ten apart)."""
    if top <= 0:
        return [0.0, 1.0]
    raw = top / count
    power = 10 ** math.floor(math.log10(raw))
    step = next(m * power for m in (1, 2, 5, 10) if m * power >= raw)
    n = math.ceil(top / step - 1e-9)
    return [i * step for i in range(n + 1)]


def stacked_bars(rows: Sequence[tuple[str, int, int]], labels: tuple[str, str], title: str,
                 rtl: bool) -> str:
    """One bar per row (name, digital, manual), longest first, over a value axis."""
    width, row_h, label_w, limit = 640, 26, 250, 38
    plot_w = width - label_w - 70
    bottom = 8 + row_h * len(rows)
    height = bottom + 56
    ticks = nice_ticks(max((d + m for _, d, m in rows), default=1))
    scale = plot_w / ticks[-1]
    # Left to right in English; mirrored in Arabic (names on the right, bars growing left).
    origin = width - label_w - 8 if rtl else label_w
    sign = -1 if rtl else 1
    body = []
    for v in ticks:  # the axis: gridlines, ticks and values under the bars
        x = origin + sign * v * scale
        body.append(f'<line class="gridline" x1="{x:.1f}" y1="4" x2="{x:.1f}" y2="{bottom}" '
                    f'stroke="#e3e8e5"/>'
                    f'<line x1="{x:.1f}" y1="{bottom}" x2="{x:.1f}" y2="{bottom + 4}" stroke="#777"/>'
                    f'<text class="tick" x="{x:.1f}" y="{bottom + 16}" text-anchor="middle">'
                    f'{number(v)}</text>')
    body.append(f'<line class="axis" x1="{origin}" y1="{bottom}" x2="{origin + sign * plot_w:.1f}" '
                f'y2="{bottom}" stroke="#777"/>')
    for i, (name, digital, manual) in enumerate(rows):
        y = 8 + i * row_h
        w1, w2 = digital * scale, manual * scale
        if rtl:
            x1 = origin - w1
            x2 = x1 - w2
            body.append(_name(width - 8, y + 16, name, limit, rtl))
            body.append(f'<text x="{x2 - 6:.1f}" y="{y + 16}" text-anchor="end">'
                        f'{number(digital + manual)}</text>')
        else:
            x1 = origin
            x2 = x1 + w1
            body.append(_name(label_w - 8, y + 16, name, limit, rtl))
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


def _day_ticks(first: date, last: date) -> list[date]:
    """Month starts for a long range, weeks for a short one."""
    if (last - first).days > 60:
        months = []
        d = first.replace(day=1)
        while d <= last:
            if d >= first:
                months.append(d)
            d = (d + timedelta(days=32)).replace(day=1)
        return months
    return [first + timedelta(days=7 * i) for i in range((last - first).days // 7 + 1)]


def trend_lines(points: Sequence[tuple[datetime, str, int]], labels: tuple[str, str], title: str,
                lang: str = "en") -> str:
    """Daily digital and manual transactions over a time axis and a value axis; ``labels``
    are the two series' names as the query returns them (digital first)."""
    width, height, left, right, top_pad, bottom_pad = 640, 280, 56, 16, 34, 40
    days = sorted({p[0] for p in points})
    if not days:
        return _svg(width, height, [], title)
    index = {d: i for i, d in enumerate(days)}
    ticks = nice_ticks(max(p[2] for p in points) or 1)
    plot_w, plot_h = width - left - right, height - top_pad - bottom_pad
    sx = plot_w / max(1, len(days) - 1)
    sy = plot_h / ticks[-1]
    base = height - bottom_pad
    body = []
    for v in ticks:  # value axis
        y = base - v * sy
        body.append(f'<line class="gridline" x1="{left}" y1="{y:.1f}" x2="{width - right}" y2="{y:.1f}" '
                    f'stroke="#e3e8e5"/>'
                    f'<text class="tick" x="{left - 6}" y="{y + 4:.1f}" text-anchor="end">{number(v)}</text>')
    body.append(f'<line class="axis" x1="{left}" y1="{top_pad}" x2="{left}" y2="{base}" stroke="#777"/>')
    body.append(f'<line class="axis" x1="{left}" y1="{base}" x2="{width - right}" y2="{base}" '
                f'stroke="#777"/>')
    first, last = days[0].date(), days[-1].date()
    for d in _day_ticks(first, last):  # time axis
        x = left + (d - first).days * plot_w / max(1, (last - first).days)
        long_range = (last - first).days > 60
        text = MONTHS[lang][d.month - 1] if long_range else day_text(d, lang).rsplit(" ", 1)[0]
        body.append(f'<line x1="{x:.1f}" y1="{base}" x2="{x:.1f}" y2="{base + 4}" stroke="#777"/>'
                    f'<text class="tick" x="{x:.1f}" y="{base + 20}" text-anchor="middle">'
                    f'{escape(text)}</text>')
    for label, colour in zip(labels, (DIGITAL, MANUAL), strict=True):
        series = sorted((index[d], v) for d, m, v in points if m == label)
        path = " ".join(f"{left + i * sx:.1f},{base - v * sy:.1f}" for i, v in series)
        if path:
            body.append(f'<polyline class="mark" points="{path}" fill="none" stroke="{colour}" '
                        f'stroke-width="1.6"/>')
    body.append(_legend(left, 18, labels))
    return _svg(width, height, body, title)


Box = tuple[float, float, float, float]  # left, top, right, bottom


def _overlaps(a: Box, b: Box, pad: float = 0.0) -> bool:
    return a[0] < b[2] + pad and b[0] < a[2] + pad and a[1] < b[3] + pad and b[1] < a[3] + pad


def _gap(box: Box, cx: float, cy: float, r: float) -> float:
    """Distance from the box to the circle's rim (negative when it reaches into the disk)."""
    nx, ny = min(max(cx, box[0]), box[2]), min(max(cy, box[1]), box[3])
    return math.hypot(nx - cx, ny - cy) - r


def _in_circle(box: Box, cx: float, cy: float, r: float) -> bool:
    return _gap(box, cx, cy, r) < 0


# Label metrics at the map's 11 px font: Noto Sans advance widths (thousandths of an em) for
# the Latin letters of the catalogue's names; for Arabic letters, above the 400 that Noto
# Naskh Arabic's joined names average in Chromium; 10 % to spare for a fallback font. The
# browser test measures the real boxes.
ADVANCE = dict(zip("abcdefghijklmnopqrstuvwxyz", (561, 615, 480, 615, 564, 344, 615, 618, 258, 258, 534, 258,
                                                  935, 618, 605, 615, 615, 413, 479, 361, 618, 508, 795, 529,
                                                  510, 470), strict=True))
ADVANCE.update({" ": 260, "%": 837, "-": 322, "'": 203, ".": 268})
UPPER, DIGIT, OTHER, ARABIC = 700, 572, 520, 440
FONT_PX, SPARE, ASCENT, DESCENT = 11.0, 1.1, 12.0, 4.0


def _advance(ch: str) -> int:
    if ch in ADVANCE:
        return ADVANCE[ch]
    if "\u0600" <= ch <= "\u06ff":
        return ARABIC
    if ch in "MW":
        return 920
    if ch.isupper():
        return UPPER
    return DIGIT if ch.isdigit() else OTHER


def _label_width(text: str) -> float:
    visible = text.replace("\u2066", "").replace("\u2069", "")
    return sum(_advance(c) for c in visible) * FONT_PX / 1000 * SPARE + 2


def place_labels(circles: Sequence[tuple[float, float, float]], texts: Sequence[str], width: float,
                 height: float, keep_out: Sequence[Box] = ()) -> list[tuple[Box, bool]]:
    """A box for each circle's label: the first of a ring of positions around the circle,
    tried nearest first, that stays in the picture, covers no other label, no circle and
    nothing in ``keep_out``, and is nearer its own circle than any other; failing that, one
    that covers no label and no circle's centre.
    Returns (box, far): far boxes are drawn with a leader line to their circle."""
    order = sorted(range(len(circles)), key=lambda i: -circles[i][2])  # big circles first
    placed: dict[int, Box] = {}
    far: dict[int, bool] = {}
    h = ASCENT + DESCENT
    for i in order:
        cx, cy, r = circles[i]
        w = _label_width(texts[i])

        def candidates(cx: float = cx, cy: float = cy, r: float = r, w: float = w) -> list[Box]:
            out = []
            for d in (3, 8, 16, 26, 38, 52, 68, 86, 106, 130):
                a = r + d
                for left, top in ((cx + a, cy - h / 2), (cx - a - w, cy - h / 2),
                                  (cx - w / 2, cy - a - h), (cx - w / 2, cy + a),
                                  (cx + a * 0.7, cy - a * 0.7 - h), (cx - a * 0.7 - w, cy - a * 0.7 - h),
                                  (cx + a * 0.7, cy + a * 0.7), (cx - a * 0.7 - w, cy + a * 0.7)):
                    out.append((left, top, left + w, top + h))
            return out

        def fits(box: Box, level: int, cx: float = cx, cy: float = cy, r: float = r) -> bool:
            """Level 0: everything; 1: may be nearer another circle (it gets a leader line);
            2: may cover circles, not their centres."""
            if box[0] < 2 or box[1] < 2 or box[2] > width - 2 or box[3] > height - 2:
                return False
            if any(_overlaps(box, other, 2.0) for other in placed.values()):
                return False
            if any(_overlaps(box, k) for k in keep_out):
                return False
            # A label next to a circle reads as that circle's: nearer its own than any other
            # (judged on the text's likely extent, 80 % of the box kept to be safe).
            if level == 0:
                mid, half = (box[0] + box[2]) / 2, (box[2] - box[0]) * 0.4
                core = (mid - half, box[1], mid + half, box[3])
                if any(_gap(core, ox, oy, orad) < _gap(core, cx, cy, r) for ox, oy, orad in circles):
                    return False
            for ox, oy, orad in circles:
                if level < 2 and _in_circle(box, ox, oy, orad + 1):
                    return False
                if _overlaps(box, (ox - 6, oy - 6, ox + 6, oy + 6)):
                    return False
            return True

        boxes = candidates()
        box, level = boxes[-1], 2
        for level in range(3):
            # A label that needs a leader line goes far enough out for the line to show.
            tried = boxes if level == 0 else boxes[16:] + boxes[:16]
            found = next((b for b in tried if fits(b, level)), None)
            if found is not None:
                box = found
                break
        placed[i] = box
        far[i] = level > 0 or boxes.index(box) >= 16  # beyond the first two rings: a leader line
    return [(placed[i], far[i]) for i in range(len(circles))]


def takeup_map(governorates: Sequence[tuple[str, float, float, int, int, float]], title: str,
               rtl: bool = False) -> str:
    """Governorate centres on a schematic outline, sized by transactions, coloured by take-up,
    each labelled with its name and take-up where the label hides nothing."""
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
    rows = sorted(governorates, key=lambda g: -g[4])
    circles, texts = [], []
    for name, lat, lon, digital, total, share in rows:
        x, y = xy(lon, lat)
        r = 7 + 23 * math.sqrt(total / top)
        circles.append((x, y, r))
        texts.append(f"{name} {isolate(f'{share * 100:.0f}%')}")
        body.append(f'<circle class="mark" cx="{x:.1f}" cy="{y:.1f}" r="{r:.1f}" '
                    f'fill="{takeup_colour(share)}" fill-opacity="0.85" stroke="#333" stroke-width="0.8">'
                    f'<title>{escape(name)}: {share * 100:.1f}% ({number(digital)} / {number(total)})</title>'
                    f'</circle>')
    key_box = (0.0, height - 44.0, 190.0, float(height))
    direction = ' direction="rtl"' if rtl else ""
    for (box, far), (cx, cy, r), text in zip(place_labels(circles, texts, width, height, [key_box]),
                                             circles, texts, strict=True):
        mx = (box[0] + box[2]) / 2
        if far:  # a leader from the label's nearest edge to the circle's rim
            ex = min(max(cx, box[0]), box[2])
            ey = min(max(cy, box[1]), box[3])
            dist = math.hypot(ex - cx, ey - cy) or 1
            rx, ry = cx + (ex - cx) * r / dist, cy + (ey - cy) * r / dist
            body.append(f'<line class="leader" x1="{ex:.1f}" y1="{ey:.1f}" x2="{rx:.1f}" y2="{ry:.1f}" '
                        f'stroke="#55625e" stroke-width="0.7"/>')
        body.append(f'<text x="{mx:.1f}" y="{box[1] + ASCENT - 1:.1f}" text-anchor="middle" class="map-label"'
                    f'{direction}>{escape(text)}</text>')
    for i, share in enumerate((0.0, 0.25, 0.5, 0.75, 1.0)):  # colour key
        body.append(f'<rect x="{12 + i * 34}" y="{height - 30}" width="34" height="12" '
                    f'fill="{takeup_colour(share)}"/>'
                    f'<text x="{12 + i * 34}" y="{height - 8}" class="small">{share * 100:.0f}%</text>')
    return _svg(width, height, body, title)
