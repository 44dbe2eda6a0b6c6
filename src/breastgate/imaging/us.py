"""Read breast ultrasound images: frames, calibrated regions and what is drawn over the echoes.

An ultrasound screen capture is not one calibrated image. The scanner writes, in the Sequence of
Ultrasound Regions (0018,6011; PS3.3 C.8.5.5), one item per region of the frame (a B-mode image,
a colour-flow box, a Doppler spectrum, a second view beside the first), each with its box in
pixels and, when its axes are spatial, its physical size per pixel (Physical Delta X/Y in the
units of Physical Units X/Y Direction; 3 = cm). Everything outside the regions is annotation
(text, body marker, scales). A measurement is made in the region it lies in, with that region's
calibration, and only when the region's axes are in cm (:meth:`UsRegion.mm_per_pixel`).

Inside a B-mode region the echoes may be covered by calipers, text and a colour-Doppler overlay:
:func:`overlay_mask` finds them, so detection never runs on them.
"""

from __future__ import annotations

import logging
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import numpy.typing as npt
import pydicom
from pydicom.dataset import Dataset
from scipy import ndimage

from breastgate.imaging.errors import ImagingError, PixelDecodeError
from breastgate.imaging.pixels import laterality_of

LOGGER = logging.getLogger(__name__)

#: Ultrasound Image Storage and Ultrasound Multi-frame Image Storage, current and retired (PS3.4 B.5).
US_IMAGE = "1.2.840.10008.5.1.4.1.1.6.1"
US_MULTIFRAME_IMAGE = "1.2.840.10008.5.1.4.1.1.3.1"
US_SOP_CLASSES = frozenset(
    {US_IMAGE, US_MULTIFRAME_IMAGE, "1.2.840.10008.5.1.4.1.1.6", "1.2.840.10008.5.1.4.1.1.3"}
)
#: Physical Units X/Y Direction (PS3.3 C.8.5.5.1.15): 3 = cm; the only spatial unit for B-mode.
UNITS_CM = 3
UNIT_NAMES = {
    0: "none",
    1: "percent",
    2: "dB",
    3: "cm",
    4: "seconds",
    5: "hertz",
    6: "dB/seconds",
    7: "cm/sec",
}
#: Region Spatial Format 1 = 2-D (tissue or flow); Region Data Type 1 = tissue, 2 = colour flow
#: (PS3.3 C.8.5.5.1.1, C.8.5.5.1.2).
SPATIAL_2D = 1
DATA_TISSUE, DATA_COLOUR_FLOW = 1, 2
#: A pixel is coloured (a Doppler overlay, coloured calipers or text) when its channels differ by more.
COLOUR_SPREAD = 24
#: Calipers and text are drawn at (near) full white; speckle reaches it only in single pixels.
OVERLAY_WHITE = 250
#: Overlay pixels are widened by this many pixels (anti-aliased edges of text and lines).
OVERLAY_MARGIN_PX = 2


@dataclass(frozen=True)
class UsRegion:
    """One item of the Sequence of Ultrasound Regions.

    ``box`` is (c0, r0, c1, r1) in frame pixels, c1/r1 exclusive (the standard's Max X1/Y1 are
    inclusive). ``delta_x``/``delta_y`` are in the region's units per pixel.
    """

    index: int
    box: tuple[int, int, int, int]
    spatial_format: int
    data_type: int
    units_x: int
    units_y: int
    delta_x: float | None
    delta_y: float | None

    @property
    def is_bmode(self) -> bool:
        """A 2-D tissue (or colour flow over tissue) image, where lesions are looked for."""
        return self.spatial_format == SPATIAL_2D and self.data_type in (DATA_TISSUE, DATA_COLOUR_FLOW)

    def mm_per_pixel(self) -> tuple[float, float] | None:
        """(x, y) mm per pixel when both axes are in cm with a positive delta, else None."""
        if self.units_x != UNITS_CM or self.units_y != UNITS_CM:
            return None
        if not self.delta_x or not self.delta_y or self.delta_x <= 0 or self.delta_y <= 0:
            return None
        return abs(self.delta_x) * 10.0, abs(self.delta_y) * 10.0

    def why_unmeasurable(self) -> str:
        """Why sizes cannot be given in this region ('' when they can)."""
        if self.mm_per_pixel() is not None:
            return ""
        units = f"{UNIT_NAMES.get(self.units_x, self.units_x)}/{UNIT_NAMES.get(self.units_y, self.units_y)}"
        return f"region {self.index + 1} has no physical spatial calibration (units {units}); not measured"

    def contains(self, point: tuple[float, float]) -> bool:
        c0, r0, c1, r1 = self.box
        return c0 <= point[0] < c1 and r0 <= point[1] < r1


@dataclass(frozen=True)
class UsImage:
    """The header facts of one ultrasound image (single- or multi-frame) that the reader needs."""

    path: Path
    sop_instance_uid: str
    sop_class_uid: str
    rows: int
    columns: int
    frames: int
    photometric: str
    laterality: str | None
    regions: tuple[UsRegion, ...]
    #: Distance between frames of a sweep in mm (Spacing Between Slices), when the scanner says.
    frame_step_mm: float | None
    image_comments: str

    def bmode_regions(self) -> tuple[UsRegion, ...]:
        """The B-mode regions; an image without the Sequence of Ultrasound Regions is one region
        covering the frame, with no calibration (detection possible, measurement refused)."""
        found = tuple(r for r in self.regions if r.is_bmode)
        if found or self.regions:
            return found
        return (UsRegion(0, (0, 0, self.columns, self.rows), SPATIAL_2D, DATA_TISSUE, 0, 0, None, None),)

    def region_at(self, point: tuple[float, float]) -> UsRegion | None:
        """The B-mode region a point (col, row) lies in."""
        return next((r for r in self.bmode_regions() if r.contains(point)), None)


def _number(item: Dataset, keyword: str) -> float | None:
    value = item.get(keyword)
    try:
        return None if value is None or value == "" else float(value)
    except (TypeError, ValueError):
        return None


def _int(item: Dataset, keyword: str, default: int = 0) -> int:
    value = _number(item, keyword)
    return default if value is None else int(value)


def regions_of(ds: Dataset, rows: int, columns: int) -> tuple[UsRegion, ...]:
    """The Sequence of Ultrasound Regions, each box clipped to the frame; unusable items skipped."""
    regions: list[UsRegion] = []
    for index, item in enumerate(ds.get("SequenceOfUltrasoundRegions") or []):
        c0, r0 = _int(item, "RegionLocationMinX0"), _int(item, "RegionLocationMinY0")
        c1, r1 = _int(item, "RegionLocationMaxX1", -1) + 1, _int(item, "RegionLocationMaxY1", -1) + 1
        c0, r0, c1, r1 = max(c0, 0), max(r0, 0), min(c1, columns), min(r1, rows)
        if c1 - c0 < 8 or r1 - r0 < 8:
            LOGGER.warning("ultrasound region %d has an empty or tiny box; ignored", index + 1)
            continue
        regions.append(
            UsRegion(
                index=index,
                box=(c0, r0, c1, r1),
                spatial_format=_int(item, "RegionSpatialFormat"),
                data_type=_int(item, "RegionDataType"),
                units_x=_int(item, "PhysicalUnitsXDirection"),
                units_y=_int(item, "PhysicalUnitsYDirection"),
                delta_x=_number(item, "PhysicalDeltaX"),
                delta_y=_number(item, "PhysicalDeltaY"),
            )
        )
    return tuple(regions)


def read_us_header(path: str | Path) -> UsImage:
    """Read an ultrasound image's header (no pixels).

    Raises
    ------
    ImagingError
        Not readable as DICOM, not an ultrasound image, or without rows/columns.
    """
    try:
        ds = pydicom.dcmread(str(path), stop_before_pixels=True, force=True)
    except Exception as exc:  # pydicom raises many types for a damaged file
        raise ImagingError(f"file cannot be read as DICOM: {exc}") from exc
    sop_class = str(ds.get("SOPClassUID", ""))
    if sop_class not in US_SOP_CLASSES:
        raise ImagingError(f"not an ultrasound image (SOP Class {sop_class or 'missing'})")
    rows, columns = int(ds.get("Rows", 0) or 0), int(ds.get("Columns", 0) or 0)
    if rows < 16 or columns < 16:
        raise ImagingError(f"ultrasound image of {rows}x{columns} pixels cannot be read")
    step = _number(ds, "SpacingBetweenSlices")
    return UsImage(
        path=Path(path),
        sop_instance_uid=str(ds.get("SOPInstanceUID", "")),
        sop_class_uid=sop_class,
        rows=rows,
        columns=columns,
        frames=max(int(ds.get("NumberOfFrames", 1) or 1), 1),
        photometric=str(ds.get("PhotometricInterpretation", "MONOCHROME2")).upper(),
        laterality=laterality_of(ds),
        regions=regions_of(ds, rows, columns),
        frame_step_mm=step if step and step > 0 else None,
        image_comments=str(ds.get("ImageComments", "") or ""),
    )


def _as_frames(raw: npt.NDArray[np.generic], image: UsImage) -> npt.NDArray[np.uint8]:
    """(frames, rows, cols[, 3]) uint8 from pydicom's array for any of the US photometrics."""
    array = np.asarray(raw)
    colour = array.shape[-1] == 3 and image.photometric not in ("MONOCHROME1", "MONOCHROME2")
    if (array.ndim == (3 if colour else 2)) and image.frames == 1:
        array = array[np.newaxis]
    if array.dtype != np.uint8:
        top = float(array.max()) or 1.0
        array = np.clip(array.astype(np.float32) * (255.0 / top), 0, 255).astype(np.uint8)
    if image.photometric == "MONOCHROME1":
        array = 255 - array
    return array


def read_us_frames(image: UsImage) -> npt.NDArray[np.uint8]:
    """All frames as uint8, shape (frames, rows, cols) or (frames, rows, cols, 3) for colour
    (YBR is converted to RGB, a palette is applied)."""
    try:
        ds = pydicom.dcmread(str(image.path), force=True)
        if image.photometric == "PALETTE COLOR":
            from pydicom.pixels.processing import apply_color_lut

            raw = apply_color_lut(ds.pixel_array, ds)
        else:
            raw = ds.pixel_array
    except Exception as exc:  # pydicom raises many types for bad or undecodable data
        raise PixelDecodeError(f"ultrasound pixel data could not be decoded: {exc}") from exc
    return _as_frames(raw, image)


def iter_us_frames(image: UsImage, step: int = 1) -> Iterator[tuple[int, npt.NDArray[np.uint8]]]:
    """(1-based frame number, frame) for every ``step``-th frame."""
    frames = read_us_frames(image)
    for index in range(0, frames.shape[0], max(step, 1)):
        yield index + 1, frames[index]


def to_gray(frame: npt.NDArray[np.uint8]) -> npt.NDArray[np.float32]:
    """Echo brightness 0-255: the frame itself, or the mean of the channels of a colour frame
    (grey echoes have equal channels; coloured overlays are masked by :func:`overlay_mask`)."""
    if frame.ndim == 2:
        return frame.astype(np.float32)
    rgb = frame.astype(np.float32)
    return np.asarray(rgb.mean(axis=2), dtype=np.float32)


def overlay_mask(frame: npt.NDArray[np.uint8], box: tuple[int, int, int, int]) -> npt.NDArray[np.bool_]:
    """Pixels of a region covered by what the scanner or the sonographer drew, True = covered.

    - colour (a Doppler box, coloured calipers or text): channels differ by more than COLOUR_SPREAD;
    - calipers, dotted lines and text in white: near-full-white pixels in small thin groups
      (echoes that bright are large specular areas or single speckle grains, both kept).
    Each is widened by OVERLAY_MARGIN_PX for anti-aliased edges.
    """
    c0, r0, c1, r1 = box
    part = frame[r0:r1, c0:c1]
    covered = np.zeros(part.shape[:2], dtype=bool)
    if part.ndim == 3:
        spread = part.max(axis=2).astype(np.int16) - part.min(axis=2).astype(np.int16)
        covered |= spread > COLOUR_SPREAD
        gray = part.min(axis=2)
    else:
        gray = part
    white = gray >= OVERLAY_WHITE
    if white.any():
        labels, count = ndimage.label(white, structure=np.ones((3, 3), dtype=bool))
        sizes = np.bincount(labels.ravel(), minlength=count + 1)
        objects = ndimage.find_objects(labels)
        for label, where in enumerate(objects, start=1):
            if where is None:
                continue
            height, width = where[0].stop - where[0].start, where[1].stop - where[1].start
            fill = sizes[label] / float(height * width)
            if sizes[label] >= 3 and (fill < 0.6 or max(height, width) <= 25):
                covered[where] |= labels[where] == label
    if covered.any():
        covered = ndimage.binary_dilation(covered, iterations=OVERLAY_MARGIN_PX)
    return covered
