"""Charts drawn on the server as inline SVG (G7): no script, no library, no CDN.

    svg = bar_chart(["10时", "11时"], [("扫码次数", [120, 80], BLUE), ("异常", [3, 1], RED)], stacked=False)

Every chart is plain SVG elements with presentation attributes (the back office's CSP allows no
inline styles), a <title> per bar or point (the browser shows it on hover / long press), and a
viewBox so it scales to the page on a phone. Text is escaped; numbers are formatted here. The
pages print the figures beside each chart too, for those who would rather read. A count's axis
reads whole numbers only (0, 1, 2 ... never 0.25); a chart with nothing to show says why, in the
words its page passes as `empty`.
"""

from __future__ import annotations

import math
from html import escape
from typing import Sequence

BLUE, RED, GREEN, GREY, ORANGE = "#1f6fd1", "#d32f2f", "#2e7d32", "#9aa5b1", "#ef6c00"
FONT = 'font-family="sans-serif" font-size="12" fill="#52606d"'


def _nice_axis(value: float, whole: bool = False) -> tuple[float, int]:
    """A round top for an axis and its number of steps: the smallest top >= value whose 4 or 5
    steps are 1, 2, 2.5 or 5 x 10^n (ticks read 0, 5, 10, 15, 20, 25, never 6.2 or 18.8).
    `whole` (a count): steps of at least 1, so every tick is a whole number."""
    if value <= 0:
        return (4, 4) if whole else (1, 4)
    power = 10 ** math.floor(math.log10(value / 5))
    if whole:
        power = max(power, 1)
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


def _empty(message: str, x: float, y: float) -> list[str]:
    """The reason a chart shows nothing, in its middle."""
    return [f'<text class="chart-empty" x="{x:.0f}" y="{y:.0f}" text-anchor="middle" '
            f'font-family="sans-serif" font-size="14" fill="#7b8794">{escape(message or "暂无数据")}</text>']


def _legend(series, x: int, y: int) -> list[str]:
    parts = []
    for name, _, colour in series:
        parts.append(f'<rect x="{x}" y="{y - 9}" width="10" height="10" fill="{colour}"/>'
                     f'<text x="{x + 14}" y="{y}" {FONT}>{escape(name)}</text>')
        x += 24 + 12 * len(name)
    return parts


def bar_chart(labels: Sequence[str], series: Sequence[tuple[str, Sequence[float], str]], title: str = "",
              stacked: bool = True, width: int = 640, height: int = 240, percent: bool = False,
              empty: str = "") -> str:
    """Vertical bars, one group per label; several series are stacked (or side by side). With
    nothing above zero, `empty` says why."""
    left, top, right, bottom = 52, 24, 10, 28
    plot_w, plot_h = width - left - right, height - top - bottom
    count = max(1, len(labels))
    if stacked:
        peak = max([sum(s[1][i] for s in series) for i in range(len(labels))] or [0])
    else:
        peak = max([max(s[1]) if len(s[1]) else 0 for s in series] or [0])
    axis = _nice_axis(peak, whole=not percent)
    top_value = axis[0]
    slot = plot_w / count
    body = _axis(left, top, plot_w, plot_h, axis, percent) + _legend(series, left, 12)
    if peak <= 0:
        body += _empty(empty, left + plot_w / 2, top + plot_h / 2)
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
               percent: bool = False, width: int = 640, height: int = 220, name: str = "", empty: str = "") -> str:
    """One line with a dot per point (e.g. the abnormal share per day). `empty`: shown instead of
    a line when there is no point to draw (None values are gaps: a day with no scan has no share)."""
    left, top, right, bottom = 52, 24, 10, 28
    plot_w, plot_h = width - left - right, height - top - bottom
    drawn = [v for v in values if v is not None]
    axis = _nice_axis(max(drawn or [0]), whole=not percent)
    top_value = axis[0]
    slot = plot_w / max(1, len(labels))
    points = [(left + slot * (i + 0.5), top + plot_h - plot_h * v / top_value) if v is not None else None
              for i, v in enumerate(values)]
    body = _axis(left, top, plot_w, plot_h, axis, percent)
    if name:
        body += _legend([(name, values, colour)], left, 12)
    runs, run = [], []
    for point in points + [None]:  # one line per run of consecutive points: a gap is not drawn over
        if point is None:
            if run:
                runs.append(run)
            run = []
        else:
            run.append(point)
    for run in runs:
        path = " ".join(f"{x:.1f},{y:.1f}" for x, y in run)
        body.append(f'<polyline points="{path}" fill="none" stroke="{colour}" stroke-width="2"/>')
    for point, label, value in zip(points, labels, values):
        if point is not None:
            body.append(f'<circle cx="{point[0]:.1f}" cy="{point[1]:.1f}" r="3" fill="{colour}"><title>'
                        f'{escape(str(label))}：{escape(_number(value, percent))}</title></circle>')
    if not drawn:
        body += _empty(empty, left + plot_w / 2, top + plot_h / 2)
    body += _labels(labels, left, slot, height - 8)
    return _frame(width, height, title, body)


def hbar_chart(labels: Sequence[str], values: Sequence[float], title: str = "", colour: str = BLUE,
               width: int = 640, empty: str = "") -> str:
    """Horizontal bars with their labels and values (e.g. the top places); `empty` says why
    there are none."""
    row, left, right, top = 24, 170, 70, 8
    height = top * 2 + row * max(1, len(labels))
    top_value = _nice_axis(max(values or [0]), whole=True)[0]
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
        body += _empty(empty, width / 2, top + 16)
    return _frame(width, height, title, body)
