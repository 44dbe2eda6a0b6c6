"""B-mode breast ultrasound lesions: detection, segmentation, size and BI-RADS US descriptors.

A classical detector (pure numpy / scipy / scikit-image):

1. the region is resampled to ``WORK_MM`` per pixel, its unusable pixels filled, its speckle
   reduced, and dark (hypoechoic) connected regions taken at several levels
   (:mod:`breastgate.algorithms._us_candidates`);
2. every candidate is measured (:mod:`breastgate.algorithms._us_features`) and ranked in two
   logistic stages (:func:`candidate_scores`: ``DETECTOR`` on 20 features, then
   :func:`detection_scores`: ``CONTEXT`` on that logit and its gap to the image's best other
   candidate); the best are kept greedily, a
   candidate dropped when it overlaps one already kept (non-maximum suppression by
   ``NMS_OVERLAP`` of the smaller region);
3. each lesion is drawn by the nested candidate with the strongest boundary gradient
   (:func:`outline`), redrawn at input resolution at its edge's mid-level (:func:`refine`),
   measured as a sonographer does (width:
   the longest horizontal extent; depth: the largest vertical extent, perpendicular to it),
   described (BI-RADS US, 5th edition, each descriptor with its measured basis,
   :mod:`breastgate.algorithms._us_descriptors`) and given a malignancy score (``MALIGNANCY``).

The models were fitted on the BUSI calibration set (Al-Dhabyani et al., Data in Brief 28:104863,
2020; 240 images, ``bench/busi_fit.py``); the thresholds are the cross-validated ones of
``bench/busi_us.py`` (5 folds by image). BUSI has no pixel spacing: when ``pixel_mm`` is None a
nominal ``NOMINAL_MM`` per pixel is assumed and sizes in mm are marked nominal in the features
(``nominal_scale`` = 1).

Out of fold on BUSI (``bench/busi_us.py``, 5 folds, branch usdet3): sensitivity 0.80 at 0.47
false regions per image at the per-fold thresholds (pooled: 0.81 at 0.5; target 0.85 at 0.5: not
met), 0.87 at 1; median Dice 0.78 on detected lesions (0.67 over all lesions, a missed one
counting 0); benign-vs-malignant AUC 0.84 per detected lesion, 0.75 per image. On US phantoms
(``bench/us_phantom_lesions.py``, seeds 2000-2015, branch usdet3): sensitivity 0.83 at 0.29 false
per region (0.73 at 0.17 before), width / depth within 1 mm for 55 % / 47 % of hits, descriptor
agreement 0.59-0.90 (targets 0.95, 1 mm, 0.90: not met). Whole algorithm on held-out phantom studies
(``bench/us_phantoms.py --seed 6000 --count 60``, branch usdet3): sensitivity 0.776 at 0.543 false
regions per image (0.705 at 0.386 before), width / depth within 1 mm 0.67 / 0.51, descriptor
agreement shape 0.55, orientation 0.85, margin 0.57, echo pattern 0.79, posterior 0.83.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import numpy.typing as npt
from scipy import ndimage as ndi

from breastgate.algorithms._us_candidates import (
    NOMINAL_MM,
    WORK_MM,
    Region,
    WorkImage,
    candidates,
    prepare,
)
from breastgate.algorithms._us_descriptors import UsDescriptor, describe
from breastgate.algorithms._us_features import RING_MM, posterior_step, region_features
from breastgate.algorithms._us_models import (
    CONTEXT,
    DETECTOR,
    MALIGNANCY,
    OPERATING_THRESHOLD,
    REPORT_FLOOR,
)

LOGGER = logging.getLogger(__name__)

BoolArray = npt.NDArray[np.bool_]
Point = tuple[float, float]

__all__ = [
    "CONTEXT",
    "DETECTOR",
    "MALIGNANCY",
    "NOMINAL_MM",
    "OPERATING_THRESHOLD",
    "REPORT_FLOOR",
    "UsDescriptor",
    "UsLesion",
    "candidate_scores",
    "detection_scores",
    "find_lesions",
    "find_lesions_cine",
]

NMS_OVERLAP = 0.3
#: The second detection stage's features (:func:`context_rows`).
CONTEXT_FEATURES = ("logit", "gap")
#: Frames of a cine loop analysed at most (:func:`find_lesions_cine`).
CINE_FRAMES = 20
#: Which nested candidate draws a lesion (:func:`outline`).
OUTLINE_BY: str | None = "edge_abs"
OUTLINE_OVERLAP = 0.6
OUTLINE_SCORE = 0.25
BOTTOM_FRAC = 0.98
#: How far (in equivalent radii) the refined outline may reach beyond the candidate.
REFINE_REACH = 0.35
REFINE_REACH_MM = 1.5


@dataclass(frozen=True)
class UsLesion:
    """One lesion found on a B-mode image region (pixel coordinates of the input)."""

    mask: BoolArray
    score: float
    malignancy: float
    centre: Point
    bbox: tuple[int, int, int, int]
    width_px: float
    depth_px: float
    axis_line: tuple[Point, Point]
    depth_line: tuple[Point, Point]
    descriptors: Mapping[str, UsDescriptor]
    features: Mapping[str, float] = field(default_factory=dict)


@dataclass(frozen=True)
class Analysis:
    """Every candidate of one image with its features (what the benchmarks fit on)."""

    work: WorkImage
    regions: Sequence[Region]
    features: Sequence[dict[str, float]]
    shape: tuple[int, int]


def analyse(
    image: npt.NDArray[Any], valid: npt.NDArray[np.bool_] | None = None, pixel_mm: float | None = None
) -> Analysis:
    """Prepare the image and measure all its candidate regions."""
    work = prepare(image, valid, pixel_mm)
    regions = candidates(work)
    feats = [region_features(work, r) for r in regions]
    return Analysis(work, regions, feats, (int(image.shape[0]), int(image.shape[1])))


def context_rows(scores: Sequence[float]) -> list[dict[str, float]]:
    """The features of the second detection stage, from the first stage's scores of all
    candidates of one image: the candidate's logit and its gap to the best other candidate's
    logit (a second region in an image that holds a clear lesion is more often tissue than a
    second lesion; the best candidate's positive gap is clipped by the model's range)."""
    if not scores:
        return []
    p = np.clip(np.asarray(scores, dtype=np.float64), 1e-6, 1 - 1e-6)
    z = np.log(p / (1 - p))
    ranked = np.sort(z)[::-1]
    second = float(ranked[1]) if z.size > 1 else float(np.log(1e-6))
    return [{"logit": float(v), "gap": float(v - (second if v >= ranked[0] else ranked[0]))} for v in z]


def candidate_scores(features: Sequence[Mapping[str, float]]) -> list[float]:
    """First-stage score of each candidate (``DETECTOR`` on its own features): what
    :func:`outline` compares nested candidates of one lesion by."""
    return [DETECTOR.score(dict(f)) for f in features]


def detection_scores(first: Sequence[float]) -> list[float]:
    """Detection score of each candidate of one image from its first-stage score
    (:func:`candidate_scores`): ``CONTEXT`` on how it stands against the image's other
    candidates."""
    return [CONTEXT.score(c) for c in context_rows(first)]


def select(analysis: Analysis, scores: Sequence[float], floor: float, max_lesions: int) -> list[int]:
    """Indices of the kept candidates: best first, above ``floor``, no two overlapping."""
    order = np.argsort(-np.asarray(scores, dtype=np.float64), kind="stable")
    kept: list[int] = []
    for i in order:
        if scores[i] < floor or len(kept) >= max_lesions:
            break
        a = analysis.regions[i]
        if all(_overlap(a, analysis.regions[j]) < NMS_OVERLAP for j in kept):
            kept.append(int(i))
    return kept


def outline(analysis: Analysis, scores: Sequence[float], seed: int) -> int:
    """The candidate that draws the lesion found at ``seed``: of the nested candidates of the same
    lesion (overlap >= ``OUTLINE_OVERLAP``, score >= ``OUTLINE_SCORE`` of the seed's), the one whose
    boundary has the strongest mean gradient (the edge the eye sees; the detection model, which
    favours large regions, would otherwise draw a lesion with the dark tissue next to it)."""
    if OUTLINE_BY is None:
        return seed

    def key(j: int) -> tuple[bool, float]:
        # A region reaching the bottom of the image is, when a shorter one exists, a lesion
        # joined to its own posterior shadow.
        f = analysis.features[j]
        return f.get("bottom_frac", 0.0) < BOTTOM_FRAC, f[OUTLINE_BY]

    a = analysis.regions[seed]
    best = seed
    for j, b in enumerate(analysis.regions):
        if scores[j] < OUTLINE_SCORE * scores[seed] or key(j) <= key(best):
            continue
        if _overlap(a, b) >= OUTLINE_OVERLAP:
            best = j
    return best


def _overlap(a: Region, b: Region) -> float:
    """Intersection over the smaller area of two regions."""
    r0, c0 = max(a.r0, b.r0), max(a.c0, b.c0)
    r1 = min(a.r0 + a.mask.shape[0], b.r0 + b.mask.shape[0])
    c1 = min(a.c0 + a.mask.shape[1], b.c0 + b.mask.shape[1])
    if r1 <= r0 or c1 <= c0:
        return 0.0
    sa = a.mask[r0 - a.r0 : r1 - a.r0, c0 - a.c0 : c1 - a.c0]
    sb = b.mask[r0 - b.r0 : r1 - b.r0, c0 - b.c0 : c1 - b.c0]
    inter = float((sa & sb).sum())
    return inter / max(1.0, float(min(a.mask.sum(), b.mask.sum())))


def input_mask(analysis: Analysis, region: Region, valid: BoolArray | None) -> BoolArray:
    """The region's mask at input resolution (bilinear on the working mask, cut at one half)."""
    height, width = analysis.shape
    wh, ww = analysis.work.smooth.shape
    sy, sx = wh / height, ww / width
    h, w = region.mask.shape
    r0 = max(0, int((region.r0 - 1) / sy))
    r1 = min(height, int((region.r0 + h + 1) / sy) + 1)
    c0 = max(0, int((region.c0 - 1) / sx))
    c1 = min(width, int((region.c0 + w + 1) / sx) + 1)
    rows = (np.arange(r0, r1) + 0.5) * sy - 0.5 - region.r0
    cols = (np.arange(c0, c1) + 0.5) * sx - 0.5 - region.c0
    grid = np.meshgrid(rows, cols, indexing="ij")
    values = ndi.map_coordinates(region.mask.astype(np.float64), grid, order=1, cval=0.0)
    out = np.zeros((height, width), bool)
    out[r0:r1, c0:c1] = values >= 0.5
    if valid is not None:
        out &= np.asarray(valid, bool)
    return out


def refine(analysis: Analysis, region: Region, valid: BoolArray | None) -> BoolArray:
    """The lesion's outline at input resolution, half way between inside and surroundings.

    A candidate's level is one of a few fixed ones, usually below the edge's mid-point, so its
    outline lies inside the true edge. The outline is redrawn on the smoothed image (bilinear at
    input resolution) at the mid-level between the candidate's inside median and the median of a
    ring ``RING_MM`` outside, within ``REFINE_REACH`` of its equivalent radius and
    ``REFINE_REACH_MM`` of it (so that it cannot leak far into dark tissue or a shadow beside it),
    keeping the parts that touch the candidate, holes filled.
    Falls back to the candidate when the redrawn region is not within 0.5-3 times its area.
    """
    work = analysis.work
    h, w = region.mask.shape
    radius = float(np.sqrt(region.mask.sum() / np.pi))
    reach = max(2.0, min(REFINE_REACH * radius, REFINE_REACH_MM / WORK_MM))
    pad = int(max(reach, RING_MM[1] / WORK_MM)) + 2
    r0, c0 = max(0, region.r0 - pad), max(0, region.c0 - pad)
    r1 = min(work.smooth.shape[0], region.r0 + h + pad)
    c1 = min(work.smooth.shape[1], region.c0 + w + pad)
    mask = np.zeros((r1 - r0, c1 - c0), bool)
    mask[region.r0 - r0 : region.r0 - r0 + h, region.c0 - c0 : region.c0 - c0 + w] = region.mask
    smooth, ok = work.smooth[r0:r1, c0:c1], work.valid[r0:r1, c0:c1]
    distance = ndi.distance_transform_edt(~mask)
    ring = (distance > RING_MM[0] / WORK_MM) & (distance <= RING_MM[1] / WORK_MM) & ok
    fallback = input_mask(analysis, region, valid)
    if ring.sum() < 8:
        return fallback
    level = 0.5 * (float(np.median(smooth[mask])) + float(np.median(smooth[ring])))
    allowed = (distance <= reach).astype(np.float64)
    height, width = analysis.shape
    sy, sx = work.smooth.shape[0] / height, work.smooth.shape[1] / width
    i0, i1 = max(0, int(r0 / sy)), min(height, int(r1 / sy) + 1)
    j0, j1 = max(0, int(c0 / sx)), min(width, int(c1 / sx) + 1)
    rows = (np.arange(i0, i1) + 0.5) * sy - 0.5 - r0
    cols = (np.arange(j0, j1) + 0.5) * sx - 0.5 - c0
    grid = np.meshgrid(rows, cols, indexing="ij")
    fine = ndi.map_coordinates(smooth, grid, order=1, mode="nearest")
    reachable = ndi.map_coordinates(allowed, grid, order=1, cval=0.0) >= 0.5
    seed = fallback[i0:i1, j0:j1]
    labels, _ = ndi.label((fine <= level) & reachable)
    keep = np.unique(labels[seed & (labels > 0)])
    redrawn = ndi.binary_fill_holes(np.isin(labels, keep[keep > 0]))
    out = np.zeros((height, width), bool)
    out[i0:i1, j0:j1] = redrawn
    if valid is not None:
        out &= valid
    area, before = float(out.sum()), float(fallback.sum())
    if not 0.5 * before <= area <= 3.0 * before:
        return fallback
    return out


def calipers(mask: BoolArray) -> tuple[float, float, tuple[Point, Point], tuple[Point, Point]]:
    """(width, depth, width line, depth line) in input pixels, as a sonographer measures.

    Width: between the extreme left and right edges, drawn horizontally through the centre row;
    depth: the tallest column, drawn vertically (perpendicular to the width) through it.
    """
    rows = np.flatnonzero(mask.any(axis=1))
    cols = np.flatnonzero(mask.any(axis=0))
    centre_row = float(np.mean(np.nonzero(mask)[0]))
    width = float(cols[-1] + 1 - cols[0])
    heights = np.zeros(mask.shape[1])
    tops = np.zeros(mask.shape[1])
    for c in cols:
        filled = np.flatnonzero(mask[:, c])
        heights[c] = filled[-1] + 1 - filled[0]
        tops[c] = filled[0]
    tall = int(np.argmax(heights))
    depth = float(heights[tall])
    axis_line = ((cols[0] - 0.5, centre_row), (cols[-1] + 0.5, centre_row))
    depth_line = ((float(tall), tops[tall] - 0.5), (float(tall), tops[tall] + depth - 0.5))
    del rows
    return width, depth, axis_line, depth_line


def _lesion(analysis: Analysis, index: int, score: float, valid: BoolArray | None) -> UsLesion | None:
    region = analysis.regions[index]
    feats = dict(analysis.features[index])
    mask = refine(analysis, region, valid)
    if not mask.any():
        return None
    width, depth, axis_line, depth_line = calipers(mask)
    rr, cc = np.nonzero(mask)
    work = analysis.work
    mm = work.pixel_mm
    # The posterior step is read under the drawn outline (working grid).
    span_r = (int(rr.min() * work.zoom), int((rr.max() + 1) * work.zoom))
    span_c = (int(cc.min() * work.zoom), int((cc.max() + 1) * work.zoom))
    feats["posterior_gray"] = posterior_step(work.smooth, work.valid, span_r, span_c)
    feats.update(
        width_mm=width * mm,
        depth_mm=depth * mm,
        wd_ratio=width / max(depth, 1.0),
        pixel_mm=mm,
        nominal_scale=1.0 if analysis.work.nominal else 0.0,
    )
    return UsLesion(
        mask=mask,
        score=float(score),
        malignancy=MALIGNANCY.score(feats),
        centre=(float(cc.mean()), float(rr.mean())),
        bbox=(int(cc.min()), int(rr.min()), int(cc.max()) + 1, int(rr.max()) + 1),
        width_px=width,
        depth_px=depth,
        axis_line=axis_line,
        depth_line=depth_line,
        descriptors=describe(feats),
        features=feats,
    )


def find_lesions(
    image: npt.NDArray[Any],
    valid: npt.NDArray[np.bool_] | None = None,
    pixel_mm: float | None = None,
    max_lesions: int = 5,
) -> list[UsLesion]:
    """Lesions of one B-mode image region, highest detection score first, all above
    ``REPORT_FLOOR`` (show those above ``OPERATING_THRESHOLD``).

    Parameters
    ----------
    image
        2-D grayscale (0-255) of one ultrasound region.
    valid
        Usable pixels (False on calipers, text, colour overlays, outside the sector); never
        detected there and filled from their neighbours before any measurement.
    pixel_mm
        mm per pixel; None assumes ``NOMINAL_MM`` (the lesion's ``nominal_scale`` feature is 1).
    max_lesions
        At most this many lesions.
    """
    analysis = analyse(image, valid, pixel_mm)
    first = candidate_scores(analysis.features)
    scores = detection_scores(first)
    kept = select(analysis, scores, REPORT_FLOOR, max_lesions)
    ok = None if valid is None else np.asarray(valid, bool)
    lesions = [_lesion(analysis, outline(analysis, first, i), scores[i], ok) for i in kept]
    found = [lesion for lesion in lesions if lesion is not None]
    LOGGER.debug("%d candidates, %d lesions", len(analysis.regions), len(found))
    return found


def find_lesions_cine(
    frames: Sequence[npt.NDArray[Any]] | npt.NDArray[Any],
    valid: npt.NDArray[np.bool_] | None = None,
    pixel_mm: float | None = None,
    max_lesions: int = 3,
    max_frames: int = CINE_FRAMES,
) -> dict[int, list[UsLesion]]:
    """Lesions of a cine loop's frames (one region, same ``valid`` for all), by frame index.

    At most ``max_frames`` frames are analysed, evenly spread (first and last included), so that a
    100-frame loop costs about as much as ``max_frames`` images; the caller links the lesions
    across frames (the extent over frames gives the third, elevational, measurement).
    """
    count = len(frames)
    if count == 0:
        return {}
    picked = sorted({round(x) for x in np.linspace(0, count - 1, min(count, max_frames))})
    return {i: find_lesions(frames[i], valid, pixel_mm, max_lesions) for i in picked}
