"""Landmarks of positioning QA on the breast mask: the nipple and the posterior nipple line (PNL).

Works on the working image of :mod:`breastgate.imaging.geometry` (chest wall on the left, about
0.6 mm pixels); the pectoral line comes from :func:`breastgate.imaging.geometry.pectoral_muscle`.
Criteria: reference algorithms.md §5.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
from scipy import ndimage as ndi

from breastgate.imaging.geometry import BoolArray, disk

#: Smallest bump of the skin line (mm above the smoothed outline) taken for a nipple in profile.
NIPPLE_MIN_MM = 1.8
#: A nipple bump this close (mm) behind the most anterior point of the breast is "in profile".
NIPPLE_TIP_MM = 4.0
#: A bump higher than this (mm) is not a nipple: the outline bulges where the axilla or an
#: artefact joins the breast (nipples project a few mm, rarely over 10).
NIPPLE_MAX_MM = 15.0
#: Outline this close (mm) to the image border is where the breast leaves the image, not skin.
BORDER_MM = 5.0
_BIN_DEG = 0.5
_SMOOTH_DEG = 12.5


@dataclass(frozen=True)
class Nipple:
    """Nipple on the working image (chest wall left), in working pixels (column, row).

    ``point`` is the nipple apex when ``in_profile``, else the most anterior point of the skin line
    (the PNL then starts there). ``protrusion_mm`` is the height of the bump found on the skin line
    (0 when none); ``bump`` where it is, when one was found, in profile or not.
    """

    point: tuple[float, float]
    in_profile: bool
    protrusion_mm: float
    bump: tuple[float, float] | None


def find_nipple(breast: BoolArray, px_mm: float) -> Nipple | None:
    """Nipple as a protrusion of the skin line at the most anterior point of the breast.

    The skin line is read as a radius per angle around the middle of the breast's chest-wall edge;
    outline within :data:`BORDER_MM` of the image border is where the breast leaves the image (an
    axilla running off the top of an MLO), not skin, and is left out, for the most anterior point
    too. A running median over ±12.5° is the smooth outline, and the largest excess over it of
    :data:`NIPPLE_MIN_MM` to :data:`NIPPLE_MAX_MM` is the nipple candidate. A nipple rotated away
    from, or projected inside, the skin line leaves no bump at the tip: not in profile.
    """
    rows_any = np.flatnonzero(breast.any(axis=1))
    if rows_any.size < 10:
        return None
    wall = np.flatnonzero(breast[:, 0])
    anchor = float(np.median(wall if wall.size else rows_any))
    # Where the breast leaves the image the outline is cut, not skin: keep clear of the borders
    # (the most anterior point too: an axilla running off the top is not the breast's tip).
    margin = max(3, round(BORDER_MM / px_mm))
    skin_rows = np.zeros(breast.shape[0], bool)
    skin_rows[margin:-margin] = True
    inside = breast & skin_rows[:, None] if breast[skin_rows].any() else breast
    cols = np.flatnonzero(inside.any(axis=0))
    front = int(cols[-1])
    front_rows = np.flatnonzero(inside[:, front])
    anterior = (float(front), float(np.median(front_rows)))
    edge = breast & ~ndi.binary_erosion(breast)
    edge[:margin, :] = edge[-margin:, :] = False
    edge[:, :margin] = edge[:, -margin:] = False
    r_idx, c_idx = np.nonzero(edge)
    if r_idx.size < 20:
        return Nipple(anterior, False, 0.0, None)
    angle = np.degrees(np.arctan2(r_idx - anchor, c_idx + 0.5))
    radius = np.hypot(r_idx - anchor, c_idx + 0.5)
    nbins = int(180 / _BIN_DEG)
    bins = np.clip(((angle + 90.0) / _BIN_DEG).astype(np.int64), 0, nbins - 1)
    best = np.full(nbins, -1.0)
    np.maximum.at(best, bins, radius)
    profile = np.where(best >= 0, best, np.nan)
    half = round(_SMOOTH_DEG / _BIN_DEG)
    padded = np.pad(profile, half, constant_values=np.nan)
    windows = np.lib.stride_tricks.sliding_window_view(padded, 2 * half + 1)
    enough = np.sum(~np.isnan(windows), axis=1) >= 1.2 * half
    with np.errstate(all="ignore"):
        baseline = np.nanmedian(np.where(enough[:, None], windows, 0.0), axis=1)
    excess = np.where(enough & ~np.isnan(profile), profile - baseline, -np.inf) * px_mm
    # The outermost edge pixel of every bin: the skin point at that angle.
    order = np.lexsort((radius, bins))
    last = order[np.r_[bins[order][1:] != bins[order][:-1], True]]
    point_col = np.full(nbins, -1.0)
    point_row = np.full(nbins, -1.0)
    point_col[bins[last]] = c_idx[last]
    point_row[bins[last]] = r_idx[last]
    bump_bins = np.flatnonzero((excess >= NIPPLE_MIN_MM) & (excess <= NIPPLE_MAX_MM))
    if not np.any((front - point_col[bump_bins]) * px_mm <= NIPPLE_TIP_MM):
        tip = _tip_protrusion(breast, px_mm, front, margin)
        if tip is not None:
            return Nipple(tip[0], True, tip[1], tip[0])
    if bump_bins.size == 0:
        return Nipple(anterior, False, 0.0, None)
    at_tip = bump_bins[(front - point_col[bump_bins]) * px_mm <= NIPPLE_TIP_MM]
    peak = (
        int(at_tip[np.argmax(excess[at_tip])])
        if at_tip.size
        else int(bump_bins[np.argmax(excess[bump_bins])])
    )
    bump = (float(point_col[peak]), float(point_row[peak]))
    in_profile = bool(at_tip.size)
    return Nipple(bump if in_profile else anterior, in_profile, float(excess[peak]), bump)


def _tip_protrusion(
    breast: BoolArray, px_mm: float, front: int, margin: int = 3
) -> tuple[tuple[float, float], float] | None:
    """A nipple at the tip that the radial profile misses (a sagging outline runs on below it at
    the same radius): what an opening with an 8 mm disk cuts off the front of the breast."""
    opened = ndi.binary_opening(breast, structure=disk(max(2, round(8.0 / px_mm))))
    cut = breast & ~opened
    cut[:margin, :] = cut[-margin:, :] = False
    cut[:, -margin:] = False
    cut[:, : max(0, front - round(NIPPLE_TIP_MM / px_mm))] = False
    if not cut.any():
        return None
    height = ndi.distance_transform_edt(~opened) * px_mm
    rows, cols = np.nonzero(cut)
    k = int(np.argmax(height[rows, cols]))
    if not NIPPLE_MIN_MM <= height[rows[k], cols[k]] <= NIPPLE_MAX_MM:
        return None
    return (float(cols[k]), float(rows[k])), float(height[rows[k], cols[k]])


def pectoral_angle_deg(line: tuple[float, float]) -> float:
    """Angle of the pectoral edge x·cosθ + y·sinθ = ρ to the chest-wall (vertical) edge: θ, degrees."""
    return math.degrees(line[0])


def posterior_nipple_line(
    nipple: tuple[float, float], line: tuple[float, float] | None, px_mm: float, wall_col: float = -0.5
) -> tuple[float, float | None]:
    """PNL length (mm) and how far (mm) above the PNL the pectoral muscle ends (reference §5).

    With a pectoral ``line`` (MLO): the perpendicular from the nipple to the line (extended beyond
    the muscle if needed), and the distance along the line from the muscle's inferior end (where it
    meets the chest-wall edge of the image) down to the PNL's foot: > 0 when the muscle ends above
    the PNL. Without one (CC): the distance from the nipple to the chest-wall edge, and None.
    Working pixel coordinates (column, row), chest wall on the left at column ``wall_col``: -0.5 on a
    detector image; on digitised film the breast may start some columns inside the scan's unexposed
    margin (mini-MIAS: 60-105 working pixels of 0.6 mm), and the chest wall is then that column's
    edge. Measured at column -0.5 instead, the median gap on the 162 mini-MIAS films was -85 mm
    (the line extended across the black margin); at the breast's edge it is -2.7 mm.
    """
    col, row = nipple
    if line is None:
        return (col - wall_col) * px_mm, None
    theta, rho = line
    cos_t, sin_t = math.cos(theta), math.sin(theta)
    pnl = (col * cos_t + row * sin_t - rho) * px_mm
    wall_row = (rho - wall_col * cos_t) / max(sin_t, 1e-6)
    gap = ((col - wall_col) * -sin_t + (row - wall_row) * cos_t) * px_mm
    return pnl, gap
