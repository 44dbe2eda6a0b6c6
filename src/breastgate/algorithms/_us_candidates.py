"""Candidate hypoechoic regions of one B-mode ultrasound image, at a fixed working resolution.

The image is resampled to ``WORK_MM`` per pixel (``NOMINAL_MM`` when the spacing is unknown), its
unusable pixels (calipers, text, colour, outside the sector) filled from their neighbours by
normalised convolution, and its speckle reduced by a median then a Gaussian filter. Candidates are
the connected dark regions at several levels of two images: the smoothed image itself (levels at
quantiles of its valid pixels) and its ratio to the local background (a wide Gaussian), which
separates a lesion from a slow darkening with depth. Each region is opened (so that a thin bridge
does not join a lesion to the dark tissue beside it), its holes filled, and kept when its area lies
between ``MIN_DIAMETER_MM`` and half the image.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from typing import Any

import numpy as np
import numpy.typing as npt
from scipy import ndimage as ndi

LOGGER = logging.getLogger(__name__)

FloatArray = npt.NDArray[np.float64]
BoolArray = npt.NDArray[np.bool_]

#: Working pixel size (mm) and the size assumed when the caller does not know it (BUSI-like
#: screen crops, about 0.1-0.2 mm per pixel).
WORK_MM = 0.3
NOMINAL_MM = 0.15
MEDIAN_MM = 1.2
SMOOTH_MM = 0.5
BACKGROUND_MM = 8.0
QUANTILES = (0.04, 0.08, 0.13, 0.2, 0.28, 0.37, 0.47)
RATIOS = (0.45, 0.55, 0.65, 0.75)
MIN_DIAMETER_MM = 2.5
OPEN_MM = (0.6, 1.5, 3.0)


@dataclass(frozen=True)
class WorkImage:
    """The image at working resolution: smoothed, its local ratio, valid mask and scale."""

    smooth: FloatArray
    ratio: FloatArray
    valid: BoolArray
    gradient: FloatArray  # gradient magnitude of ``smooth`` (1 working pixel Gaussian)
    median: float  # of ``smooth`` over the valid pixels
    gradient_median: float
    zoom: float  # working pixels per input pixel
    pixel_mm: float  # mm per input pixel (nominal when unknown)
    nominal: bool


@dataclass(frozen=True)
class Region:
    """One candidate region at working resolution (mask cropped to its bounding box)."""

    mask: BoolArray
    r0: int
    c0: int
    family: str  # "level" or "ratio"
    level: float


def _fill_invalid(image: FloatArray, valid: BoolArray, sigma: float) -> FloatArray:
    """Replace invalid pixels by the Gaussian-weighted mean of the valid ones around them."""
    if valid.all():
        return image
    weight = ndi.gaussian_filter(valid.astype(np.float64), sigma)
    total = ndi.gaussian_filter(np.where(valid, image, 0.0), sigma)
    filled = total / np.maximum(weight, 1e-6)
    if weight.min() < 1e-3:
        # Wide holes: a second, wider pass so that no invalid pixel is left at zero weight.
        wide = _fill_invalid(image, valid, sigma * 4) if sigma < 50 else image
        filled = np.where(weight < 1e-3, wide, filled)
    return np.where(valid, image, filled)


def prepare(
    image: npt.NDArray[Any], valid: npt.NDArray[np.bool_] | None, pixel_mm: float | None
) -> WorkImage:
    """Resample, fill and smooth one image region (2-D, 0-255) to the working resolution."""
    pixels = np.asarray(image, dtype=np.float64)
    if pixels.ndim != 2:
        raise ValueError("find_lesions expects one 2-D grayscale image region")
    nominal = pixel_mm is None or not pixel_mm > 0
    mm = NOMINAL_MM if nominal else float(pixel_mm)  # type: ignore[arg-type]
    ok = np.ones(pixels.shape, bool) if valid is None else np.asarray(valid, bool)
    zoom = mm / WORK_MM
    shape = (max(8, round(pixels.shape[0] * zoom)), max(8, round(pixels.shape[1] * zoom)))
    filled = _fill_invalid(pixels, ok, max(2.0, 1.0 / zoom))
    factors = (shape[0] / pixels.shape[0], shape[1] / pixels.shape[1])
    # Average (not sample) when shrinking so that speckle is reduced, not aliased.
    if zoom < 1:
        filled = ndi.uniform_filter(filled, size=max(1, round(1 / zoom)))
    work = ndi.zoom(filled, factors, order=1, mode="nearest", grid_mode=True)
    work_ok = ndi.zoom(ok.astype(np.float64), factors, order=1, grid_mode=True, mode="nearest") > 0.5
    size = max(3, round(MEDIAN_MM / WORK_MM) | 1)
    smooth = ndi.gaussian_filter(ndi.median_filter(work, size=size), SMOOTH_MM / WORK_MM)
    background = ndi.gaussian_filter(smooth, BACKGROUND_MM / WORK_MM)
    ratio = smooth / np.maximum(background, 1.0)
    gradient = ndi.gaussian_gradient_magnitude(smooth, 1.0)
    inside = work_ok if work_ok.any() else np.ones_like(work_ok)
    return WorkImage(
        smooth,
        ratio,
        work_ok,
        gradient,
        float(np.median(smooth[inside])),
        float(np.median(gradient[inside])),
        float(shape[1] / pixels.shape[1]),
        mm,
        nominal,
    )


def _open(mask: BoolArray, radius: float) -> BoolArray:
    """Binary opening by a disk of ``radius`` pixels, by two distance transforms."""
    eroded = np.asarray(ndi.distance_transform_edt(mask) > radius, dtype=bool)
    if not eroded.any():
        return eroded
    return np.asarray(ndi.distance_transform_edt(~eroded) <= radius, dtype=bool)


def _regions(dark: BoolArray, valid: BoolArray, family: str, level: float) -> list[Region]:
    """Connected regions of ``dark`` (after opening and hole filling) of a plausible size."""
    area_min = np.pi * (MIN_DIAMETER_MM / 2 / WORK_MM) ** 2
    area_max = 0.5 * dark.size
    out: list[Region] = []
    for radius in OPEN_MM:
        opened = _open(dark & valid, radius / WORK_MM)
        labels, _ = ndi.label(opened)
        for index, box in enumerate(ndi.find_objects(labels), start=1):
            if box is None:
                continue
            mask = ndi.binary_fill_holes(labels[box] == index)
            area = int(mask.sum())
            if area_min <= area <= area_max:
                out.append(Region(mask, box[0].start, box[1].start, family, level))
    return out


def candidates(work: WorkImage) -> list[Region]:
    """All candidate regions of one working image, duplicates (same box and area) removed."""
    values = work.smooth[work.valid]
    if values.size < 64:
        return []
    found: list[Region] = []
    for q in QUANTILES:
        level = float(np.quantile(values, q))
        found += _regions(work.smooth <= level, work.valid, "level", q)
    for level in RATIOS:
        found += _regions(work.ratio <= level, work.valid, "ratio", level)
    seen: set[tuple[int, int, int, int, int]] = set()
    unique = []
    for region in found:
        # Nearly the same region at two levels (box within 2 px) is measured once.
        h, w = region.mask.shape
        key = (region.r0 // 2, region.c0 // 2, h // 2, w // 2, 0)
        if key not in seen:
            seen.add(key)
            unique.append(region)
    return unique


def full_mask(region: Region, shape: tuple[int, int]) -> BoolArray:
    """The region's mask on the whole working grid."""
    out = np.zeros(shape, bool)
    h, w = region.mask.shape
    out[region.r0 : region.r0 + h, region.c0 : region.c0 + w] = region.mask
    return out
