"""What the GSPS marks draw where (PS3.3 C.10.5, C.10.7).

One Graphic Layer per finding kind (``MASS``, ``CALC`` ...) with a recommended CIELab colour; per
marked image (and frame, for multi-frame images) a closed POLYLINE for the outline (or the bounding
box), small CIRCLEs for the calcifications of a cluster, a ``"Mass 0.87"`` text next to the mark and
one not-for-diagnostic-use notice. On Breast Tomosynthesis volumes two per-slice layers make a
finding visible while scrolling: ``FINDING_SLICES`` (orange) repeats the finding's outline on every
frame it spans (``Mark.frames``) and on no other, and ``SCROLLBAR`` (white) follows Sectra
pydicomutils' convention of that name (``examples/create_gsps_and_kos.py``): on every frame of the
volume a scroll-bar track, a box over each finding's frame range and a tick at the current frame,
so a reader on any slice sees where along the stack the findings lie.

:class:`GraphicPlan` decides which Graphic Annotation (image, frames, layer) gets which graphic and
text objects, in image pixel coordinates (column, row), origin at the top-left corner of the
top-left pixel (PS3.3 C.10.5.1.2, PIXEL units), clamped to the image;
:mod:`breastgate.results.gsps` writes them as :class:`highdicom.pr.GraphicObject` and
:class:`highdicom.pr.TextObject` (:func:`graphic_object`, :func:`text_object`).
"""

from __future__ import annotations

import logging
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field, replace

import numpy as np
from highdicom.pr import GraphicGroup, GraphicObject, TextObject
from pydicom.dataset import Dataset

from breastgate.domain.errors import EncodingError
from breastgate.domain.model import Finding, FindingKind, Mark, Point
from breastgate.imaging.pixels import BREAST_TOMOSYNTHESIS

LOGGER = logging.getLogger(__name__)

NOTICE_LAYER = "AI_NOTICE"
#: Tomosynthesis: Sectra pydicomutils' scroll-bar layer (reference/sectra.md §1.2), on every frame
#: of a volume with a shown finding: where along the stack the findings lie, and the current frame.
SCROLL_LAYER = "SCROLLBAR"
#: Tomosynthesis: the finding's outline again on every frame it spans, and on no other.
SLICE_LAYER = "FINDING_SLICES"

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
class KindStyle:
    """How one finding kind is drawn: GSPS layer name (CS, ≤ 16), label word and sRGB colour."""

    layer: str
    word: str
    rgb: tuple[int, int, int]


KIND_STYLES: Mapping[FindingKind, KindStyle] = {
    FindingKind.MASS: KindStyle("MASS", "Mass", (255, 64, 64)),
    FindingKind.CALCIFICATION_CLUSTER: KindStyle("CALC", "Calc", (255, 220, 0)),
    FindingKind.ARCHITECTURAL_DISTORTION: KindStyle("DISTORTION", "Distortion", (255, 0, 255)),
    FindingKind.ASYMMETRY: KindStyle("ASYMMETRY", "Asymmetry", (0, 200, 255)),
    FindingKind.ENHANCING_LESION: KindStyle("ENHANCEMENT", "Enhancement", (255, 140, 0)),
    FindingKind.US_LESION: KindStyle("US_LESION", "Lesion", (0, 255, 128)),
}
SLICE_STYLE = KindStyle(SLICE_LAYER, "Slice", (255, 160, 0))
SCROLL_STYLE = KindStyle(SCROLL_LAYER, "Scroll bar", (255, 255, 255))
NOTICE_STYLE = KindStyle(NOTICE_LAYER, "Notice", (255, 255, 255))


#: Short words for a finding's change since the prior, as marks show them.
CHANGE_WORDS: Mapping[str, str] = {
    "new": "new",
    "increased": "larger",
    "stable": "stable",
    "decreased": "smaller",
}


def mark_label(finding: Finding) -> str:
    """The text shown next to every mark of a finding, e.g. ``"Mass 0.87"`` (the finding's score),
    with its change since the prior when compared (``"Mass 0.87 new"``, ``"Calc 0.70 larger
    +2.0 mm"``, ``"Mass 0.41 stable"``), the curve type of a DCE-MRI lesion (``"type III"``) and
    the measured size of an ultrasound lesion (``"Lesion 0.80 12.4 mm"``)."""
    parts = [f"{KIND_STYLES[finding.kind].word} {finding.score:.2f}"]
    if finding.kind == FindingKind.US_LESION and finding.size_mm:
        parts.append(f"{finding.size_mm:.1f} mm")
    comparison = finding.comparison
    if comparison is not None:
        parts.append(CHANGE_WORDS[comparison.change.value])
        if comparison.change.value in ("increased", "decreased") and comparison.size_change_mm:
            parts.append(f"{comparison.size_change_mm:+.1f} mm")
    if finding.kinetics is not None:
        parts.append(f"type {finding.kinetics.curve_type}")
    return " ".join(parts)


def cielab(rgb: tuple[int, int, int]) -> list[int]:
    """sRGB → DICOM CIELab (PS3.3 C.10.7.1.1: D50 PCS, L* 0..100 and a*, b* -128..127 scaled to 0..65535)."""
    lin = [(c / 255) / 12.92 if c / 255 <= 0.04045 else ((c / 255 + 0.055) / 1.055) ** 2.4 for c in rgb]
    # sRGB → XYZ, Bradford-adapted to D50 (the ICC profile connection space).
    x = 0.4360747 * lin[0] + 0.3850649 * lin[1] + 0.1430804 * lin[2]
    y = 0.2225045 * lin[0] + 0.7168786 * lin[1] + 0.0606169 * lin[2]
    z = 0.0139322 * lin[0] + 0.0971045 * lin[1] + 0.7141733 * lin[2]

    def f(t: float) -> float:
        return t ** (1 / 3) if t > (6 / 29) ** 3 else t / (3 * (6 / 29) ** 2) + 4 / 29

    fx, fy, fz = f(x / 0.9642), f(y / 1.0), f(z / 0.8249)
    lab = (116 * fy - 16, 500 * (fx - fy), 200 * (fy - fz))
    scaled = (lab[0] * 65535 / 100, (lab[1] + 128) * 65535 / 255, (lab[2] + 128) * 65535 / 255)
    return [min(65535, max(0, round(v))) for v in scaled]


@dataclass(frozen=True)
class Graphic:
    """One graphic object: its type and points (image pixel coordinates)."""

    graphic_type: str  # POLYLINE | CIRCLE (PS3.3 C.10.5.1.2)
    points: tuple[Point, ...]
    #: Graphic Group ID (C.10.5.1.1) of the finding it belongs to, if any
    group: int | None = None


@dataclass(frozen=True)
class TextBox:
    """One text object: bounding box and optional anchor (image pixel coordinates)."""

    text: str
    tlhc: Point
    brhc: Point
    anchor: Point | None
    group: int | None = None


@dataclass
class Annotation:
    """One Graphic Annotation Sequence item: one image (frames), one layer."""

    sop_instance_uid: str
    frames: tuple[int, ...]
    layer: str
    graphics: list[Graphic] = field(default_factory=list)
    texts: list[TextBox] = field(default_factory=list)


def clamp(point: Point, rows: int, cols: int) -> Point:
    return (min(max(float(point[0]), 0.0), float(cols)), min(max(float(point[1]), 0.0), float(rows)))


def mark_graphics(mark: Mark, rows: int, cols: int) -> list[Graphic]:
    """Closed POLYLINE for the outline (else the bbox), a CIRCLE per calcification and an open
    two-point POLYLINE per measurement line (C.10.5.1.2)."""
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
    for start, end in mark.lines:
        graphics.append(Graphic("POLYLINE", (clamp(start, rows, cols), clamp(end, rows, cols))))
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
    top = min(max(top, 0.0), max(rows - height, 0.0))  # inside the image, as PIXEL units must be
    return TextBox(text, (left, top), (left + width, min(top + height, rows)), clamp(anchor, rows, cols))


def notice_text(text: str, rows: int, cols: int, chest_wall_right: bool) -> TextBox:
    """Notice at the bottom, on the side away from the chest wall (air there, not breast)."""
    height = text_height(rows)
    width = 0.6 * height * max(len(line) for line in text.splitlines() or [text])
    if width > cols * 0.95:
        height, width = height * cols * 0.95 / width, cols * 0.95
    lines = max(1, len(text.splitlines()))
    top = max(rows - height * lines - height * 0.5, 0.0)
    left = cols * 0.02 if chest_wall_right else cols * 0.98 - width
    return TextBox(text, (left, top), (left + width, min(top + height * lines, rows)), None)


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


def frames_of(ds: Dataset) -> int:
    """Number of Frames of an image header (1 when absent or unreadable)."""
    try:
        return max(1, int(ds.get("NumberOfFrames", 1) or 1))
    except (TypeError, ValueError):
        return 1


def size_of(ds: Dataset) -> tuple[int, int]:
    """(Rows, Columns) of an image header; EncodingError when it has none."""
    try:
        rows, cols = int(ds.Rows), int(ds.Columns)
    except (AttributeError, TypeError, ValueError):
        raise EncodingError(f"source image {ds.get('SOPInstanceUID', '?')} lacks Rows/Columns") from None
    if rows < 1 or cols < 1:
        raise EncodingError(f"source image {ds.SOPInstanceUID} has no pixels ({rows}x{cols})")
    return rows, cols


def _chest_wall_on_right(ds: Dataset) -> bool:
    """Patient Orientation's column direction: P means the columns run toward the chest wall."""
    orientation = ds.get("PatientOrientation") or []
    return len(orientation) > 0 and str(orientation[0]).strip().upper().startswith("P")


class GraphicPlan:
    """Which image (and frames) gets which graphics on which layer, and the finding groups.

    Parameters
    ----------
    findings
        The findings drawn; marks on images without a header in ``headers``, or on For
        Processing images, are left out with a warning.
    headers
        Source image headers by SOP Instance UID, in source order.
    label
        The notice written once on every image that carries a mark.
    """

    def __init__(self, findings: Sequence[Finding], headers: Mapping[str, Dataset], label: str) -> None:
        self._by_uid, self.label = headers, label
        #: Graphic Group ID → the finding it groups (C.10.5.1.1), in finding order
        self.groups: dict[int, Finding] = {}
        self.annotations = self._plan(findings)
        self.referenced = self._referenced()

    def _usable(self, mark: Mark, finding: Finding) -> Dataset | None:
        src = self._by_uid.get(mark.sop_instance_uid)
        if src is None:
            LOGGER.warning("GSPS: finding %s has a mark on an image without a source header", finding.id)
            return None
        if str(src.get("PresentationIntentType", "")).upper() == "FOR PROCESSING":
            LOGGER.warning("GSPS: finding %s marks a For Processing image; left out", finding.id)
            return None
        return src

    def _frame(self, mark: Mark, src: Dataset, finding: Finding) -> int | None:
        frames = frames_of(src)
        if frames == 1:
            if mark.frame not in (None, 1):
                raise EncodingError(f"finding {finding.id}: frame {mark.frame} on a single-frame image")
            return None
        if mark.frame is not None and not 1 <= mark.frame <= frames:
            raise EncodingError(f"finding {finding.id}: frame {mark.frame} outside 1..{frames}")
        return mark.frame

    def _plan(self, findings: Sequence[Finding]) -> list[Annotation]:
        items: dict[tuple[str, tuple[int, ...], str], Annotation] = {}
        extents: dict[str, list[tuple[int, int]]] = {}  # volume → the shown findings' frame ranges
        for finding in findings:
            style = KIND_STYLES[finding.kind]
            group = len(self.groups) + 1
            for mark in finding.marks:
                src = self._usable(mark, finding)
                if src is None:
                    continue
                self.groups[group] = finding
                frame = self._frame(mark, src, finding)
                frames = () if frame is None else (frame,)
                key = (mark.sop_instance_uid, frames, style.layer)
                ann = items.setdefault(key, Annotation(mark.sop_instance_uid, frames, style.layer))
                rows, cols = size_of(src)
                ann.graphics.extend(replace(g, group=group) for g in mark_graphics(mark, rows, cols))
                ann.texts.append(replace(mark_text(mark_label(finding), mark, rows, cols), group=group))
                extent = self._plan_slices(items, mark, src, group)
                if extent is not None:
                    extents.setdefault(mark.sop_instance_uid, []).append(extent)
        for uid, ranges in extents.items():
            self._plan_scrollbar(items, uid, ranges)
        marked = list(items.values())
        # One notice per image, on every frame that carries a mark (all frames if any mark has none).
        frames_by_uid: dict[str, set[int] | None] = {}
        for ann in marked:
            current = frames_by_uid.get(ann.sop_instance_uid, set())
            frames_by_uid[ann.sop_instance_uid] = (
                None if current is None or not ann.frames else current | set(ann.frames)
            )
        for uid, frame_set in frames_by_uid.items():
            src = self._by_uid[uid]
            if frame_set is not None and len(frame_set) == frames_of(src) > 1:
                frame_set = None  # every frame (the scroll bar): no frame numbers, as for all
            rows, cols = size_of(src)
            notice = Annotation(uid, tuple(sorted(frame_set or ())), NOTICE_LAYER)
            notice.texts.append(notice_text(self.label, rows, cols, _chest_wall_on_right(src)))
            marked.append(notice)
        return marked

    def _plan_slices(
        self,
        items: dict[tuple[str, tuple[int, ...], str], Annotation],
        mark: Mark,
        src: Dataset,
        group: int,
    ) -> tuple[int, int] | None:
        """The ``FINDING_SLICES`` layer of a tomosynthesis mark: its outline on each frame of its
        extent; returns the extent (None: not a tomosynthesis volume or no extent)."""
        frames = frames_of(src)
        extent = mark.frame_extent()
        if frames == 1 or extent is None or str(src.get("SOPClassUID", "")) != BREAST_TOMOSYNTHESIS:
            return None
        first, last = max(1, extent[0]), min(frames, extent[1])
        finding = self.groups[group]
        if first > last:
            raise EncodingError(f"finding {finding.id}: frames {extent} outside 1..{frames}")
        if (first, last) != extent:
            LOGGER.warning("GSPS: finding %s spans frames %s, clipped to 1..%d", finding.id, extent, frames)
        rows, cols = size_of(src)
        outline = [replace(mark_graphics(mark, rows, cols)[0], group=group)]  # the outline, no members
        for frame in range(first, last + 1):
            key = (mark.sop_instance_uid, (frame,), SLICE_LAYER)
            ann = items.setdefault(key, Annotation(mark.sop_instance_uid, (frame,), SLICE_LAYER))
            ann.graphics.extend(outline)
        return first, last

    def _plan_scrollbar(
        self,
        items: dict[tuple[str, tuple[int, ...], str], Annotation],
        uid: str,
        extents: list[tuple[int, int]],
    ) -> None:
        """The ``SCROLLBAR`` layer of a volume: on every frame, the track, the findings' ranges
        and a tick at that frame (Sectra pydicomutils' convention)."""
        src = self._by_uid[uid]
        frames = frames_of(src)
        rows, cols = size_of(src)
        right = _chest_wall_on_right(src)
        ranges = sorted(set(extents))
        for frame in range(1, frames + 1):
            ann = items.setdefault((uid, (frame,), SCROLL_LAYER), Annotation(uid, (frame,), SCROLL_LAYER))
            ann.graphics.extend(slice_marker(frame, ranges, frames, rows, cols, right))

    def _referenced(self) -> dict[str, tuple[int, ...]]:
        """Referenced images in source order, each with its frames (empty = all frames)."""
        frames: dict[str, tuple[int, ...]] = {}
        for ann in self.annotations:
            if ann.layer == NOTICE_LAYER:
                frames[ann.sop_instance_uid] = ann.frames
        return {uid: frames[uid] for uid in self._by_uid if uid in frames}


def text_object(text: TextBox, groups: Mapping[int, GraphicGroup]) -> TextObject:
    """The text as a highdicom TextObject: PIXEL units, left-justified, anchor not drawn (C.10.5)."""
    tlhc, brhc = [round(float(v), 1) for v in text.tlhc], [round(float(v), 1) for v in text.brhc]
    return TextObject(
        text.text,
        "PIXEL",
        bounding_box=(tlhc[0], tlhc[1], brhc[0], brhc[1]),
        anchor_point=None if text.anchor is None else (round(text.anchor[0], 1), round(text.anchor[1], 1)),
        text_justification="LEFT",
        anchor_point_visible=False,
        graphic_group=None if text.group is None else groups[text.group],
    )


def graphic_object(graphic: Graphic, groups: Mapping[int, GraphicGroup]) -> GraphicObject:
    """The graphic as a highdicom GraphicObject: PIXEL units, not filled (C.10.5.1.2)."""
    return GraphicObject(
        graphic.graphic_type,
        np.array(graphic.points, dtype=float),
        "PIXEL",
        is_filled=False,
        graphic_group=None if graphic.group is None else groups[graphic.group],
    )
