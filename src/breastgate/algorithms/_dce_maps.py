"""DCE-MRI voxel maps: motion correction, body and breast masks, enhancement and curve classes.

Conventions (reference algorithms.md §3.1): percent enhancement E(t) = 100 (S(t) − S0) / S0 with
S0 the pre-contrast signal; initial phase from E at the early post-contrast phase (~1-2 min):
slow < 50 %, medium 50-100 %, fast > 100 %; delayed phase from Δ = 100 (S_late − S_early) /
S_early: persistent > +10 %, plateau within ±10 %, washout < −10 % (curve types I / II / III).

Anatomy (reference §7; patient coordinates LPS: +x patient left, +y posterior, +z superior): the
body is the tissue above the air level (Otsu on log signal); the chest-wall line lies a few mm
behind the skin of the intermammary cleft (the most posterior point of the anterior body surface
between the two breasts), curving backwards laterally like the thorax (an ellipse of half-width
the body's and depth ``chest_depth_ratio`` of it). Everything behind it (muscle, ribs, heart,
liver) is outside the breast mask. The nipple of each breast is its most anterior skin point.
"""

from __future__ import annotations

import logging
import math
from dataclasses import dataclass

import numpy as np
import numpy.typing as npt
from scipy import ndimage as ndi
from skimage.filters import threshold_otsu
from skimage.registration import phase_cross_correlation

from breastgate.domain.model import DelayedPhase, InitialPhase
from breastgate.imaging.dce import DceSeries, Grid

LOGGER = logging.getLogger(__name__)
FloatArray = npt.NDArray[np.float32]
BoolArray = npt.NDArray[np.bool_]


@dataclass(frozen=True)
class KineticsParameters:
    """Thresholds and sizes of the kinetics analysis (defaults: reference algorithms.md §3)."""

    #: Initial phase at the early post-contrast phase: slow < slow_pct ≤ medium ≤ fast_pct < fast.
    slow_pct: float = 50.0
    fast_pct: float = 100.0
    #: Delayed phase: persistent > +plateau_pct, washout < −plateau_pct, plateau between.
    plateau_pct: float = 10.0
    #: Voxels coloured in the kinetic map: early enhancement at least this (CADstream-like 50 %).
    map_threshold_pct: float = 50.0
    #: Lesion seeds: peak enhancement at least this.
    seed_pct: float = 50.0
    #: A focal lesion's core is at least this many times the 75th percentile of its surroundings,
    #: or, with a fast initial rise, at least ``fast_focal_ratio`` times.
    focal_ratio: float = 1.8
    fast_focal_ratio: float = 1.3
    #: Surroundings: a shell from ring_inner_mm to ring_outer_mm outside the lesion.
    ring_inner_mm: float = 2.0
    ring_outer_mm: float = 6.0
    min_volume_mm3: float = 30.0
    max_volume_mm3: float = 100_000.0
    #: Tubular (vessel): largest inscribed radius ≤ this and elongation ≥ vessel_elongation.
    vessel_radius_mm: float = 2.0
    vessel_elongation: float = 3.0
    #: The worst curve type is reported only when at least this share of the lesion's voxels has it.
    worst_min_share: float = 0.10
    #: Chest-wall line: this far behind the cleft's skin (mm); lateral curvature (depth / half-width).
    chest_wall_offset_mm: float = 5.0
    chest_depth_ratio: float = 0.5
    skin_mm: float = 2.0
    smooth_px: float = 0.5
    motion_correction: bool = True


def initial_phase(pct: float, params: KineticsParameters) -> InitialPhase:
    """BI-RADS initial phase of an early-phase percent enhancement."""
    if pct < params.slow_pct:
        return InitialPhase.SLOW
    return InitialPhase.MEDIUM if pct <= params.fast_pct else InitialPhase.FAST


def delayed_phase(change_pct: float, params: KineticsParameters) -> DelayedPhase:
    """BI-RADS delayed phase of a late-versus-early signal change (percent)."""
    if change_pct > params.plateau_pct:
        return DelayedPhase.PERSISTENT
    return DelayedPhase.WASHOUT if change_pct < -params.plateau_pct else DelayedPhase.PLATEAU


def early_phase_index(series: DceSeries) -> int:
    """The early post-contrast phase: the first, unless it was taken < 60 s after the pre-contrast
    phase and a later one falls within 180 s (then the last such one)."""
    times = series.times_s
    if times is None or times[1] >= 60.0:
        return 1
    within = [i for i in range(1, series.phases) if times[i] <= 180.0]
    return within[-1] if within else 1


def _smooth(volume: FloatArray, sigma: float) -> FloatArray:
    if sigma <= 0:
        return volume
    out: FloatArray = ndi.gaussian_filter(volume, (0.0, sigma, sigma), mode="nearest")
    return out


def correct_motion(series: DceSeries, reference: int) -> tuple[tuple[int, int, int], ...]:
    """Translate every phase onto ``reference`` in place (whole voxels, phase correlation on a
    4× in-plane downsampled volume); returns the applied (slice, row, column) shifts."""
    step = 4 if min(series.grid.shape[1:]) >= 128 else 1
    ref = series.pixels[reference, :, ::step, ::step].astype(np.float32)
    shifts: list[tuple[int, int, int]] = []
    for p in range(series.phases):
        if p == reference:
            shifts.append((0, 0, 0))
            continue
        moving = series.pixels[p, :, ::step, ::step].astype(np.float32)
        found, _, _ = phase_cross_correlation(  # type: ignore[no-untyped-call]
            ref, moving, upsample_factor=4, normalization=None
        )
        shift = (round(float(found[0])), round(float(found[1]) * step), round(float(found[2]) * step))
        if any(abs(s) > max(2, n // 8) for s, n in zip(shift, series.grid.shape, strict=True)):
            shift = (0, 0, 0)  # implausible: keep the phase as it is
        if shift != (0, 0, 0):
            shifted = np.roll(series.pixels[p], shift, axis=(0, 1, 2))
            series.pixels[p] = shifted
        shifts.append(shift)
    return tuple(shifts)


def body_mask(pre: FloatArray) -> tuple[BoolArray, float]:
    """Tissue above the air level (Otsu on log signal, holes filled per slice, largest component)
    and the air noise σ."""
    sample = pre[:, ::4, ::4]
    logs = np.log1p(np.maximum(sample, 0.0))
    level = float(np.expm1(threshold_otsu(logs)))  # type: ignore[no-untyped-call]
    air = sample[sample < level]
    noise = float(np.std(air)) if air.size > 10 else 0.0
    mask = pre > level
    for k in range(mask.shape[0]):
        mask[k] = ndi.binary_fill_holes(ndi.binary_opening(mask[k], iterations=1))
    labels, n = ndi.label(mask)
    if n > 1:
        sizes = np.bincount(labels.ravel())
        sizes[0] = 0
        mask = labels == int(np.argmax(sizes))
    return mask, noise


@dataclass(frozen=True)
class Anatomy:
    """Midline, chest wall and nipples in patient coordinates (mm)."""

    midline_x: float
    cleft_y: float
    half_width: float
    params_offset: float
    depth_ratio: float
    nipples: dict[str, tuple[float, float, float]]

    def chest_wall_y(self, x: FloatArray | float) -> FloatArray | float:
        """The chest-wall line's y at patient x: behind the cleft, curving back laterally."""
        a = max(self.half_width, 1.0)
        d = np.minimum(np.abs(np.asarray(x, np.float32) - self.midline_x) / a, 0.95)
        curve = self.depth_ratio * a * (1.0 - np.sqrt(1.0 - d * d))
        return self.cleft_y + self.params_offset + curve  # type: ignore[no-any-return]


def _coordinates(grid: Grid, index: npt.NDArray[np.int64]) -> FloatArray:
    """Patient coordinates (n, 3) of voxel indices (n, 3) = (slice, row, column)."""
    steps = np.array([grid.axis_mm(a) for a in range(3)], np.float64)  # (axis, xyz)
    out: FloatArray = (np.asarray(grid.origin) + index.astype(np.float64) @ steps).astype(np.float32)
    return out


def find_anatomy(body: BoolArray, grid: Grid, params: KineticsParameters) -> Anatomy:
    """Midline, intermammary cleft and nipples from the body mask (a subsample of its voxels)."""
    stride = 2
    index = np.argwhere(body[::stride, ::stride, ::stride]) * stride
    points = _coordinates(grid, index)
    x, y = points[:, 0], points[:, 1]
    centre = float(np.median(x))
    half_width = float(np.percentile(np.abs(x - centre), 99))
    bins = np.round((x - centre) / 2.0).astype(np.int64)
    lo = int(bins.min())
    front = np.full(int(bins.max()) - lo + 1, np.inf)
    np.minimum.at(front, bins - lo, y)
    xs = (np.arange(front.size) + lo) * 2.0 + centre
    known = np.isfinite(front)
    left = known & (xs > centre + 10)
    right = known & (xs < centre - 10)
    cleft_x, cleft_y = centre, float(np.nanmin(np.where(known, front, np.nan)))
    if left.any() and right.any():
        lx = xs[left][int(np.argmin(front[left]))]
        rx = xs[right][int(np.argmin(front[right]))]
        between = known & (xs > rx) & (xs < lx)
        if between.any():
            j = int(np.argmax(np.where(between, front, -np.inf)))
            cleft_x, cleft_y = float(xs[j]), float(front[j])
    nipples: dict[str, tuple[float, float, float]] = {}
    for side, on_side in (("L", x > cleft_x + 10), ("R", x < cleft_x - 10)):
        if not on_side.any():
            continue
        ys = y[on_side]
        tip = on_side.copy()
        tip[on_side] = ys <= float(ys.min()) + 3.0
        nipple = points[tip].mean(axis=0)
        nipples[side] = (float(nipple[0]), float(ys.min()), float(nipple[2]))
    return Anatomy(
        midline_x=cleft_x,
        cleft_y=cleft_y,
        half_width=half_width,
        params_offset=params.chest_wall_offset_mm,
        depth_ratio=params.chest_depth_ratio,
        nipples=nipples,
    )


def breast_mask(body: BoolArray, grid: Grid, anatomy: Anatomy, params: KineticsParameters) -> BoolArray:
    """Body voxels in front of the chest-wall line, ``skin_mm`` inside the skin (slice by slice)."""
    shape = body.shape
    cx, cy = grid.patient_axis_map(0), grid.patient_axis_map(1)
    x0, y0 = grid.origin[0], grid.origin[1]
    out = np.zeros(shape, bool)
    rows = np.arange(shape[1], dtype=np.float32)[:, None]
    cols = np.arange(shape[2], dtype=np.float32)[None, :]
    erosion = max(round(params.skin_mm / min(grid.spacing[1:])), 0)
    for k in range(shape[0]):
        if not body[k].any():
            continue
        x = x0 + cx[0] * k + cx[1] * rows + cx[2] * cols
        y = y0 + cy[0] * k + cy[1] * rows + cy[2] * cols
        front = y < anatomy.chest_wall_y(x)
        inner = ndi.binary_erosion(body[k], iterations=erosion) if erosion else body[k]
        out[k] = inner & front
    return out


@dataclass
class Maps:
    """Voxel maps on the grid of the early post-contrast phase (float32 percent)."""

    early_pct: FloatArray  # E at the early phase
    peak_pct: FloatArray  # highest E over the post-contrast phases
    change_pct: FloatArray  # Δ late vs early
    body: BoolArray
    breast: BoolArray
    anatomy: Anatomy
    early: int
    noise: float
    mean_curve: tuple[float, ...]  # mean signal of the body per phase (ordering sanity check)


def compute_maps(series: DceSeries, params: KineticsParameters) -> Maps:
    """Enhancement, peak enhancement and delayed change maps, plus masks and anatomy."""
    early = early_phase_index(series)
    if params.motion_correction:
        shifts = correct_motion(series, early)
        if any(s != (0, 0, 0) for s in shifts):
            LOGGER.info("motion correction shifts (slice,row,col): %s", shifts)
    pre = series.phase(0)
    body, noise = body_mask(pre)
    anatomy = find_anatomy(body, series.grid, params)
    breast = breast_mask(body, series.grid, anatomy, params)
    s0 = _smooth(pre, params.smooth_px)
    del pre
    floor = max(10.0 * noise, 0.05 * float(np.median(s0[body]))) if body.any() else 1.0
    np.maximum(s0, np.float32(floor), out=s0)
    mean_curve = [float(np.mean(series.pixels[p][body])) for p in range(series.phases)]
    early_signal = _smooth(series.phase(early), params.smooth_px)
    peak = early_signal.copy()
    for p in range(1, series.phases):
        if p != early:
            np.maximum(peak, _smooth(series.phase(p), params.smooth_px), out=peak)
    late = _smooth(series.phase(series.phases - 1), params.smooth_px)
    change: FloatArray = np.divide(
        late - early_signal, np.maximum(early_signal, np.float32(floor)), dtype=np.float32
    )
    change *= np.float32(100.0)
    del late
    early_pct = (early_signal - s0) / s0
    early_pct *= np.float32(100.0)
    del early_signal
    peak -= s0
    peak /= s0
    peak *= np.float32(100.0)
    del s0
    for volume in (early_pct, peak, change):
        volume[~body] = 0.0
    return Maps(early_pct, peak, change, body, breast, anatomy, early, noise, tuple(mean_curve))


def kinetic_class_map(
    maps: Maps, params: KineticsParameters, lesions: BoolArray | None = None
) -> npt.NDArray[np.uint8]:
    """0 none, 1 persistent, 2 plateau, 3 washout: body voxels enhancing ≥ the map threshold at
    the early phase (CAD colour map), and every lesion voxel."""
    shown = maps.body & (maps.early_pct >= params.map_threshold_pct)
    if lesions is not None:
        shown |= lesions
    out = np.zeros(maps.early_pct.shape, np.uint8)
    out[shown] = 1
    out[shown & (maps.change_pct <= params.plateau_pct)] = 2
    out[shown & (maps.change_pct < -params.plateau_pct)] = 3
    return out


def phase_order_warning(maps: Maps) -> str:
    """A warning when the mean signal does not rise after the first (pre-contrast) phase."""
    curve = maps.mean_curve
    if len(curve) > 1 and max(curve[1:]) <= curve[0] * 1.005:
        return "mean signal does not rise after the first phase: is it really pre-contrast?"
    return ""


def radians_to_clock(angle: float) -> int:
    """Clock hour of an angle measured clockwise from 12 o'clock (radians)."""
    return round(math.degrees(angle) % 360.0 / 30.0) % 12 or 12
