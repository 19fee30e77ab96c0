"""Every chart of the platform as SVG text, drawn on the server so pages need no script:
a heat table (ecosystem x area), a tile map of countries or regions coloured by a value,
a colour legend, stacked monthly bars and horizontal bars (an event's statistics).

Pure functions from numbers to SVG text (no web, database or service import). Every
piece of text is XML-escaped and every number checked finite, so a hostile name or a
NaN cannot break the picture or inject markup.

One hand-written module rather than a charting library: pygal has no heat table and
matplotlib costs about a second to import and tens of milliseconds per picture (see
README, "Observatory pages"), for pictures that are a few rectangles and labels.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from xml.sax.saxutils import escape, quoteattr

# A tile grid of the partner countries (no geometry package ships tiles for them, and
# polygons would weigh more than the page): the EU roughly where it lies, the other
# partner countries on a row of their own.
COUNTRY_TILES: dict[str, tuple[int, int]] = {
    "SE": (4, 0), "FI": (5, 0),
    "IE": (0, 1), "DK": (3, 1), "EE": (5, 1),
    "NL": (2, 2), "DE": (3, 2), "PL": (4, 2), "LV": (5, 2),
    "BE": (2, 3), "CZ": (3, 3), "SK": (4, 3), "LT": (5, 3),
    "FR": (1, 4), "LU": (2, 4), "AT": (3, 4), "HU": (4, 4), "RO": (5, 4),
    "PT": (0, 5), "ES": (1, 5), "IT": (2, 5), "SI": (3, 5), "HR": (4, 5), "BG": (5, 5),
    "MT": (2, 6), "GR": (5, 6), "CY": (6, 6),
    "BR": (0, 8), "MA": (1, 8), "TN": (2, 8), "IN": (4, 8), "KR": (5, 8), "JP": (6, 8),
}  # fmt: skip

TILE = 44
FONT = "font-family='system-ui, sans-serif'"


@dataclass(frozen=True)
class Scale:
    """Maps a value to a colour: sequential (0 .. max) or diverging around 1 (for the
    location quotient, on a log scale so 0.5 and 2 are as far from 1)."""

    kind: str  # "sequential" or "quotient"
    top: float = 1.0

    def colour(self, value: float | None) -> str:
        if value is None or not math.isfinite(value):
            return "#eeeeee"
        if self.kind == "quotient":
            t = max(-1.0, min(1.0, math.log2(max(value, 1e-9)) / 2))  # 1/4 .. 4
            return _mix((255, 255, 255), (178, 24, 43) if t > 0 else (33, 102, 172), abs(t))
        t = 0.0 if self.top <= 0 else max(0.0, min(1.0, value / self.top))
        return _mix((247, 251, 255), (8, 81, 156), t)


def _mix(a: tuple[int, int, int], b: tuple[int, int, int], t: float) -> str:
    r, g, bl = (round(x + (y - x) * t) for x, y in zip(a, b, strict=True))
    return f"#{r:02x}{g:02x}{bl:02x}"


def _is_dark(colour: str) -> bool:
    r, g, b = (int(colour[i : i + 2], 16) for i in (1, 3, 5))
    return 0.299 * r + 0.587 * g + 0.114 * b < 140


def _text(x: float, y: float, s: str, *, size: int = 11, anchor: str = "start",
          weight: str = "normal", fill: str = "#222") -> str:  # fmt: skip
    return (
        f"<text x='{x:.1f}' y='{y:.1f}' font-size='{size}' text-anchor='{anchor}' "
        f"font-weight='{weight}' fill='{fill}' {FONT}>{escape(s)}</text>"
    )


def _svg(width: float, height: float, title: str, body: list[str]) -> str:
    return (
        f"<svg xmlns='http://www.w3.org/2000/svg' width='{width:.0f}' height='{height:.0f}' "
        f"viewBox='0 0 {width:.0f} {height:.0f}' role='img' aria-label={quoteattr(title)}>"
        f"<title>{escape(title)}</title>{''.join(body)}</svg>"
    )


def _fmt(value: float | None) -> str:
    if value is None or not math.isfinite(value):
        return ""
    return f"{value:.0f}" if float(value).is_integer() else f"{value:.2f}"


def heat_table(
    title: str,
    rows: Sequence[str],
    columns: Sequence[str],
    values: Mapping[tuple[str, str], float],
    *,
    quotient: bool = False,
    row_labels: Mapping[str, str] | None = None,
    column_labels: Mapping[str, str] | None = None,
) -> str:
    """A table of coloured cells, one row per `rows` item (ecosystems), one column per
    `columns` item (countries or regions), each cell showing its value."""
    finite = [v for v in values.values() if math.isfinite(v)]
    scale = Scale("quotient") if quotient else Scale("sequential", max(finite, default=1.0))
    left, top, cw, ch = 210, 70, 46, 24
    body = [_text(4, 16, title, size=14, weight="bold")]
    for j, col in enumerate(columns):
        x = left + j * cw + cw / 2
        label = (column_labels or {}).get(col, col)
        body.append(
            f"<g transform='translate({x:.1f},{top - 6}) rotate(-45)'>"
            + _text(0, 0, label[:18], size=10)
            + "</g>"
        )
    for i, row in enumerate(rows):
        y = top + i * ch
        body.append(_text(left - 6, y + ch * 0.68, (row_labels or {}).get(row, row)[:32],
                          anchor="end"))  # fmt: skip
        for j, col in enumerate(columns):
            v = values.get((row, col))
            x = left + j * cw
            tip = escape(f"{row} / {col}: {_fmt(v)}")
            body.append(
                f"<rect x='{x}' y='{y}' width='{cw - 2}' height='{ch - 2}' "
                f"fill='{scale.colour(v)}'><title>{tip}</title></rect>"
            )
            if v is not None and math.isfinite(v):
                dark = _is_dark(scale.colour(v))  # white text on a dark cell
                body.append(_text(x + (cw - 2) / 2, y + ch * 0.66, _fmt(v), size=10,
                                  anchor="middle", fill="#fff" if dark else "#222"))  # fmt: skip
    return _svg(left + len(columns) * cw + 10, top + len(rows) * ch + 10, title, body)


def tile_map(
    title: str,
    values: Mapping[str, float],
    *,
    quotient: bool = False,
    names: Mapping[str, str] | None = None,
    areas: Sequence[str] = (),
    links: Mapping[str, str] | None = None,
) -> str:
    """Countries (ISO 3166-1 codes) on the partner tile grid, or regions (ISO 3166-2
    codes: laid out per country, a row each), coloured by value. `areas` adds tiles
    without a value (grey: nothing there); `links` makes a tile a link."""
    finite = [v for v in values.values() if math.isfinite(v)]
    scale = Scale("quotient") if quotient else Scale("sequential", max(finite, default=1.0))
    codes_shown = sorted(set(values) | set(areas))
    places: dict[str, tuple[int, int]] = {}
    if all("-" not in code for code in codes_shown):
        extra = sorted(c for c in codes_shown if c not in COUNTRY_TILES)
        places = {c: COUNTRY_TILES[c] for c in codes_shown if c in COUNTRY_TILES}
        places |= {c: (i % 8, 10 + i // 8) for i, c in enumerate(extra)}
    else:
        by_country: dict[str, list[str]] = {}
        for code in codes_shown:
            by_country.setdefault(code.split("-")[0], []).append(code)
        row = 0
        for _, codes in sorted(by_country.items()):
            for i, code in enumerate(codes):
                places[code] = (i % 12, row + i // 12)
            row += (len(codes) + 11) // 12
    top = 30
    body = [_text(4, 18, title, size=14, weight="bold")]
    for code, (cx, cy) in places.items():
        x, y = 4 + cx * TILE, top + cy * TILE
        v = values.get(code)
        label = (names or {}).get(code, code)
        fill = scale.colour(v)
        ink = "#fff" if _is_dark(fill) else "#222"
        tile = [
            f"<rect x='{x}' y='{y}' width='{TILE - 3}' height='{TILE - 3}' rx='4' "
            f"fill='{fill}' stroke='#999' stroke-width='0.5'>"
            f"<title>{escape(f'{label}: {_fmt(v) or chr(8212)}')}</title></rect>",
            _text(x + (TILE - 3) / 2, y + 17, code.split("-")[-1], size=11, anchor="middle",
                  weight="bold", fill=ink),
            _text(x + (TILE - 3) / 2, y + 32, _fmt(v), size=9, anchor="middle", fill=ink),
        ]  # fmt: skip
        href = (links or {}).get(code)
        if href is not None:
            tile = [f"<a href={quoteattr(href)}>", *tile, "</a>"]
        body.extend(tile)
    width = 8 + (max((p[0] for p in places.values()), default=0) + 1) * TILE
    height = top + 4 + (max((p[1] for p in places.values()), default=0) + 1) * TILE
    return _svg(max(width, 240, 8 * len(title) + 10), height, title, body)


def monthly_bars(title: str, months: Sequence[str], series: Mapping[str, Sequence[int]]) -> str:
    """Stacked bars per month (e.g. labels awarded by level), a legend above."""
    colours = ["#8c510a", "#bababa", "#dfc27d", "#01665e", "#5ab4ac", "#c7eae5"]
    names = list(series)
    totals = [sum(int(series[n][i]) for n in names) for i in range(len(months))]
    top_value = max(totals, default=0) or 1
    left, top, plot_h, bw = 40, 50, 160, 18
    body = [_text(4, 16, title, size=14, weight="bold")]
    for k, name in enumerate(names):
        body.append(f"<rect x='{left + k * 110}' y='24' width='10' height='10' "
                    f"fill='{colours[k % len(colours)]}'/>")  # fmt: skip
        body.append(_text(left + k * 110 + 14, 33, name, size=10))
    body.append(_text(left - 4, top + 8, str(top_value), size=9, anchor="end"))
    body.append(_text(left - 4, top + plot_h, "0", size=9, anchor="end"))
    for i, month in enumerate(months):
        x, y = left + i * (bw + 4), float(top + plot_h)
        for k, name in enumerate(names):
            h = plot_h * int(series[name][i]) / top_value
            y -= h
            body.append(
                f"<rect x='{x}' y='{y:.1f}' width='{bw}' height='{h:.1f}' "
                f"fill='{colours[k % len(colours)]}'>"
                f"<title>{escape(f'{month} {name}: {int(series[name][i])}')}</title></rect>"
            )
        if i % 3 == 0:
            body.append(_text(x, top + plot_h + 14, month[:7], size=9))
    return _svg(left + len(months) * (bw + 4) + 20, top + plot_h + 24, title, body)


def legend(scale: Scale) -> list[tuple[str, str]]:
    """Swatches (label, colour) that explain `scale`: the same colours the cells use."""
    if scale.kind == "quotient":
        steps = [0.25, 0.5, 1.0, 2.0, 4.0]
        labels = ["1/4 or less", "1/2", "1 (as the registry)", "2", "4 or more"]
        return [(label, scale.colour(v)) for label, v in zip(labels, steps, strict=True)]
    top = scale.top if scale.top > 0 else 1.0
    steps = [0.0, top / 4, top / 2, 3 * top / 4, top]
    if top >= 4:  # counts: whole numbers read better than 0.75 of a cluster
        steps = [float(round(v)) for v in steps]
    return [(_fmt(round(v, 2)) or "0", scale.colour(v)) for v in steps]


def bars(title: str, items: Sequence[tuple[str, int]]) -> str:
    """Horizontal bars, one per (label, value), each value written after its bar."""
    label_w, plot_w, row = 150, 330, 28
    top_value = max((v for _, v in items), default=0) or 1
    body: list[str] = []
    for i, (label, value) in enumerate(items):
        y = 5 + i * row
        w = plot_w * value / top_value
        body.append(_text(label_w - 8, y + 17, label, size=13, anchor="end"))
        body.append(f"<rect x='{label_w}' y='{y + 3}' width='{w:.1f}' height='20' fill='#1f5fbf'>"
                    f"<title>{escape(f'{label}: {value}')}</title></rect>")  # fmt: skip
        body.append(_text(label_w + w + 6, y + 17, str(value), size=13))
    described = title + ": " + ", ".join(f"{label} {value}" for label, value in items)
    return _svg(label_w + plot_w + 50, len(items) * row + 10, described, body)
