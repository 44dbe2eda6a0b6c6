"""Dense-tissue segmentation for :mod:`breastgate.algorithms.density` (LIBRA-like).

LIBRA (Keller et al., Med Phys 2012) z-scores the breast pixels, picks a cluster count from the
histogram, runs 1-D fuzzy c-means (m = 2) and lets an SVM decide how many of the brightest
clusters are dense. The SVM models are vendor-trained binaries we neither have nor want, so the
last step here is a documented rule instead:

*A cluster is dense when its centre is closer to the glandular reference level than to the fat
reference level*, where

- the **fat level** F is the 25th percentile of the *fatty periphery*: the band 2-10 mm inside the
  skin line (subcutaneous fat is present in every density category);
- the **glandular level** G is the 98th percentile of the eroded breast interior;
- the cut is ``max(F + 0.5 (G - F), F + 2.5 s)``, with s the robust spread (MAD × 1.4826) of the
  periphery band below its median, so that noise and fat texture alone never make a breast dense.

Nothing here depends on a vendor or a generator: the rule uses only levels measured on the image.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass

import numpy as np
import numpy.typing as npt
from scipy import ndimage as ndi

LOGGER = logging.getLogger(__name__)

FloatArray = npt.NDArray[np.float32]
BoolArray = npt.NDArray[np.bool_]

#: FCM fuzzifier, iterations and tolerance (LIBRA fcm1d.m).
FCM_M = 2.0
FCM_ITERATIONS = 100
FCM_TOLERANCE = 1e-4
#: Cluster count bounds.
MIN_CLUSTERS, MAX_CLUSTERS = 4, 8
#: Periphery band (mm inside the skin line) used as the fat reference.
PERIPHERY_MM = (2.0, 10.0)
#: Erosion (mm) of the breast before clustering, against skin-line edge effects.
EROSION_MM = 3.0
#: Depth (mm) from the skin over which the thickness fall-off is corrected.
FLATTEN_MM = 16.0


@dataclass(frozen=True)
class DenseSegmentation:
    """Dense mask and the numbers behind it."""

    dense: BoolArray
    centres: tuple[float, ...]
    dense_clusters: int
    fat_level: float
    gland_level: float
    cut: float


def fcm1d(
    values: npt.NDArray[np.float64], weights: npt.NDArray[np.float64], k: int
) -> npt.NDArray[np.float64]:
    """Weighted 1-D fuzzy c-means (m = 2) on histogram bins; returns sorted cluster centres."""
    order = np.argsort(values)
    cdf = np.cumsum(weights[order]) / max(float(weights.sum()), 1e-12)
    quantiles = (np.arange(k) + 0.5) / k
    centres = values[order][np.searchsorted(cdf, quantiles).clip(0, values.size - 1)].astype(np.float64)
    centres += np.linspace(-1e-3, 1e-3, k)
    exponent = 2.0 / (FCM_M - 1.0)
    for _ in range(FCM_ITERATIONS):
        distance = np.abs(values[:, None] - centres[None, :]) + 1e-9
        membership = distance ** (-exponent)
        membership /= membership.sum(axis=1, keepdims=True)
        um = (membership**FCM_M) * weights[:, None]
        updated = (um * values[:, None]).sum(axis=0) / np.maximum(um.sum(axis=0), 1e-12)
        if np.max(np.abs(updated - centres)) < FCM_TOLERANCE:
            centres = updated
            break
        centres = updated
    return np.sort(centres)


def cluster_count(z: npt.NDArray[np.float64]) -> int:
    """Cluster count from the histogram of z-scores (LIBRA zero_crossings.m, simplified).

    Counts the modes of the smoothed histogram (+ to - zero crossings of its derivative whose
    curvature is significant) and uses two clusters per mode plus two, clipped to 4-8.
    """
    hist, _ = np.histogram(z, bins=128, range=(-4.0, 4.0))
    smooth = ndi.gaussian_filter1d(hist.astype(np.float64), 3.0)
    d1 = np.gradient(smooth)
    d2 = np.gradient(d1)
    crossings = np.flatnonzero((d1[:-1] > 0) & (d1[1:] <= 0))
    modes = int(np.sum(np.abs(d2[crossings]) >= 0.001 * smooth.max()))
    return int(np.clip(2 * max(modes, 1) + 2, MIN_CLUSTERS, MAX_CLUSTERS))


def _disk(radius: int) -> BoolArray:
    y, x = np.ogrid[-radius : radius + 1, -radius : radius + 1]
    disk: BoolArray = (x * x + y * y) <= radius * radius
    return disk


def skin_distance_mm(breast: BoolArray, px_mm: float) -> FloatArray:
    """Distance (mm) of every breast pixel to the skin line; the chest-wall edge (left) is not skin."""
    padded = np.pad(breast, ((0, 0), (8, 0)), mode="edge")
    distance = ndi.distance_transform_edt(padded)[:, 8:] * px_mm
    result: FloatArray = distance.astype(np.float32)
    return result


def flatten_periphery(image: FloatArray, tissue: BoolArray, distance: FloatArray) -> FloatArray:
    """Remove the thickness fall-off towards the skin line (peripheral equalisation).

    The fat baseline at depth d is the 10th percentile of the ring of pixels at that depth from
    the skin (2 mm rings up to :data:`FLATTEN_MM`), made non-decreasing inwards; it is subtracted so
    that fat reads about the same everywhere. Beyond :data:`FLATTEN_MM` the baseline is constant.
    """
    depths: list[float] = []
    levels: list[float] = []
    for lo in np.arange(0.0, FLATTEN_MM, 2.0):
        ring = image[tissue & (distance >= lo) & (distance < lo + 2.0)]
        if ring.size >= 30:
            depths.append(float(lo + 1.0))
            levels.append(float(np.percentile(ring, 10)))
    if len(depths) < 3:
        return image
    baseline = np.maximum.accumulate(np.asarray(levels))
    offset = np.interp(distance, depths, baseline - baseline[-1]).astype(np.float32)
    flattened: FloatArray = image - offset
    return flattened


def segment_dense(image: FloatArray, breast: BoolArray, tissue: BoolArray, px_mm: float) -> DenseSegmentation:
    """Dense pixels of ``tissue`` (breast minus pectoral) by FCM and the fat/gland midpoint rule."""
    distance = skin_distance_mm(breast, px_mm)
    inner = tissue & (distance >= EROSION_MM)
    if np.count_nonzero(inner) < 100:
        inner = tissue
    band = tissue & (distance >= PERIPHERY_MM[0]) & (distance <= PERIPHERY_MM[1])
    if np.count_nonzero(band) < 50:
        band = tissue
    smooth = flatten_periphery(ndi.gaussian_filter(image, 0.7), tissue, distance)
    values = smooth[inner].astype(np.float64)
    band_values = smooth[band].astype(np.float64)
    fat = float(np.percentile(band_values, 25))
    gland = float(np.percentile(values, 98))
    lower = band_values[band_values <= np.median(band_values)]
    spread = 1.4826 * float(np.median(np.abs(lower - np.median(lower)))) if lower.size else 0.0
    cut = max(fat + 0.5 * (gland - fat), fat + 2.5 * spread)

    mean, std = float(values.mean()), float(values.std()) or 1.0
    z = np.clip((values - mean) / std, -4.0, 4.0)
    k = cluster_count(z)
    hist, edges = np.histogram(z, bins=512, range=(-4.0, 4.0))
    mids = 0.5 * (edges[:-1] + edges[1:])
    keep = hist > 0
    centres_z = fcm1d(mids[keep], hist[keep].astype(np.float64), k)
    centres = centres_z * std + mean
    dense_from = int(np.searchsorted(centres, cut))
    all_values = smooth[tissue].astype(np.float64)
    if dense_from >= k:
        dense_values = np.zeros(all_values.shape, dtype=bool)
    else:
        boundary = 0.5 * (centres[dense_from - 1] + centres[dense_from]) if dense_from > 0 else -np.inf
        dense_values = all_values >= boundary
    dense = np.zeros(tissue.shape, dtype=bool)
    dense[tissue] = dense_values
    return DenseSegmentation(
        dense=dense,
        centres=tuple(float(c) for c in centres),
        dense_clusters=int(k - dense_from),
        fat_level=fat,
        gland_level=gland,
        cut=float(cut),
    )
