"""DCE-MRI voxel maps: motion correction, body and breast masks, enhancement and curve classes.

Conventions (reference algorithms.md §3.1): percent enhancement E(t) = 100 (S(t) − S0) / S0 with
S0 the pre-contrast signal; initial phase from E at the early post-contrast phase (~1-2 min):
slow < 50 %, medium 50-100 %, fast > 100 %; delayed phase from Δ = 100 (S_late − S_early) /
S_early: persistent > +10 %, plateau within ±10 %, washout < −10 % (curve types I / II / III).

Anatomy (reference §7; patient coordinates LPS: +x patient left, +y posterior, +z superior): the
body is the tissue above the air level (Otsu on log signal). The anterior surface of the body,
seen from the front (most anterior point per 2 mm of x over all slices), is chest where no breast
lies over it: a quadratic fitted to it with the breasts trimmed away (they lie in front of the
fit) follows the chest from the intermammary cleft to the lateral chest wall. The chest-wall
line is that curve ``chest_wall_offset_mm`` further back; everything behind it (pectoral muscle,
ribs, heart, liver, lateral chest wall) is outside the breast mask. The midline is the cleft.
The nipple of each breast is first its most anterior skin point; a breast whose front is broad
and flat (or drifts and droops) has no single such point, so the nipple is then taken where the
nipple-areola complex enhances (:func:`refine_nipples`).

Where the breasts fill the cleft and cover the whole width (large breasts on a curved chest), no
surface point is chest and that curve runs through the breasts. The lungs then say where the
chest is: air inside the body (dark voxels between body voxels left and right and behind the
body's front), in components of at least ``LUNG_MIN_CM3``. The chest wall (pectoralis, ribs,
intercostal muscles) is 15-30 mm thick in front of the lungs; the convex curve under the lungs'
anterior surfaces (the lower hull, which bridges the mediastinum and the heart), moved
``lung_wall_mm`` forward, is a second chest-wall line where it faces forward (within 45°, not
along the lungs' lateral sides, where the lateral chest wall lies beside them), and the breast
reaches back to the deeper of the two.
"""

from __future__ import annotations

import logging
import math
from dataclasses import dataclass, replace
from typing import Any

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
    #: ... or at least seed_low_pct with a maximum seed_contrast_pct above its surroundings (a
    #: lesion blurred by partial volume, or one inside enhancing parenchyma).
    seed_low_pct: float = 25.0
    seed_contrast_pct: float = 20.0
    #: A maximum of sustained enhancement starts its own candidate when it stands this many
    #: times above the saddle joining it to a higher one (watershed on h-maxima of the log).
    split_ratio: float = 1.3
    #: Candidates taken from one basin at most (brightest first, each one's extent removed).
    max_candidates_per_basin: int = 6
    #: A focal lesion's core is at least this many times the 75th percentile of its surroundings,
    #: or, with a fast initial rise, at least ``fast_focal_ratio`` times.
    focal_ratio: float = 1.8
    fast_focal_ratio: float = 1.3
    #: Surroundings: a shell from ring_inner_mm to ring_outer_mm outside the lesion.
    ring_inner_mm: float = 2.0
    ring_outer_mm: float = 6.0
    #: Smallest lesion: partial-volume volume of a 4.6 mm sphere (the lexicon's foci are < 5 mm).
    min_volume_mm3: float = 50.0
    max_volume_mm3: float = 100_000.0
    #: Tubular (vessel): largest inscribed radius ≤ this and elongation ≥ vessel_elongation.
    vessel_radius_mm: float = 2.0
    vessel_elongation: float = 3.5
    #: ... and at least this long (a small lesion a voxel or two across is no vessel).
    vessel_min_length_mm: float = 8.0
    #: Lesions, benign or malignant, show uptake by the early phase (~1-2 min); background
    #: parenchyma enhances progressively: a candidate whose core rises less than this early is BPE.
    min_early_pct: float = 10.0
    #: The worst curve type is reported only when at least this share of the lesion's voxels has it.
    worst_min_share: float = 0.10
    #: ... of the delayed-change map averaged over this (mm, Gaussian σ) within the lesion.
    curve_smooth_mm: float = 1.5
    #: Chest-wall line: this far behind the chest's anterior skin surface (mm).
    chest_wall_offset_mm: float = 5.0
    #: ... or, where deeper, this far in front of the lungs' anterior surface (mm).
    lung_wall_mm: float = 20.0
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


#: The early (initial-phase) measurement: algorithms.md §3 takes the first post-contrast time
#: point at about 90-120 s after the injection, within the first 2 minutes (its worked example
#: reads S(120 s)): the phase centred nearest EARLY_TARGET_S among those centred EARLY_S after it.
EARLY_S = (60.0, 180.0)
EARLY_TARGET_S = 105.0
#: The contrast has reached the tissue by a phase whose mean tissue enhancement is at least this
#: share of the largest over the post-contrast phases, when that largest is at least
#: ARRIVAL_MIN_PCT (below it the rise is noise: a study whose tissue barely enhances).
ARRIVAL_SHARE = 0.2
ARRIVAL_MIN_PCT = 2.0
#: From the injection to that rise in the breast (arm-to-breast circulation, seconds).
ARRIVAL_DELAY_S = 15.0


def _tissue_rise(series: DceSeries) -> list[float]:
    """Percent enhancement per phase of the tissue's mean signal (voxels brighter than the
    pre-contrast phase's mean; every 2nd slice, every 4th row and column)."""
    step = (slice(None, None, 2), slice(None, None, 4), slice(None, None, 4))

    def sample(p: int) -> FloatArray:
        slices = np.arange(series.pixels.shape[1])[step[0]]
        out: FloatArray = series.pixels[p][step].astype(np.float32)
        out *= series.slopes[p, slices][:, None, None]
        out += series.intercepts[p, slices][:, None, None]
        return out

    pre = sample(0)
    tissue = pre > float(pre.mean())
    if not tissue.any() or float(pre[tissue].mean()) <= 0.0:
        return [0.0] * series.phases
    base = float(pre[tissue].mean())
    return [100.0 * (float(sample(p)[tissue].mean()) - base) / base for p in range(series.phases)]


def early_phase_index(series: DceSeries) -> int:
    """The early post-contrast phase: the phase centred nearest ``EARLY_TARGET_S`` among those
    centred ``EARLY_S`` after the injection (else the one nearest it), a phase's centre being its
    start (Acquisition Time) plus half the phase duration (the median step between post-contrast
    starts).

    The injection is Contrast/Bolus Start Time when the headers give it. Without it, it is
    estimated from the images: the contrast's arrival is when the tissue's mean enhancement first
    reaches ``ARRIVAL_SHARE`` of its largest (interpolated between phase centres), less
    ``ARRIVAL_DELAY_S``. Either way the early phase is moved on to the first phase the contrast
    has reached when it had not yet by then: a phase taken before the bolus arrives holds no
    enhancement, and reading it as the initial phase calls every lesion slow and non-enhancing.
    Without times, or with tissue that barely enhances (< ``ARRIVAL_MIN_PCT``), the first
    post-contrast phase."""
    times = series.times_s
    rise = _tissue_rise(series)
    top = max(rise[1:], default=0.0)
    arrived = [i for i in range(1, series.phases) if rise[i] >= ARRIVAL_SHARE * top]
    if times is None or series.phases < 2:
        return 1
    half = 0.5 * float(np.median(np.diff(times[1:]))) if series.phases > 2 else 0.0
    centres = [t + half for t in times]
    injection = series.injection_s
    if injection is None or times[1] - injection < 0.0:
        if top < ARRIVAL_MIN_PCT or not arrived:
            return 1
        k = arrived[0]
        level = ARRIVAL_SHARE * top
        span = rise[k] - rise[k - 1]
        fraction = (level - rise[k - 1]) / span if span > 0 else 1.0
        arrival = centres[k - 1] + min(max(fraction, 0.0), 1.0) * (centres[k] - centres[k - 1])
        injection = arrival - ARRIVAL_DELAY_S
    since = [c - injection for c in centres]
    within = [i for i in range(1, series.phases) if EARLY_S[0] <= since[i] <= EARLY_S[1]]
    pool = within or list(range(1, series.phases))
    early = min(pool, key=lambda i: (abs(since[i] - EARLY_TARGET_S), i))
    if top >= ARRIVAL_MIN_PCT and arrived and rise[early] < ARRIVAL_SHARE * top:
        early = min(i for i in arrived if i > early) if any(i > early for i in arrived) else early
    return early


def _smooth(volume: FloatArray, sigma: float) -> FloatArray:
    if sigma <= 0:
        return volume
    out: FloatArray = ndi.gaussian_filter(volume, (0.0, sigma, sigma), mode="nearest")
    return out


def _block_mean(volume: npt.NDArray[np.integer[Any]], step: int) -> FloatArray:
    """In-plane block means (``step`` × ``step``) as float32: downsampling without aliasing."""
    k, r, c = volume.shape
    r, c = r - r % step, c - c % step
    blocks = volume[:, :r, :c].reshape(k, r // step, step, c // step, step)
    out: FloatArray = blocks.mean(axis=(2, 4), dtype=np.float32)
    return out


def _edges(volume: FloatArray) -> npt.NDArray[np.float64]:
    """Gradient magnitude (Sobel along each axis), float64 (correlation sums overflow float32)."""
    volume = volume.astype(np.float64)
    out = np.zeros_like(volume)
    for axis in range(3):
        out += ndi.sobel(volume, axis) ** 2
    return np.sqrt(out, out=out)


def _shift_axis(volume: FloatArray, shift: float, axis: int) -> FloatArray:
    """Linear interpolation of ``volume`` moved by ``shift`` voxels along ``axis`` (edges repeat)."""
    whole = math.floor(shift)
    frac = np.float32(shift - whole)
    n = volume.shape[axis]
    index = np.clip(np.arange(n) - whole, 0, n - 1)
    below = np.take(volume, index, axis=axis)
    if frac == 0:
        return below
    above = np.take(volume, np.clip(index - 1, 0, n - 1), axis=axis)
    below *= np.float32(1.0) - frac
    above *= frac
    below += above
    return below


def shift_linear(volume: npt.NDArray[np.integer[Any]], shift: tuple[float, float, float]) -> npt.NDArray[Any]:
    """``volume`` moved by ``shift`` voxels (slice, row, column), trilinear as separable passes
    (as ``scipy.ndimage.shift(order=1, mode="nearest")``, several times faster), stored type."""
    out = volume.astype(np.float32)
    for axis, amount in enumerate(shift):
        if abs(amount) > 1e-3:
            out = _shift_axis(out, amount, axis)
    np.rint(out, out=out)
    return out.astype(volume.dtype)


def correct_motion(series: DceSeries, reference: int) -> tuple[tuple[float, float, float], ...]:
    """Translate every phase onto ``reference`` in place; returns the (slice, row, column) shifts.

    Shifts are measured by cross-correlation of gradient magnitudes (sub-voxel, on in-plane block
    means of at most 128 × 128; edges move with the patient while contrast uptake changes the
    intensities inside them, so edges register to about 0.05 voxel where intensities gave 0.15 on
    the phantoms) and applied by linear interpolation to the stored pixels. Patient motion between
    phases turns every tissue edge (skin, fat against gland) into false enhancement, since a
    voxel of dark gland that now holds bright fat reads as a large percent rise.
    """
    step = max(1, min(series.grid.shape[1:]) // 128)
    ref = _edges(_block_mean(series.pixels[reference], step))
    shifts: list[tuple[float, float, float]] = []
    for p in range(series.phases):
        if p == reference:
            shifts.append((0.0, 0.0, 0.0))
            continue
        found, _, _ = phase_cross_correlation(  # type: ignore[no-untyped-call]
            ref, _edges(_block_mean(series.pixels[p], step)), upsample_factor=20, normalization=None
        )
        shift = (float(found[0]), float(found[1]) * step, float(found[2]) * step)
        if any(abs(s) > max(2, n // 8) for s, n in zip(shift, series.grid.shape, strict=True)):
            shift = (0.0, 0.0, 0.0)  # implausible: keep the phase as it is
        if max(abs(s) for s in shift) >= 0.1:
            series.pixels[p] = shift_linear(series.pixels[p], shift)
        shifts.append((round(shift[0], 2), round(shift[1], 2), round(shift[2], 2)))
    return tuple(shifts)


def body_mask(pre: FloatArray) -> tuple[BoolArray, float, float]:
    """Tissue above the air level (Otsu on log signal, holes filled per slice, largest component),
    the air noise σ and the air level."""
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
    return mask, noise, level


@dataclass(frozen=True)
class Anatomy:
    """Midline, chest wall and nipples in patient coordinates (mm).

    The chest wall is ``chest_wall_y(x) = c0 + c1 x + c2 x²`` (+y posterior): the anterior surface
    of the chest where no breast lies over it, moved back by the offset.
    """

    midline_x: float
    chest: tuple[float, float, float]
    nipples: dict[str, tuple[float, float, float]]
    #: (x, y) knots of the line in front of the lungs (module docstring); empty without lungs.
    lung_wall: tuple[tuple[float, float], ...] = ()

    def chest_wall_y(self, x: FloatArray | float) -> FloatArray | float:
        """The chest-wall line's y at patient x: the deeper of the surface and the lung lines."""
        c0, c1, c2 = self.chest
        xs = np.asarray(x, np.float32)
        y = c0 + c1 * xs + c2 * xs * xs
        if self.lung_wall:
            knots = np.asarray(self.lung_wall, np.float32)
            lung = np.interp(xs, knots[:, 0], knots[:, 1], left=-np.inf, right=-np.inf)
            y = np.maximum(y, lung.astype(np.float32))
        return y  # type: ignore[no-any-return]


def _coordinates(grid: Grid, index: npt.NDArray[np.int64]) -> FloatArray:
    """Patient coordinates (n, 3) of voxel indices (n, 3) = (slice, row, column)."""
    steps = np.array([grid.axis_mm(a) for a in range(3)], np.float64)  # (axis, xyz)
    out: FloatArray = (np.asarray(grid.origin) + index.astype(np.float64) @ steps).astype(np.float32)
    return out


def _chest_surface(xs: npt.NDArray[np.float64], front: npt.NDArray[np.float64]) -> npt.NDArray[np.float64]:
    """Quadratic through the anterior body surface where it is chest, not breast: fit, drop the
    points well in front of the fit (breasts), refit, until it settles."""
    keep = np.ones(xs.size, bool)
    coefficients = np.zeros(3)
    for _ in range(20):
        coefficients = np.polyfit(xs[keep], front[keep], 2)
        fitted = np.polyval(coefficients, xs)
        new_keep = front >= fitted - 5.0
        if new_keep.sum() < 5 or np.array_equal(new_keep, keep):
            break
        keep = new_keep
    return coefficients[::-1]  # c0, c1, c2


#: Air inside the body in components at least this large is lung (cm³).
LUNG_MIN_CM3 = 30.0
#: Lung is darker than this share of the body's median signal (or below the air level): aerated
#: lung gives 5-30 % of it on T1 gradient echo, fat-suppressed fat 30 % or more.
LUNG_DARK = 0.2


def dark_mask(pre: FloatArray, body: BoolArray, level: float) -> BoolArray:
    """Voxels dark enough to be air or lung (``LUNG_DARK``)."""
    limit = max(level, LUNG_DARK * float(np.median(pre[body]))) if body.any() else level
    out: BoolArray = pre <= limit
    return out


def _from_side(mask: BoolArray, axis: int, reverse: bool) -> BoolArray:
    """Voxels at or beyond the first ``mask`` voxel met along ``axis`` (from its end if ``reverse``)."""
    m = np.flip(mask, axis) if reverse else mask
    out: BoolArray = np.logical_or.accumulate(m, axis=axis)
    return np.flip(out, axis) if reverse else out


def lung_front(body: BoolArray, dark: BoolArray, grid: Grid, stride: int = 2) -> FloatArray | None:
    """(x, y) of the lungs' anterior surface per 4 mm of patient x, or None without lungs.

    Lung is air inside the body: dark voxels (:func:`dark_mask`, opened once against noise) with
    body voxels both to the left and to the right and the body's front in front of them, in 3-D
    components of at least ``LUNG_MIN_CM3`` (the air between the breasts lies in front of the
    body's front there). The body mask may hold the lungs (holes filled, or lung signal above
    the air level) or not (open at the field of view's edge): the dark voxels decide.
    """
    sub = body[::stride, ::stride, ::stride]
    xmap, ymap = grid.patient_axis_map(0), grid.patient_axis_map(1)
    lr, ap = int(np.argmax(np.abs(xmap))), int(np.argmax(np.abs(ymap)))
    if lr == ap:
        return None
    inside = _from_side(sub, lr, False) & _from_side(sub, lr, True) & _from_side(sub, ap, bool(ymap[ap] < 0))
    inside &= ndi.binary_opening(dark[::stride, ::stride, ::stride])
    labels, n = ndi.label(inside)
    if n == 0:
        return None
    sizes = np.bincount(labels.ravel()) * (float(np.prod(grid.spacing)) * stride**3 / 1000.0)
    sizes[0] = 0.0
    lungs = np.flatnonzero(sizes >= LUNG_MIN_CM3)
    if lungs.size == 0:
        return None
    points = _coordinates(grid, np.argwhere(np.isin(labels, lungs)) * stride)
    bins = np.round(points[:, 0] / 4.0).astype(np.int64)
    order = np.argsort(bins, kind="stable")
    bins, points = bins[order], points[order]
    starts = np.flatnonzero(np.r_[True, bins[1:] != bins[:-1]])
    xs = np.add.reduceat(points[:, 0], starts) / np.diff(np.r_[starts, bins.size])
    ys = np.minimum.reduceat(points[:, 1], starts)
    out: FloatArray = np.stack([xs, ys], axis=1).astype(np.float32)
    return out


def lower_hull(points: FloatArray) -> FloatArray:
    """The convex chain under (anterior to, smallest y) points (x, y) sorted by x (monotone chain)."""
    hull: list[tuple[float, float]] = []
    for x, y in sorted((float(a), float(b)) for a, b in points):
        while len(hull) >= 2:
            (x1, y1), (x2, y2) = hull[-2], hull[-1]
            if (y2 - y1) * (x - x1) >= (y - y1) * (x2 - x1):
                hull.pop()  # the middle point lies behind the chord: not on the anterior chain
            else:
                break
        hull.append((x, y))
    return np.asarray(hull, np.float32)


def find_anatomy(
    body: BoolArray, grid: Grid, params: KineticsParameters, dark: BoolArray | None = None
) -> Anatomy:
    """Midline, chest wall and nipples from the body mask (a subsample of its voxels), with the
    lungs' line (module docstring) when the dark voxels (:func:`dark_mask`) are given."""
    stride = 2
    index = np.argwhere(body[::stride, ::stride, ::stride]) * stride
    points = _coordinates(grid, index)
    x, y = points[:, 0], points[:, 1]
    lo_x, hi_x = np.percentile(x, [1, 99])
    bins = np.round((x - lo_x) / 2.0).astype(np.int64)
    front = np.full(int(bins.max()) + 1, np.inf)
    np.minimum.at(front, bins, y)
    xs = np.arange(front.size) * 2.0 + lo_x
    # The outermost columns meet the edge of the field of view, not the body's surface.
    inner = np.isfinite(front) & (xs > lo_x + 0.05 * (hi_x - lo_x)) & (xs < hi_x - 0.05 * (hi_x - lo_x))
    chest = _chest_surface(xs[inner], front[inner])
    centre = float(np.median(x))
    if chest[2] < 0.0:
        # The chest wall curves back towards the sides; a fit that bends forward there has taken
        # the sides of wide breasts for chest (they reach the body's outline) and would cut them
        # off. The line through the cleft (the most posterior front point near the centre) holds.
        central = inner & (np.abs(xs - centre) <= 0.15 * (hi_x - lo_x))
        cleft = float(front[central].max()) if central.any() else float(np.polyval(chest[::-1], centre))
        chest = np.array([cleft, 0.0, 0.0])
    behind = front[inner] - np.polyval(chest[::-1], xs[inner])
    # The midline: the cleft between the breasts (the chest point nearest the body's centre).
    chest_points = xs[inner][behind > -5.0]
    midline = float(chest_points[np.argmin(np.abs(chest_points - centre))]) if chest_points.size else centre
    nipples: dict[str, tuple[float, float, float]] = {}
    for side, on_side in (("L", x > midline + 10), ("R", x < midline - 10)):
        if not on_side.any():
            continue
        ys = y[on_side]
        tip = on_side.copy()
        tip[on_side] = ys <= float(ys.min()) + 3.0
        nipple = points[tip].mean(axis=0)
        nipples[side] = (float(nipple[0]), float(ys.min()), float(nipple[2]))
    c0, c1, c2 = (float(c) for c in chest)
    lungs = lung_front(body, dark, grid) if dark is not None else None
    lung_wall: tuple[tuple[float, float], ...] = ()
    if lungs is not None:
        hull = lower_hull(lungs)
        # The hull is convex: its forward-facing segments (|slope| ≤ 1) are one run.
        facing = np.flatnonzero(np.abs(np.diff(hull[:, 1]) / np.maximum(np.diff(hull[:, 0]), 1e-3)) <= 1.0)
        if facing.size:
            run = hull[facing[0] : facing[-1] + 2]
            lung_wall = tuple((float(a), float(b) - params.lung_wall_mm) for a, b in run)
    return Anatomy(
        midline_x=midline,
        chest=(c0 + params.chest_wall_offset_mm, c1, c2),
        nipples=nipples,
        lung_wall=lung_wall,
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


#: The nipple-areola complex enhances: skin-shell voxels (within NIPPLE_SHELL_MM of the body's
#: surface, within NIPPLE_CAP_MM of the breast's front) enhancing at least NIPPLE_MIN_PCT early,
#: within NIPPLE_REACH_MM of the geometric nipple. Their enhancement summed on 2 mm bins over a
#: disk of about NIPPLE_SPOT_MM across and weighted by closeness (Gaussian NIPPLE_SIGMA_MM) peaks
#: at the complex; the nipple is the enhancement-weighted mean of the voxels within
#: NIPPLE_SPOT_MM of that peak.
NIPPLE_SHELL_MM, NIPPLE_CAP_MM, NIPPLE_MIN_PCT = 5.0, 15.0, 30.0
NIPPLE_REACH_MM, NIPPLE_SPOT_MM, NIPPLE_SIGMA_MM = 30.0, 6.0, 20.0


def refine_nipples(anatomy: Anatomy, body: BoolArray, early_pct: FloatArray, grid: Grid) -> Anatomy:
    """The anatomy with each nipple moved to the enhancing nipple-areola complex near it (module
    docstring), where there is one; unchanged elsewhere."""
    stride = 2
    sub = body[::stride, ::stride, ::stride]
    steps = max(1, math.ceil(NIPPLE_SHELL_MM / (min(grid.spacing[1:]) * stride)))
    shell = sub & ~ndi.binary_erosion(sub, iterations=steps)
    early = early_pct[::stride, ::stride, ::stride]
    index = np.argwhere(shell & (early >= NIPPLE_MIN_PCT))
    if not index.size:
        return anatomy
    points = _coordinates(grid, index * stride)
    weight = early[tuple(index.T)].astype(np.float64)
    nipples = dict(anatomy.nipples)
    for side, (nx, ny, nz) in anatomy.nipples.items():
        across = np.hypot(points[:, 0] - nx, points[:, 2] - nz)
        near = (points[:, 1] <= ny + NIPPLE_CAP_MM) & (across <= NIPPLE_REACH_MM)
        near &= points[:, 0] > anatomy.midline_x if side == "L" else points[:, 0] < anatomy.midline_x
        if near.sum() < 3:
            continue
        q, w = points[near], weight[near]
        # Enhancement summed over a disk of about NIPPLE_SPOT_MM (2 mm bins), weighted by closeness.
        edges = [np.arange(nx - NIPPLE_REACH_MM, nx + NIPPLE_REACH_MM + 2.0, 2.0)]
        edges.append(np.arange(nz - NIPPLE_REACH_MM, nz + NIPPLE_REACH_MM + 2.0, 2.0))
        grid2, _, _ = np.histogram2d(q[:, 0], q[:, 2], bins=edges, weights=w)
        r = round(NIPPLE_SPOT_MM / 4.0)
        disk = np.hypot(*np.mgrid[-r : r + 1, -r : r + 1]) <= r
        density = ndi.convolve(grid2, disk.astype(np.float64), mode="constant")
        cx = (edges[0][:-1] + 1.0)[:, None] - nx
        cz = (edges[1][:-1] + 1.0)[None, :] - nz
        density *= np.exp(-0.5 * (cx * cx + cz * cz) / NIPPLE_SIGMA_MM**2)
        i, j = np.unravel_index(int(np.argmax(density)), density.shape)
        spot = np.hypot(q[:, 0] - (edges[0][i] + 1.0), q[:, 2] - (edges[1][j] + 1.0)) <= NIPPLE_SPOT_MM
        if not spot.any():
            continue
        nipples[side] = (
            float(np.average(q[spot, 0], weights=w[spot])),
            float(q[spot, 1].min()),
            float(np.average(q[spot, 2], weights=w[spot])),
        )
    return replace(anatomy, nipples=nipples)


@dataclass
class Maps:
    """Voxel maps on the grid of the early post-contrast phase (float32 percent)."""

    early_pct: FloatArray  # E at the early phase
    sustained_pct: FloatArray  # second lowest E over the post-contrast phases
    change_pct: FloatArray  # Δ late vs early
    body: BoolArray
    breast: BoolArray
    anatomy: Anatomy
    early: int
    noise: float
    mean_curve: tuple[float, ...]  # mean signal of the body per phase (ordering sanity check)


def compute_maps(series: DceSeries, params: KineticsParameters) -> Maps:
    """Early enhancement, sustained enhancement and delayed change maps, masks and anatomy.

    Sustained enhancement is the larger of the early enhancement and the second lowest percent
    enhancement over the post-contrast phases (the lowest with only two): contrast uptake lasts
    through every later phase, whereas a residual misregistration of one phase (tissue edges after
    motion) comes and goes, so a voxel must enhance early or in all phases but one to count.
    """
    early = early_phase_index(series)
    if params.motion_correction:
        shifts = correct_motion(series, early)
        if any(s != (0.0, 0.0, 0.0) for s in shifts):
            LOGGER.info("motion correction shifts (slice,row,col): %s", shifts)
    pre = series.phase(0)
    body, noise, level = body_mask(pre)
    anatomy = find_anatomy(body, series.grid, params, dark=dark_mask(pre, body, level))
    breast = breast_mask(body, series.grid, anatomy, params)
    s0 = _smooth(pre, params.smooth_px)
    del pre
    floor = max(10.0 * noise, 0.05 * float(np.median(s0[body]))) if body.any() else 1.0
    np.maximum(s0, np.float32(floor), out=s0)
    mean_curve = [float(np.mean(series.pixels[p][body])) for p in range(series.phases)]
    early_signal = _smooth(series.phase(early), params.smooth_px)
    late = _smooth(series.phase(series.phases - 1), params.smooth_px)
    change: FloatArray = np.divide(
        late - early_signal, np.maximum(early_signal, np.float32(floor)), dtype=np.float32
    )
    change *= np.float32(100.0)
    del late
    lowest = np.full(s0.shape, np.inf, np.float32)
    second = np.full(s0.shape, np.inf, np.float32)
    early_pct = np.zeros(s0.shape, np.float32)
    for p in range(1, series.phases):
        signal = early_signal if p == early else _smooth(series.phase(p), params.smooth_px)
        pct = np.divide(signal - s0, s0, dtype=np.float32)
        pct *= np.float32(100.0)
        if p == early:
            early_pct = pct.copy()
        np.minimum(second, np.maximum(lowest, pct), out=second)
        np.minimum(lowest, pct, out=lowest)
        del signal, pct
    del early_signal, s0
    sustained = second if series.phases > 3 else lowest
    del lowest, second
    # The early phase is the registration reference, so its enhancement carries no residual
    # misregistration of later phases; washout lesions are brightest there.
    np.maximum(sustained, early_pct, out=sustained)
    for volume in (early_pct, sustained, change):
        volume[~body] = 0.0
    anatomy = refine_nipples(anatomy, body, early_pct, series.grid)
    return Maps(early_pct, sustained, change, body, breast, anatomy, early, noise, tuple(mean_curve))


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
