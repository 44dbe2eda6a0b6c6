"""B-mode breast ultrasound lesions: detection, segmentation, size and BI-RADS US descriptors.

A classical detector (pure numpy / scipy / scikit-image):

1. the region is resampled to ``WORK_MM`` per pixel, its unusable pixels filled, its speckle
   reduced, and dark (hypoechoic) connected regions taken at several levels
   (:mod:`breastgate.algorithms._us_candidates`);
2. a small network's lesion-probability map (:mod:`breastgate.algorithms._us_cnn`, ONNX, when
   onnxruntime and the file are there) adds its components as candidates and 4 features to every
   candidate;
   every candidate is measured (:mod:`breastgate.algorithms._us_features`) and ranked in two
   logistic stages (:func:`candidate_scores`: ``CNN_DETECTOR`` on 27 features, the network's 4 and
   3 of the candidate against the image at its depth, ``DETECTOR`` on 20 without the network,
   then :func:`detection_scores`: ``CNN_CONTEXT`` / ``CONTEXT`` on that logit and its gap to the
   image's best other candidate); the best are kept greedily, a candidate dropped when it
   overlaps one already kept (non-maximum suppression by ``NMS_OVERLAP`` of the smaller region);
3. each lesion is drawn by the nested candidate with the strongest boundary gradient
   (:func:`outline`), redrawn at input resolution on its own edge (:func:`refine`: the local
   mid-level between inside and the tissue just outside each part of it, dark concavities filled,
   :mod:`breastgate.algorithms._us_outline`); two kept candidates whose outlines overlap under a
   caliper line or text are one lesion (:func:`merged`); measured as a sonographer does (width:
   the longest horizontal extent; depth: the largest vertical extent, perpendicular to it),
   described from the drawn outline (BI-RADS US, 5th edition, each descriptor with its measured
   basis, :mod:`breastgate.algorithms._us_descriptors`) and given a malignancy score
   (``MALIGNANCY``, on the features of the candidate, as it was fitted).

The models were fitted on the BUSI calibration set (Al-Dhabyani et al., Data in Brief 28:104863,
2020; 240 images, ``bench/busi_fit.py``; since 1.3.0 the network's two detection models also on the
candidates of development phantoms, seeds 7000-7099, ``bench/us_phantom_records.py``); the
thresholds are the cross-validated ones of ``bench/busi_us.py`` (5 folds by image). BUSI has no
pixel spacing: when ``pixel_mm`` is None a nominal ``NOMINAL_MM`` per pixel is assumed and sizes
in mm are marked nominal in the features (``nominal_scale`` = 1).

Out of fold on BUSI (``bench/busi_us.py --cnn-maps … --phantom-records …``, 5 folds, version
1.3.0, the network's maps out of fold too): sensitivity 0.865 (180/208) at 0.52 false regions per
image at the per-fold thresholds (pooled: 0.861 at 0.5; target 0.85 at 0.5: met; 1.2.1: 0.851 at
0.48; 1.1.0, classical: 0.80 at 0.47), 0.90 at 1 (1.2.1: 0.87); median Dice 0.84 on detected
lesions, 0.79 over all lesions, a missed one counting 0; benign-vs-malignant AUC 0.87 per detected
lesion, 0.74 per image; normals with a shown detection 17/40 (1.2.1: 28/40; 1.1.0: 24/40). On US phantoms
(``bench/us_phantom_lesions.py``, seeds 2000-2015, detector of branch usdet3 with the 1.0.0
outline): sensitivity 0.83 at 0.29 false per region (0.73 at 0.17 before). Whole algorithm on
held-out phantom studies (``bench/us_phantoms.py --seed 6000 --count 60``, 1.1.0): sensitivity
0.786 at 0.489 false regions per image (1.0.0: 0.705 at 0.386), width / depth within 1 mm 0.70 /
0.56, descriptor agreement shape 0.61, orientation 0.85, margin 0.67, echo pattern 0.87, posterior
0.82 (targets 0.95 at 0.25, 1 mm, 0.90: not met). Per-branch figures: the model card.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import numpy.typing as npt
from scipy import ndimage as ndi

from breastgate.algorithms._us_candidates import (
    MIN_DIAMETER_MM,
    NOMINAL_MM,
    WORK_MM,
    Region,
    WorkImage,
    candidates,
    prepare,
)
from breastgate.algorithms._us_cnn import blobs, lesion_map, map_features, map_regions
from breastgate.algorithms._us_descriptors import UsDescriptor, describe
from breastgate.algorithms._us_features import RING_MM, posterior_step, region_features
from breastgate.algorithms._us_models import (
    CNN_CONTEXT,
    CNN_DETECTOR,
    CNN_OPERATING_THRESHOLD,
    CNN_REPORT_FLOOR,
    CONTEXT,
    DETECTOR,
    MALIGNANCY,
    OPERATING_THRESHOLD,
    REPORT_FLOOR,
)
from breastgate.algorithms._us_outline import (
    LOCAL_MM,
    edge_level,
    fill_bites,
    lobulation,
    local_level,
)

LOGGER = logging.getLogger(__name__)

BoolArray = npt.NDArray[np.bool_]
FloatArray = npt.NDArray[np.float64]
Point = tuple[float, float]
#: What gives the lesion-probability map of a working image (None: no map, classical only).
NetworkMap = Callable[[WorkImage], FloatArray | None]

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
#: Whether the components of the network's map are candidates too (besides ranking the others).
MAP_CANDIDATES = True
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
#: A part joins a lesion when not larger than this times the lesion's best candidate.
MERGE_AREA = 1.5


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
    #: The network's lesion-probability map (working grid), None when it did not run.
    network: FloatArray | None = None


def analyse(
    image: npt.NDArray[Any],
    valid: npt.NDArray[np.bool_] | None = None,
    pixel_mm: float | None = None,
    network: NetworkMap | None = lesion_map,
) -> Analysis:
    """Prepare the image and measure all its candidate regions.

    ``network`` gives the lesion-probability map (default: the shipped network,
    :func:`breastgate.algorithms._us_cnn.lesion_map`; None or a None map: classical only). With a
    map, its components are candidates too (``MAP_CANDIDATES``) and every candidate has the map's
    features (:func:`breastgate.algorithms._us_cnn.map_features`).
    """
    work = prepare(image, valid, pixel_mm)
    regions = list(candidates(work))
    prob = None if network is None else network(work)
    if prob is not None and MAP_CANDIDATES:
        regions += map_regions(prob, work.valid, np.pi * (MIN_DIAMETER_MM / 2 / WORK_MM) ** 2)
    feats = [region_features(work, r) for r in regions]
    if prob is not None:
        found = blobs(prob)
        for f, r in zip(feats, regions, strict=True):
            f.update(map_features(prob, found, r))
    return Analysis(work, regions, feats, (int(image.shape[0]), int(image.shape[1])), prob)


def uses_network(features: Sequence[Mapping[str, float]]) -> bool:
    """Whether candidates measured so are ranked by the models with the network's features (they
    carry them, and those models are fitted)."""
    return CNN_DETECTOR is not None and bool(features) and "cnn_mean" in features[0]


def thresholds(network: bool) -> tuple[float, float]:
    """(operating threshold, report floor) of the detection scores with or without the network."""
    if network and CNN_DETECTOR is not None:
        return CNN_OPERATING_THRESHOLD, CNN_REPORT_FLOOR
    return OPERATING_THRESHOLD, REPORT_FLOOR


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
    """First-stage score of each candidate (``DETECTOR`` on its own features, ``CNN_DETECTOR``
    when they hold the network's, :func:`uses_network`): what :func:`outline` compares nested
    candidates of one lesion by."""
    model = CNN_DETECTOR if uses_network(features) and CNN_DETECTOR is not None else DETECTOR
    return [model.score(dict(f)) for f in features]


def detection_scores(first: Sequence[float], network: bool = False) -> list[float]:
    """Detection score of each candidate of one image from its first-stage score
    (:func:`candidate_scores`): ``CONTEXT`` (``CNN_CONTEXT`` when the first stage used the
    network) on how it stands against the image's other candidates."""
    model = CNN_CONTEXT if network and CNN_CONTEXT is not None else CONTEXT
    return [model.score(c) for c in context_rows(first)]


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
    """The lesion's outline at input resolution, on its own edge (:mod:`._us_outline`).

    Redrawn on the smoothed image (bilinear at input resolution) at the local mid-level between the
    candidate's inside median and the tissue just outside each part of it, within ``REFINE_REACH``
    of its equivalent radius and ``REFINE_REACH_MM`` of it, keeping the parts that touch the
    candidate, holes and dark concavities filled. Pixels under calipers or text (``valid`` False,
    filled from their neighbours in the working image) inside the outline belong to the lesion
    under them, so ``valid`` is not applied (kept in the signature for the callers).
    Falls back to the candidate when the redrawn region is not within 0.5-3 times its area.
    """
    work = analysis.work
    h, w = region.mask.shape
    radius = float(np.sqrt(region.mask.sum() / np.pi))
    reach = max(2.0, min(REFINE_REACH * radius, REFINE_REACH_MM / WORK_MM))
    pad = int(max(reach, RING_MM[1] / WORK_MM + LOCAL_MM / WORK_MM)) + 2
    r0, c0 = max(0, region.r0 - pad), max(0, region.c0 - pad)
    r1 = min(work.smooth.shape[0], region.r0 + h + pad)
    c1 = min(work.smooth.shape[1], region.c0 + w + pad)
    mask = np.zeros((r1 - r0, c1 - c0), bool)
    mask[region.r0 - r0 : region.r0 - r0 + h, region.c0 - c0 : region.c0 - c0 + w] = region.mask
    smooth, ok = work.smooth[r0:r1, c0:c1], work.valid[r0:r1, c0:c1]
    distance = ndi.distance_transform_edt(~mask)
    ring = (distance > RING_MM[0] / WORK_MM) & (distance <= RING_MM[1] / WORK_MM) & ok
    fallback = input_mask(analysis, region, None)
    if ring.sum() < 8:
        return fallback
    inside, outside = float(np.median(smooth[mask])), float(np.median(smooth[ring]))
    around = local_level(smooth, ring, LOCAL_MM / WORK_MM, outside)
    level = edge_level(inside, around)
    allowed = (distance <= reach).astype(np.float64)
    height, width = analysis.shape
    sy, sx = work.smooth.shape[0] / height, work.smooth.shape[1] / width
    i0, i1 = max(0, int(r0 / sy)), min(height, int(r1 / sy) + 1)
    j0, j1 = max(0, int(c0 / sx)), min(width, int(c1 / sx) + 1)
    rows = (np.arange(i0, i1) + 0.5) * sy - 0.5 - r0
    cols = (np.arange(j0, j1) + 0.5) * sx - 0.5 - c0
    grid = np.meshgrid(rows, cols, indexing="ij")
    fine = ndi.map_coordinates(smooth, grid, order=1, mode="nearest")
    fine_level = ndi.map_coordinates(level, grid, order=1, mode="nearest")
    reachable = ndi.map_coordinates(allowed, grid, order=1, cval=0.0) >= 0.5
    seed = fallback[i0:i1, j0:j1]
    labels, _ = ndi.label((fine <= fine_level) & reachable)
    keep = np.unique(labels[seed & (labels > 0)])
    redrawn = ndi.binary_fill_holes(np.isin(labels, keep[keep > 0]))
    redrawn = fill_bites(redrawn, fine, inside, outside)
    out = np.zeros((height, width), bool)
    out[i0:i1, j0:j1] = redrawn
    area, before = float(out.sum()), float(fallback.sum())
    if not 0.5 * before <= area <= 3.0 * before:
        out = fallback
    return out


def merged(
    analysis: Analysis, drawn: Sequence[int], valid: BoolArray | None
) -> list[tuple[list[int], BoolArray]]:
    """The drawn candidates grouped into lesions, best first, each with its outline (a group of
    several is redrawn as one by the caller). Two whose outlines overlap are one lesion split by
    something drawn over it (a caliper line, text), which hides the pixels under it from the
    candidates but not from the outline, when they overlap there and the part is not larger than
    ``MERGE_AREA`` times the lesion's best candidate (a wide dark band beside a lesion is not part
    of it); a candidate drawn twice is one lesion."""
    hidden = None if valid is None or valid.all() else ndi.binary_dilation(~valid, iterations=2)
    groups: list[list[int]] = []
    members: list[BoolArray] = []
    for j in drawn:
        mask = refine(analysis, analysis.regions[j], valid)
        for k, other in enumerate(members):
            first = analysis.regions[groups[k][0]].mask.sum()
            if j == groups[k][0] or (
                hidden is not None
                and analysis.regions[j].mask.sum() <= MERGE_AREA * first
                and (other & mask & hidden).any()
            ):
                groups[k].append(j)
                members[k] = other | mask
                break
        else:
            groups.append([j])
            members.append(mask)
    return list(zip(groups, members, strict=True))


def union(regions: Iterable[Region]) -> Region:
    """One region covering ``regions`` (working grid)."""
    parts = list(regions)
    r0, c0 = min(p.r0 for p in parts), min(p.c0 for p in parts)
    r1 = max(p.r0 + p.mask.shape[0] for p in parts)
    c1 = max(p.c0 + p.mask.shape[1] for p in parts)
    mask = np.zeros((r1 - r0, c1 - c0), bool)
    for p in parts:
        h, w = p.mask.shape
        mask[p.r0 - r0 : p.r0 - r0 + h, p.c0 - c0 : p.c0 - c0 + w] |= p.mask
    return Region(mask, r0, c0, parts[0].family, parts[0].level)


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


def _lesion(
    analysis: Analysis,
    index: int,
    score: float,
    valid: BoolArray | None,
    region: Region | None = None,
    mask: BoolArray | None = None,
) -> UsLesion | None:
    """The lesion drawn by candidate ``index`` (or by ``region`` / ``mask`` when given: a merged
    one), measured and described; its model features are those of candidate ``index``."""
    region = analysis.regions[index] if region is None else region
    feats = dict(analysis.features[index])
    mask = refine(analysis, region, valid) if mask is None else mask
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
        descriptors=describe({**feats, **outline_features(analysis, mask)}),
        features=feats,
    )


#: Features the descriptors read from the drawn outline (not from the candidate that found it):
#: its shape and edge, and the echo inside it, ``INTERIOR_MM`` in from the edge (the edge's own
#: blur is neither the lesion's echo nor its heterogeneity).
OUTLINE_KEYS: tuple[str, ...] = (
    "solidity", "ellipse_misfit", "aspect", "roughness", "edge", "posterior", "posterior_lr",
)  # fmt: skip
INTERIOR_KEYS: tuple[str, ...] = ("contrast", "heterogeneity", "anechoic_frac")
INTERIOR_MM = 0.3


def _measured(work: WorkImage, small: BoolArray, keys: Sequence[str]) -> dict[str, float]:
    rows, cols = np.flatnonzero(small.any(axis=1)), np.flatnonzero(small.any(axis=0))
    if rows.size < 2 or cols.size < 2 or not keys:
        return {}
    crop = small[rows[0] : rows[-1] + 1, cols[0] : cols[-1] + 1]
    feats = region_features(work, Region(crop, int(rows[0]), int(cols[0]), "outline", 0.0))
    return {k: feats[k] for k in keys}


def outline_features(analysis: Analysis, mask: BoolArray) -> dict[str, float]:
    """The ``OUTLINE_KEYS`` and ``INTERIOR_KEYS`` features of the drawn outline (working grid), and
    its ``lobulation`` (input resolution, :func:`~breastgate.algorithms._us_outline.lobulation`)."""
    work = analysis.work
    height, width = analysis.shape
    factors = (work.smooth.shape[0] / height, work.smooth.shape[1] / width)
    small = ndi.zoom(mask.astype(np.float64), factors, order=1, grid_mode=True, mode="grid-constant") >= 0.5
    small = small[: work.smooth.shape[0], : work.smooth.shape[1]]
    interior = ndi.distance_transform_edt(small) > INTERIOR_MM / WORK_MM
    inner = _measured(work, interior, INTERIOR_KEYS) if interior.sum() >= 16 else {}
    return {**_measured(work, small, OUTLINE_KEYS), **inner, "lobulation": lobulation(mask)}


def find_lesions(
    image: npt.NDArray[Any],
    valid: npt.NDArray[np.bool_] | None = None,
    pixel_mm: float | None = None,
    max_lesions: int = 5,
) -> list[UsLesion]:
    """Lesions of one B-mode image region, highest detection score first, all above the report
    floor (show those above the operating threshold; both: :func:`thresholds`, with the network
    when it ran).

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
    network = uses_network(analysis.features)
    scores = detection_scores(first, network)
    kept = select(analysis, scores, thresholds(network)[1], max_lesions)
    ok = None if valid is None else np.asarray(valid, bool)
    drawn = [outline(analysis, first, i) for i in kept]
    lesions = []
    for group, mask in merged(analysis, drawn, ok):
        best = kept[drawn.index(group[0])]
        if len(set(group)) > 1:
            region = union(analysis.regions[j] for j in group)
            lesions.append(_lesion(analysis, group[0], scores[best], ok, region))
        else:
            lesions.append(_lesion(analysis, group[0], scores[best], ok, mask=mask))
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
