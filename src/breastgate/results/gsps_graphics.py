"""Graphic and text objects of the GSPS marks: where a mark's outline, circles and label go.

Image pixel coordinates (column, row), origin at the top-left corner of the top-left pixel
(PS3.3 C.10.5.1.2, PIXEL units), clamped to the image; used by :mod:`breastgate.results.gsps`.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from pydicom.dataset import Dataset

from breastgate.domain.model import Mark, Point

#: Radius of the circle drawn around each calcification of a cluster, in image pixels.
MEMBER_RADIUS_PX = 10.0
#: Height of a text box as a fraction of the image rows (at least MIN_TEXT_PX).
TEXT_HEIGHT_FRACTION = 0.02
MIN_TEXT_PX = 24.0
#: Scroll-bar marker of a DBT finding: distance from the image side (fraction of the columns) and
#: the span of its track (fractions of the rows, clear of the notice at the bottom).
SCROLL_MARGIN = 0.03
SCROLL_TOP = 0.1
SCROLL_BOTTOM = 0.8


@dataclass(frozen=True)
class Graphic:
    """One graphic object: its type and points (image pixel coordinates)."""

    graphic_type: str  # POLYLINE | CIRCLE (PS3.3 C.10.5.1.2)
    points: tuple[Point, ...]


@dataclass(frozen=True)
class TextBox:
    """One text object: bounding box and optional anchor (image pixel coordinates)."""

    text: str
    tlhc: Point
    brhc: Point
    anchor: Point | None


def clamp(point: Point, rows: int, cols: int) -> Point:
    return (min(max(float(point[0]), 0.0), float(cols)), min(max(float(point[1]), 0.0), float(rows)))


def mark_graphics(mark: Mark, rows: int, cols: int) -> list[Graphic]:
    """Closed POLYLINE for the outline (else the bbox), a CIRCLE per calcification (C.10.5.1.2)."""
    if len(mark.outline) >= 3:
        ring = [clamp(p, rows, cols) for p in mark.outline]
    else:
        c0, r0, c1, r1 = mark.bbox
        ring = [clamp(p, rows, cols) for p in ((c0, r0), (c1, r0), (c1, r1), (c0, r1))]
    if ring[0] != ring[-1]:
        ring.append(ring[0])
    graphics = [Graphic("POLYLINE", tuple(ring))]
    for centre in mark.members:
        c = clamp(centre, rows, cols)
        graphics.append(Graphic("CIRCLE", (c, (c[0] + MEMBER_RADIUS_PX, c[1]))))
    return graphics


def text_height(rows: int) -> float:
    return max(MIN_TEXT_PX, rows * TEXT_HEIGHT_FRACTION)


def mark_text(text: str, mark: Mark, rows: int, cols: int) -> TextBox:
    """Text box just above the mark (below it when the mark touches the top), anchored to its edge."""
    height = text_height(rows)
    width = min(float(cols), 0.6 * height * len(text))
    c0, r0, c1, r1 = (float(v) for v in mark.bbox)
    gap = height * 0.25
    if r0 - gap - height >= 0:
        top, anchor = r0 - gap - height, ((c0 + c1) / 2, r0)
    else:
        top, anchor = min(r1 + gap, rows - height), ((c0 + c1) / 2, r1)
    left = min(max(c0, 0.0), cols - width)
    top = max(top, 0.0)
    return TextBox(text, (left, top), (left + width, top + height), clamp(anchor, rows, cols))


def notice_text(text: str, rows: int, cols: int, chest_wall_right: bool) -> TextBox:
    """Notice at the bottom, on the side away from the chest wall (air there, not breast)."""
    height = text_height(rows)
    width = 0.6 * height * max(len(line) for line in text.splitlines() or [text])
    if width > cols * 0.95:
        height, width = height * cols * 0.95 / width, cols * 0.95
    lines = max(1, len(text.splitlines()))
    top = rows - height * lines - height * 0.5
    left = cols * 0.02 if chest_wall_right else cols * 0.98 - width
    return TextBox(text, (left, max(top, 0.0)), (left + width, min(top + height * lines, rows)), None)


def slice_marker(
    frame: int,
    extents: Sequence[tuple[int, int]],
    frames: int,
    rows: int,
    cols: int,
    chest_wall_right: bool,
) -> list[Graphic]:
    """The scroll bar of one frame of a tomosynthesis volume (Sectra pydicomutils' "SCROLLBAR").

    On the side away from the chest wall: a vertical track standing for the whole volume (frame 1
    at the top, the last frame at the bottom), a closed box over each finding's frame range on it,
    and a tick across the track at this ``frame``; so a reader on any slice sees where along the
    stack the findings lie and where the current slice is. POLYLINEs.
    """
    x = cols * (SCROLL_MARGIN if chest_wall_right else 1.0 - SCROLL_MARGIN)
    top, bottom = rows * SCROLL_TOP, rows * SCROLL_BOTTOM
    half = max(2.0, cols * 0.004)

    def y(f: int) -> float:
        return top if frames <= 1 else top + (bottom - top) * (f - 1) / (frames - 1)

    graphics = [Graphic("POLYLINE", tuple(clamp(p, rows, cols) for p in ((x, top), (x, bottom))))]
    for extent in extents:
        first, last = y(extent[0]) - half / 2, y(extent[1]) + half / 2
        box = ((x - half, first), (x + half, first), (x + half, last), (x - half, last), (x - half, first))
        graphics.append(Graphic("POLYLINE", tuple(clamp(p, rows, cols) for p in box)))
    tick = ((x - 3 * half, y(frame)), (x + 3 * half, y(frame)))
    graphics.append(Graphic("POLYLINE", tuple(clamp(p, rows, cols) for p in tick)))
    return graphics


def text_item(text: TextBox) -> Dataset:
    item = Dataset()
    item.BoundingBoxAnnotationUnits = "PIXEL"
    item.UnformattedTextValue = text.text
    item.BoundingBoxTopLeftHandCorner = [round(float(v), 1) for v in text.tlhc]
    item.BoundingBoxBottomRightHandCorner = [round(float(v), 1) for v in text.brhc]
    item.BoundingBoxTextHorizontalJustification = "LEFT"
    if text.anchor is not None:
        item.AnchorPointAnnotationUnits = "PIXEL"
        item.AnchorPoint = [round(float(v), 1) for v in text.anchor]
        item.AnchorPointVisibility = "N"
    return item


def graphic_item(graphic: Graphic) -> Dataset:
    item = Dataset()
    item.GraphicAnnotationUnits = "PIXEL"
    item.GraphicDimensions = 2
    item.NumberOfGraphicPoints = len(graphic.points)
    item.GraphicData = [float(v) for p in graphic.points for v in p]
    item.GraphicType = graphic.graphic_type
    item.GraphicFilled = "N"
    return item
