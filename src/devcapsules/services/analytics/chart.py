"""A small SVG line chart of a report's daily series: views, runs, completions.

Built with ElementTree, so the document is well-formed and every text (the
capsule title included) is escaped by construction. One polyline per series with
one point per day; markers too when the range is short enough to show them.
Self-contained (no scripts, no external fonts or styles), so it renders in a
dashboard `<img>` and in email clients that accept SVG.
"""

from __future__ import annotations

import xml.etree.ElementTree as ET
from typing import Any

SVG_NS = "http://www.w3.org/2000/svg"
WIDTH, HEIGHT = 640, 240
LEFT, RIGHT, TOP, BOTTOM = 48, 16, 40, 32
SERIES = (("views", "Views", "#2563eb"), ("runs", "Runs", "#16a34a"),
          ("completions", "Completions", "#d97706"))  # fmt: skip
MAX_MARKED_DAYS = 31
FONT = {"font-family": "system-ui, sans-serif", "font-size": "11", "fill": "#374151"}


def render_chart(title: str, daily: list[dict[str, Any]]) -> str:
    top = nice_ceiling(max((p[name] for p in daily for name, _, _ in SERIES), default=0))
    root = ET.Element("svg", _attrs(xmlns=SVG_NS, width=WIDTH, height=HEIGHT, role="img"))
    root.set("viewBox", f"0 0 {WIDTH} {HEIGHT}")
    root.set("aria-label", f"{title}: daily views, runs and completions")
    ET.SubElement(root, "title").text = f"{title}: daily views, runs and completions"
    ET.SubElement(root, "rect", _attrs(width=WIDTH, height=HEIGHT, fill="#ffffff"))
    # 40 characters of 13px text stay clear of the legend on the right.
    _text(root, LEFT, 18, _shorten(title, 40), **{"font-size": "13", "font-weight": "600"})
    _legend(root)
    _y_axis(root, top)
    _x_axis(root, daily)
    for name, _, colour in SERIES:
        _series(root, name, colour, [point[name] for point in daily], top)
    return '<?xml version="1.0" encoding="UTF-8"?>\n' + ET.tostring(root, encoding="unicode")


def nice_ceiling(value: int) -> int:
    """The smallest 1/2/5 x 10^n at or above value (at least 1): round axis labels."""
    step = 1
    while True:
        for factor in (1, 2, 5):
            if step * factor >= value:
                return max(step * factor, 1)
        step *= 10


def _x(index: int, count: int) -> float:
    width = WIDTH - LEFT - RIGHT
    return LEFT + (width / 2 if count == 1 else index * width / (count - 1))


def _y(value: int, top: int) -> float:
    height = HEIGHT - TOP - BOTTOM
    return TOP + height - value * height / top


def _series(root: ET.Element, name: str, colour: str, values: list[int], top: int) -> None:
    points = [(_x(i, len(values)), _y(v, top)) for i, v in enumerate(values)]
    line = _attrs(fill="none", stroke=colour, **{"stroke-width": 2, "stroke-linejoin": "round"})
    line["points"] = " ".join(f"{x:.1f},{y:.1f}" for x, y in points)
    line["data-series"] = name
    ET.SubElement(root, "polyline", line)
    if len(values) <= MAX_MARKED_DAYS:
        for x, y in points:
            ET.SubElement(root, "circle", _attrs(cx=f"{x:.1f}", cy=f"{y:.1f}", r=2.5, fill=colour))


def _y_axis(root: ET.Element, top: int) -> None:
    for value in (0, top // 2, top) if top > 1 else (0, top):
        y = _y(value, top)
        grid = _attrs(x1=LEFT, x2=WIDTH - RIGHT, y1=f"{y:.1f}", y2=f"{y:.1f}", stroke="#e5e7eb")
        ET.SubElement(root, "line", grid)
        _text(root, LEFT - 6, y + 4, str(value), **{"text-anchor": "end"})


def _x_axis(root: ET.Element, daily: list[dict[str, Any]]) -> None:
    count = len(daily)
    # First, middle and last day: enough to read the range without crowding.
    for index in sorted({0, count // 2, count - 1}) if count else ():
        anchor = _anchor(index, count)
        _text(root, _x(index, count), HEIGHT - 10, daily[index]["date"], **{"text-anchor": anchor})


def _anchor(index: int, count: int) -> str:
    if count == 1:
        return "middle"
    return "start" if index == 0 else "end" if index == count - 1 else "middle"


def _legend(root: ET.Element) -> None:
    x = WIDTH - RIGHT - 3 * 96
    for offset, (_, label, colour) in enumerate(SERIES):
        left = x + offset * 96
        ET.SubElement(root, "rect", _attrs(x=left, y=10, width=10, height=10, fill=colour))
        _text(root, left + 14, 19, label)


def _text(root: ET.Element, x: float, y: float, content: str, **extra: Any) -> None:
    attrs = _attrs(x=f"{x:.1f}" if isinstance(x, float) else x, y=f"{y:.1f}", **FONT)
    attrs.update({k: str(v) for k, v in extra.items()})
    ET.SubElement(root, "text", attrs).text = content


def _attrs(**values: Any) -> dict[str, str]:
    return {key.replace("_", "-"): str(value) for key, value in values.items()}


def _shorten(text: str, limit: int) -> str:
    return text if len(text) <= limit else text[: limit - 1] + "…"
