"""The outline of a detected ultrasound lesion at input resolution (speckle-reduced image).

A candidate region (:mod:`breastgate.algorithms._us_candidates`) is dark at one of a few fixed
levels, usually below its edge's mid-point, so it lies inside the true edge; it may also run into
dark tissue beside it (fat) or into its own posterior shadow. The outline is redrawn as a reader
draws it, on the lesion's own edge:

1. **local mid-level**: each pixel near the lesion is inside when darker than the mid-point between
   the lesion's inside median and the tissue just outside *that part* of the lesion (the ring
   1-4 mm outside the candidate, its level spread over ``LOCAL_MM``): where the lesion borders fat
   its edge is the lesion/fat step, where it borders gland the lesion/gland step (one level for
   the whole lesion drew it into the fat above it);
2. within reach of the candidate (``_us_lesions.refine``);
3. **concavities darker than the surroundings are the lesion's**: a bite out of the outline (convex
   hull minus region) whose median is well below the surrounding tissue (the echogenic solid part
   of a complex cyst, a less dark rim) is filled; the concavities of an irregular mass hold the
   surrounding tissue and stay out.
"""

from __future__ import annotations

import numpy as np
import numpy.typing as npt
from scipy import ndimage as ndi
from skimage import measure
from skimage.morphology import convex_hull_image

FloatArray = npt.NDArray[np.float64]
BoolArray = npt.NDArray[np.bool_]

#: The scale (mm) over which the level of the surrounding ring (``_us_features.RING_MM``) is local.
LOCAL_MM = 2.5
#: A concavity is filled when its median lies below inside + BITE x (surrounding - inside).
BITE = 0.6
BITE_MIN_FRAC = 0.01
#: The edge lies half way between the inside and outside gray levels of the speckle-reduced image
#: (development phantoms: half way in echo amplitude, as a blur before log compression would
#: suggest, draws outlines 1-1.5 mm too large; the speckle reduction works on gray levels).
EDGE_FRACTION = 0.5


def edge_level(inside: float | FloatArray, outside: float | FloatArray) -> FloatArray:
    """Gray level of the edge between ``inside`` and ``outside`` gray levels."""
    return np.asarray(inside + EDGE_FRACTION * (np.asarray(outside) - inside), dtype=np.float64)


def local_level(smooth: FloatArray, ring: BoolArray, sigma: float, fallback: float) -> FloatArray:
    """The ring's level spread over its neighbourhood (normalised convolution, ``sigma`` pixels)."""
    weight = ndi.gaussian_filter(ring.astype(np.float64), sigma)
    total = ndi.gaussian_filter(np.where(ring, smooth, 0.0), sigma)
    level = total / np.maximum(weight, 1e-6)
    return np.where(weight > 0.02, level, fallback)


def fill_bites(region: BoolArray, image: FloatArray, inside: float, outside: float) -> BoolArray:
    """``region`` with its concavities filled where their median is darker than the surroundings."""
    area = int(region.sum())
    if area < 16:
        return region
    hull = convex_hull_image(region)  # type: ignore[no-untyped-call]
    labels, count = ndi.label(hull & ~region)
    if count == 0:
        return region
    limit = inside + BITE * (outside - inside)
    sizes = np.bincount(labels.ravel(), minlength=count + 1)
    out = region.copy()
    for k in np.flatnonzero(sizes >= max(1.0, BITE_MIN_FRAC * area)):
        if k == 0:
            continue
        bite = labels == k
        if float(np.median(image[bite])) < limit:
            out |= bite
    return out


#: The harmonics (first, last + 1) of :func:`lobulation`: 5 or more lobes. An ellipse has none (its
#: elongation is the 2nd harmonic, removed by the whitening); the atlas's oval "may include 2 or
#: 3 undulations", and real benign masses (BUSI) carry 3-4 gentle ones, so those are not counted.
LOBE_HARMONICS = (5, 12)
LOBE_SAMPLES = 256


def lobulation(mask: BoolArray) -> float:
    """How far the outline of ``mask`` departs from an ellipse: the amplitude of the
    ``LOBE_HARMONICS`` (5th-11th) of its radius (over the mean radius) about the centroid, in the
    frame where its moment ellipse is a circle (an ellipse of any size, elongation or tilt reads
    0; 5-11 lobes or corners of the outline read their relative depth). Measured at input
    resolution, where the working grid's pixels do not add corners of their own; 0 for fewer than
    16 pixels."""
    rr, cc = np.nonzero(mask)
    if rr.size < 16:
        return 0.0
    cy, cx = float(rr.mean()), float(cc.mean())
    values, vectors = np.linalg.eigh(np.cov(np.stack([cc - cx, rr - cy])) + np.eye(2) * 1e-6)
    contours = measure.find_contours(np.pad(mask, 1).astype(np.float64), 0.5)  # type: ignore[no-untyped-call]
    if not contours:
        return 0.0
    contour = max(contours, key=len)
    points = np.stack([contour[:, 1] - 1 - cx, contour[:, 0] - 1 - cy], axis=1) @ vectors
    points = points / np.sqrt(values)
    radius, angle = np.hypot(points[:, 0], points[:, 1]), np.arctan2(points[:, 1], points[:, 0])
    order = np.argsort(angle)
    grid = np.linspace(-np.pi, np.pi, LOBE_SAMPLES, endpoint=False)
    profile = np.interp(grid, angle[order], radius[order], period=2 * np.pi)
    spectrum = np.abs(np.fft.rfft(profile / max(float(profile.mean()), 1e-6))) / LOBE_SAMPLES
    lo, hi = LOBE_HARMONICS
    return float(np.sqrt(np.sum(spectrum[lo:hi] ** 2)))
