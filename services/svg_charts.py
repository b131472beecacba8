"""Charts drawn on the server as inline SVG (G7): no script, no library, no CDN.

    svg = bar_chart(["10时", "11时"], [("扫码次数", [120, 80], BLUE), ("异常", [3, 1], RED)], stacked=False)

Every chart is plain SVG elements with presentation attributes (the back office's CSP allows no
inline styles), a <title> per bar or point (the browser shows it on hover / long press), and a
viewBox so it scales to the page on a phone. Text is escaped; numbers are formatted here. The
pages print the figures beside each chart too, for those who would rather read.
"""

from __future__ import annotations

import math
from html import escape
from typing import Sequence

BLUE, RED, GREEN, GREY, ORANGE = "#1f6fd1", "#d32f2f", "#2e7d32", "#9aa5b1", "#ef6c00"
FONT = 'font-family="sans-serif" font-size="12" fill="#52606d"'


def _nice_axis(value: float) -> tuple[float, int]:
    """A round top for an axis and its number of steps: the smallest top >= value whose 4 or 5
    steps are 1, 2, 2.5 or 5 x 10^n (ticks read 0, 5, 10, 15, 20, 25, never 6.2 or 18.8)."""
    if value <= 0:
        return 1, 4
    power = 10 ** math.floor(math.log10(value / 5))
    candidates = []
    for scale in (power, power * 10):
        for step in (1, 2, 2.5, 5):
            if step == 2.5 and scale < 10:
                continue  # 2.5 steps only where they stay whole numbers (25, 250 ...) or percentages
            for steps in (4, 5):
                if steps * step * scale >= value:
                    candidates.append((steps * step * scale, steps))
    return min(candidates)


def _number(value: float, percent: bool = False) -> str:
    if percent:
        return f"{value * 100:.1f}%"
    return f"{int(value):,}" if float(value).is_integer() else f"{value:,.1f}"


def _frame(width: int, height: int, title: str, body: list[str]) -> str:
    return (f'<svg class="chart" viewBox="0 0 {width} {height}" width="100%" role="img" '
            f'aria-label="{escape(title)}" xmlns="http://www.w3.org/2000/svg">'
            f'<title>{escape(title)}</title>{"".join(body)}</svg>')


def _axis(left: int, top: int, plot_w: int, plot_h: int, axis: tuple[float, int], percent: bool) -> list[str]:
    top_value, steps = axis
    parts = []
    for i in range(steps + 1):
        y = top + plot_h - plot_h * i / steps
        parts.append(f'<line x1="{left}" y1="{y:.1f}" x2="{left + plot_w}" y2="{y:.1f}" stroke="#e4e9f0"/>')
        parts.append(f'<text x="{left - 4}" y="{y + 4:.1f}" text-anchor="end" {FONT}>'
                     f'{escape(_number(top_value * i / steps, percent))}</text>')
    return parts


def _labels(labels: Sequence[str], left: int, slot: float, y: float) -> list[str]:
    every = max(1, math.ceil(len(labels) / 12))  # at most ~12 labels: they must stay readable
    return [f'<text x="{left + slot * (i + 0.5):.1f}" y="{y}" text-anchor="middle" {FONT}>{escape(str(label))}</text>'
            for i, label in enumerate(labels) if i % every == 0]


def _legend(series, x: int, y: int) -> list[str]:
    parts = []
    for name, _, colour in series:
        parts.append(f'<rect x="{x}" y="{y - 9}" width="10" height="10" fill="{colour}"/>'
                     f'<text x="{x + 14}" y="{y}" {FONT}>{escape(name)}</text>')
        x += 24 + 12 * len(name)
    return parts


def bar_chart(labels: Sequence[str], series: Sequence[tuple[str, Sequence[float], str]], title: str = "",
              stacked: bool = True, width: int = 640, height: int = 240, percent: bool = False) -> str:
    """Vertical bars, one group per label; several series are stacked (or side by side)."""
    left, top, right, bottom = 52, 24, 10, 28
    plot_w, plot_h = width - left - right, height - top - bottom
    count = max(1, len(labels))
    if stacked:
        peak = max([sum(s[1][i] for s in series) for i in range(len(labels))] or [0])
    else:
        peak = max([max(s[1]) if len(s[1]) else 0 for s in series] or [0])
    axis = _nice_axis(peak)
    top_value = axis[0]
    slot = plot_w / count
    body = _axis(left, top, plot_w, plot_h, axis, percent) + _legend(series, left, 12)
    for i, label in enumerate(labels):
        base = 0.0
        for k, (name, values, colour) in enumerate(series):
            value = values[i] if i < len(values) else 0
            bar_h = plot_h * value / top_value
            if stacked:
                x, w = left + slot * i + slot * 0.15, slot * 0.7
                y = top + plot_h - plot_h * base / top_value - bar_h
                base += value
            else:
                w = slot * 0.7 / len(series)
                x, y = left + slot * i + slot * 0.15 + w * k, top + plot_h - bar_h
            body.append(f'<rect x="{x:.1f}" y="{y:.1f}" width="{max(w, 0.5):.1f}" height="{max(bar_h, 0):.1f}" '
                        f'fill="{colour}"><title>{escape(str(label))} {escape(name)}：'
                        f'{escape(_number(value, percent))}</title></rect>')
    body += _labels(labels, left, slot, height - 8)
    return _frame(width, height, title, body)


def line_chart(labels: Sequence[str], values: Sequence[float], title: str = "", colour: str = RED,
               percent: bool = False, width: int = 640, height: int = 220, name: str = "") -> str:
    """One line with a dot per point (e.g. the abnormal share per day)."""
    left, top, right, bottom = 52, 24, 10, 28
    plot_w, plot_h = width - left - right, height - top - bottom
    axis = _nice_axis(max(values or [0]))
    top_value = axis[0]
    slot = plot_w / max(1, len(labels))
    points = [(left + slot * (i + 0.5), top + plot_h - plot_h * v / top_value) for i, v in enumerate(values)]
    body = _axis(left, top, plot_w, plot_h, axis, percent)
    if name:
        body += _legend([(name, values, colour)], left, 12)
    if points:
        path = " ".join(f"{x:.1f},{y:.1f}" for x, y in points)
        body.append(f'<polyline points="{path}" fill="none" stroke="{colour}" stroke-width="2"/>')
    for (x, y), label, value in zip(points, labels, values):
        body.append(f'<circle cx="{x:.1f}" cy="{y:.1f}" r="3" fill="{colour}"><title>{escape(str(label))}：'
                    f'{escape(_number(value, percent))}</title></circle>')
    body += _labels(labels, left, slot, height - 8)
    return _frame(width, height, title, body)


def hbar_chart(labels: Sequence[str], values: Sequence[float], title: str = "", colour: str = BLUE,
               width: int = 640) -> str:
    """Horizontal bars with their labels and values (e.g. the top places)."""
    row, left, right, top = 24, 170, 70, 8
    height = top * 2 + row * max(1, len(labels))
    top_value = _nice_axis(max(values or [0]))[0]
    plot_w = width - left - right
    body = []
    for i, (label, value) in enumerate(zip(labels, values)):
        y = top + row * i
        text = str(label) if len(str(label)) <= 12 else str(label)[:11] + "…"
        bar_w = plot_w * value / top_value
        body.append(f'<text x="{left - 6}" y="{y + 16}" text-anchor="end" {FONT}>{escape(text)}</text>'
                    f'<rect x="{left}" y="{y + 5}" width="{max(bar_w, 0.5):.1f}" height="{row - 8}" fill="{colour}">'
                    f'<title>{escape(str(label))}：{escape(_number(value))}</title></rect>'
                    f'<text x="{left + bar_w + 4:.1f}" y="{y + 16}" {FONT}>{escape(_number(value))}</text>')
    if not labels:
        body.append(f'<text x="{width / 2}" y="{top + 16}" text-anchor="middle" {FONT}>暂无数据</text>')
    return _frame(width, height, title, body)
