"""Tomosynthesis in the summary montage (:mod:`breastgate.results.summary_sc`).

Findings on a Breast Tomosynthesis volume (PS3.3 A.55) carry marks on the volume's pixel grid with
a frame number. The montage shows them in two ways:

- on a synthesized 2-D view of the volume (Digital Mammography For Presentation, Image Type
  Value 4 GENERATED_2D, whose Source Image Sequence names the volume; dicom-sr.md §5.3), mapped
  from the volume's grid onto the view's by :class:`GridMap`;
- where a slot has no 2-D view at all, on one frame of the volume itself: the frame of its best
  mark, else the central frame, read one frame at a time (:func:`read_frame`).

Mapping (:func:`grid_map`): the reference must not deny Spatial Locations Preserved
(PS3.3 C.7.6.1.1.4; YES or absent), the view's Patient Orientation must not contradict the volume's
Image Orientation (Patient), and then

- same Rows and Columns: the same grid, points unchanged (our phantoms: the synthesized view is
  the volume's projection on the volume's own grid, same Pixel Spacing);
- otherwise both grids must have a Pixel Spacing and cover the same field of view (extents within
  ``max(EXTENT_MM, EXTENT_FRACTION · extent)``): points are scaled by the ratio of the spacings,
  both grids starting at the top-left corner of their top-left pixel.

Anything else (REORIENTED_ONLY or NO, a different field of view, a missing spacing, a volume that
was not given) cannot be mapped reliably: those marks are not drawn, and the view says why in the
log. A wrong place on a summary image is worse than no mark; the CAD SR and GSPS still carry them.
"""

from __future__ import annotations

import logging
import os
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import numpy.typing as npt
from pydicom.dataset import Dataset

from breastgate.domain.model import Finding, Mark, Point
from breastgate.imaging.errors import ImagingError
from breastgate.imaging.frames import FrameInfo, frame_info, functional_group, iter_frames
from breastgate.imaging.pixels import BREAST_TOMOSYNTHESIS, read_header, spacing_of
from breastgate.results.gsps import mark_label

__all__ = [
    "EXTENT_FRACTION",
    "EXTENT_MM",
    "GridMap",
    "MarkPlacement",
    "Placement",
    "Volume",
    "best_frame",
    "dbt_label",
    "frame_header",
    "grid_map",
    "letters",
    "linked",
    "read_frame",
    "read_volume",
]

LOGGER = logging.getLogger(__name__)

#: Largest difference between the fields of view of a volume and its synthesized view (mm, and
#: fraction of the extent) for marks to be mapped by pixel spacing.
EXTENT_MM = 2.0
EXTENT_FRACTION = 0.02
#: Patient axes of LPS direction cosines: (positive, negative) letter, PS3.3 C.7.6.1.1.1.
_AXES = (("L", "R"), ("P", "A"), ("H", "F"))
#: Of letters of equal weight, head/foot comes first, then left/right (an MLO's ``FL``, ``FR``).
_AXIS_ORDER = (2, 0, 1)
_MIN_COSINE = 0.25


@dataclass(frozen=True)
class Volume:
    """A Breast Tomosynthesis instance given to the summary: header (no Pixel Data) and frame facts."""

    path: str
    header: Dataset
    info: FrameInfo

    @property
    def sop_instance_uid(self) -> str:
        return self.info.sop_instance_uid

    def orientation(self) -> tuple[str, str] | None:
        """Patient Orientation (PS3.3 C.7.6.1.1.1: direction of increasing column, then of
        increasing row) from the volume's Image Orientation (Patient), Plane Orientation
        functional group (shared, else the first frame's)."""
        cosines = _functional(self.header, "PlaneOrientationSequence", None, "ImageOrientationPatient")
        if cosines is None:
            cosines = self.header.get("ImageOrientationPatient")
        try:
            values = [float(v) for v in cosines] if cosines is not None else []
        except (TypeError, ValueError):
            return None
        if len(values) != 6:
            return None
        along_row, down_column = letters(values[:3]), letters(values[3:])
        return (along_row, down_column) if along_row and down_column else None


def read_volume(path: str | Path) -> Volume | None:
    """The volume at ``path``, or None (with a warning) when it is not a readable Breast
    Tomosynthesis Image."""
    try:
        header = read_header(path)
        info = frame_info(path)
    except Exception as exc:  # read tolerantly: a volume left out still leaves a summary
        LOGGER.warning("summary: volume %s left out: %s", os.fspath(path), type(exc).__name__)
        return None
    if info.sop_class_uid != BREAST_TOMOSYNTHESIS:
        LOGGER.warning("summary: %s is not a Breast Tomosynthesis Image; left out", info.sop_instance_uid)
        return None
    return Volume(os.fspath(path), header, info)


def letters(cosines: Sequence[float]) -> str:
    """Patient Orientation letters of a direction (LPS cosines), major axis first, e.g. ``"FR"``."""
    weighted = [
        (round(abs(c), 3), _AXIS_ORDER.index(axis), _AXES[axis][0 if c > 0 else 1])
        for axis, c in enumerate(cosines)
        if abs(c) >= _MIN_COSINE
    ]
    return "".join(letter for _, _, letter in sorted(weighted, key=lambda w: (-w[0], w[1])))


def _functional(ds: Dataset, sequence: str, frame: int | None, keyword: str) -> Any:
    """``keyword`` of functional group ``sequence`` (:func:`functional_group`): 1-based ``frame``'s
    per-frame item, else the shared item, else (no frame) the first frame's."""
    item = functional_group(ds, sequence, None if frame is None else frame - 1)
    value = item.get(keyword) if item is not None else None
    return None if value in (None, "") else value


# ---- volume marks on a synthesized view ------------------------------------------------------


@dataclass(frozen=True)
class GridMap:
    """Volume image coordinates → a synthesized view's (column, row), origin at the top-left corner
    of the top-left pixel on both grids."""

    volume_uid: str
    column_scale: float = 1.0
    row_scale: float = 1.0

    def __call__(self, point: Point) -> Point:
        return point[0] * self.column_scale, point[1] * self.row_scale


def grid_map(view: Dataset, volumes: Mapping[str, Volume]) -> GridMap | None:
    """How marks on the volume ``view`` was synthesized from map onto ``view``; None when ``view``
    names no given volume or the grids cannot be related (see the module docstring)."""
    for item in view.get("SourceImageSequence") or ():
        volume = volumes.get(str(item.get("ReferencedSOPInstanceUID", "")))
        if volume is None:
            continue
        uid = str(view.get("SOPInstanceUID", ""))
        reason = _unmappable(view, volume, str(item.get("SpatialLocationsPreserved", "") or "YES"))
        if reason is not None:
            LOGGER.warning(
                "summary: marks of volume %s not drawn on %s: %s", volume.sop_instance_uid, uid, reason
            )
            return None
        info = volume.info
        rows, cols = int(view.get("Rows", 0) or 0), int(view.get("Columns", 0) or 0)
        if (rows, cols) == (info.rows, info.columns):
            return GridMap(volume.sop_instance_uid)
        spacing, own = spacing_of(view), info.spacing_mm
        assert spacing is not None and own is not None  # checked by _unmappable
        return GridMap(volume.sop_instance_uid, own[1] / spacing[1], own[0] / spacing[0])
    return None


def _unmappable(view: Dataset, volume: Volume, preserved: str) -> str | None:
    """Why marks on ``volume`` cannot be placed on ``view``, or None when they can."""
    if preserved.strip().upper() != "YES":
        # REORIENTED_ONLY: flipped or rotated by an amount the header does not say; NO: not at all.
        return f"Spatial Locations Preserved is {preserved}"
    orientation = [str(v).strip().upper() for v in (view.get("PatientOrientation") or [])]
    own = volume.orientation()
    if len(orientation) == 2 and own is not None:
        for theirs, ours in zip(orientation, own, strict=True):
            if theirs and not set(theirs) & set(ours):
                return f"Patient Orientation {'/'.join(orientation)} contradicts the volume's {'/'.join(own)}"
    info = volume.info
    rows, cols = int(view.get("Rows", 0) or 0), int(view.get("Columns", 0) or 0)
    if (rows, cols) == (info.rows, info.columns):
        return None
    spacing, own_spacing = spacing_of(view), info.spacing_mm
    if spacing is None or own_spacing is None:
        return f"{rows}x{cols} and {info.rows}x{info.columns} pixels without Pixel Spacing to relate them"
    extents = (
        (rows * spacing[0], info.rows * own_spacing[0]),
        (cols * spacing[1], info.columns * own_spacing[1]),
    )
    for a, b in extents:
        if abs(a - b) > max(EXTENT_MM, EXTENT_FRACTION * max(a, b)):
            return f"fields of view differ ({a:.1f} mm and {b:.1f} mm)"
    return None


def linked(a: Finding, b: Finding) -> bool:
    """Two findings of one lesion: same kind, and either names the other in ``correlated_with``
    (a volume finding and the finding on its synthesized view, ``algorithms._findings``)."""
    if a is b or not a.id or not b.id or a.kind != b.kind:
        return False
    return a.id in b.correlated_with or b.id in a.correlated_with


def dbt_label(finding: Finding, mark: Mark) -> str:
    """``"Mass 0.65 DBT f23"``: the finding's label and the frame its mark is on."""
    return f"{mark_label(finding)} {_frame_text(mark)}"


def _frame_text(mark: Mark) -> str:
    return f"DBT f{mark.frame}" if mark.frame is not None else "DBT"


#: Where one mark is drawn: the shown image's SOP Instance UID, the volume → view mapping (None
#: when the mark is on that image itself) and the label.
Placement = tuple[str, GridMap | None, str]


class MarkPlacement:
    """Which shown images draw a mark, and with which label.

    A mark on a shown image is drawn there (``"Mass 0.87"``; on a volume's frame ``"Mass 0.65 DBT
    f23"``). A mark on a volume that is not shown is drawn, mapped, on the synthesized views of
    that volume, unless a finding it is :func:`linked` with has a mark at the same place on the
    view (one's point in the other's box, as ``algorithms._findings`` links them): the lesion is
    then drawn once, as the view's own mark (no mapping error), whose label carries the linked
    volume finding's frame and score (``"Mass 0.72 / DBT f23 0.65"``, the best such finding).
    The place is checked per view because a link made on one view (say the MLO) says nothing of
    where the two findings' marks lie on the other (CC/MLO pairs are formed independently).

    Parameters
    ----------
    findings
        Every finding drawn.
    shown
        SOP Instance UID of each shown image → the frame shown (None for a 2-D image).
    grid_maps
        Synthesized view shown → how marks on its volume map onto it (:func:`grid_map`).
    """

    def __init__(
        self, findings: Sequence[Finding], shown: Mapping[str, int | None], grid_maps: Mapping[str, GridMap]
    ) -> None:
        self.findings, self.shown, self.grid_maps = tuple(findings), dict(shown), dict(grid_maps)

    def __call__(self, finding: Finding, mark: Mark) -> list[Placement]:
        uid = mark.sop_instance_uid
        if uid in self.shown:
            if self.shown[uid] is not None:
                return [(uid, None, dbt_label(finding, mark))]
            return [(uid, None, self._label(finding, mark))]
        out: list[Placement] = []
        for view_uid, mapping in self.grid_maps.items():
            if mapping.volume_uid != uid:
                continue
            twins = [
                other
                for other in self.findings
                if linked(finding, other)
                and any(m.sop_instance_uid == view_uid and _same_place(mark, mapping, m) for m in other.marks)
            ]
            if twins:
                LOGGER.debug("summary: %s is drawn as %s on %s", finding.id, twins[0].id, view_uid)
                continue
            out.append((view_uid, mapping, dbt_label(finding, mark)))
        return out

    def _label(self, finding: Finding, mark: Mark) -> str:
        text = mark_label(finding)
        mapping = self.grid_maps.get(mark.sop_instance_uid)
        if mapping is None:
            return text
        twins = [
            (other, theirs)
            for other in self.findings
            if linked(finding, other)
            for theirs in other.marks
            if theirs.sop_instance_uid == mapping.volume_uid and _same_place(theirs, mapping, mark)
        ]
        if not twins:
            return text
        other, theirs = max(twins, key=lambda fm: (fm[0].score, fm[1].score, -(fm[1].frame or 0)))
        return f"{text} / {_frame_text(theirs)} {other.score:.2f}"


def _same_place(on_volume: Mark, mapping: GridMap, on_view: Mark) -> bool:
    """A volume mark and a view mark of one lesion: either's point inside the other's box."""
    c0, r0 = mapping((on_volume.bbox[0], on_volume.bbox[1]))
    c1, r1 = mapping((on_volume.bbox[2], on_volume.bbox[3]))
    return _inside(mapping(on_volume.point), on_view.bbox) or _inside(on_view.point, (c0, r0, c1, r1))


def _inside(point: Point, box: tuple[float, float, float, float]) -> bool:
    return box[0] <= point[0] <= box[2] and box[1] <= point[1] <= box[3]


# ---- one frame of a volume -------------------------------------------------------------------


def best_frame(volume: Volume, findings: Iterable[Finding]) -> int:
    """The frame of the volume's best mark (finding score, then mark score; the lower frame on a
    tie), else the central frame."""
    n = volume.info.number_of_frames
    candidates = [
        (-f.score, -m.score, m.frame)
        for f in findings
        for m in f.marks
        if m.sop_instance_uid == volume.sop_instance_uid and m.frame is not None and 1 <= m.frame <= n
    ]
    return min(candidates)[2] if candidates else (n + 1) // 2


def read_frame(volume: Volume, frame: int) -> npt.NDArray[np.float32]:
    """1-based ``frame`` of the volume (bright = dense, Modality LUT applied), decoding one frame at
    a time and stopping there, so the volume is never in memory.

    Raises
    ------
    ImagingError
        The file cannot be read, a frame cannot be decoded, or the frame does not exist.
    """
    # Leaving the loop drops the generator, which closes the file; later frames are never decoded.
    for number, pixels in iter_frames(volume.path):
        if number == frame:
            return pixels
    raise ImagingError(f"volume {volume.sop_instance_uid} has no frame {frame}")


def frame_header(volume: Volume, frame: int) -> Dataset:
    """What :func:`summary_sc.window` and the hanging need to show one frame read by
    :func:`read_frame`: the frame's VOI window (Frame VOI LUT functional group), MONOCHROME2 (the
    frames are already bright = dense) and Patient Orientation from the volume's orientation."""
    ds = Dataset()
    ds.SOPInstanceUID = volume.sop_instance_uid
    ds.Rows, ds.Columns = volume.info.rows, volume.info.columns
    ds.PhotometricInterpretation = "MONOCHROME2"
    if volume.info.photometric != "MONOCHROME1":
        # A MONOCHROME1 window applies to the stored polarity, which iter_frames has inverted:
        # those frames fall back to the percentile window of summary_sc.window.
        for keyword in ("WindowCenter", "WindowWidth", "VOILUTFunction"):
            value = _functional(volume.header, "FrameVOILUTSequence", frame, keyword)
            if value is not None:
                setattr(ds, keyword, value)
    orientation = volume.orientation()
    if orientation is not None:
        ds.PatientOrientation = list(orientation)
    if volume.info.laterality:
        ds.ImageLaterality = volume.info.laterality
    return ds
