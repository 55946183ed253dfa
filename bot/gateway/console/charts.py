"""The statistics chart's geometry: bars per day, drawn by the template as inline SVG (no
JavaScript, no inline styles: colours come from console.css classes)."""

from __future__ import annotations

import math
from dataclasses import dataclass

from bot.gateway.console.stats import DayCounts

WIDTH = 720
HEIGHT = 260
LEFT = 44
RIGHT = 8
TOP = 16
BOTTOM = 36


@dataclass(frozen=True)
class Bar:
    label: str
    x: float
    width: float
    total_y: float
    total_height: float
    taken_y: float
    taken_height: float
    total: int
    taken: int


@dataclass(frozen=True)
class GridLine:
    y: float
    value: int


@dataclass(frozen=True)
class BarChart:
    width: int
    height: int
    left: int
    baseline: float
    bars: list[Bar]
    grid: list[GridLine]


def nice_ceiling(value: int) -> int:
    """The axis maximum: four equal whole grid steps (1, 2, 3, 4, 5, 6 or 8 times a power of
    ten) covering the value."""
    needed = max(value, 1) / 4
    power = 10 ** math.floor(math.log10(needed)) if needed >= 1 else 1
    step = next(m * power for m in (1, 2, 3, 4, 5, 6, 8, 10) if m * power >= needed)
    return 4 * step


def conversations_chart(days: list[DayCounts]) -> BarChart:
    top = nice_ceiling(max((day.conversations for day in days), default=0))
    plot_height = HEIGHT - TOP - BOTTOM
    baseline = TOP + plot_height
    slot = (WIDTH - LEFT - RIGHT) / max(len(days), 1)
    bars = []
    for i, day in enumerate(days):
        total_h = plot_height * day.conversations / top
        taken_h = plot_height * day.taken / top
        bars.append(Bar(day.label, round(LEFT + i * slot + slot * 0.15, 1), round(slot * 0.7, 1),
                        round(baseline - total_h, 1), round(total_h, 1),
                        round(baseline - taken_h, 1), round(taken_h, 1),
                        day.conversations, day.taken))
    grid = [GridLine(round(baseline - plot_height * part / 4, 1), top * part // 4)
            for part in range(5)]
    return BarChart(WIDTH, HEIGHT, LEFT, baseline, bars, grid)
