"""One size measurement for a lesion on the current and on the prior image, made the same way on both.

The detectors' sizes are good enough to describe a finding but not to compare two of them: the mass
detector reads its size from the best of a few template radii (3-12.5 mm, so sizes come in steps)
and a dome fit, and the two views of one mass often differ by 30 %. A change of 2-5 mm needs the
same measurement at the same place on both images:

- mass: on the image smoothed at ``MASS_SMOOTH_MM``, the region around the point brighter than half
  way between the local background (median of a ring just outside the region) and the peak (the
  mean of the central part), re-estimated over ``rounds`` rounds (4); its diameter divided
  by ``HALF_MAX_EDGE`` (a dome-shaped projection ``sqrt(1 − r²)`` is at half its height at 0.87 of
  its radius); the edge is the median over 32 rays of the first fall below half height, so
  glandular tissue touching the mass on a few rays does not carry the edge away;
- calcification cluster: on the original pixels, spots brighter than ``CALC_SIGMA`` robust SDs on
  a difference of Gaussians (0.1 mm / 1 mm), linked when within ``CALC_LINK_MM`` of each other,
  the group that holds the spot nearest the point, joined by fainter spots (``FAINT_SIGMA``) within
  ``FAINT_LINK_MM`` of one of its spots (hysteresis: a cluster's faint members, often its older
  calcifications, count in its extent and are looked for on the prior); size = twice the largest
  distance of a spot from the group's centre, plus ``CALC_PAD_MM``; the spots are returned so that the same
  calcifications can be looked for on the other image (:func:`spots_at`: a targeted search at
  given places, which can use a lower level than this blind one) and measured the same way there
  (:func:`spots_extent_mm`).
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import numpy.typing as npt
from scipy import ndimage as ndi

from breastgate.imaging.pixels import MammoImage

FloatArray = npt.NDArray[np.float64]

MASS_SMOOTH_MM = 1.0
CENTRE_SMOOTH_MM = 2.0
RAYS = 32
MASS_WINDOW_MM = 30.0
HALF_MAX_EDGE = math.sqrt(0.75)
CALC_WINDOW_MM = 15.0
CALC_SIGMA = 5.0
CALC_LINK_MM = 5.0
CALC_PAD_MM = 0.5
#: Fainter spots join a cluster (hysteresis): above ``FAINT_SIGMA`` robust SDs and within
#: ``FAINT_LINK_MM`` of one of its spots. The level is the prior's targeted level, so the same
#: calcifications count on both images; the short reach keeps noise out: peaks above 4 SD lie about
#: one per 150 mm² of development images (one per 50 mm² at the 90th percentile of views), so one
#: within 1.5 mm (7 mm²) of a given spot is a 1-in-20 chance (1 in 7) and a chain of them dies out.
FAINT_SIGMA = 4.0
FAINT_LINK_MM = 1.5


def _patch(
    pixels: npt.NDArray[np.floating[Any]], col: float, row: float, half: int
) -> tuple[FloatArray, int, int]:
    r0, c0 = max(int(row) - half, 0), max(int(col) - half, 0)
    r1, c1 = min(int(row) + half + 1, pixels.shape[0]), min(int(col) + half + 1, pixels.shape[1])
    return pixels[r0:r1, c0:c1].astype(np.float64), r0, c0


@dataclass(frozen=True)
class Measured:
    """A lesion measured on one image: size (mm), contrast over its surroundings (stored units) and
    the point (column, row) it was measured at."""

    size_mm: float
    contrast: float
    point: tuple[float, float]
    #: A cluster's spots (column, row), empty for a mass.
    spots: tuple[tuple[float, float], ...] = ()


def mass_size_mm(
    image: MammoImage,
    point: tuple[float, float],
    start_mm: float = 10.0,
    search_mm: float = 4.0,
    rounds: int = 4,
) -> Measured | None:
    """The mass near ``point`` (column, row): centred on the brightest point of the image smoothed at
    ``CENTRE_SMOOTH_MM`` within ``search_mm``; its diameter from the half-maximum edge along
    ``RAYS`` rays (module docstring) and its contrast; None if nothing stands out."""
    px = float(min(image.spacing_mm))
    factor = max(1, round(0.3 / px))  # measure on ~0.3 mm pixels
    half = round(MASS_WINDOW_MM / px)
    patch, r0, c0 = _patch(image.pixels, point[0], point[1], half)
    if factor > 1:
        rows, cols = (patch.shape[0] // factor) * factor, (patch.shape[1] // factor) * factor
        patch = patch[:rows, :cols].reshape(rows // factor, factor, cols // factor, factor).mean(axis=(1, 3))
    step = px * factor
    smooth = ndi.gaussian_filter(patch, MASS_SMOOTH_MM / step)
    cy, cx = (point[1] - r0) / factor - 0.5, (point[0] - c0) / factor - 0.5
    yy, xx = np.mgrid[0 : smooth.shape[0], 0 : smooth.shape[1]]
    if search_mm > 0:
        broad = ndi.gaussian_filter(patch, CENTRE_SMOOTH_MM / step)
        near = np.hypot(yy - cy, xx - cx) * step <= search_mm
        if near.any():
            k = int(np.argmax(np.where(near, broad, -np.inf)))
            cy, cx = float(yy.flat[k]), float(xx.flat[k])
    dist = np.hypot(yy - cy, xx - cx) * step
    angles = np.linspace(0.0, 2.0 * math.pi, RAYS, endpoint=False)
    steps = np.arange(1, round(MASS_WINDOW_MM / step)) * step
    ray_r = cy + np.outer(np.sin(angles), steps) / step
    ray_c = cx + np.outer(np.cos(angles), steps) / step
    profiles = ndi.map_coordinates(smooth, [ray_r.ravel(), ray_c.ravel()], order=1, mode="nearest").reshape(
        ray_r.shape
    )
    radius = float(np.clip(start_mm, 4.0, 40.0)) / 2.0
    out = None
    for _ in range(rounds):
        core = dist <= max(0.3 * radius, 1.0)
        ring = (dist >= 1.3 * radius + 1.0) & (dist <= 1.3 * radius + 6.0)
        if ring.sum() < 10:
            return out
        peak = float(smooth[core].mean())
        background = float(np.median(smooth[ring]))
        if peak <= background:
            return out
        below = profiles < background + 0.5 * (peak - background)
        first = np.where(below.any(axis=1), below.argmax(axis=1), len(steps) - 1)
        edge = float(np.median(steps[first]))
        size = 2.0 * edge / HALF_MAX_EDGE
        where = ((cx + 0.5) * factor + c0, (cy + 0.5) * factor + r0)
        out = Measured(round(size, 2), peak - background, where)
        radius = size / 2.0
    return out


def _spot_response(
    image: MammoImage, point: tuple[float, float], half_mm: float
) -> tuple[FloatArray, int, int]:
    """Difference of Gaussians (0.1 mm / 1 mm) of the patch around ``point`` in robust SDs."""
    px = float(min(image.spacing_mm))
    patch, r0, c0 = _patch(image.pixels, point[0], point[1], round(half_mm / px))
    dog = ndi.gaussian_filter(patch, max(0.1 / px, 0.5)) - ndi.gaussian_filter(patch, 1.0 / px)
    spread = 1.4826 * float(np.median(np.abs(dog - np.median(dog)))) or 1.0
    out: FloatArray = dog / spread
    return out, r0, c0


def _extent_mm(members: FloatArray) -> float:
    """Size (mm) of a group of spots (row, col in mm): twice the largest distance from its centre."""
    if len(members) < 2:
        return CALC_PAD_MM
    centre = members.mean(axis=0)
    return 2.0 * float(np.hypot(*(members - centre).T).max()) + CALC_PAD_MM


def cluster_size_mm(
    image: MammoImage, point: tuple[float, float], _start_mm: float = 0.0, search_mm: float = 4.0
) -> Measured | None:
    """Extent (mm) of the calcification cluster at ``point`` (column, row), or None if no spots."""
    px = float(min(image.spacing_mm))
    response, r0, c0 = _spot_response(image, point, CALC_WINDOW_MM)
    labels, n = ndi.label(response > CALC_SIGMA)
    if n == 0:
        return None
    centres = (
        np.array(ndi.center_of_mass(response, labels, range(1, n + 1)), dtype=np.float64) * px
    )  # (row, col) mm
    faint = _faint_spots(response, labels > 0) * px
    here = np.array([(point[1] - r0 - 0.5) * px, (point[0] - c0 - 0.5) * px])
    start = int(np.argmin(np.hypot(*(centres - here).T)))
    if float(np.hypot(*(centres[start] - here))) > search_mm + 1.0:
        return None
    group = {start}
    frontier = [start]
    while frontier:
        k = frontier.pop()
        near = np.flatnonzero(np.hypot(*(centres - centres[k]).T) <= CALC_LINK_MM)
        for j in near:
            if int(j) not in group:
                group.add(int(j))
                frontier.append(int(j))
    members = _with_faint(centres[sorted(group)], faint)
    centre = members.mean(axis=0)
    # Contrast: how many spots (a cluster that was not there has none, or one or two by chance).
    where = (float(centre[1]) / px + c0 + 0.5, float(centre[0]) / px + r0 + 0.5)
    spots = tuple((float(c) / px + c0 + 0.5, float(r) / px + r0 + 0.5) for r, c in members)
    return Measured(round(_extent_mm(members), 2), float(len(members)), where, spots)


def _faint_spots(response: FloatArray, strong: npt.NDArray[np.bool_]) -> FloatArray:
    """(row, col) pixel centres of the spots above ``FAINT_SIGMA`` that hold no strong pixel."""
    labels, n = ndi.label(response > FAINT_SIGMA)
    if n == 0:
        return np.zeros((0, 2))
    index = np.arange(1, n + 1)
    has_strong = ndi.maximum(strong, labels, index) > 0
    keep = index[~np.asarray(has_strong, dtype=bool)]
    if keep.size == 0:
        return np.zeros((0, 2))
    return np.array(ndi.center_of_mass(response, labels, keep), dtype=np.float64).reshape(-1, 2)


def _with_faint(members: FloatArray, faint: FloatArray) -> FloatArray:
    """``members`` (row, col mm) joined by the faint spots within ``FAINT_LINK_MM`` of any member,
    repeatedly (a faint spot reached through another faint one counts too)."""
    taken = np.zeros(len(faint), dtype=bool)
    out = [members]
    frontier = members
    while len(frontier) and not taken.all():
        near = np.zeros(len(faint), dtype=bool)
        for spot in frontier:
            near |= np.hypot(*(faint - spot).T) <= FAINT_LINK_MM
        near &= ~taken
        taken |= near
        frontier = faint[near]
        out.append(frontier)
    return np.concatenate(out, axis=0)


def spots_at(
    image: MammoImage, points: Sequence[tuple[float, float]], sigma: float, reach_mm: float
) -> tuple[tuple[float, float], ...]:
    """The spots on ``image`` at ``points`` (column, row; a cluster's spots mapped from the other
    image): for each point, the strongest response within ``reach_mm`` if it exceeds ``sigma``
    robust SDs (a targeted search can use a lower threshold than a blind one: the chance of a
    noise peak within ``reach_mm`` of a given point is small), at its position; one spot per peak."""
    if not points:
        return ()
    px = float(min(image.spacing_mm))
    pts = np.asarray(points, dtype=np.float64)
    middle = (float(pts[:, 0].mean()), float(pts[:, 1].mean()))
    half = max(CALC_WINDOW_MM, float(np.hypot(*(pts - middle).T).max()) * px + 5.0)
    response, r0, c0 = _spot_response(image, middle, half)
    reach = max(reach_mm / px, 1.0)
    found: dict[tuple[int, int], tuple[float, float]] = {}
    yy, xx = np.mgrid[-math.ceil(reach) : math.ceil(reach) + 1, -math.ceil(reach) : math.ceil(reach) + 1]
    disk = np.hypot(yy, xx) <= reach
    for col, row in pts:
        rr, cc = round(row - 0.5 - r0) + yy[disk], round(col - 0.5 - c0) + xx[disk]
        ok = (rr >= 0) & (rr < response.shape[0]) & (cc >= 0) & (cc < response.shape[1])
        if not ok.any():
            continue
        values = response[rr[ok], cc[ok]]
        k = int(np.argmax(values))
        if values[k] > sigma:
            peak = (int(rr[ok][k]), int(cc[ok][k]))
            found[peak] = (peak[1] + c0 + 0.5, peak[0] + r0 + 0.5)
    return tuple(found.values())


def spots_extent_mm(image: MammoImage, spots: Sequence[tuple[float, float]]) -> float:
    """Size (mm) of a group of spots (column, row) measured as :func:`cluster_size_mm` does."""
    px = float(min(image.spacing_mm))
    members = np.array([(r * px, c * px) for c, r in spots], dtype=np.float64).reshape(-1, 2)
    return round(_extent_mm(members), 2)
