"""Bar charts drawn on the server as SVG: a page shows its statistics without script."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Bar:
    label: str
    value: int
    y: int
    width: float


@dataclass(frozen=True)
class BarChart:
    title: str
    bars: list[Bar]
    height: int
    label_width: int = 150
    plot_width: int = 330
    row: int = 28


def bar_chart(title: str, items: list[tuple[str, int]]) -> BarChart:
    top = max((v for _, v in items), default=0) or 1
    chart = BarChart(title, [], height=len(items) * 28 + 10)
    bars = [
        Bar(label, value, 5 + i * chart.row, chart.plot_width * value / top)
        for i, (label, value) in enumerate(items)
    ]
    return BarChart(title, bars, chart.height)
