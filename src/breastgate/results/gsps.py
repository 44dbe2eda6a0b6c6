"""Grayscale Softcopy Presentation State Storage (PS3.3 A.33.1, SOP Class 1.2.840.10008.5.1.4.1.1.11.1).

:class:`GrayscaleSoftcopyPresentationState` draws AI marks over the source For Presentation images:
one Graphic Layer per finding kind (``MASS``, ``CALC`` ...) with a recommended CIELab colour, per
marked image (and frame, for multi-frame images) a closed POLYLINE for the outline (or the bounding
box), small CIRCLEs for the calcifications of a cluster, a ``"Mass 0.87"`` text next to the mark and
one not-for-diagnostic-use notice. On Breast Tomosynthesis volumes two per-slice layers make a
finding visible while scrolling: ``FINDING_SLICES`` (orange) repeats the finding's outline on every
frame it spans (``Mark.frames``) and on no other, and ``SCROLLBAR`` (white) follows Sectra
pydicomutils' convention of that name (``examples/create_gsps_and_kos.py``): on every frame of the
volume a scroll-bar track, a box over each finding's frame range and a tick at the current frame,
so a reader on any slice sees where along the stack the findings lie.
Placement follows DESIGN §4: same study (Patient and General Study copied from the images), a new
series, deterministic UIDs. Sectra's own tooling writes marks
the same way (reference/sectra.md §3.4): a GSPS that references the exact source images.

Coordinates are DICOM image coordinates (column, row), origin at the top-left corner of the
top-left pixel: the same in the domain :class:`~breastgate.domain.model.Mark`, in SR SCOORD and in
GSPS PIXEL units (PS3.3 C.10.5.1.2), so they are written unchanged.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable, Mapping, Sequence
from copy import deepcopy
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, NamedTuple

from pydicom.dataset import Dataset
from pydicom.multival import MultiValue
from pydicom.sequence import Sequence as DicomSequence

from breastgate.domain.errors import EncodingError, InvalidInputError
from breastgate.domain.model import Finding, FindingKind, Mark
from breastgate.imaging.pixels import BREAST_TOMOSYNTHESIS, laterality_of, spacing_of
from breastgate.results.gsps_graphics import (
    Graphic,
    TextBox,
    graphic_item,
    mark_graphics,
    mark_text,
    notice_text,
    slice_marker,
    text_item,
)
from breastgate.results.placement import attach_file_meta, creation_datetime, new_instance, one_study
from breastgate.results.uids import derive_uid

LOGGER = logging.getLogger(__name__)

GRAYSCALE_SOFTCOPY_PRESENTATION_STATE_STORAGE = "1.2.840.10008.5.1.4.1.1.11.1"
DEFAULT_SERIES_NUMBER = 9902
CONTENT_LABEL = "BG_AI_MARKS"
#: Text written once on every referenced image (the default ``label``).
NOTICE = "AI output – not for diagnostic use"
NOTICE_LAYER = "AI_NOTICE"
#: Tomosynthesis: Sectra pydicomutils' scroll-bar layer (reference/sectra.md §1.2), on every frame
#: of a volume with a shown finding: where along the stack the findings lie, and the current frame.
SCROLL_LAYER = "SCROLLBAR"
#: Tomosynthesis: the finding's outline again on every frame it spans, and on no other.
SLICE_LAYER = "FINDING_SLICES"


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
_NOTICE_RGB = (255, 255, 255)
_SLICE_STYLE = KindStyle(SLICE_LAYER, "Slice", (255, 160, 0))
_SCROLL_STYLE = KindStyle(SCROLL_LAYER, "Scroll bar", (255, 255, 255))


def mark_label(finding: Finding) -> str:
    """The text shown next to every mark of a finding, e.g. ``"Mass 0.87"`` (the finding's score)."""
    return f"{KIND_STYLES[finding.kind].word} {finding.score:.2f}"


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


def series_laterality(images: Iterable[Dataset]) -> str:
    """Laterality (0020,0060) of an output series: R or L when all images show one breast, else empty.

    Type 2C in General Series for paired body parts (dciodvfy asks for it); empty = both breasts.
    """
    sides = {laterality_of(ds) for ds in images}
    return sides.pop() or "" if len(sides) == 1 else ""


class DecodedGraphic(NamedTuple):
    """One graphic object of a GSPS: the image (and frame) it is drawn on, its layer and points."""

    sop_instance_uid: str
    frame: int | None
    layer: str
    points: list[tuple[float, float]]


class DecodedText(NamedTuple):
    """One text object of a GSPS."""

    sop_instance_uid: str
    frame: int | None
    layer: str
    text: str


@dataclass(frozen=True)
class DecodedGSPS:
    """What :meth:`GrayscaleSoftcopyPresentationState.from_dataset` returns."""

    sop_instance_uid: str
    series_instance_uid: str
    study_instance_uid: str
    content_label: str
    content_description: str
    referenced: tuple[tuple[str, int | None], ...]
    layers: dict[str, tuple[int, list[int] | None]]
    graphics: tuple[DecodedGraphic, ...]
    graphic_types: tuple[str, ...]
    texts: tuple[DecodedText, ...]
    windows: dict[str, tuple[float, float]]


@dataclass
class _Annotation:
    """One Graphic Annotation Sequence item: one image (frames), one layer."""

    sop_instance_uid: str
    frames: tuple[int, ...]
    layer: str
    graphics: list[Graphic] = field(default_factory=list)
    texts: list[TextBox] = field(default_factory=list)


def _frames_of(ds: Dataset) -> int:
    try:
        return max(1, int(ds.get("NumberOfFrames", 1) or 1))
    except (TypeError, ValueError):
        return 1


def _size_of(ds: Dataset) -> tuple[int, int]:
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


def _window_of(ds: Dataset, frame: int | None) -> Dataset | None:
    """The image's first window (or VOI LUT) as a Softcopy VOI LUT item body, else None."""
    holders = [ds]
    for seq in ("SharedFunctionalGroupsSequence", "PerFrameFunctionalGroupsSequence"):
        groups = ds.get(seq) or []
        index = (frame or 1) - 1 if seq.startswith("PerFrame") else 0
        if index < len(groups):
            holders.extend(groups[index].get("FrameVOILUTSequence") or [])
    for holder in holders:
        centre, width = holder.get("WindowCenter"), holder.get("WindowWidth")
        if centre is not None and width is not None and str(centre) != "" and str(width) != "":
            item = Dataset()
            item.WindowCenter = _first(centre)
            item.WindowWidth = _first(width)
            explanation = holder.get("WindowCenterWidthExplanation")
            if explanation:
                item.WindowCenterWidthExplanation = str(_first(explanation))[:64]
            function = str(holder.get("VOILUTFunction", "") or "")
            if function in ("LINEAR", "LINEAR_EXACT", "SIGMOID"):
                item.VOILUTFunction = function
            return item
    luts = ds.get("VOILUTSequence") or []
    if luts:
        item = Dataset()
        item.VOILUTSequence = DicomSequence([deepcopy(luts[0])])
        return item
    return None


def _first(value: Any) -> Any:
    """First value of a possibly multi-valued attribute."""
    return value[0] if isinstance(value, (MultiValue, list, tuple)) else value


class GrayscaleSoftcopyPresentationState:
    """A GSPS showing the marks of ``findings`` on the source images (PS3.3 A.33.1).

    Parameters
    ----------
    findings
        The findings whose marks are drawn; marks on images without a header in ``sources`` (or
        on For Processing images) are left out with a warning.
    sources
        Headers of the study's images (pixel data not needed); all must share one study.
    algorithm_id, algorithm_version
        The algorithm that produced the findings (Content Description, deterministic UIDs).
    label
        Notice written once on every referenced image.
    created
        Presentation Creation Date/Time; default: the study date and time, so the output depends
        only on the inputs.

    Raises
    ------
    EncodingError
        No mark lands on a usable source image, a frame number is out of range, the images mix
        MONOCHROME1 and MONOCHROME2, or the sources span several studies.
    """

    def __init__(
        self,
        findings: Sequence[Finding],
        sources: Sequence[Dataset],
        algorithm_id: str,
        algorithm_version: str,
        label: str = NOTICE,
        *,
        created: datetime | None = None,
        series_number: int = DEFAULT_SERIES_NUMBER,
        instance_number: int = 1,
    ) -> None:
        if not sources:
            raise EncodingError("a GSPS needs at least one source image")
        study_instance_uid = one_study(sources)
        if not label.strip() or len(label) > 1024:
            raise EncodingError("the notice label must be 1..1024 characters (ST)")
        self.findings = tuple(findings)
        self.sources = tuple(sources)
        self.algorithm_id = algorithm_id
        self.algorithm_version = algorithm_version
        self.label = label
        self.series_number = series_number
        self.instance_number = instance_number
        self.study_instance_uid = study_instance_uid
        self.creation_date, self.creation_time = creation_datetime(self.sources, created)
        self._by_uid = {str(s.SOPInstanceUID): s for s in self.sources}
        self.annotations = self._plan()
        if not self.annotations:
            raise EncodingError("no mark lands on a For Presentation source image: nothing to present")
        self.referenced = self._referenced()
        self._photometric()  # fail now, not at write time
        inputs = [self.study_instance_uid, *sorted(self._by_uid)]
        self.sop_instance_uid = derive_uid("gsps", algorithm_id, algorithm_version, inputs)
        self.series_instance_uid = derive_uid(
            "gsps-series", algorithm_id, algorithm_version, [self.study_instance_uid]
        )

    # ---- planning: which image/frame gets which graphics -------------------------------------

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
        frames = _frames_of(src)
        if frames == 1:
            if mark.frame not in (None, 1):
                raise EncodingError(f"finding {finding.id}: frame {mark.frame} on a single-frame image")
            return None
        if mark.frame is not None and not 1 <= mark.frame <= frames:
            raise EncodingError(f"finding {finding.id}: frame {mark.frame} outside 1..{frames}")
        return mark.frame

    def _plan(self) -> list[_Annotation]:
        items: dict[tuple[str, tuple[int, ...], str], _Annotation] = {}
        extents: dict[str, list[tuple[int, int]]] = {}  # volume → the shown findings' frame ranges
        for finding in self.findings:
            style = KIND_STYLES[finding.kind]
            for mark in finding.marks:
                src = self._usable(mark, finding)
                if src is None:
                    continue
                frame = self._frame(mark, src, finding)
                frames = () if frame is None else (frame,)
                key = (mark.sop_instance_uid, frames, style.layer)
                ann = items.setdefault(key, _Annotation(mark.sop_instance_uid, frames, style.layer))
                rows, cols = _size_of(src)
                ann.graphics.extend(mark_graphics(mark, rows, cols))
                ann.texts.append(mark_text(mark_label(finding), mark, rows, cols))
                extent = self._plan_slices(items, mark, src, finding)
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
            if frame_set is not None and len(frame_set) == _frames_of(src) > 1:
                frame_set = None  # every frame (the scroll bar): no frame numbers, as for all
            rows, cols = _size_of(src)
            notice = _Annotation(uid, tuple(sorted(frame_set or ())), NOTICE_LAYER)
            notice.texts.append(notice_text(self.label, rows, cols, _chest_wall_on_right(src)))
            marked.append(notice)
        return marked

    def _plan_slices(
        self,
        items: dict[tuple[str, tuple[int, ...], str], _Annotation],
        mark: Mark,
        src: Dataset,
        finding: Finding,
    ) -> tuple[int, int] | None:
        """The ``FINDING_SLICES`` layer of a tomosynthesis mark: its outline on each frame of its
        extent; returns the extent (None: not a tomosynthesis volume or no extent)."""
        frames = _frames_of(src)
        extent = mark.frame_extent()
        if frames == 1 or extent is None or str(src.get("SOPClassUID", "")) != BREAST_TOMOSYNTHESIS:
            return None
        first, last = max(1, extent[0]), min(frames, extent[1])
        if first > last:
            raise EncodingError(f"finding {finding.id}: frames {extent} outside 1..{frames}")
        if (first, last) != extent:
            LOGGER.warning("GSPS: finding %s spans frames %s, clipped to 1..%d", finding.id, extent, frames)
        rows, cols = _size_of(src)
        outline = mark_graphics(mark, rows, cols)[:1]  # the closed outline (or bbox), no members
        for frame in range(first, last + 1):
            key = (mark.sop_instance_uid, (frame,), SLICE_LAYER)
            ann = items.setdefault(key, _Annotation(mark.sop_instance_uid, (frame,), SLICE_LAYER))
            ann.graphics.extend(outline)
        return first, last

    def _plan_scrollbar(
        self,
        items: dict[tuple[str, tuple[int, ...], str], _Annotation],
        uid: str,
        extents: list[tuple[int, int]],
    ) -> None:
        """The ``SCROLLBAR`` layer of a volume: on every frame, the track, the findings' ranges
        and a tick at that frame (Sectra pydicomutils' convention)."""
        src = self._by_uid[uid]
        frames = _frames_of(src)
        rows, cols = _size_of(src)
        right = _chest_wall_on_right(src)
        ranges = sorted(set(extents))
        for frame in range(1, frames + 1):
            ann = items.setdefault((uid, (frame,), SCROLL_LAYER), _Annotation(uid, (frame,), SCROLL_LAYER))
            ann.graphics.extend(slice_marker(frame, ranges, frames, rows, cols, right))

    def _referenced(self) -> dict[str, tuple[int, ...]]:
        """Referenced images in source order, each with its frames (empty = all frames)."""
        frames: dict[str, tuple[int, ...]] = {}
        for ann in self.annotations:
            if ann.layer == NOTICE_LAYER:
                frames[ann.sop_instance_uid] = ann.frames
        return {uid: frames[uid] for uid in self._by_uid if uid in frames}

    def _photometric(self) -> str:
        kinds = {
            str(self._by_uid[uid].get("PhotometricInterpretation", "MONOCHROME2")).upper()
            for uid in self.referenced
        }
        if kinds == {"MONOCHROME1"}:
            return "INVERSE"
        if "MONOCHROME1" in kinds:
            raise EncodingError(
                "referenced images mix MONOCHROME1 and MONOCHROME2: one GSPS cannot show both"
            )
        return "IDENTITY"

    # ---- writing -------------------------------------------------------------------------------

    @property
    def dataset(self) -> Dataset:
        """Same as :meth:`to_dataset` (a new Dataset each time)."""
        return self.to_dataset()

    def to_dataset(self) -> Dataset:
        """The complete GSPS instance with file meta (Explicit VR Little Endian)."""
        ds = new_instance(
            GRAYSCALE_SOFTCOPY_PRESENTATION_STATE_STORAGE,
            self.sop_instance_uid,
            self.sources[0],
            created=(self.creation_date, self.creation_time),
            modality="PR",  # General Series + Presentation Series (C.7.3.1, C.11.9)
            series_instance_uid=self.series_instance_uid,
            series_number=self.series_number,
            series_description=f"breastgate {self.algorithm_id} AI marks - not for diagnostic use",
            model_name=self.algorithm_id,
            software_version=self.algorithm_version,
        )
        ds.Laterality = series_laterality(self._by_uid[uid] for uid in self.referenced)
        # Presentation State Identification (C.11.10)
        ds.InstanceNumber = self.instance_number
        ds.ContentLabel = CONTENT_LABEL
        ds.ContentDescription = f"AI marks {self.algorithm_id} {self.algorithm_version}"[:64]
        ds.PresentationCreationDate, ds.PresentationCreationTime = self.creation_date, self.creation_time
        ds.ContentCreatorName = "breastgate^AI"
        # Presentation State Relationship (C.11.11)
        ds.ReferencedSeriesSequence = self._referenced_series()
        self._modality_lut(ds)
        # Displayed Area (C.10.4): whole image, scaled to fit
        ds.DisplayedAreaSelectionSequence = DicomSequence(
            [self._displayed_area(uid, frames) for uid, frames in self.referenced.items()]
        )
        # Graphic Annotation and Graphic Layer (C.10.5, C.10.7)
        ds.GraphicAnnotationSequence = DicomSequence([self._annotation(a) for a in self.annotations])
        ds.GraphicLayerSequence = self._layers()
        # Softcopy VOI LUT (C.11.8): the image's own first window
        voi = self._voi_items()
        if voi:
            ds.SoftcopyVOILUTSequence = DicomSequence(voi)
        # Softcopy Presentation LUT (C.11.6)
        ds.PresentationLUTShape = self._photometric()
        attach_file_meta(ds)
        return ds

    def _image_ref(self, uid: str, frames: tuple[int, ...]) -> Dataset:
        ref = Dataset()
        ref.ReferencedSOPClassUID = str(self._by_uid[uid].SOPClassUID)
        ref.ReferencedSOPInstanceUID = uid
        if frames:
            ref.ReferencedFrameNumber = list(frames) if len(frames) > 1 else frames[0]
        return ref

    def _referenced_series(self) -> DicomSequence:
        by_series: dict[str, list[Dataset]] = {}
        for uid, frames in self.referenced.items():
            series = str(self._by_uid[uid].get("SeriesInstanceUID", ""))
            if not series:
                raise InvalidInputError(f"source image {uid} lacks Series Instance UID")
            by_series.setdefault(series, []).append(self._image_ref(uid, frames))
        items = []
        for series_uid, refs in by_series.items():
            item = Dataset()
            item.SeriesInstanceUID = series_uid
            item.ReferencedImageSequence = DicomSequence(refs)
            items.append(item)
        return DicomSequence(items)

    def _modality_lut(self, ds: Dataset) -> None:
        """Copy Rescale Slope/Intercept/Type when every referenced image has the same (C.11.1)."""
        values = {
            (
                str(self._by_uid[uid].get("RescaleSlope", "")),
                str(self._by_uid[uid].get("RescaleIntercept", "")),
                str(self._by_uid[uid].get("RescaleType", "") or "US"),
            )
            for uid in self.referenced
        }
        if len(values) != 1:
            LOGGER.warning("GSPS: referenced images differ in Rescale Slope/Intercept; none applied")
            return
        slope, intercept, kind = values.pop()
        if slope and intercept:
            ds.RescaleIntercept, ds.RescaleSlope, ds.RescaleType = intercept, slope, kind

    def _displayed_area(self, uid: str, frames: tuple[int, ...]) -> Dataset:
        src = self._by_uid[uid]
        rows, cols = _size_of(src)
        item = Dataset()
        item.ReferencedImageSequence = DicomSequence([self._image_ref(uid, frames)])
        item.DisplayedAreaTopLeftHandCorner = [1, 1]
        item.DisplayedAreaBottomRightHandCorner = [cols, rows]
        item.PresentationSizeMode = "SCALE TO FIT"
        spacing = spacing_of(src)
        if spacing is None or abs(spacing[0] - spacing[1]) < 1e-9:
            item.PresentationPixelAspectRatio = [1, 1]
        else:
            item.PresentationPixelAspectRatio = [round(spacing[0] * 10000), round(spacing[1] * 10000)]
        return item

    def _annotation(self, ann: _Annotation) -> Dataset:
        item = Dataset()
        item.ReferencedImageSequence = DicomSequence([self._image_ref(ann.sop_instance_uid, ann.frames)])
        item.GraphicLayer = ann.layer
        if ann.texts:
            item.TextObjectSequence = DicomSequence([text_item(t) for t in ann.texts])
        if ann.graphics:
            item.GraphicObjectSequence = DicomSequence([graphic_item(g) for g in ann.graphics])
        return item

    def _layers(self) -> DicomSequence:
        used = {a.layer for a in self.annotations}
        items = []
        styles = [
            *KIND_STYLES.values(),
            _SLICE_STYLE,
            _SCROLL_STYLE,
            KindStyle(NOTICE_LAYER, "AI notice", _NOTICE_RGB),
        ]
        for order, style in enumerate(styles, start=1):
            if style.layer not in used:
                continue
            item = Dataset()
            item.GraphicLayer = style.layer
            item.GraphicLayerOrder = order
            item.GraphicLayerRecommendedDisplayGrayscaleValue = 0xFFFF
            item.GraphicLayerRecommendedDisplayCIELabValue = cielab(style.rgb)
            item.GraphicLayerDescription = f"{style.word} marks ({self.algorithm_id})"[:64]
            if style.layer == NOTICE_LAYER:
                item.GraphicLayerDescription = "AI output notice"
            elif style.layer == SLICE_LAYER:
                item.GraphicLayerDescription = "Finding outline on every slice it spans"
            elif style.layer == SCROLL_LAYER:
                item.GraphicLayerDescription = "Where the findings lie along the stack"
            items.append(item)
        return DicomSequence(items)

    def _voi_items(self) -> list[Dataset]:
        items = []
        for uid, frames in self.referenced.items():
            item = _window_of(self._by_uid[uid], frames[0] if frames else None)
            if item is None:
                LOGGER.warning("GSPS: image %s has no window or VOI LUT; shown without VOI", uid)
                continue
            item.ReferencedImageSequence = DicomSequence([self._image_ref(uid, frames)])
            items.append(item)
        return items

    # ---- reading -------------------------------------------------------------------------------

    @staticmethod
    def from_dataset(ds: Dataset) -> DecodedGSPS:
        """Decode a GSPS (tolerant: annotations without image references apply to every image)."""
        if str(ds.get("SOPClassUID", "")) != GRAYSCALE_SOFTCOPY_PRESENTATION_STATE_STORAGE:
            raise InvalidInputError("not a Grayscale Softcopy Presentation State")
        referenced = _refs(
            [
                ref
                for s in ds.get("ReferencedSeriesSequence", [])
                for ref in s.get("ReferencedImageSequence", [])
            ]
        )
        graphics: list[DecodedGraphic] = []
        types: list[str] = []
        texts: list[DecodedText] = []
        for ann in ds.get("GraphicAnnotationSequence", []):
            targets = _refs(ann.get("ReferencedImageSequence", [])) or referenced
            layer = str(ann.get("GraphicLayer", ""))
            for uid, frame in targets:
                for obj in ann.get("GraphicObjectSequence", []):
                    data = [float(v) for v in obj.get("GraphicData", [])]
                    points = list(zip(data[0::2], data[1::2], strict=False))
                    graphics.append(DecodedGraphic(uid, frame, layer, points))
                    types.append(str(obj.get("GraphicType", "")))
                for obj in ann.get("TextObjectSequence", []):
                    texts.append(DecodedText(uid, frame, layer, str(obj.get("UnformattedTextValue", ""))))
        layers = {
            str(item.GraphicLayer): (
                int(item.get("GraphicLayerOrder", 0)),
                [int(v) for v in item.GraphicLayerRecommendedDisplayCIELabValue]
                if "GraphicLayerRecommendedDisplayCIELabValue" in item
                else None,
            )
            for item in ds.get("GraphicLayerSequence", [])
        }
        windows: dict[str, tuple[float, float]] = {}
        for item in ds.get("SoftcopyVOILUTSequence", []):
            if "WindowCenter" in item:
                for uid, _ in _refs(item.get("ReferencedImageSequence", [])) or referenced:
                    windows[uid] = (float(_first(item.WindowCenter)), float(_first(item.WindowWidth)))
        return DecodedGSPS(
            sop_instance_uid=str(ds.SOPInstanceUID),
            series_instance_uid=str(ds.SeriesInstanceUID),
            study_instance_uid=str(ds.StudyInstanceUID),
            content_label=str(ds.get("ContentLabel", "")),
            content_description=str(ds.get("ContentDescription", "")),
            referenced=tuple(referenced),
            layers=layers,
            graphics=tuple(graphics),
            graphic_types=tuple(types),
            texts=tuple(texts),
            windows=windows,
        )


def decode_gsps(ds: Dataset) -> list[DecodedGraphic]:
    """Every graphic object as (sop_instance_uid, frame, layer, points), one entry per frame."""
    return list(GrayscaleSoftcopyPresentationState.from_dataset(ds).graphics)


def _refs(items: Sequence[Dataset]) -> list[tuple[str, int | None]]:
    out: list[tuple[str, int | None]] = []
    for ref in items:
        uid = str(ref.get("ReferencedSOPInstanceUID", ""))
        frames = ref.get("ReferencedFrameNumber")
        if frames is None or frames == "":
            out.append((uid, None))
        elif isinstance(frames, (MultiValue, list, tuple)):
            out.extend((uid, int(f)) for f in frames)
        else:
            out.append((uid, int(frames)))
    return out
