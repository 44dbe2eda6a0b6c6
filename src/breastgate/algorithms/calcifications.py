"""Calcification clusters (``breastgate.calcifications``): individual calcifications, then clusters.

Physics: a calcification attenuates far more than soft tissue and is 0.1-0.5 mm across, so on a
For Presentation image it is a small bright spot, a few pixels wide, on a background whose
anatomical texture has most of its power at low frequencies (power-law spectrum, reference
algorithms.md §6.2). The detector is the classical difference-image technique (Chan et al. 1987,
reference §2.2), scaled in mm so it works at any pixel size:

1. band-pass: Gaussian at ``SIGNAL_MM`` minus Gaussian at ``BACKGROUND_MM`` (difference of Gaussians);
2. noise: robust standard deviation (MAD) of the band-pass image inside the breast, estimated
   per block of ``BLOCK_MM`` so brighter (denser, noisier) regions get their own noise level;
3. spots: connected pixels above ``SPOT_SNR`` whose peak exceeds ``PEAK_SNR``;
4. anatomy and look-alikes removed: spots within ``SKIN_MM`` of the skin line (skin
   calcifications, edge artefacts), spots larger than ``MAX_DIAMETER_MM`` (benign round
   calcifications) or longer than ``MAX_LENGTH_MM`` (vessel walls), spots in the pectoral muscle;
5. clusters: **≥ 3 calcifications each within ``LINK_MM`` = 5 mm of another** (single linkage; with
   a 5 mm link, 3 calcifications lie within about 1 cm², the CAD rule of reference §2.1);
   a cluster whose calcifications lie along a line (RMS distance to the principal axis <
   ``LINEAR_RMS_MM`` over > ``LINEAR_MIN_MM``) is a vascular track, not a cluster;
6. score: ``1 − exp(−(n − 2) · mean_snr / SCORE_SCALE)`` with n calcifications — more and brighter
   calcifications make a cluster more credible. Operating point ``THRESHOLD``.

Individual calcifications are kept as the cluster's members (CAD SR Individual Calcification).
"""

from __future__ import annotations

import math

import numpy as np
from scipy import ndimage as ndi

from breastgate.algorithms._findings import Candidate, ImageContext, run_detector, select_mammograms
from breastgate.algorithms.base import Selection
from breastgate.domain.model import AlgorithmManifest, AlgorithmResult, FindingKind, StudyRef
from breastgate.imaging.pixels import MG_FOR_PRESENTATION, MG_FOR_PROCESSING

SIGNAL_MM = 0.05
BACKGROUND_MM = 0.15
BLOCK_MM = 12.0
SPOT_SNR = 3.0
PEAK_SNR = 6.5
SKIN_MM = 3.0
MAX_DIAMETER_MM = 1.0
MAX_LENGTH_MM = 1.6
LINK_MM = 5.0
MIN_CALCS = 3
LINEAR_RMS_MM = 0.35
LINEAR_MIN_MM = 6.0
SCORE_SCALE = 40.0
THRESHOLD = 0.5

MANIFEST = AlgorithmManifest(
    id="breastgate.calcifications",
    version="1.0.0",
    name="Calcification clusters (difference-image detector)",
    intended_use=(
        "Marks clusters of at least 3 calcifications (each within 5 mm of another) on For Presentation "
        "digital mammograms, with the individual calcifications; a reference implementation."
    ),
    modalities=("MG",),
    sop_class_uids=(MG_FOR_PRESENTATION, MG_FOR_PROCESSING),
    views=("CC", "MLO", "ML", "LM", "XCCL", "LMO", "SIO", "FB"),
    outputs=("findings", "calcification_cluster"),
)


def _block_noise(band: np.ndarray, tissue: np.ndarray, block: int) -> np.ndarray:
    """Per-block robust σ (1.4826 · MAD) of ``band`` inside ``tissue``, upsampled to full size."""
    rows, cols = band.shape
    nr, nc = -(-rows // block), -(-cols // block)
    sigma = np.full((nr, nc), np.nan, np.float32)
    for i in range(nr):
        for j in range(nc):
            sl = np.s_[i * block : (i + 1) * block, j * block : (j + 1) * block]
            values = band[sl][tissue[sl]]
            if values.size > block * block // 8:
                med = np.median(values)
                sigma[i, j] = 1.4826 * np.median(np.abs(values - med))
    valid = np.isfinite(sigma)
    if not valid.any():
        return np.full(band.shape, 1.0, np.float32)
    fill = float(np.median(sigma[valid]))
    sigma[~valid] = fill
    sigma = np.maximum(sigma, 0.25 * fill)
    return np.repeat(np.repeat(sigma, block, axis=0), block, axis=1)[:rows, :cols]


def detect_calcifications(ctx: ImageContext) -> list[tuple[float, float, float, float]]:
    """Individual calcifications on one image: (col, row, peak SNR, diameter mm)."""
    px = ctx.px_mm
    img = ctx.image.pixels
    g = ctx.geometry
    skin = ndi.distance_transform_edt(g.breast) * (px * g.factor)
    inner = ctx.full_mask(g.tissue & (skin > SKIN_MM))
    band = ndi.gaussian_filter(img, max(SIGNAL_MM / px, 0.5)) - ndi.gaussian_filter(img, BACKGROUND_MM / px)
    sigma = _block_noise(band, inner, max(int(BLOCK_MM / px), 16))
    snr = band / sigma
    labels, n = ndi.label((snr > SPOT_SNR) & inner)
    if n == 0:
        return []
    index = np.arange(1, n + 1)
    peaks = ndi.maximum(snr, labels, index)
    keep = index[peaks > PEAK_SNR]
    out: list[tuple[float, float, float, float]] = []
    objects = ndi.find_objects(labels)
    for lab in keep:
        sl = objects[lab - 1]
        assert sl is not None
        mask = labels[sl] == lab
        area = float(mask.sum()) * px * px
        diameter = 2.0 * math.sqrt(area / math.pi)
        extent = max(mask.shape) * px
        if diameter > MAX_DIAMETER_MM or extent > MAX_LENGTH_MM:
            continue
        weights = snr[sl] * mask
        rr, cc = np.nonzero(mask)
        total = float(weights[rr, cc].sum())
        row = sl[0].start + float((rr * weights[rr, cc]).sum()) / total
        col = sl[1].start + float((cc * weights[rr, cc]).sum()) / total
        out.append((col + 0.5, row + 0.5, float(snr[sl][mask].max()), diameter))
    return out


def _link(points: np.ndarray, link_px: float) -> list[list[int]]:
    """Single-linkage groups of points closer than ``link_px``."""
    from scipy.spatial import cKDTree

    tree = cKDTree(points)
    pairs = tree.query_pairs(link_px)
    parent = list(range(len(points)))

    def find(i: int) -> int:
        while parent[i] != i:
            parent[i] = parent[parent[i]]
            i = parent[i]
        return i

    for a, b in pairs:
        parent[find(a)] = find(b)
    groups: dict[int, list[int]] = {}
    for i in range(len(points)):
        groups.setdefault(find(i), []).append(i)
    return list(groups.values())


def _linear(points_mm: np.ndarray) -> bool:
    """Calcifications strung along a line (a vessel wall), not a cluster."""
    centred = points_mm - points_mm.mean(axis=0)
    _, s, _ = np.linalg.svd(centred, full_matrices=False)
    n = len(points_mm)
    length = 4.0 * s[0] / math.sqrt(n)  # ≈ extent along the principal axis
    rms_across = s[1] / math.sqrt(n) if len(s) > 1 else 0.0
    return bool(length > LINEAR_MIN_MM and rms_across < LINEAR_RMS_MM)


def find_clusters(ctx: ImageContext) -> list[Candidate]:
    """Cluster candidates on one image (see the module docstring)."""
    calcs = detect_calcifications(ctx)
    if len(calcs) < MIN_CALCS:
        return []
    px = ctx.px_mm
    points = np.array([(c, r) for c, r, _, _ in calcs])
    out: list[Candidate] = []
    for group in _link(points, LINK_MM / px):
        if len(group) < MIN_CALCS:
            continue
        pts = points[group]
        if _linear(pts * px):
            continue
        snrs = np.array([calcs[i][2] for i in group])
        n = len(group)
        mean_snr = float(snrs.mean())
        score = 1.0 - math.exp(-(n - 2) * mean_snr / SCORE_SCALE)
        pad = 0.5 / px
        bbox = (
            float(pts[:, 0].min() - pad),
            float(pts[:, 1].min() - pad),
            float(pts[:, 0].max() + pad),
            float(pts[:, 1].max() + pad),
        )
        size = max(bbox[2] - bbox[0], bbox[3] - bbox[1]) * px
        out.append(
            Candidate(
                point=(float(pts[:, 0].mean()), float(pts[:, 1].mean())),
                bbox=bbox,
                score=round(score, 4),
                size_mm=size,
                members=tuple((float(c), float(r)) for c, r in pts),
                features={"count": float(n), "mean_snr": mean_snr},
            )
        )
    return out


class CalcificationAlgorithm:
    """Built-in calcification-cluster detector (entry point ``calcifications``)."""

    manifest: AlgorithmManifest = MANIFEST

    def is_available(self) -> tuple[bool, str]:
        """Always available: numpy and scipy are core dependencies."""
        return True, ""

    def select(self, study: StudyRef) -> Selection:
        return select_mammograms(study)

    def run(self, selection: Selection) -> AlgorithmResult:
        return run_detector(selection, MANIFEST, FindingKind.CALCIFICATION_CLUSTER, find_clusters, THRESHOLD)
