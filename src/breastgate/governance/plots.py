"""Deterministic inline SVG line plots for the validation report (no plotting library).

Coordinates are printed with two decimals and every element in a fixed order, so the same data
always gives the same bytes (the report is compared byte for byte across runs).
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from html import escape

__all__ = ["Series", "line_plot", "nice_max"]

WIDTH, HEIGHT = 360, 300
LEFT, RIGHT, TOP, BOTTOM = 48, 12, 28, 40
COLOURS = ("#1f4e9c", "#c0392b", "#2e7d32", "#8e44ad")


@dataclass(frozen=True)
class Series:
    """A polyline (``points`` as (x, y) in data units), optionally with a dot at each point.

    Empirical ROC and FROC points (one per distinct threshold) are joined by straight lines: a
    segment across tied scores is the diagonal that counts a tie as one half.
    """

    label: str
    points: Sequence[tuple[float, float]]
    dots: bool = False


def _ticks(maximum: float) -> list[float]:
    return [maximum * k / 5 for k in range(6)]


def nice_max(value: float) -> float:
    """The smallest of 1, 2, 2.5, 5 × 10^k at or above ``value`` (axis ends with round ticks)."""
    if value <= 0:
        return 1.0
    power = 10.0 ** math.floor(math.log10(value))
    return next(m * power for m in (1.0, 2.0, 2.5, 5.0, 10.0) if m * power >= value * (1 - 1e-12))


def line_plot(
    title: str,
    series: Sequence[Series],
    *,
    x_label: str,
    y_label: str,
    x_max: float = 1.0,
    y_max: float = 1.0,
    diagonal: bool = False,
) -> str:
    """An SVG plot of ``series`` on [0, x_max] × [0, y_max] with axes, a grid and a legend;
    ``diagonal`` draws the chance / perfect-calibration line."""
    x_max = x_max if x_max > 0 else 1.0
    y_max = y_max if y_max > 0 else 1.0
    plot_w, plot_h = WIDTH - LEFT - RIGHT, HEIGHT - TOP - BOTTOM

    def px(x: float, y: float) -> str:
        cx = LEFT + plot_w * min(max(x / x_max, 0.0), 1.0)
        cy = TOP + plot_h * (1.0 - min(max(y / y_max, 0.0), 1.0))
        return f"{cx:.2f},{cy:.2f}"

    parts = [
        f'<svg xmlns="http://www.w3.org/2000/svg" width="{WIDTH * 3 // 5}" height="{HEIGHT * 3 // 5}" '
        f'viewBox="0 0 {WIDTH} {HEIGHT}" role="img" aria-label="{escape(title)}" '
        'font-family="sans-serif" font-size="10">',
        f'<text x="{WIDTH / 2:.0f}" y="16" text-anchor="middle" font-size="12" font-weight="bold">'
        f"{escape(title)}</text>",
        f'<rect x="{LEFT}" y="{TOP}" width="{plot_w}" height="{plot_h}" fill="white" stroke="#444"/>',
    ]
    for k, (tx, ty) in enumerate(zip(_ticks(x_max), _ticks(y_max), strict=True)):
        x0 = px(tx, 0).split(",")[0]
        y1 = px(0, ty).split(",")[1]
        if 0 < k < 5:
            parts.append(f'<line x1="{x0}" y1="{TOP}" x2="{x0}" y2="{TOP + plot_h}" stroke="#ddd"/>')
            parts.append(f'<line x1="{LEFT}" y1="{y1}" x2="{LEFT + plot_w}" y2="{y1}" stroke="#ddd"/>')
        parts.append(f'<text x="{x0}" y="{TOP + plot_h + 14}" text-anchor="middle">{tx:.2f}</text>')
        parts.append(f'<text x="{LEFT - 4}" y="{float(y1) + 3:.2f}" text-anchor="end">{ty:.2f}</text>')
    parts.append(
        f'<text x="{LEFT + plot_w / 2:.0f}" y="{HEIGHT - 8}" text-anchor="middle">{escape(x_label)}</text>'
    )
    parts.append(
        f'<text x="12" y="{TOP + plot_h / 2:.0f}" text-anchor="middle" '
        f'transform="rotate(-90 12 {TOP + plot_h / 2:.0f})">{escape(y_label)}</text>'
    )
    if diagonal:
        parts.append(
            f'<line x1="{px(0, 0).split(",")[0]}" y1="{px(0, 0).split(",")[1]}" '
            f'x2="{px(x_max, y_max).split(",")[0]}" y2="{px(x_max, y_max).split(",")[1]}" '
            'stroke="#999" stroke-dasharray="4 3"/>'
        )
    for k, s in enumerate(series):
        colour = COLOURS[k % len(COLOURS)]
        pts = list(s.points)
        if len(pts) > 1:
            coords = " ".join(px(x, y) for x, y in pts)
            parts.append(f'<polyline points="{coords}" fill="none" stroke="{colour}" stroke-width="1.8"/>')
        if s.dots or len(pts) == 1:
            for x, y in s.points:
                cx, cy = px(x, y).split(",")
                parts.append(f'<circle cx="{cx}" cy="{cy}" r="3" fill="{colour}"/>')
        # Legend in the lower right corner, which ROC, FROC and calibration curves rarely cross.
        ly = TOP + plot_h - 8 - 14 * (len(series) - 1 - k)
        lx = LEFT + plot_w - 150
        parts.append(f'<rect x="{lx}" y="{ly - 5}" width="10" height="3" fill="{colour}"/>')
        parts.append(f'<text x="{lx + 14}" y="{ly}">{escape(s.label)}</text>')
    parts.append("</svg>")
    return "\n".join(parts)
