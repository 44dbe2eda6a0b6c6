"""Secondary Capture Image Storage (PS3.3 A.8.1, SOP Class 1.2.840.10008.5.1.4.1.1.7): a summary image.

:class:`SecondaryCaptureSummary` renders one RGB 8-bit picture any PACS viewer can show, for sites
whose viewer applies neither CAD SR nor GSPS: the four screening views as radiologists hang them
(R CC, L CC on top; R MLO, L MLO below; right breast on the left of the screen, chest walls meeting
in the middle), each windowed with its own first window and downsampled to fit a 1024 × 1024 image,
the AI marks drawn in the colour of their kind with their scores, a header line with the
not-for-diagnostic-use notice, the suspicion score, priority and flags, and the algorithm's label
at the bottom. Burned In Annotation is YES. Placement follows DESIGN §4: same study, new series,
deterministic UIDs.

The instance is a :class:`highdicom.sc.SCImage` (the montage rendering is ours); after it is built,
breastgate copies the Patient and General Study modules as for every output, pins highdicom's
wall-clock stamps to the study's date and time (:func:`~.placement.pin_creation`) and sets what
highdicom decides otherwise: Patient Orientation empty (highdicom requires a value for a PATIENT
image, but the montage shows both breasts mirrored: no one orientation holds, and PS3.3 C.7.6.1
allows it empty), Laterality empty for both breasts (highdicom takes R or L only), Conversion Type
WSD (the montage is rendered at a workstation; highdicom writes DI) and Image Type
DERIVED\\SECONDARY.

Tomosynthesis studies (:mod:`breastgate.results.summary_tomo`): a synthesized 2-D view also shows
the marks of findings on the volume it was synthesized from, mapped onto its grid and labelled
with their frame (``"Mass 0.65 DBT f23"``). A volume finding and a finding on the synthesized view
that name each other in ``correlated_with`` and are marked at the same place are one lesion: only
the view's own mark is drawn (it needs no mapping), its label followed by the volume finding's
frame and score (``"Mass 0.72 / DBT f23 0.65"``), so neither score is hidden. A slot with a
volume but no 2-D view shows the volume's frame holding its best mark (else the central frame),
read frame by frame.
"""

from __future__ import annotations

import logging
import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any

import numpy as np
import numpy.typing as npt
from highdicom import ReferencedImageSequence
from highdicom.sc import SCImage
from PIL import Image, ImageDraw, ImageFont
from pydicom.dataset import Dataset
from pydicom.multival import MultiValue
from pydicom.sequence import Sequence as DicomSequence

from breastgate.domain.errors import EncodingError, InvalidInputError
from breastgate.domain.model import NOT_FOR_DIAGNOSTIC_USE, CaseAssessment, Finding, Mark, Point, Triage
from breastgate.imaging.errors import ImagingError
from breastgate.imaging.pixels import laterality_of, view_of
from breastgate.results.gsps import KIND_STYLES, series_laterality
from breastgate.results.placement import (
    creation_datetime,
    finish_instance,
    highdicom_fields,
    highdicom_refusal,
)
from breastgate.results.summary_tomo import (
    GridMap,
    MarkPlacement,
    best_frame,
    frame_header,
    grid_map,
    read_frame,
    read_volume,
)
from breastgate.results.uids import derive_uid

LOGGER = logging.getLogger(__name__)

SECONDARY_CAPTURE_IMAGE_STORAGE = "1.2.840.10008.5.1.4.1.1.7"
DEFAULT_SERIES_NUMBER = 9903
#: ASCII on purpose: Pillow's built-in font has no en dash.
NOTICE = "AI OUTPUT - NOT FOR DIAGNOSTIC USE"
SIZE = 1024
HEADER_PX = 56
FOOTER_PX = 40
GAP_PX = 8

Font = ImageFont.FreeTypeFont | ImageFont.ImageFont
RGB = tuple[int, int, int]
_HEADER_BG: RGB = (110, 0, 0)
_TEXT: RGB = (255, 255, 255)
_DIM: RGB = (170, 170, 170)
#: (row, column) of each view in the 2 × 2 montage; right-breast views on the left of the screen.
_ROW_OF_VIEW = {
    "CC": 0,
    "XCCL": 0,
    "XCCM": 0,
    "CCID": 0,
    "FB": 0,
    "MLO": 1,
    "ML": 1,
    "LM": 1,
    "LMO": 1,
    "SIO": 1,
}
_COLUMN_OF_SIDE = {"R": 0, "L": 1}
_EXACT = {"CC", "MLO"}
_SLOT_NAMES = {("R", "CC"): (0, 0), ("L", "CC"): (0, 1), ("R", "MLO"): (1, 0), ("L", "MLO"): (1, 1)}
Slots = dict[str, tuple["Tile", Dataset, npt.NDArray[Any]]]


@dataclass(frozen=True)
class Tile:
    """Where one source image sits in the montage: top-left corner, scale and flips."""

    sop_instance_uid: str
    laterality: str
    view: str
    x0: int
    y0: int
    width: int
    height: int
    scale: float
    rows: int
    cols: int
    flip_h: bool = False
    flip_v: bool = False
    frame: int | None = None  # the 1-based frame shown, when the image is a tomosynthesis volume

    def to_canvas(self, point: Point) -> tuple[float, float]:
        """Image coordinates (column, row) → montage pixel coordinates (x, y)."""
        col = self.cols - point[0] if self.flip_h else point[0]
        row = self.rows - point[1] if self.flip_v else point[1]
        return self.x0 + col * self.scale, self.y0 + row * self.scale


@dataclass(frozen=True)
class DecodedSummary:
    """What :meth:`SecondaryCaptureSummary.from_dataset` returns."""

    sop_instance_uid: str
    series_instance_uid: str
    study_instance_uid: str
    header: str
    source_sop_instance_uids: tuple[str, ...]
    pixels: npt.NDArray[np.uint8]


def header_text(assessment: CaseAssessment | None, triage: Triage | None) -> str:
    """``AI OUTPUT - NOT FOR DIAGNOSTIC USE - suspicion NN/100, priority X, flags: …``."""
    parts = [f"suspicion {round(assessment.suspicion_score)}/100" if assessment else "suspicion n/a"]
    if triage is not None:
        parts.append(f"priority {triage.priority.value.upper()}")
        parts.append(f"flags: {', '.join(triage.flags)}" if triage.flags else "no flags")
    return f"{NOTICE} - {', '.join(parts)}"


def _font(size: int) -> Font:
    return ImageFont.load_default(size=size)


def _wrap(text: str, font: Font, width: float, max_lines: int) -> list[str]:
    """Greedy word wrap to ``width`` pixels; the last line ends with … when text is left over."""
    lines: list[str] = []
    current = ""
    for word in text.split():
        trial = f"{current} {word}".strip()
        if font.getlength(trial) <= width or not current:
            current = trial
        else:
            lines.append(current)
            current = word
    if current:
        lines.append(current)
    if len(lines) > max_lines:
        last = " ".join(lines[max_lines - 1 :])
        while last and font.getlength(last + "…") > width:
            last = last[:-1]
        lines = [*lines[: max_lines - 1], last.rstrip() + "…"]
    return lines


def window(pixels: npt.NDArray[Any], ds: Dataset) -> npt.NDArray[np.float32]:
    """Stored values → display values 0..255 (PS3.3 C.11.1 rescale, C.11.2.1.2 window).

    MONOCHROME1 images are inverted, so the result is always MONOCHROME2 (bright = dense).
    """
    values: npt.NDArray[np.float32] = pixels.astype(np.float32)
    slope, intercept = float(ds.get("RescaleSlope", 1) or 1), float(ds.get("RescaleIntercept", 0) or 0)
    if (slope, intercept) != (1.0, 0.0):
        values = values * np.float32(slope) + np.float32(intercept)
    centre, width = _first(ds.get("WindowCenter")), _first(ds.get("WindowWidth"))
    if centre is None or width is None or float(width) < 1:
        sample = values[:: max(1, values.shape[0] // 512), :: max(1, values.shape[1] // 512)]
        lo, hi = (float(v) for v in np.percentile(sample, [0.5, 99.5]))
        centre, width = (lo + hi) / 2, max(hi - lo, 1.0)
    c, w = float(centre), float(width)
    out: npt.NDArray[np.float32]
    if str(ds.get("VOILUTFunction", "")).upper() == "SIGMOID":
        out = 255.0 / (1.0 + np.exp(-4.0 * (values - c) / w))
    else:  # LINEAR (PS3.3 C.11.2.1.2.1)
        out = ((values - (c - 0.5)) / max(w - 1, 1.0) + 0.5) * 255.0
    out = np.clip(out, 0.0, 255.0).astype(np.float32)
    if str(ds.get("PhotometricInterpretation", "")).upper() == "MONOCHROME1":
        out = (255.0 - out).astype(np.float32)
    return out


def _first(value: Any) -> Any:
    """First value of a possibly multi-valued attribute; None when absent or empty."""
    if isinstance(value, (MultiValue, list, tuple)):
        value = value[0] if len(value) else None
    return None if value is None or value == "" else value


def _flips(ds: Dataset, laterality: str, row: int) -> tuple[bool, bool]:
    """Flip so the chest wall faces the middle of the screen and, on MLO views, the feet are down."""
    orientation = [str(v).strip().upper() for v in (ds.get("PatientOrientation") or [])]
    if len(orientation) != 2:
        return False, False
    toward_right = orientation[0][:1]  # direction of increasing column
    flip_h = (laterality == "R" and toward_right == "A") or (laterality == "L" and toward_right == "P")
    flip_v = row == 1 and orientation[1][:1] == "H"
    return flip_h, flip_v


def _place(
    ds: Dataset, uid: str, side: str, view: str, rows: int, cols: int, frame: int | None = None
) -> Tile:
    """The tile of an image in its slot: as large as the box allows, chest wall towards the middle."""
    box_w = (SIZE - 3 * GAP_PX) / 2
    box_h = (SIZE - HEADER_PX - FOOTER_PX - 3 * GAP_PX) / 2
    slot = (_ROW_OF_VIEW[view], _COLUMN_OF_SIDE[side])
    scale = min(box_w / cols, box_h / rows)
    width, height = max(1, round(cols * scale)), max(1, round(rows * scale))
    bx = GAP_PX + slot[1] * (box_w + GAP_PX)
    x0 = round(bx + box_w - width) if side == "R" else round(bx)  # chest walls meet mid-screen
    y0 = round(HEADER_PX + GAP_PX + slot[0] * (box_h + GAP_PX))
    flip_h, flip_v = _flips(ds, side, slot[0])
    return Tile(uid, side, view, x0, y0, width, height, scale, rows, cols, flip_h, flip_v, frame)


def _best_score(uid: str, findings: Sequence[Finding]) -> float:
    """The best score of a finding marked on image ``uid`` (-1 when none is)."""
    return max((f.score for f in findings if any(m.sop_instance_uid == uid for m in f.marks)), default=-1.0)


class SecondaryCaptureSummary:
    """A 2 × 2 summary montage of a screening study with the AI marks burned in (RGB 8-bit SC).

    Parameters
    ----------
    images
        (header, stored pixel values) of the study's views, e.g. ``(ds, ds.pixel_array)``; 2-D
        arrays only. Views other than the four screening slots, or a second image for a slot, are
        left out with a warning.
    findings
        Findings whose marks are drawn (marks on images not shown are skipped).
    volumes
        Paths of the study's Breast Tomosynthesis Image files: their marks are drawn on the
        synthesized 2-D views derived from them, and a slot without a 2-D image shows one of their
        frames. Read frame by frame, never whole; an unreadable file is left out with a warning.
    assessment, triage
        Shown in the header line when given.
    algorithm_id, algorithm_version
        What produced the result (footer, deterministic UIDs).
    label
        The algorithm's label (intended use / not-for-diagnostic-use statement), shown at the bottom.
    created
        Content Date/Time; default: the study date and time, so the output depends only on inputs.
    """

    def __init__(
        self,
        images: Sequence[tuple[Dataset, npt.NDArray[Any]]],
        findings: Sequence[Finding],
        assessment: CaseAssessment | None,
        triage: Triage | None,
        algorithm_id: str,
        algorithm_version: str,
        label: str = NOT_FOR_DIAGNOSTIC_USE,
        *,
        created: datetime | None = None,
        series_number: int = DEFAULT_SERIES_NUMBER,
        instance_number: int = 1,
        volumes: Sequence[str | Path] = (),
    ) -> None:
        read = [v for v in (read_volume(path) for path in volumes) if v is not None]
        if not images and not read:
            raise EncodingError("a summary needs at least one image")
        studies = {str(ds.get("StudyInstanceUID", "")) for ds, _ in images}
        studies |= {str(v.header.get("StudyInstanceUID", "")) for v in read}
        if len(studies) != 1 or "" in studies:
            raise EncodingError("images do not all belong to one study")
        self.volumes = {v.sop_instance_uid: v for v in read}
        self.sources = tuple(ds for ds, _ in images) + tuple(v.header for v in read)
        self.findings = tuple(findings)
        self.assessment, self.triage = assessment, triage
        self.algorithm_id, self.algorithm_version = algorithm_id, algorithm_version
        self.label = label
        self.series_number, self.instance_number = series_number, instance_number
        self.study_instance_uid = studies.pop()
        self.creation_date, self.creation_time = creation_datetime(self.sources, created)
        self.header = header_text(assessment, triage)
        slots = self._slots(images)
        slots.update(self._volume_slots(slots))
        if not slots:
            raise EncodingError("no image is a screening view (R/L CC or MLO) with known laterality")
        self.tiles = {uid: tile for uid, (tile, _, _) in slots.items()}
        #: synthesized 2-D view shown → how marks on its volume map onto it
        self.grid_maps: dict[str, GridMap] = {}
        for uid, (tile, ds, _) in slots.items():
            mapping = grid_map(ds, self.volumes) if tile.frame is None and self.volumes else None
            if mapping is not None:
                self.grid_maps[uid] = mapping
        shown = {uid: tile.frame for uid, tile in self.tiles.items()}
        self.placement = MarkPlacement(self.findings, shown, self.grid_maps)
        inputs = [self.study_instance_uid, *sorted(str(ds.SOPInstanceUID) for ds in self.sources)]
        self.sop_instance_uid = derive_uid("sc", algorithm_id, algorithm_version, inputs)
        self.series_instance_uid = derive_uid(
            "sc-series", algorithm_id, algorithm_version, [self.study_instance_uid]
        )
        self.pixels = self._render(slots)

    # ---- layout --------------------------------------------------------------------------------

    def _slots(self, images: Sequence[tuple[Dataset, npt.NDArray[Any]]]) -> Slots:
        taken: dict[tuple[int, int], tuple[str, bool]] = {}
        out: Slots = {}
        for ds, pixels in images:
            uid = str(ds.SOPInstanceUID)
            side, view = laterality_of(ds), view_of(ds) or ""
            if side is None or view not in _ROW_OF_VIEW:
                LOGGER.warning("summary: image %s is not a screening view; left out", uid)
                continue
            if pixels.ndim != 2:
                raise EncodingError(f"image {uid}: expected 2-D pixels, got shape {pixels.shape}")
            rows, cols = pixels.shape
            if (int(ds.get("Rows", rows)), int(ds.get("Columns", cols))) != (rows, cols):
                raise EncodingError(f"image {uid}: pixels {pixels.shape} do not match Rows/Columns")
            slot = (_ROW_OF_VIEW[view], _COLUMN_OF_SIDE[side])
            if slot in taken and (taken[slot][1] or view not in _EXACT):
                LOGGER.warning("summary: slot %s already shows %s; %s left out", slot, taken[slot][0], uid)
                continue
            if slot in taken:
                out.pop(taken[slot][0])
            taken[slot] = (uid, view in _EXACT)
            out[uid] = (_place(ds, uid, side, view, rows, cols), ds, pixels)
        return out

    def _volume_slots(self, shown: Slots) -> Slots:
        """Slots no 2-D image fills, each from one volume's frame (its best mark, else the middle);
        of two volumes for one slot, the one with the better mark, then the exact view."""
        occupied = {(_ROW_OF_VIEW[t.view], _COLUMN_OF_SIDE[t.laterality]) for t, _, _ in shown.values()}

        def rank(uid: str) -> tuple[float, bool, str]:
            view = (self.volumes[uid].info.view or "").upper()
            return -_best_score(uid, self.findings), view not in _EXACT, uid

        out: Slots = {}
        for uid in sorted(self.volumes, key=rank):
            volume = self.volumes[uid]
            side, view = volume.info.laterality, (volume.info.view or "").upper()
            if side is None or view not in _ROW_OF_VIEW:
                LOGGER.warning("summary: volume %s is not a screening view; not shown", uid)
                continue
            slot = (_ROW_OF_VIEW[view], _COLUMN_OF_SIDE[side])
            if slot in occupied:
                continue
            frame = best_frame(volume, self.findings)
            try:
                pixels = read_frame(volume, frame)
            except ImagingError as exc:
                LOGGER.warning("summary: frame %d of volume %s left out: %s", frame, uid, exc)
                continue
            ds = frame_header(volume, frame)
            occupied.add(slot)
            out[uid] = (_place(ds, uid, side, view, volume.info.rows, volume.info.columns, frame), ds, pixels)
        return out

    # ---- drawing -------------------------------------------------------------------------------

    def _render(self, slots: dict[str, tuple[Tile, Dataset, npt.NDArray[Any]]]) -> npt.NDArray[np.uint8]:
        canvas = Image.new("RGB", (SIZE, SIZE), (0, 0, 0))
        draw = ImageDraw.Draw(canvas)
        small, big = _font(13), _font(18)
        for tile, ds, pixels in slots.values():
            canvas.paste(_tile_image(tile, ds, pixels), (tile.x0, tile.y0))
            name = f"{tile.laterality} {tile.view}" + ("" if tile.frame is None else f" DBT f{tile.frame}")
            x = tile.x0 + 4 if tile.laterality == "R" else tile.x0 + tile.width - 4 - small.getlength(name)
            _shadow_text(draw, (x, tile.y0 + 4), name, small, _TEXT)
        occupied = {(_ROW_OF_VIEW[t.view], _COLUMN_OF_SIDE[t.laterality]) for t in self.tiles.values()}
        for (side, view), slot in _SLOT_NAMES.items():
            if slot not in occupied:
                x = GAP_PX + slot[1] * (SIZE - GAP_PX) / 2 + 20
                y = HEADER_PX + GAP_PX + slot[0] * (SIZE - HEADER_PX - FOOTER_PX) / 2 + 20
                draw.text((x, y), f"{side} {view}: no image", font=small, fill=_DIM)
        for finding in self.findings:
            self._draw_finding(draw, finding, small)
        draw.rectangle((0, 0, SIZE - 1, HEADER_PX - 1), fill=_HEADER_BG)
        for i, line in enumerate(_wrap(self.header, big, SIZE - 2 * GAP_PX, 2)):
            draw.text((GAP_PX, 5 + 23 * i), line, font=big, fill=_TEXT)
        footer = f"{self.algorithm_id} {self.algorithm_version}: {self.label}"
        for i, line in enumerate(_wrap(footer, small, SIZE - 2 * GAP_PX, 2)):
            draw.text((GAP_PX, SIZE - FOOTER_PX + 3 + 17 * i), line, font=small, fill=_DIM)
        return np.asarray(canvas, dtype=np.uint8).copy()

    def _draw_finding(self, draw: ImageDraw.ImageDraw, finding: Finding, font: Font) -> None:
        style = KIND_STYLES[finding.kind]
        for mark in finding.marks:
            placements = self.placement(finding, mark)
            if not placements:
                LOGGER.debug("summary: finding %s marks an image not shown", finding.id)
            for uid, to_grid, text in placements:
                self._draw_mark(draw, self.tiles[uid], mark, to_grid, text, style.rgb, font)

    @staticmethod
    def _draw_mark(
        draw: ImageDraw.ImageDraw,
        tile: Tile,
        mark: Mark,
        to_grid: GridMap | None,
        text: str,
        rgb: RGB,
        font: Font,
    ) -> None:
        """Outline (or box), calcification circles and label of one mark; ``to_grid`` maps a
        volume's coordinates onto the tile's image."""
        where: Callable[[Point], tuple[float, float]] = (
            tile.to_canvas if to_grid is None else (lambda p: tile.to_canvas(to_grid(p)))
        )
        if len(mark.outline) >= 3:
            ring = [where(p) for p in mark.outline]
        else:
            c0, r0, c1, r1 = mark.bbox
            ring = [where(p) for p in ((c0, r0), (c1, r0), (c1, r1), (c0, r1))]
        draw.line([*ring, ring[0]], fill=rgb, width=2)
        for centre in mark.members:
            x, y = where(centre)
            draw.ellipse((x - 3, y - 3, x + 3, y + 3), outline=rgb, width=1)
        top = min(y for _, y in ring)
        left = min(x for x, _ in ring)
        tx = min(max(left, tile.x0), tile.x0 + tile.width - font.getlength(text))
        ty = top - 17 if top - 17 >= tile.y0 else max(y for _, y in ring) + 3
        _shadow_text(draw, (tx, ty), text, font, rgb)

    # ---- writing / reading ---------------------------------------------------------------------

    @property
    def dataset(self) -> Dataset:
        """Same as :meth:`to_dataset` (a new Dataset each time)."""
        return self.to_dataset()

    def to_dataset(self) -> Dataset:
        """The complete SC instance with file meta (Explicit VR Little Endian)."""
        shown = [src for src in self.sources if str(src.SOPInstanceUID) in self.tiles]
        created = (self.creation_date, self.creation_time)
        description = f"breastgate {self.algorithm_id} AI summary - not for diagnostic use"
        with highdicom_refusal("SC summary"):
            ds = SCImage(
                pixel_array=self.pixels,  # Image Pixel (C.7.6.3): RGB 8-bit, colour-by-pixel
                photometric_interpretation="RGB",
                bits_allocated=8,
                coordinate_system="PATIENT",
                study_instance_uid=self.study_instance_uid,
                series_instance_uid=self.series_instance_uid,
                series_number=self.series_number,
                sop_instance_uid=self.sop_instance_uid,
                instance_number=self.instance_number,
                patient_orientation=("L", "F"),  # required by highdicom, emptied below
                **highdicom_fields(created, description, self.algorithm_id, self.algorithm_version),
            )
        finish_instance(ds, self.sources[0], created)
        # General Series (C.7.3.1): Laterality R or L for one breast, empty for both (Type 2C)
        ds.Laterality = series_laterality(shown)
        # General Image (C.7.6.1): a montage of both breasts has no one orientation (Type 2C, empty)
        ds["PatientOrientation"].value = ""
        # SC Equipment (C.8.6.1): rendered here, at a workstation
        ds.ConversionType = "WSD"
        ds.SecondaryCaptureDeviceManufacturer = "breastgate"
        ds.SecondaryCaptureDeviceManufacturerModelName = self.algorithm_id[:64]
        ds.SecondaryCaptureDeviceSoftwareVersions = self.algorithm_version[:64]
        # General Image (C.7.6.1), SC Image (C.8.6.2)
        ds.ImageType = ["DERIVED", "SECONDARY"]
        derivation = "2x2 montage of the screening views, downsampled, AI marks burned in"
        if any(t.frame is not None for t in self.tiles.values()):
            derivation += "; tomosynthesis slice where a view has no 2-D image"
        ds.DerivationDescription = derivation
        ds.SourceImageSequence = DicomSequence(
            [self._source_ref(src, self.tiles[str(src.SOPInstanceUID)].frame) for src in shown]
        )
        ds.ImageComments = self.header
        ds.BurnedInAnnotation = "YES"
        return ds

    @staticmethod
    def _source_ref(src: Dataset, frame: int | None = None) -> Dataset:
        """Image SOP Instance Reference (PS3.3 C.10.3), with the frame shown of a multi-frame image."""
        return ReferencedImageSequence([src], referenced_frame_number=frame)[0]

    @staticmethod
    def from_dataset(ds: Dataset) -> DecodedSummary:
        """Decode a summary SC written by this class (pixels as a rows × columns × 3 array)."""
        if str(ds.get("SOPClassUID", "")) != SECONDARY_CAPTURE_IMAGE_STORAGE:
            raise InvalidInputError("not a Secondary Capture Image")
        if int(ds.get("SamplesPerPixel", 1)) != 3 or int(ds.get("BitsAllocated", 0)) != 8:
            raise InvalidInputError("not an RGB 8-bit summary image")
        pixels = np.frombuffer(ds.PixelData, dtype=np.uint8).reshape(int(ds.Rows), int(ds.Columns), 3)
        return DecodedSummary(
            sop_instance_uid=str(ds.SOPInstanceUID),
            series_instance_uid=str(ds.SeriesInstanceUID),
            study_instance_uid=str(ds.StudyInstanceUID),
            header=str(ds.get("ImageComments", "")),
            source_sop_instance_uids=tuple(
                str(r.ReferencedSOPInstanceUID) for r in ds.get("SourceImageSequence", [])
            ),
            pixels=pixels,
        )


def _tile_image(tile: Tile, ds: Dataset, pixels: npt.NDArray[Any]) -> Image.Image:
    """Window at full resolution, flip, then box-filter down to the tile size (keeps small specks)."""
    shown = window(pixels, ds)
    if tile.flip_h:
        shown = shown[:, ::-1]
    if tile.flip_v:
        shown = shown[::-1, :]
    small = Image.fromarray(np.ascontiguousarray(shown)).resize(
        (tile.width, tile.height), Image.Resampling.BOX
    )
    grey = np.clip(np.rint(np.asarray(small, dtype=np.float32)), 0, 255).astype(np.uint8)
    return Image.fromarray(np.repeat(grey[:, :, None], 3, axis=2))


def _shadow_text(
    draw: ImageDraw.ImageDraw, xy: tuple[float, float], text: str, font: Font, fill: RGB
) -> None:
    """Text with a 1-pixel black shadow, legible over bright tissue."""
    x, y = math.floor(xy[0]), math.floor(xy[1])
    draw.text((x + 1, y + 1), text, font=font, fill=(0, 0, 0))
    draw.text((x, y), text, font=font, fill=fill)
