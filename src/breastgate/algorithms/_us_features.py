"""Measured features of one candidate ultrasound region, at the working resolution.

All in working pixels of ``WORK_MM``; sizes are converted to mm. The names are those the
detection and malignancy models and the BI-RADS descriptors read:

- ``area_mm2``, ``width_mm``, ``depth_mm``, ``wd_ratio`` (horizontal / vertical extent);
- ``contrast``: median inside / median of a ring ``RING_MM`` outside (the surrounding tissue);
  ``darkness``: median inside / median of the valid image;
- ``edge``: mean gradient on the boundary over the inside-ring step (≈ 1 for a sharp edge, lower
  for a blurred or indistinct one); ``edge_abs``: mean boundary gradient over the image's median;
- ``solidity`` (area / convex area), ``extent`` (area / box), ``aspect`` (minor / major axis of
  the moment ellipse), ``ellipse_misfit`` (1 − IoU with that ellipse), ``roughness`` (boundary
  length over the moment ellipse's perimeter);
- ``heterogeneity``: SD inside over the ring median; ``anechoic_frac``: inside fraction below a
  quarter of the ring median;
- ``posterior``: median of a band below the region over the median of side bands at the same depth;
  ``posterior_lr``: the larger over the smaller half of the band below (one side shadowed);
- ``depth_frac`` (centre row / height), ``top_frac``, ``border``: fraction of the boundary on the
  image edge or next to invalid pixels.
"""

from __future__ import annotations

import math

import numpy as np
import numpy.typing as npt
from scipy import ndimage as ndi
from skimage.measure import regionprops

from breastgate.algorithms._us_candidates import WORK_MM, Region, WorkImage

FloatArray = npt.NDArray[np.float64]
BoolArray = npt.NDArray[np.bool_]

RING_MM = (1.0, 4.0)
POSTERIOR_GAP_MM = 1.0
POSTERIOR_MIN_MM = 4.0
MARGIN_MM = 12.0
#: The boundary gradient of a sharp step, smoothed as the working image is (≈ 2 px in all), is
#: about a fifth of the step: scaled so that a sharp edge reads ≈ 1.
EDGE_SCALE = 5.0

FEATURES = (
    "area_mm2", "width_mm", "depth_mm", "wd_ratio", "contrast", "darkness", "edge", "edge_abs",
    "solidity", "extent", "aspect", "ellipse_misfit", "roughness", "heterogeneity",
    "anechoic_frac", "posterior", "posterior_lr", "depth_frac", "top_frac", "border", "level",
    "is_ratio",
)  # fmt: skip


def _crop(work: WorkImage, region: Region) -> tuple[slice, slice, BoolArray]:
    """A window around the region (margin for the ring and the band below) and its mask there."""
    h, w = region.mask.shape
    pad = round(MARGIN_MM / WORK_MM)
    below = pad + h
    rows = slice(max(0, region.r0 - pad), min(work.smooth.shape[0], region.r0 + h + below))
    cols = slice(max(0, region.c0 - pad - w // 2), min(work.smooth.shape[1], region.c0 + w + pad + w // 2))
    mask = np.zeros((rows.stop - rows.start, cols.stop - cols.start), bool)
    mask[
        region.r0 - rows.start : region.r0 - rows.start + h,
        region.c0 - cols.start : region.c0 - cols.start + w,
    ] = region.mask
    return rows, cols, mask


def _ellipse(mask: BoolArray) -> tuple[float, float, float]:
    """(IoU misfit, minor/major, perimeter ratio) of the moment ellipse of ``mask``."""
    props = regionprops(mask.astype(np.uint8))[0]
    a, b = props.axis_major_length / 2, max(props.axis_minor_length / 2, 0.5)
    cy, cx = props.centroid
    yy, xx = np.indices(mask.shape)
    t = -props.orientation
    u = (xx - cx) * math.sin(-t) + (yy - cy) * math.cos(-t)
    v = (xx - cx) * math.cos(-t) - (yy - cy) * math.sin(-t)
    # skimage orientation: angle between the row axis and the major axis.
    ell = (u / max(a, 0.5)) ** 2 + (v / b) ** 2 <= 1.0
    inter = float((ell & mask).sum())
    misfit = 1.0 - inter / max(float((ell | mask).sum()), 1.0)
    perimeter = math.pi * (3 * (a + b) - math.sqrt((3 * a + b) * (a + 3 * b)))
    return misfit, b / max(a, 0.5), float(props.perimeter) / max(perimeter, 1.0)


def posterior_bands(smooth: FloatArray, valid: BoolArray, mask: BoolArray) -> tuple[float, float, str]:
    """(below / sides ratio, larger / smaller half ratio, note) of the bands under ``mask``."""
    rows = np.flatnonzero(mask.any(axis=1))
    cols = np.flatnonzero(mask.any(axis=0))
    r1, c0, c1 = rows[-1] + 1, cols[0], cols[-1] + 1
    width = c1 - c0
    depth = max(round(POSTERIOR_MIN_MM / WORK_MM), (rows[-1] + 1 - rows[0]) // 2)
    top = r1 + round(POSTERIOR_GAP_MM / WORK_MM)
    bottom = min(smooth.shape[0], top + depth)
    if bottom - top < 3:
        return 1.0, 1.0, "no tissue below the lesion"
    inner = slice(c0 + width // 5, c1 - width // 5)
    band = smooth[top:bottom, inner]
    ok = valid[top:bottom, inner]
    side_w = max(3, width // 2)
    gap = max(2, width // 5)
    left = slice(max(0, c0 - gap - side_w), max(0, c0 - gap))
    right = slice(min(smooth.shape[1], c1 + gap), min(smooth.shape[1], c1 + gap + side_w))
    side_vals = np.concatenate([smooth[top:bottom, s][valid[top:bottom, s]] for s in (left, right)])
    if ok.sum() < 4 or side_vals.size < 4:
        return 1.0, 1.0, "no tissue beside the band below"
    below = float(np.median(band[ok]))
    ratio = below / max(float(np.median(side_vals)), 1.0)
    half = band.shape[1] // 2
    a = float(np.median(band[:, :half])) if half else below
    b = float(np.median(band[:, half:])) if half else below
    lr = max(a, b) / max(min(a, b), 1.0)
    return ratio, lr, ""


def region_features(work: WorkImage, region: Region) -> dict[str, float]:
    """The features listed in the module docstring for one candidate region."""
    rows, cols, mask = _crop(work, region)
    smooth, valid = work.smooth[rows, cols], work.valid[rows, cols]
    px = WORK_MM
    inside = smooth[mask]
    near = ndi.binary_dilation(mask, iterations=max(1, round(RING_MM[0] / px)))
    far = ndi.binary_dilation(near, iterations=max(1, round((RING_MM[1] - RING_MM[0]) / px)))
    ring = far & ~near & valid
    ring_med = float(np.median(smooth[ring])) if ring.sum() >= 4 else float(np.median(smooth))
    med_in = float(np.median(inside))
    boundary = mask & ~ndi.binary_erosion(mask)
    outer = ndi.binary_dilation(mask) & ~mask
    grad = work.gradient[rows, cols]
    edge_px = boundary | outer
    step = max(ring_med - med_in, 1.0)
    edge = float(grad[edge_px].mean()) * EDGE_SCALE / step
    touches = outer & ~valid
    on_edge = np.zeros_like(mask)
    full_h, full_w = work.smooth.shape
    if rows.start == 0:
        on_edge[0] = mask[0]
    if rows.stop == full_h:
        on_edge[-1] = mask[-1]
    if cols.start == 0:
        on_edge[:, 0] = mask[:, 0]
    if cols.stop == full_w:
        on_edge[:, -1] = mask[:, -1]
    misfit, aspect, roughness = _ellipse(mask)
    props = regionprops(mask.astype(np.uint8))[0]
    r_idx = np.flatnonzero(mask.any(axis=1))
    c_idx = np.flatnonzero(mask.any(axis=0))
    width, depth = (c_idx[-1] + 1 - c_idx[0]) * px, (r_idx[-1] + 1 - r_idx[0]) * px
    posterior, lr, _ = posterior_bands(smooth, valid, mask)
    centre_row = rows.start + props.centroid[0]
    return {
        "area_mm2": float(mask.sum()) * px * px,
        "width_mm": float(width),
        "depth_mm": float(depth),
        "wd_ratio": float(width / max(depth, px)),
        "contrast": med_in / max(ring_med, 1.0),
        "darkness": med_in / max(work.median, 1.0),
        "edge": edge,
        "edge_abs": float(grad[edge_px].mean()) / max(work.gradient_median, 1e-3),
        "solidity": float(props.solidity),
        "extent": float(props.extent),
        "aspect": aspect,
        "ellipse_misfit": misfit,
        "roughness": roughness,
        "heterogeneity": float(inside.std()) / max(ring_med, 1.0),
        "anechoic_frac": float((inside < 0.25 * ring_med).mean()),
        "posterior": posterior,
        "posterior_lr": lr,
        "depth_frac": float(centre_row / full_h),
        "top_frac": float((rows.start + r_idx[0]) / full_h),
        "border": float((touches.sum() + on_edge.sum()) / max(boundary.sum(), 1)),
        "level": float(region.level),
        "is_ratio": 1.0 if region.family == "ratio" else 0.0,
    }
