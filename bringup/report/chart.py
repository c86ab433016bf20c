"""Admitted capacity over time as an SVG step chart, one line per SKU, drawn with drawsvg.

A line holds its value until the next change, as capacity does: it moves when a node is
admitted or leaves admitted. Lines are coloured by their SKU's place (classes ``s0`` … ``s7``,
then again), which the page's legend repeats.
"""

from __future__ import annotations

from datetime import UTC, datetime

import drawsvg as draw  # type: ignore[import-untyped]

from bringup.report.model import CapacityChart
from bringup.report.svg import attr, inline_svg

WIDTH = 760
HEIGHT = 220
LEFT = 56
RIGHT = 12
TOP = 10
BOTTOM = 28
SERIES_CLASSES = 8


def series_class(index: int) -> str:
    """The CSS class of the SKU line at `index`."""
    return f"s{index % SERIES_CLASSES}"


def capacity_svg(chart: CapacityChart) -> str:
    """The chart as an inline SVG element; empty when no SKU has GPUs."""
    if not chart.skus:
        return ""
    start, end = chart.points[0][0], chart.points[-1][0]
    span = (end - start).total_seconds() or 1.0  # one point: drawn at the left edge
    peak = max(max(values, default=0) for _, values in chart.points) or 1
    plot_w, plot_h = WIDTH - LEFT - RIGHT, HEIGHT - TOP - BOTTOM

    def x(at: datetime) -> float:
        return round(LEFT + plot_w * (at - start).total_seconds() / span, 1)

    def y(value: int) -> float:
        return round(TOP + plot_h * (1 - value / peak), 1)

    drawing = draw.Drawing(
        WIDTH,
        HEIGHT,
        class_="chart",
        role="img",
        aria_label=attr(f"admitted GPUs per SKU, {start:%Y-%m-%d} to {end:%Y-%m-%d}"),
    )
    for value in sorted({0, peak // 2, peak}):
        drawing.append(draw.Line(LEFT, y(value), WIDTH - RIGHT, y(value), class_="grid"))
        drawing.append(draw.Text(f"{value:,}", 10, LEFT - 6, y(value) + 3, class_="yl"))
    shown = "%Y-%m-%d %H:%M" if span >= 3600 else "%Y-%m-%d %H:%M:%S"
    for at, anchor in ((start, "start"), (end, "end")):
        label = f"{at.astimezone(UTC):{shown}} UTC"
        drawing.append(draw.Text(label, 10, x(at), HEIGHT - 8, class_=f"xl {anchor}"))
    for index, sku in enumerate(chart.skus):
        steps = []
        previous: float | None = None
        for at, values in chart.points:
            px, py = x(at), y(values[index])
            if previous is None:
                steps.append(f"M{px:g} {py:g}")
            else:
                steps.append(f"H{px:g}V{py:g}" if py != previous else f"H{px:g}")
            previous = py
        line = draw.Path(d="".join(steps), class_=f"cl {series_class(index)}")
        line.append_title(f"{sku}: {chart.points[-1][1][index]:,} GPUs admitted now")
        drawing.append(line)
    return inline_svg(drawing)
