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
  ``posterior_lr``: the outer thirds of the band below over its middle third (a combined pattern:
  shadow behind the middle, enhancement beside it);
- ``depth_frac`` (centre row / height), ``top_frac``, ``bottom_frac``, ``centre_offset``
  (horizontal distance of the centre from the middle, over the width: sonographers centre what
  they image), ``border``: fraction of the boundary on the image edge, ``invalid_edge``: next to
  invalid pixels (not used to rank: calipers are drawn next to lesions);
- ``posterior_diff``: :func:`posterior_step` under the candidate (gray levels);
- the context of :func:`context_features`: ``contrast_far``, ``ring_sd``, ``row_contrast``,
  ``edge_cover``, ``edge_top``, ``inside_grad``, ``inside_gray``, ``ring_gray``, ``image_gray``;
- the layer of :func:`band_features`: ``band_frac`` (how much of the image width at its depth is
  as dark: a layer such as the subcutaneous fat spans the image, a lesion does not) and
  ``side_contrast`` (inside over the tissue beside it at the same depth).
"""

from __future__ import annotations

import math

import numpy as np
import numpy.typing as npt
from scipy import ndimage as ndi
from scipy.spatial import ConvexHull, QhullError

from breastgate.algorithms._us_candidates import WORK_MM, Region, WorkImage

FloatArray = npt.NDArray[np.float64]
BoolArray = npt.NDArray[np.bool_]

RING_MM = (1.0, 4.0)
#: The wider surroundings of :func:`context_features` (mm from the boundary).
FAR_MM = (4.0, 10.0)
#: A boundary pixel is on an edge when its gradient exceeds this multiple of the image's median.
EDGE_COVER = 2.0
POSTERIOR_GAP_MM = 1.0
POSTERIOR_MIN_MM = 4.0
#: Side strips of :func:`posterior_step` (fractions of the lesion's width; chosen on development
#: US phantoms, seeds 1000-1039).
POSTERIOR_SIDE = 0.3
POSTERIOR_SIDE_GAP = 0.1
#: The boundary gradient of a sharp step, smoothed as the working image is (≈ 2 px in all), is
#: about a fifth of the step: scaled so that a sharp edge reads ≈ 1.
EDGE_SCALE = 5.0

FEATURES = (
    "area_mm2", "width_mm", "depth_mm", "wd_ratio", "contrast", "darkness", "edge", "edge_abs",
    "solidity", "extent", "aspect", "ellipse_misfit", "roughness", "heterogeneity",
    "anechoic_frac", "posterior", "posterior_lr", "depth_frac", "top_frac", "bottom_frac", "centre_offset",
    "border", "invalid_edge", "level", "is_ratio", "contrast_far", "ring_sd", "row_contrast",
    "edge_cover", "edge_top", "inside_grad", "inside_gray", "ring_gray", "image_gray",
    "posterior_diff", "band_frac", "side_contrast",
)  # fmt: skip
#: Side strips of :func:`band_features` (mm beside the region's box).
SIDE_MM = (1.0, 10.0)


def _crop(work: WorkImage, region: Region, pad_mm: float = RING_MM[1]) -> tuple[slice, slice, BoolArray]:
    """A window around the region holding ``pad_mm`` of its surroundings, and its mask there."""
    h, w = region.mask.shape
    pad = round(pad_mm / WORK_MM) + 1
    rows = slice(max(0, region.r0 - pad), min(work.smooth.shape[0], region.r0 + h + pad))
    cols = slice(max(0, region.c0 - pad), min(work.smooth.shape[1], region.c0 + w + pad))
    mask = np.zeros((rows.stop - rows.start, cols.stop - cols.start), bool)
    r, c = region.r0 - rows.start, region.c0 - cols.start
    mask[r : r + h, c : c + w] = region.mask
    return rows, cols, mask


def _shape(mask: BoolArray) -> dict[str, float]:
    """Moment ellipse fit, solidity, extent and boundary length of ``mask`` (pixel units)."""
    rr, cc = np.nonzero(mask)
    area = float(rr.size)
    cy, cx = rr.mean(), cc.mean()
    cov = np.cov(np.stack([cc - cx, rr - cy])) if rr.size > 2 else np.eye(2) * 0.1
    values, vectors = np.linalg.eigh(cov + np.eye(2) * 1e-6)
    # Semi-axes of the ellipse with the same second moments as the region.
    b, a = 2 * np.sqrt(np.maximum(values, 1e-6))
    major = vectors[:, 1]
    yy, xx = np.indices(mask.shape)
    u = (xx - cx) * major[0] + (yy - cy) * major[1]
    v = -(xx - cx) * major[1] + (yy - cy) * major[0]
    ell = (u / max(a, 0.5)) ** 2 + (v / max(b, 0.5)) ** 2 <= 1.0
    misfit = 1.0 - float((ell & mask).sum()) / max(float((ell | mask).sum()), 1.0)
    ellipse_perimeter = math.pi * (3 * (a + b) - math.sqrt((3 * a + b) * (a + 3 * b)))
    # Pixel-edge (Manhattan) boundary length, times pi/4 for a curve of any orientation.
    padded = np.pad(mask, 1)
    edges = np.count_nonzero(np.diff(padded, axis=0)) + np.count_nonzero(np.diff(padded, axis=1))
    # The hull of all pixel corners is the hull of the boundary pixels' corners (fewer points).
    edge = padded[1:-1, 1:-1] & ~ndi.binary_erosion(padded)[1:-1, 1:-1]
    er, ec = np.nonzero(edge)
    corners = np.concatenate(
        [np.stack([er + dr, ec + dc], axis=1) for dr in (-0.5, 0.5) for dc in (-0.5, 0.5)]
    )
    try:
        hull = ConvexHull(corners).volume
    except (QhullError, ValueError):
        hull = area
    box = (rr.max() + 1 - rr.min()) * (cc.max() + 1 - cc.min())
    return {
        "ellipse_misfit": misfit,
        "aspect": float(b / max(a, 0.5)),
        "roughness": edges * math.pi / 4 / max(ellipse_perimeter, 1.0),
        "solidity": area / max(hull, area),
        "extent": area / box,
        "centre_row": float(cy),
    }


def posterior_bands(
    smooth: FloatArray, valid: BoolArray, rows: tuple[int, int], cols: tuple[int, int]
) -> tuple[float, float, str]:
    """(below / sides ratio, larger / smaller half ratio, note) of the bands under a lesion
    spanning ``rows`` and ``cols`` (first, last + 1) of the working image."""
    (r0, r1), (c0, c1) = rows, cols
    width = c1 - c0
    depth = max(round(POSTERIOR_MIN_MM / WORK_MM), (r1 - r0) // 2)
    top = r1 + round(POSTERIOR_GAP_MM / WORK_MM)
    bottom = min(smooth.shape[0], top + depth)
    if bottom - top < 3:
        return 1.0, 1.0, "no tissue below the lesion"
    inner = slice(c0 + width // 5, max(c0 + width // 5 + 1, c1 - width // 5))
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
    # Combined: a shadow behind the middle third with enhancement behind the outer thirds.
    third = max(1, width // 3)
    whole = smooth[top:bottom, c0:c1]
    middle = float(np.median(whole[:, third : max(third + 1, width - third)]))
    outer = float(np.median(np.concatenate([whole[:, :third], whole[:, width - third :]], axis=1)))
    lr = outer / max(middle, 1.0)
    return ratio, lr, ""


def posterior_step(
    smooth: FloatArray, valid: BoolArray, rows: tuple[int, int], cols: tuple[int, int]
) -> float:
    """Gray-level step (band below minus the strips just beside it) under a lesion spanning
    ``rows`` and ``cols`` (first, last + 1) of the working image; NaN when there is no room.

    Read as the eye reads it: on the displayed (log-compressed) gray scale a difference, not a
    ratio, is a fixed amplitude ratio whatever the level, and the strips (``POSTERIOR_SIDE`` of the
    lesion's width, ``POSTERIOR_SIDE_GAP`` away) are close enough to lie in the same tissue.
    """
    (r0, r1), (c0, c1) = rows, cols
    width = c1 - c0
    top = r1 + round(POSTERIOR_GAP_MM / WORK_MM)
    bottom = min(smooth.shape[0], top + max(round(POSTERIOR_MIN_MM / WORK_MM), (r1 - r0) // 2))
    if bottom - top < 3:
        return math.nan
    inner = slice(c0 + width // 5, max(c0 + width // 5 + 1, c1 - width // 5))
    side_w, gap = max(3, int(POSTERIOR_SIDE * width)), max(1, int(POSTERIOR_SIDE_GAP * width))
    strips = (
        slice(max(0, c0 - gap - side_w), max(0, c0 - gap)),
        slice(min(smooth.shape[1], c1 + gap), min(smooth.shape[1], c1 + gap + side_w)),
    )
    band, ok = smooth[top:bottom, inner], valid[top:bottom, inner]
    sides = np.concatenate([smooth[top:bottom, s][valid[top:bottom, s]] for s in strips])
    if ok.sum() < 4 or sides.size < 4:
        return math.nan
    return float(np.median(band[ok])) - float(np.median(sides))


def _on_edge(mask: BoolArray, rows: slice, cols: slice, shape: tuple[int, int]) -> BoolArray:
    """The region's pixels on the working image's outer edge (``mask`` is the crop at rows, cols)."""
    on_edge = np.zeros_like(mask)
    if rows.start == 0:
        on_edge[0] = mask[0]
    if rows.stop == shape[0]:
        on_edge[-1] = mask[-1]
    if cols.start == 0:
        on_edge[:, 0] = mask[:, 0]
    if cols.stop == shape[1]:
        on_edge[:, -1] = mask[:, -1]
    return on_edge


def context_features(
    work: WorkImage,
    region: Region,
    boundary: BoolArray,
    crop: tuple[slice, slice],
    far: tuple[slice, slice, BoolArray, FloatArray],
) -> dict[str, float]:
    """The candidate against its wider surroundings, the image at its depth and its own texture.

    ``contrast_far``: median inside over the median of a ring ``FAR_MM`` out; ``ring_sd``: SD of
    the ``RING_MM`` ring over its median (the surroundings' texture); ``row_contrast``: median
    inside over the median of the valid image in the same rows; ``edge_cover``: fraction of the
    boundary whose gradient exceeds ``EDGE_COVER`` times the image's median (how fully an edge
    encloses it, which an isoechoic lesion needs); ``edge_top``: the same fraction on the upper
    half of the boundary; ``inside_grad``: mean gradient inside over the image's median (speckle);
    ``inside_gray``, ``ring_gray``, ``image_gray``: the medians in gray levels. ``boundary`` lies in
    the window ``crop``; ``far`` is the window of ``FAR_MM`` (rows, columns, mask, distance).
    """
    h, w = region.mask.shape
    rows, cols, mask, distance = far
    smooth, valid = work.smooth[rows, cols], work.valid[rows, cols]
    far_ring = (distance > FAR_MM[0] / WORK_MM) & (distance <= FAR_MM[1] / WORK_MM) & valid
    ring = (distance > RING_MM[0] / WORK_MM) & (distance <= RING_MM[1] / WORK_MM) & valid
    med_in = float(np.median(smooth[mask]))
    far_med = float(np.median(smooth[far_ring])) if far_ring.sum() >= 4 else work.median
    ring_vals = smooth[ring] if ring.sum() >= 4 else smooth[valid | mask]
    ring_med = float(np.median(ring_vals))
    band = work.smooth[region.r0 : region.r0 + h][work.valid[region.r0 : region.r0 + h]]
    row_med = float(np.median(band)) if band.size >= 4 else work.median
    grad = work.gradient[crop]
    strong = grad[boundary] > EDGE_COVER * work.gradient_median
    b_rows = np.nonzero(boundary)[0]
    upper = b_rows <= np.median(b_rows) if b_rows.size else b_rows.astype(bool)
    inside_grad = work.gradient[region.r0 : region.r0 + h, region.c0 : region.c0 + w][region.mask]
    return {
        "contrast_far": med_in / max(far_med, 1.0),
        "ring_sd": float(ring_vals.std()) / max(ring_med, 1.0),
        "row_contrast": med_in / max(row_med, 1.0),
        "edge_cover": float(strong.mean()) if strong.size else 0.0,
        "edge_top": float(strong[upper].mean()) if upper.any() else 0.0,
        "inside_grad": float(inside_grad.mean()) / max(work.gradient_median, 1e-3),
        "inside_gray": med_in,
        "ring_gray": ring_med,
        "image_gray": work.median,
    }


def band_features(work: WorkImage, region: Region, med_in: float, ring_med: float) -> dict[str, float]:
    """The candidate against the image at its depth (the middle half of its rows).

    ``band_frac``: the fraction of the image's valid columns whose median over those rows is below
    the mid-level between the inside and ring medians (about the candidate's own width over the
    image's for a lesion, near 1 for a dark layer crossing the image such as the subcutaneous
    fat); ``side_contrast``: median inside over the median of the strips ``SIDE_MM`` beside its box
    in those rows (near 1 when the same tissue continues sideways).
    """
    h, w = region.mask.shape
    r0, r1 = region.r0 + h // 4, max(region.r0 + h // 4 + 1, region.r0 + h - h // 4)
    rows, ok = work.smooth[r0:r1], work.valid[r0:r1]
    columns = ok.any(axis=0)
    if not columns.any():
        return {"band_frac": 0.0, "side_contrast": 1.0}
    if ok.all():
        profile = np.median(rows, axis=0)
    else:
        profile = np.nanmedian(np.where(ok, rows, np.nan)[:, columns], axis=0)
    level = 0.5 * (med_in + ring_med)
    near, far = round(SIDE_MM[0] / WORK_MM), round(SIDE_MM[1] / WORK_MM)
    width = work.smooth.shape[1]
    strips = (
        slice(max(0, region.c0 - far), max(0, region.c0 - near)),
        slice(min(width, region.c0 + w + near), min(width, region.c0 + w + far)),
    )
    sides = np.concatenate([rows[:, s][ok[:, s]] for s in strips])
    side = float(np.median(sides)) if sides.size >= 4 else ring_med
    return {
        "band_frac": float((profile <= level).mean()),
        "side_contrast": med_in / max(side, 1.0),
    }


def region_features(work: WorkImage, region: Region) -> dict[str, float]:
    """The features listed in the module docstring for one candidate region."""
    rows, cols, mask = _crop(work, region)
    far_rows, far_cols, far_mask = _crop(work, region, FAR_MM[1])
    # One distance map serves both rings: the whole region lies in both windows.
    far_distance = ndi.distance_transform_edt(~far_mask)
    smooth, valid = work.smooth[rows, cols], work.valid[rows, cols]
    px = WORK_MM
    inside = smooth[mask]
    distance = far_distance[
        rows.start - far_rows.start : rows.stop - far_rows.start,
        cols.start - far_cols.start : cols.stop - far_cols.start,
    ]
    ring = (distance > RING_MM[0] / px) & (distance <= RING_MM[1] / px) & valid
    ring_med = float(np.median(smooth[ring])) if ring.sum() >= 4 else float(np.median(smooth))
    med_in = float(np.median(inside))
    boundary = mask & ~ndi.binary_erosion(mask)
    outer = (distance > 0) & (distance < 1.5)
    grad = work.gradient[rows, cols]
    edge_px = boundary | outer
    step = max(ring_med - med_in, 1.0)
    edge = float(grad[edge_px].mean()) * EDGE_SCALE / step
    touches = outer & ~valid
    full_h, full_w = work.smooth.shape
    on_edge = _on_edge(mask, rows, cols, (full_h, full_w))
    shape = _shape(mask)
    r_idx = np.flatnonzero(mask.any(axis=1))
    c_idx = np.flatnonzero(mask.any(axis=0))
    width, depth = (c_idx[-1] + 1 - c_idx[0]) * px, (r_idx[-1] + 1 - r_idx[0]) * px
    span_r = (rows.start + int(r_idx[0]), rows.start + int(r_idx[-1]) + 1)
    span_c = (cols.start + int(c_idx[0]), cols.start + int(c_idx[-1]) + 1)
    posterior, lr, _ = posterior_bands(work.smooth, work.valid, span_r, span_c)
    context = context_features(
        work, region, boundary, (rows, cols), (far_rows, far_cols, far_mask, far_distance)
    )
    centre_row = rows.start + shape.pop("centre_row")
    return {
        "area_mm2": float(mask.sum()) * px * px,
        "width_mm": float(width),
        "depth_mm": float(depth),
        "wd_ratio": float(width / max(depth, px)),
        "contrast": med_in / max(ring_med, 1.0),
        "darkness": med_in / max(work.median, 1.0),
        "edge": edge,
        "edge_abs": float(grad[edge_px].mean()) / max(work.gradient_median, 1e-3),
        "heterogeneity": float(inside.std()) / max(ring_med, 1.0),
        "anechoic_frac": float((inside < 0.25 * ring_med).mean()),
        "posterior": posterior,
        "posterior_lr": lr,
        "depth_frac": float(centre_row / full_h),
        "top_frac": float((rows.start + r_idx[0]) / full_h),
        "bottom_frac": float((rows.start + r_idx[-1] + 1) / full_h),
        "centre_offset": abs((span_c[0] + span_c[1]) / 2 / full_w - 0.5),
        **shape,
        "border": float(on_edge.sum() / max(boundary.sum(), 1)),
        "invalid_edge": float(touches.sum() / max(boundary.sum(), 1)),
        "level": float(region.level),
        "is_ratio": 1.0 if region.family == "ratio" else 0.0,
        "posterior_diff": posterior_step(work.smooth, work.valid, span_r, span_c),
        **context,
        **band_features(work, region, med_in, ring_med),
    }
