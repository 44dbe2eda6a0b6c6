"""Read the text burned into an ultrasound frame outside its image regions (Tesseract OCR).

Scanners write the probe position ("RT BREAST 10:00 3 CM FN") and settings in the margins of the
frame, outside the regions named by the Sequence of Ultrasound Regions (0018,6011). Only that
annotation area is read: the regions are masked black, light text is found as horizontal runs of
bright pixels, each run is cut out, upscaled to a height Tesseract reads well, thresholded and
inverted (dark text on white), and the cut-outs are stacked into one strip read with one call of
``tesseract --psm 6``. The words come back with their boxes in frame pixels, so the caller can
mask the text out before detection. Lines stacked in one left-aligned column (a text wrapped as
"RT BREAST / 7:00 6 / CM FN") are joined into one text before parsing; the location is
:func:`~breastgate.imaging.us_annotation.parse_annotation` of these texts (fields merged across
them, a field read two ways is unknown).

Needs Debian's ``tesseract-ocr`` and ``pytesseract``; both are looked up when called, so a missing
Tesseract gives ``available=False`` with the reason instead of an error at import. Run the workers
with ``OMP_THREAD_LIMIT=1``: Tesseract's OpenMP threads only slow these small images down (0.7-1.0 s
against 0.25-0.38 s per strip on two cores). The ``breastgate`` command sets it unless the operator
did; this module does not change the environment.
"""

from __future__ import annotations

import functools
import logging
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
from PIL import Image
from scipy import ndimage as ndi

from breastgate.imaging.us_annotation import UsLocation, parse_annotation

LOGGER = logging.getLogger(__name__)

Box = tuple[int, int, int, int]  # (c0, r0, c1, r1) inclusive frame pixels, as Region Location X0..Y1

#: Pixels around each image region masked with it (its border line, an off-by-one region box).
REGION_MARGIN_PX = 2
#: Tesseract page segmentation mode for the strip of stacked lines: one uniform block of text.
TESSERACT_CONFIG = "--psm 6"
#: Height (px) a line of text is scaled to before OCR (Tesseract reads ~30-50 px text best).
TARGET_LINE_PX = 48
#: Darkest grey taken for annotation text (screen text is light on a dark background).
MIN_TEXT_GREY = 60
#: Fraction of the brightest annotation grey above which a pixel is text.
TEXT_FRACTION = 0.45
#: Gap (px) bridged between characters and words of one line.
WORD_GAP_PX = 12
#: Lines of text are between these heights (px) in the frame.
MIN_LINE_PX, MAX_LINE_PX = 6, 60
#: Words Tesseract is less sure of than this (0-100) are dropped.
MIN_WORD_CONFIDENCE = 5.0
#: Text over the image (inside a region) is this bright; tissue rarely is.
INSIDE_TEXT_GREY = 235
#: Cut-outs over the image are binarised at this fraction of :data:`INSIDE_TEXT_GREY`.
INSIDE_LEVEL = 0.75
#: Words over the image are kept from this confidence (0-100) up.
INSIDE_MIN_CONFIDENCE = 30.0
#: Seconds one Tesseract call may take before the frame is given up.
OCR_TIMEOUT_S = 30
_PAD = 3
_STRIP_GAP = 24


@dataclass(frozen=True)
class TextLine:
    """One line of text read in the frame, with its inclusive box (c0, r0, c1, r1) in frame pixels."""

    text: str
    box: Box
    confidence: float


@dataclass(frozen=True)
class AnnotationReading:
    """What was read in the annotation area of one frame.

    ``available`` is False (with ``reason``) when OCR could not run; ``location`` is then unknown.
    """

    available: bool
    lines: tuple[TextLine, ...]
    location: UsLocation
    reason: str | None = None


@functools.lru_cache(maxsize=1)
def ocr_status() -> str | None:
    """None when pytesseract and the tesseract program can run, else why not.

    Checked once per process (``ocr_status.cache_clear()`` checks again).
    """
    try:
        import pytesseract  # type: ignore[import-untyped]
    except ImportError:
        return "pytesseract is not installed"
    try:
        pytesseract.get_tesseract_version()
    except (pytesseract.TesseractNotFoundError, OSError) as exc:
        return f"tesseract cannot run: {exc}"
    except SystemExit as exc:  # pytesseract's answer to a version it does not support
        return f"tesseract cannot run: {exc}"
    return None


def _grey(pixels: np.ndarray) -> np.ndarray:
    """8-bit grey of a (H, W) or (H, W, 3) frame; colour text keeps its brightest channel."""
    array = np.asarray(pixels)
    if array.ndim == 3:
        array = array[..., :3].max(axis=2)
    if array.ndim != 2:
        raise ValueError(f"expected a (H, W) or (H, W, 3) frame, got shape {np.shape(pixels)}")
    if array.dtype != np.uint8:
        array = np.clip(array, 0, 255).astype(np.uint8)
    return array


def _mask_regions(grey: np.ndarray, regions: Sequence[Box]) -> np.ndarray:
    """The frame with the regions (inclusive boxes) and :data:`REGION_MARGIN_PX` around them black."""
    out = grey.copy()
    height, width = out.shape
    m = REGION_MARGIN_PX
    for c0, r0, c1, r1 in regions:
        out[max(0, r0 - m) : min(height, r1 + 1 + m), max(0, c0 - m) : min(width, c1 + 1 + m)] = 0
    return out


def _text_threshold(grey: np.ndarray) -> float | None:
    """Grey above which a pixel of the annotation area is text (None: no light pixel at all)."""
    bright = grey[grey > MIN_TEXT_GREY]
    if bright.size == 0:
        return None
    return max(MIN_TEXT_GREY, TEXT_FRACTION * float(np.percentile(bright, 99)))


def _line_boxes(grey: np.ndarray, threshold: float) -> list[Box]:
    """Boxes of horizontal runs of pixels above ``threshold``, top to bottom, left to right."""
    ink = grey > threshold
    joined = ndi.binary_dilation(ink, structure=np.ones((1, WORD_GAP_PX), bool))
    labels, _count = ndi.label(joined)
    boxes: list[Box] = []
    for found in ndi.find_objects(labels):
        if found is None:
            continue
        rows, cols = found
        height, width = rows.stop - rows.start, cols.stop - cols.start
        if MIN_LINE_PX <= height <= MAX_LINE_PX and width >= 0.3 * height:
            boxes.append((cols.start, rows.start, cols.stop, rows.stop))
    return _merge_rows(sorted(boxes, key=lambda b: (b[0], b[1])))


def _merge_rows(boxes: list[Box]) -> list[Box]:
    """Join boxes of one text row whose gap is under two line heights ("2 o'clock   4cmFN")."""
    merged: list[Box] = []
    for box in boxes:  # left to right
        for index, other in enumerate(merged):
            overlap = min(box[3], other[3]) - max(box[1], other[1])
            height = min(box[3] - box[1], other[3] - other[1])
            if overlap > 0.5 * height and box[0] - other[2] < 2 * height:
                merged[index] = (
                    other[0],
                    min(box[1], other[1]),
                    max(box[2], other[2]),
                    max(box[3], other[3]),
                )
                break
        else:
            merged.append(box)
    return sorted(merged, key=lambda b: (b[1], b[0]))


def _strip(
    grey: np.ndarray, boxes: Sequence[Box], level: float | None = None
) -> tuple[np.ndarray, list[tuple[int, float, Box]]]:
    """The cut-outs stacked into one dark-on-white image, with (strip row, scale, frame box) each.

    A cut-out is thresholded at ``level``, or by default at a fraction of its brightest grey.
    """
    height, width = grey.shape
    pieces: list[np.ndarray] = []
    placed: list[tuple[int, float, Box]] = []
    row = _STRIP_GAP
    for c0, r0, c1, r1 in boxes:
        box = (max(0, c0 - _PAD), max(0, r0 - _PAD), min(width, c1 + _PAD), min(height, r1 + _PAD))
        crop = grey[box[1] : box[3], box[0] : box[2]]
        scale = float(np.clip(TARGET_LINE_PX / max(1, r1 - r0), 1.0, 4.0))
        size = (round(crop.shape[1] * scale), round(crop.shape[0] * scale))
        big = np.asarray(Image.fromarray(crop).resize(size, Image.Resampling.LANCZOS))
        cut = level if level is not None else max(MIN_TEXT_GREY, TEXT_FRACTION * float(big.max()))
        pieces.append(np.where(big > cut, 0, 255).astype(np.uint8))
        placed.append((row, scale, box))
        row += big.shape[0] + _STRIP_GAP
    strip_width = max((p.shape[1] for p in pieces), default=1) + 2 * _STRIP_GAP
    strip = np.full((row, strip_width), 255, np.uint8)
    for piece, (top, _scale, _box) in zip(pieces, placed, strict=True):
        strip[top : top + piece.shape[0], _STRIP_GAP : _STRIP_GAP + piece.shape[1]] = piece
    return strip, placed


def _words_per_line(
    data: dict[str, list[Any]], placed: Sequence[tuple[int, float, Box]], min_confidence: float
) -> list[TextLine]:
    """Tesseract's words grouped back into the cut-outs they were read in."""
    words: list[list[tuple[int, str, float]]] = [[] for _ in placed]
    for text, conf, left, top, height in zip(
        data["text"], data["conf"], data["left"], data["top"], data["height"], strict=True
    ):
        word = str(text).strip()
        confidence = float(conf)
        if not word or confidence < min_confidence:
            continue
        middle = int(top) + int(height) / 2.0
        for index, (row, scale, box) in enumerate(placed):
            if row <= middle <= row + (box[3] - box[1]) * scale:
                words[index].append((int(left), word, confidence))
                break
    lines = []
    for found, (_row, _scale, box) in zip(words, placed, strict=True):
        if found:
            found.sort()
            text = " ".join(w for _, w, _ in found)
            inclusive = (box[0], box[1], box[2] - 1, box[3] - 1)
            lines.append(TextLine(text, inclusive, round(sum(c for *_, c in found) / len(found), 1)))
    return lines


def read_text(
    grey: np.ndarray, *, threshold: float | None = None, min_confidence: float = MIN_WORD_CONFIDENCE
) -> list[TextLine]:
    """Lines of light text in an 8-bit grey image (already masked), read with Tesseract.

    ``threshold``: grey above which a pixel is text (default: from the image, for a dark
    background); given, the cut-outs are also binarised near it.
    """
    import pytesseract

    found = _text_threshold(grey) if threshold is None else threshold
    boxes = _line_boxes(grey, found) if found is not None else []
    if not boxes:
        return []
    strip, placed = _strip(grey, boxes, None if threshold is None else INSIDE_LEVEL * threshold)
    data = pytesseract.image_to_data(
        Image.fromarray(strip),
        config=TESSERACT_CONFIG,
        output_type=pytesseract.Output.DICT,
        timeout=OCR_TIMEOUT_S,
    )
    return _words_per_line(data, placed, min_confidence)


def text_boxes_inside(pixels: np.ndarray, box: Box) -> tuple[TextLine, ...] | None:
    """Text burned in over the image inside ``box`` (depth labels, markers), to be masked out.

    ``box`` is an inclusive region box as in :func:`read_annotation`. Only near-white or
    saturated-colour text is looked for (grey >= :data:`INSIDE_TEXT_GREY`), and only words
    Tesseract is at least :data:`INSIDE_MIN_CONFIDENCE` sure of are kept, so bright tissue is not
    taken for text. Boxes are inclusive, in frame pixels. ``None`` when OCR cannot run.
    """
    status = ocr_status()
    if status is not None:
        LOGGER.warning("text inside the image region not read: %s", status)
        return None
    import pytesseract

    grey = _grey(pixels)
    height, width = grey.shape
    c0, r0 = max(0, box[0]), max(0, box[1])
    crop = grey[r0 : min(height, box[3] + 1), c0 : min(width, box[2] + 1)]
    try:
        lines = read_text(crop, threshold=INSIDE_TEXT_GREY, min_confidence=INSIDE_MIN_CONFIDENCE)
    except (pytesseract.TesseractError, RuntimeError) as exc:  # RuntimeError: the timeout
        LOGGER.warning("text inside the image region not read: tesseract failed: %s", exc)
        return None
    found = []
    for line in lines:
        if any(ch.isalnum() for ch in line.text):
            lc0, lr0, lc1, lr1 = line.box
            found.append(TextLine(line.text, (lc0 + c0, lr0 + r0, lc1 + c0, lr1 + r0), line.confidence))
    return tuple(found)


def join_columns(lines: Sequence[TextLine]) -> list[str]:
    """Texts of the lines, lines stacked in one left-aligned column joined by a space.

    A line continues the column above when its left edge is within a line height of the
    column's and its top within a line height of the bottom of the column's last line.
    """
    columns: list[list[TextLine]] = []
    for line in sorted(lines, key=lambda item: (item.box[1], item.box[0])):
        height = line.box[3] - line.box[1]
        for column in columns:
            first, last = column[0], column[-1]
            if abs(line.box[0] - first.box[0]) <= height and 0 <= line.box[1] - last.box[3] <= height:
                column.append(line)
                break
        else:
            columns.append([line])
    return [" ".join(line.text for line in column) for column in columns]


def read_annotation(pixels: np.ndarray, regions: Sequence[Box]) -> AnnotationReading:
    """Read the burned-in annotation of an ultrasound frame, outside its image regions.

    Parameters
    ----------
    pixels:
        The whole 8-bit frame, (H, W) or (H, W, 3).
    regions:
        Image-region boxes (c0, r0, c1, r1), inclusive, from the Sequence of Ultrasound Regions
        (Region Location Min X0, Min Y0, Max X1, Max Y1, PS3.3 C.8.5.5); text inside them and
        within :data:`REGION_MARGIN_PX` of them is not read.

    Returns
    -------
    AnnotationReading
        The lines with their inclusive frame boxes and the location parsed from all lines
        together (``source="ocr"``); ``available=False`` with the reason when Tesseract cannot
        run or fails.
    """
    status = ocr_status()
    if status is not None:
        LOGGER.warning("ultrasound annotation not read: %s", status)
        return AnnotationReading(False, (), UsLocation(source="ocr"), status)
    import pytesseract

    try:
        lines = read_text(_mask_regions(_grey(pixels), regions))
    except (pytesseract.TesseractError, RuntimeError) as exc:  # RuntimeError: the timeout
        LOGGER.warning("ultrasound annotation not read: tesseract failed: %s", exc)
        return AnnotationReading(False, (), UsLocation(source="ocr"), f"tesseract failed: {exc}")
    text = "\n".join(join_columns(lines))
    location = parse_annotation(text, source="ocr")
    LOGGER.debug("annotation: %d lines, location known %s", len(lines), location.known)
    return AnnotationReading(True, tuple(lines), location)
