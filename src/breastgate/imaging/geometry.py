"""Breast geometry on a mammogram: orientation, breast mask, pectoral muscle, nipple.

Follows the LIBRA pipeline (Keller et al., Med Phys 2012; CBICA/CaPTk ``libra_source``):
work on a downsampled image, put the chest wall on the left, find the air/breast threshold from
the histogram (first valley after the air peak), keep the largest component touching the chest
wall with its holes filled, and on MLO views find the pectoral edge with Canny edges and a Hough
transform over steep lines in the upper chest-wall region. Areas are counted in mm² from the real
pixel spacing.
"""

from __future__ import annotations

import logging
import math
from dataclasses import dataclass

import numpy as np
import numpy.typing as npt
from scipy import ndimage as ndi
from skimage.feature import canny
from skimage.filters import threshold_otsu
from skimage.transform import hough_line, hough_line_peaks

from breastgate.imaging.pixels import MammoImage

LOGGER = logging.getLogger(__name__)

FloatArray = npt.NDArray[np.float32]
BoolArray = npt.NDArray[np.bool_]

#: Target working resolution (mm per pixel) of the downsampled image.
WORKING_MM = 0.6
#: Normal angles (degrees) searched for the pectoral edge: x-intercept / y-intercept = tan(theta).
PECTORAL_THETA_DEG = (5.0, 60.0)
_MLO_LIKE = ("MLO", "ML", "LM", "LMO", "SIO")


@dataclass(frozen=True)
class BreastGeometry:
    """Geometry found on the working (downsampled, chest wall left) image.

    ``pectoral_line`` is (theta_rad, rho) of the line x·cosθ + y·sinθ = ρ in working pixels;
    pixels with x·cosθ + y·sinθ < ρ are muscle. ``nipple`` is (column, row) in the coordinates of
    the original image. ``pixel_area_mm2`` is the area of one working pixel.
    """

    image: FloatArray
    breast: BoolArray
    pectoral: BoolArray
    pectoral_line: tuple[float, float] | None
    nipple: tuple[float, float] | None
    flipped: bool
    factor: int
    pixel_area_mm2: float
    air_threshold: float

    @property
    def tissue(self) -> BoolArray:
        """Breast minus pectoral muscle: the region density is measured on."""
        return self.breast & ~self.pectoral

    def area_mm2(self, region: BoolArray) -> float:
        """Area of a working-resolution region in mm²."""
        return float(np.count_nonzero(region)) * self.pixel_area_mm2


def downsample(
    pixels: FloatArray, spacing_mm: tuple[float, float], target_mm: float = WORKING_MM
) -> tuple[FloatArray, int]:
    """Block-mean downsample by an integer factor to about ``target_mm`` per pixel."""
    factor = max(1, round(target_mm / max(min(spacing_mm), 1e-3)))
    if factor == 1:
        return pixels.astype(np.float32, copy=False), 1
    rows, cols = (pixels.shape[0] // factor) * factor, (pixels.shape[1] // factor) * factor
    blocks = pixels[:rows, :cols].reshape(rows // factor, factor, cols // factor, factor)
    return blocks.mean(axis=(1, 3), dtype=np.float64).astype(np.float32), factor


def air_threshold(image: FloatArray) -> float:
    """Air/breast threshold: first valley after the air peak of the histogram (LIBRA), capped by Otsu."""
    values = image[:: max(1, image.shape[0] // 256), :: max(1, image.shape[1] // 256)].ravel()
    lo, hi = np.percentile(values, [0.05, 99.95])
    if hi <= lo:
        return float(lo)
    bins = 256
    hist, edges = np.histogram(values, bins=bins, range=(float(lo), float(hi)))
    smooth = ndi.gaussian_filter1d(hist.astype(np.float64), 2.0)
    otsu = float(threshold_otsu(values))  # type: ignore[no-untyped-call]
    start = int(np.argmax(smooth > 0.05 * smooth.max()))
    peak = start
    while peak + 1 < bins and smooth[peak + 1] >= smooth[peak]:
        peak += 1
    valley = _descend(smooth, peak)
    for _ in range(2):
        # Scanned film: a second narrow "air" mode (film base) right after the first one.
        nxt = valley
        while nxt + 1 < bins and smooth[nxt + 1] >= smooth[nxt]:
            nxt += 1
        after = nxt
        while after + 1 < bins and after - nxt <= bins // 12 and smooth[after] > 0.25 * smooth[nxt]:
            after += 1
        if nxt - valley > bins // 12 or smooth[after] > 0.25 * smooth[nxt]:
            break
        peak, valley = nxt, after
    valley = min(valley, peak + bins // 10)
    valley_thr = float(edges[valley])
    below = float(np.mean(values < valley_thr))
    if below < 0.02 or valley_thr <= float(edges[peak]):
        return otsu if np.mean(values < otsu) > 0.02 else float(lo)
    return min(valley_thr, otsu)


def _descend(smooth: npt.NDArray[np.float64], start: int) -> int:
    index = start
    while index + 1 < smooth.size and smooth[index + 1] < smooth[index]:
        index += 1
    return index


def _side_tissue(mask: BoolArray, width: int) -> tuple[float, float]:
    return float(mask[:, :width].mean()), float(mask[:, -width:].mean())


def chest_wall_on_right(
    image: FloatArray, threshold: float, laterality: str, orientation: tuple[str, ...]
) -> bool:
    """Whether the chest wall is on the right of the image.

    Header first: Patient Orientation's row direction (PS3.3 C.7.6.1.1.1; "A" means the columns run
    toward the nipple, "P" toward the chest wall), else the usual display convention (right breast
    with the chest wall on the right). The image then checks it: the chest-wall side is the one
    whose edge column is mostly tissue; a clear disagreement is settled by the image.
    """
    header: bool | None = None
    if orientation:
        row_dir = orientation[0]
        if "P" in row_dir and "A" not in row_dir:
            header = True
        elif "A" in row_dir and "P" not in row_dir:
            header = False
    if header is None:
        header = laterality == "R"
    tissue = image > threshold
    width = max(2, image.shape[1] // 20)
    left, right = _side_tissue(tissue, width)
    if abs(left - right) > 0.2:
        from_image = right > left
        if from_image != header:
            LOGGER.info("orientation from header contradicted by the image; using the image")
        return from_image
    return header


def breast_mask(image: FloatArray, threshold: float, px_mm: float) -> BoolArray:
    """Largest tissue component touching the chest wall (left edge), holes filled."""
    tissue = image > threshold
    radius = max(1, round(1.0 / px_mm))
    tissue = ndi.binary_opening(tissue, structure=_disk(radius))
    labels, count = ndi.label(tissue)
    if count == 0:
        return np.zeros(image.shape, dtype=bool)
    sizes = np.bincount(labels.ravel())
    sizes[0] = 0
    edge = np.unique(labels[:, : max(2, image.shape[1] // 50)])
    edge = edge[edge > 0]
    best = int(edge[np.argmax(sizes[edge])]) if edge.size else int(np.argmax(sizes))
    mask = labels == best
    # Fill holes, treating the chest-wall edge as inside (a hole may open onto it).
    padded = np.pad(mask, ((0, 0), (1, 0)), constant_values=True)
    filled: BoolArray = ndi.binary_fill_holes(padded)[:, 1:]
    return filled


def _disk(radius: int) -> BoolArray:
    y, x = np.ogrid[-radius : radius + 1, -radius : radius + 1]
    disk: BoolArray = (x * x + y * y) <= radius * radius
    return disk


def _line_region(shape: tuple[int, int], theta: float, rho: float) -> FloatArray:
    rows, cols = np.indices(shape, dtype=np.float32)
    signed: FloatArray = (
        cols * np.float32(math.cos(theta)) + rows * np.float32(math.sin(theta)) - np.float32(rho)
    )
    return signed


def pectoral_muscle(
    image: FloatArray, breast: BoolArray, px_mm: float
) -> tuple[BoolArray, tuple[float, float] | None]:
    """Pectoral muscle on an MLO view (chest wall left): Canny edges + Hough over steep lines.

    Candidate lines come from the Hough accumulator over θ in :data:`PECTORAL_THETA_DEG`; each is
    scored by the brightness step across it (muscle is denser than the breast next to it) and
    must cut off a plausible triangle (0.5-45 % of the breast). Returns an empty mask and None
    when no candidate qualifies.
    """
    empty = np.zeros(breast.shape, dtype=bool)
    rows_any = np.flatnonzero(breast.any(axis=1))
    cols_any = np.flatnonzero(breast.any(axis=0))
    if rows_any.size < 20 or cols_any.size < 20:
        return empty, None
    top, bottom = int(rows_any[0]), int(rows_any[-1])
    right = int(cols_any[-1])
    roi = np.zeros_like(breast)
    roi[top : top + int(0.75 * (bottom - top + 1)), : max(2, int(0.7 * right))] = True
    inner = ndi.binary_erosion(breast, structure=_disk(max(1, round(3.0 / px_mm))))
    smooth = ndi.gaussian_filter(image, 1.0)
    edges = canny(smooth, sigma=2.0, mask=inner & roi)  # type: ignore[no-untyped-call]
    if edges.sum() < 10:
        return empty, None
    thetas = np.deg2rad(np.linspace(*PECTORAL_THETA_DEG, 56))
    accumulator, angles, dists = hough_line(edges, theta=thetas)  # type: ignore[no-untyped-call]
    _, peak_angles, peak_dists = hough_line_peaks(  # type: ignore[no-untyped-call]
        accumulator,
        angles,
        dists,
        num_peaks=12,
        min_distance=3,
        min_angle=2,
        threshold=0.2 * accumulator.max(),
    )
    breast_vals = smooth[breast & inner]
    spread = float(np.subtract(*np.percentile(breast_vals, [90, 10]))) or 1.0
    band = max(2, round(4.0 / px_mm))
    breast_area = float(breast.sum())
    best: tuple[float, float, float] | None = None
    for theta, rho in zip(peak_angles, peak_dists, strict=True):
        if rho <= 0:
            continue
        signed = _line_region(breast.shape, float(theta), float(rho))
        muscle = breast & (signed < 0)
        fraction = float(muscle.sum()) / breast_area
        if not 0.005 <= fraction <= 0.45:
            continue
        inside = smooth[breast & (signed < 0) & (signed > -band)]
        outside = smooth[inner & (signed >= 0) & (signed < band)]
        if inside.size < 10 or outside.size < 10:
            continue
        step = (float(np.median(inside)) - float(np.median(outside))) / spread
        muscle_level = float(np.median(smooth[muscle]))
        if step < 0.1 or muscle_level < float(np.median(breast_vals)):
            continue
        score = step * math.sqrt(
            float(accumulator[np.argmin(np.abs(dists - rho)), np.argmin(np.abs(angles - theta))])
        )
        if best is None or score > best[0]:
            best = (score, float(theta), float(rho))
    if best is None:
        return empty, None
    _, theta, rho = best
    muscle = breast & (_line_region(breast.shape, theta, rho) < 0)
    return muscle, (theta, rho)


def nipple_position(breast: BoolArray, line: tuple[float, float] | None) -> tuple[float, float] | None:
    """Nipple estimate in working pixels (col, row): farthest breast point from the pectoral line
    (MLO), else the most anterior point of the contour (CC)."""
    rows, cols = np.nonzero(breast)
    if rows.size == 0:
        return None
    if line is None:
        distance = cols.astype(np.float64)
    else:
        theta, rho = line
        distance = cols * math.cos(theta) + rows * math.sin(theta) - rho
    far = distance >= distance.max() - 1.0
    return float(np.median(cols[far])), float(np.median(rows[far]))


def analyse_breast(image: MammoImage, target_mm: float = WORKING_MM) -> BreastGeometry:
    """Downsample, orient (chest wall left), segment breast and pectoral muscle, find the nipple."""
    small, factor = downsample(image.pixels, image.spacing_mm, target_mm)
    threshold = air_threshold(small)
    flipped = chest_wall_on_right(small, threshold, image.laterality, image.patient_orientation)
    if flipped:
        small = np.ascontiguousarray(small[:, ::-1])
    px_mm = min(image.spacing_mm) * factor
    breast = breast_mask(small, threshold, px_mm)
    pectoral = np.zeros_like(breast)
    line: tuple[float, float] | None = None
    if (image.view or "").upper() in _MLO_LIKE:
        pectoral, line = pectoral_muscle(small, breast, px_mm)
    nipple_small = nipple_position(breast & ~pectoral, line)
    nipple: tuple[float, float] | None = None
    if nipple_small is not None:
        col, row = nipple_small
        if flipped:
            col = small.shape[1] - 1 - col
        nipple = ((col + 0.5) * factor, (row + 0.5) * factor)
    return BreastGeometry(
        image=small,
        breast=breast,
        pectoral=pectoral,
        pectoral_line=line,
        nipple=nipple,
        flipped=flipped,
        factor=factor,
        pixel_area_mm2=image.spacing_mm[0] * image.spacing_mm[1] * factor * factor,
        air_threshold=threshold,
    )
