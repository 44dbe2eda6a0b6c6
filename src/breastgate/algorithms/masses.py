"""Mass candidates (``breastgate.masses``): gradient convergence plus local contrast, on 2-D FFDM.

Physics and anatomy: a mass is a compact, roughly convex volume denser than fat, so its projection
is a bright region whose intensity gradients point towards its centre from all sides, at a scale
set by its size (5-30 mm). Breast texture (ducts, glandular islands, a power-law field) has
gradients whose directions vary without a common centre. The detector is a multi-scale
convergence-index filter (after Kobatake's iris filter, reference algorithms.md §2.2) on the
working image (about 0.6 mm pixels), combined with the mass's contrast against its surroundings:

1. smooth at ``SMOOTH_MM``; unit gradient vectors; gradients within ``SKIN_MM`` of the skin line
   and in the pectoral muscle are ignored (the breast edge and the muscle edge converge too);
2. for each radius R in ``RADII_MM``: convergence index CI_R(p) = mean over the annulus
   0.4R-1.3R around p of cos(angle between the gradient and the direction to p), computed as
   FFT correlations of the unit-gradient field with the annulus' direction kernels;
3. contrast z_R(p) = (mean in the disc of 0.6R − mean in the ring 1.4R-2.2R) / texture σ, where
   texture σ is the robust spread of the band-passed image inside the breast;
4. candidates: local maxima of CI (best R) inside the breast; score
   ``σ(CI_GAIN·(CI − CI_MID)) · σ(Z_GAIN·(z − Z_MID))`` with σ the logistic function;
5. extent: the half-maximum region around the peak (bounded by 2R), its outline and equivalent
   diameter in mm. At most ``MAX_PER_IMAGE`` candidates per image, operating point ``THRESHOLD``.

Constants were set on development phantoms (seeds below 5000); the benchmark uses other seeds.

Measured (bench/findings_froc.py, 300 phantoms, seeds 5000+): lesion sensitivity 0.93 at 3.5
false marks per image (threshold 0.5), 0.80 at 2.0 (threshold 0.9); case AUC 0.60. The
phantom's glandular islands converge and stand out like masses, and these two features do not
separate them: the detector misses its target (≥ 0.90 at ≤ 0.5 false marks per image). Its
operating point is 0.9 and triage policy 1.0.0 does not let it move studies up the worklist.
"""

from __future__ import annotations

import math

import numpy as np
import numpy.typing as npt
from scipy import ndimage as ndi
from scipy.signal import fftconvolve
from skimage import measure

from breastgate.algorithms._findings import Candidate, ImageContext, run_detector, select_mammograms
from breastgate.algorithms.base import Selection
from breastgate.domain.model import AlgorithmManifest, AlgorithmResult, FindingKind, StudyRef
from breastgate.imaging.pixels import MG_FOR_PRESENTATION, MG_FOR_PROCESSING

FloatArray = npt.NDArray[np.float32]

SMOOTH_MM = 1.2
SKIN_MM = 6.0
RADII_MM = (3.0, 4.5, 6.5, 9.0, 12.5)
CI_MIN = 0.12
CI_GAIN, CI_MID = 10.0, 0.45
Z_GAIN, Z_MID = 1.5, 3.0
MAX_PER_IMAGE = 4
THRESHOLD = 0.9

MANIFEST = AlgorithmManifest(
    id="breastgate.masses",
    version="1.0.0",
    name="Mass candidates (multi-scale convergence index)",
    intended_use=(
        "Marks mass candidates of 5-30 mm with outline and size on For Presentation digital "
        "mammograms; a reference implementation."
    ),
    modalities=("MG",),
    sop_class_uids=(MG_FOR_PRESENTATION, MG_FOR_PROCESSING),
    views=("CC", "MLO", "ML", "LM", "XCCL", "LMO", "SIO", "FB"),
    outputs=("findings", "mass"),
)


def _masked_mean(image: FloatArray, weight: FloatArray, kernel: FloatArray) -> FloatArray:
    num = fftconvolve(image * weight, kernel, mode="same")
    den = fftconvolve(weight, kernel, mode="same")
    out: FloatArray = (num / np.maximum(den, 1e-3)).astype(np.float32)
    return out


def _disc(radius: float) -> FloatArray:
    r = math.ceil(radius)
    y, x = np.mgrid[-r : r + 1, -r : r + 1]
    out: FloatArray = ((x * x + y * y) <= radius * radius).astype(np.float32)
    return out


def _ring(inner: float, outer: float) -> FloatArray:
    r = math.ceil(outer)
    y, x = np.mgrid[-r : r + 1, -r : r + 1]
    d2 = x * x + y * y
    out: FloatArray = ((d2 >= inner * inner) & (d2 <= outer * outer)).astype(np.float32)
    return out


def _convergence(ux: FloatArray, uy: FloatArray, weight: FloatArray, radius: float) -> FloatArray:
    """Mean cos(gradient, direction to the centre) over the annulus 0.4R-1.3R (weights ignore edges)."""
    r = math.ceil(1.3 * radius)
    y, x = np.mgrid[-r : r + 1, -r : r + 1].astype(np.float32)
    d = np.hypot(x, y)
    ann = ((d >= 0.4 * radius) & (d <= 1.3 * radius)).astype(np.float32)
    d[d == 0] = 1.0
    # Convolution flips the kernel: for q = p + (dx, dy), the direction from q to p is -(dx, dy)/r,
    # and the flipped kernel at (dx, dy) must hold that, i.e. the kernel holds +(x, y)/r.
    kx, ky = ann * x / d, ann * y / d
    num = fftconvolve(ux * weight, kx, mode="same") + fftconvolve(uy * weight, ky, mode="same")
    den = fftconvolve(weight, ann, mode="same")
    out: FloatArray = (num / np.maximum(den, 1.0)).astype(np.float32)
    out[den < 0.3 * ann.sum()] = 0.0
    return out


def _to_original(ctx: ImageContext, col: float, row: float) -> tuple[float, float]:
    """Working-grid pixel (col, row) centre → original image coordinates."""
    g = ctx.geometry
    if g.flipped:
        col = g.image.shape[1] - 1 - col
    return (col + 0.5) * g.factor, (row + 0.5) * g.factor


def find_masses(ctx: ImageContext) -> list[Candidate]:
    """Mass candidates on one image (see the module docstring)."""
    g = ctx.geometry
    px = ctx.px_mm * g.factor
    image = g.image.astype(np.float32)
    breast = g.breast
    padded = np.pad(breast, 1)  # the image border (chest wall side) counts as an edge too
    skin = ndi.distance_transform_edt(padded)[1:-1, 1:-1] * px
    tissue = breast & ~g.pectoral
    inner = tissue & (skin > SKIN_MM)
    if inner.sum() < 100:
        return []
    tissue_w = tissue.astype(np.float32)
    best = np.zeros(image.shape, np.float32)
    best_ci = np.zeros_like(best)
    best_z = np.zeros_like(best)
    best_r = np.zeros_like(best)
    for radius_mm in RADII_MM:
        radius = radius_mm / px
        smooth = ndi.gaussian_filter(image, max(SMOOTH_MM, radius_mm / 4.0) / px)
        gy, gx = np.gradient(smooth)
        mag = np.hypot(gx, gy)
        weight = (inner & (mag > 1e-6)).astype(np.float32)
        ux = (gx / np.maximum(mag, 1e-6)).astype(np.float32)
        uy = (gy / np.maximum(mag, 1e-6)).astype(np.float32)
        ci = _convergence(ux, uy, weight, radius)
        response = _masked_mean(smooth, tissue_w, _disc(0.7 * radius)) - _masked_mean(
            smooth, tissue_w, _ring(1.5 * radius, 2.5 * radius)
        )
        values = response[inner]
        spread = 1.4826 * float(np.median(np.abs(values - np.median(values)))) or 1.0
        z = (response - float(np.median(values))) / spread
        score = _logistic(CI_GAIN * (ci - CI_MID)) * _logistic(Z_GAIN * (z - Z_MID))
        # Within R of the breast edge the disc and ring see outside the breast: no candidate there.
        score[~(tissue & (skin > max(SKIN_MM, radius_mm)))] = 0.0
        better = score > best
        best[better], best_ci[better], best_z[better], best_r[better] = (
            score[better],
            ci[better],
            z[better],
            radius,
        )
    peaks = (best == ndi.maximum_filter(best, size=max(int(2 * RADII_MM[0] / px), 3))) & (best > 0.05)
    rows, cols = np.nonzero(peaks)
    scored = sorted(
        (
            (
                float(best[r, c]),
                int(r),
                int(c),
                float(best_ci[r, c]),
                float(best_z[r, c]),
                float(best_r[r, c]),
            )
            for r, c in zip(rows, cols, strict=True)
        ),
        reverse=True,
    )
    smooth = ndi.gaussian_filter(image, SMOOTH_MM / px)
    out: list[Candidate] = []
    taken: list[tuple[int, int, float]] = []
    for peak_score, r, c, peak_ci, peak_z, peak_radius in scored:
        if len(out) >= MAX_PER_IMAGE:
            break
        if any(math.hypot(r - r2, c - c2) < max(peak_radius, rad2) for r2, c2, rad2 in taken):
            continue
        taken.append((r, c, peak_radius))
        out.append(_candidate(ctx, smooth, r, c, peak_radius, peak_score, peak_ci, peak_z, px))
    return out


def _logistic(x: FloatArray) -> FloatArray:
    out: FloatArray = (1.0 / (1.0 + np.exp(-np.clip(x, -50.0, 50.0)))).astype(np.float32)
    return out


def _candidate(
    ctx: ImageContext,
    smooth: FloatArray,
    r: int,
    c: int,
    radius: float,
    score: float,
    ci: float,
    z: float,
    px: float,
) -> Candidate:
    """Extent of a candidate: the half-maximum region around its peak, bounded by 2R."""
    half = math.ceil(2.0 * radius) + 1
    r0, c0 = max(r - half, 0), max(c - half, 0)
    patch = smooth[r0 : r + half + 1, c0 : c + half + 1]
    yy, xx = np.mgrid[r0 : r0 + patch.shape[0], c0 : c0 + patch.shape[1]]
    disc = np.hypot(yy - r, xx - c) <= 2.0 * radius
    ring = disc & (np.hypot(yy - r, xx - c) >= 1.6 * radius)
    base = float(np.median(patch[ring])) if ring.any() else float(patch.min())
    peak = float(patch[r - r0, c - c0])
    level = base + 0.5 * (peak - base)
    region = disc & (patch >= level)
    # Isolation: share of the surrounding ring (1.2R-2R) below the half-maximum level; a mass is
    # darker all round, a glandular island continues into neighbouring dense tissue.
    around = (np.hypot(yy - r, xx - c) >= 1.2 * radius) & disc
    isolation = float((patch[around] < level).mean()) if around.any() else 0.0
    labels, _ = ndi.label(region)
    region = (
        labels == labels[r - r0, c - c0] if labels[r - r0, c - c0] else np.hypot(yy - r, xx - c) <= radius
    )
    area_mm2 = float(region.sum()) * px * px
    size = 2.0 * math.sqrt(area_mm2 / math.pi)
    padded_region = np.pad(region.astype(np.float32), 1)
    contours = measure.find_contours(padded_region, 0.5)  # type: ignore[no-untyped-call]
    contour = max(contours, key=len) if contours else np.array([[r - r0 + 1, c - c0 + 1]])
    step = max(1, len(contour) // 24)
    outline = [_to_original(ctx, c0 + p[1] - 1, r0 + p[0] - 1) for p in contour[::step]]
    rr, cc = np.nonzero(region)
    corners = [
        _to_original(ctx, c0 + cc.min() - 0.5, r0 + rr.min() - 0.5),
        _to_original(ctx, c0 + cc.max() + 0.5, r0 + rr.max() + 0.5),
    ]
    bbox = (
        min(corners[0][0], corners[1][0]),
        min(corners[0][1], corners[1][1]),
        max(corners[0][0], corners[1][0]),
        max(corners[0][1], corners[1][1]),
    )
    return Candidate(
        point=_to_original(ctx, float(c), float(r)),
        bbox=bbox,
        score=round(score, 4),
        size_mm=size,
        outline=tuple(outline),
        features={"convergence": ci, "contrast_z": z, "radius_mm": radius * px, "isolation": isolation},
    )


class MassAlgorithm:
    """Built-in mass-candidate detector (entry point ``masses``)."""

    manifest: AlgorithmManifest = MANIFEST

    def is_available(self) -> tuple[bool, str]:
        """Always available: numpy, scipy and scikit-image are core dependencies."""
        return True, ""

    def select(self, study: StudyRef) -> Selection:
        return select_mammograms(study)

    def run(self, selection: Selection) -> AlgorithmResult:
        return run_detector(selection, MANIFEST, FindingKind.MASS, find_masses, THRESHOLD)
