"""Pixel synthesis of one 2D FFDM view: outline, thickness fall-off, pectoral muscle, dense tissue.

All geometry is built on a working grid ``SCALE`` times coarser than the detector and upsampled
bilinearly; only the quantum noise is drawn at full resolution. The canonical orientation has the
chest wall on the left (column 0), as for a left breast; right breasts are mirrored at the end.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import numpy.typing as npt
from scipy import ndimage, special

from breastgate.phantoms.lesions import LesionSpec, ViewContext, draw_lesions
from breastgate.phantoms.profiles import VendorProfile

__all__ = [
    "SCALE",
    "BreastShape",
    "RenderedView",
    "ViewLevels",
    "ViewSpec",
    "mirror_truth",
    "power_law_noise",
    "render_view",
    "upsample",
    "view_levels",
]

LOGGER = logging.getLogger(__name__)

SCALE = 4  # detector pixels per working-grid pixel

FloatArray = npt.NDArray[np.float32]
BoolArray = npt.NDArray[np.bool_]


@dataclass(frozen=True)
class BreastShape:
    """Outline of the compressed breast, in mm, chest wall at x = 0."""

    depth_mm: float  # chest wall to skin along the nipple axis
    half_height_mm: float  # half extent along the chest wall
    centre_mm: float  # y of the nipple axis at the chest wall
    droop: float  # slope of the nipple axis (dy/dx), > 0 sags towards the feet
    harmonics: tuple[tuple[float, float], ...]  # (amplitude, phase) of cos(kθ), k = 2, 3, ...
    nipple_radius_mm: float
    falloff_mm: float  # width of the thickness fall-off at the skin edge


@dataclass(frozen=True)
class ViewSpec:
    """Everything needed to render one view deterministically."""

    laterality: str  # "L" or "R"
    view: str  # "CC" or "MLO"
    target_fraction: float  # dense area fraction, 0..1
    beta: float  # power-law exponent of the anatomical texture (algorithms.md §6.2)
    shape: BreastShape
    pectoral: tuple[float, float, float] | None  # (width at top mm, height at chest wall mm, bulge)
    fat_level: float  # display level of fatty tissue, fraction of full scale
    dense_contrast: float  # extra level of dense tissue, fraction of full scale
    gland_centre: float  # centre of the glandular disc along the nipple axis, fraction of depth
    gland_weight: float  # strength of the central concentration of dense tissue
    seed: int
    #: Nipple not in profile (phantoms.positioning): (angle from the nipple axis along the outline in
    #: radians, > 0 towards larger y; inset into the breast in mm). (0, 0) = nipple at the skin tip.
    nipple_shift: tuple[float, float] = (0.0, 0.0)
    #: Extra level of the pectoral muscle over fat, in units of ``dense_contrast``.
    pectoral_contrast: float = 0.85
    #: Width of the fat-to-dense transition of the display level, in SDs of the dense field (the
    #: logistic's scale). 0.2 (legacy) gives nearly binary glandular islands with sharp edges;
    #: ``realism="film"`` (:func:`breastgate.phantoms.plan._film`) widens it to 0.6, calibrated
    #: against real mammograms: the projection through 35-65 mm of compressed tissue mixes fat and
    #: gland along each ray, so dense tissue fades into fat instead of ending in a step.
    edge_softness: float = 0.2


@dataclass(frozen=True)
class RenderedView:
    """Pixels and ground-truth masks of one view (masks on the working grid, final orientation)."""

    pixels: npt.NDArray[np.uint16]
    breast_mask: BoolArray  # breast including pectoral muscle and nipple
    pectoral_mask: BoolArray
    dense_mask: BoolArray
    texture: FloatArray  # power-law field used for the dense tissue (canonical orientation)
    working_spacing_mm: float
    #: Per lesion drawn on this view: id, centre [col, row], bbox [c0, r0, c1, r1] (final orientation).
    lesion_truth: tuple[dict[str, object], ...] = ()

    @property
    def tissue_pixels(self) -> int:
        """Breast pixels outside the pectoral muscle (the density denominator)."""
        return int(np.count_nonzero(self.breast_mask & ~self.pectoral_mask))

    @property
    def percent_dense(self) -> float:
        """Dense area as a percentage of the breast excluding the pectoral muscle."""
        return 100.0 * int(np.count_nonzero(self.dense_mask)) / max(self.tissue_pixels, 1)

    @property
    def breast_area_cm2(self) -> float:
        """Area of the breast excluding the pectoral muscle."""
        return self.tissue_pixels * (self.working_spacing_mm / 10.0) ** 2


def power_law_noise(shape: tuple[int, int], beta: float, rng: np.random.Generator) -> FloatArray:
    """Zero-mean, unit-variance 2D noise with power spectrum ∝ |f|^-β (algorithms.md §6.2).

    White Gaussian noise → FFT → multiply by |f|^(-β/2), f = 0 set to 0 → inverse FFT → normalise.
    """
    white = rng.standard_normal(shape).astype(np.float32)
    spectrum = np.fft.rfft2(white)
    fy = np.fft.fftfreq(shape[0]).astype(np.float32)[:, None]
    fx = np.fft.rfftfreq(shape[1]).astype(np.float32)[None, :]
    freq = np.hypot(fy, fx)
    freq[0, 0] = 1.0
    filt = freq ** (-beta / 2.0)
    filt[0, 0] = 0.0
    field = np.fft.irfft2(spectrum * filt, s=shape).astype(np.float32)
    field -= field.mean()
    field /= max(float(field.std()), 1e-12)
    return field


def upsample(work: FloatArray, rows: int, cols: int) -> FloatArray:
    """Bilinear upsampling by ``SCALE``: working pixel i lands on detector pixel SCALE·i.

    ``rows`` may be up to SCALE·(h − 1) + 1 and ``cols`` up to SCALE·(w − 1) + 1 for a working
    grid of shape (h, w): the last working row or column is then the last detector one.
    """
    f = SCALE
    h, w = work.shape
    if not (0 < rows <= f * (h - 1) + 1 and 0 < cols <= f * (w - 1) + 1):
        raise ValueError(f"cannot upsample a {h}x{w} working grid to {rows}x{cols} pixels")
    wk = np.arange(f, dtype=np.float32) / f
    r = (work[:-1, None, :] * (1 - wk)[None, :, None] + work[1:, None, :] * wk[None, :, None]).reshape(
        f * (h - 1), w
    )[:rows]
    if rows > f * (h - 1):
        r = np.concatenate((r, work[-1:]))
    diff = np.diff(r, axis=1)
    out = np.empty((rows, w - 1, f), np.float32)
    np.multiply(diff[:, :, None], wk, out=out)
    out += r[:, :-1, None]
    full = out.reshape(rows, f * (w - 1))
    if cols > f * (w - 1):
        return np.concatenate((full, r[:, -1:]), axis=1)
    return full[:, :cols]


def _outline(spec: ViewSpec, x: FloatArray, y: FloatArray) -> tuple[BoolArray, tuple[float, float]]:
    """Semi-elliptical breast outline with a few harmonics, plus the nipple; returns mask and tip."""
    s = spec.shape
    ex = x / s.depth_mm
    ey = (y - s.centre_mm - s.droop * x) / s.half_height_mm
    rho = np.hypot(ex, ey)
    theta = np.arctan2(ey, ex)
    radius = np.ones_like(rho)
    for k, (amp, phase) in enumerate(s.harmonics, start=2):
        radius += amp * np.cos(k * theta + phase)
    mask: BoolArray = (rho < radius) & (x >= 0)
    tip_r = 1.0 + sum(amp * np.cos(phase) for amp, phase in s.harmonics)
    tip_x = s.depth_mm * tip_r
    tip_y = s.centre_mm + s.droop * tip_x
    if spec.nipple_shift != (0.0, 0.0):
        tip_x, tip_y = displaced_nipple(s, spec.nipple_shift)
    nipple = np.hypot(x - tip_x, y - tip_y) < s.nipple_radius_mm
    return mask | nipple, (tip_x, tip_y)


def outline_point(s: BreastShape, theta: float) -> tuple[float, float]:
    """Point (x, y) in mm of the outline (without the nipple) at angle ``theta`` of the normalised
    ellipse (0 = nipple axis, > 0 towards larger y)."""
    radius = 1.0 + sum(amp * np.cos(k * theta + phase) for k, (amp, phase) in enumerate(s.harmonics, start=2))
    x = s.depth_mm * radius * np.cos(theta)
    return float(x), float(s.centre_mm + s.droop * x + s.half_height_mm * radius * np.sin(theta))


def displaced_nipple(s: BreastShape, shift: tuple[float, float]) -> tuple[float, float]:
    """Centre of a nipple moved ``shift[0]`` rad along the outline and ``shift[1]`` mm into the breast
    (towards the middle of the chest wall): projected over the breast, not in profile."""
    px, py = outline_point(s, shift[0])
    dx, dy = -px, s.centre_mm - py
    norm = max(float(np.hypot(dx, dy)), 1e-6)
    return px + shift[1] * dx / norm, py + shift[1] * dy / norm


def _pectoral(spec: ViewSpec, x: FloatArray, y: FloatArray) -> FloatArray:
    """Signed pectoral coordinate: > 0 inside the muscle triangle of the upper posterior corner."""
    if spec.pectoral is None:
        return np.full(x.shape, -1.0, np.float32)
    width, height, bulge = spec.pectoral
    u, v = x / width, y / height
    return (1.0 - (u + v + bulge * u * v)).astype(np.float32)


def _dense_field(
    spec: ViewSpec, x: FloatArray, y: FloatArray, dist: FloatArray, texture: FloatArray
) -> FloatArray:
    """Texture plus a retro-areolar prior and a subcutaneous-fat penalty (higher = more likely dense)."""
    s = spec.shape
    gx = spec.gland_centre * s.depth_mm
    dx = (x - gx) / (0.6 * s.depth_mm)
    dy = (y - s.centre_mm - s.droop * x) / (0.8 * s.half_height_mm)
    prior = -(dx * dx + dy * dy)
    out: FloatArray = (texture + spec.gland_weight * prior - 1.5 * np.exp(-dist / 6.0)).astype(np.float32)
    return out


def _threshold(field: FloatArray, region: BoolArray, fraction: float) -> float:
    """Threshold so that exactly round(fraction·n) pixels of ``region`` lie above it."""
    values = field[region]
    n = values.size
    k = round(fraction * n)
    if k <= 0:
        return float(values.max()) + 1.0
    if k >= n:
        return float(values.min()) - 1.0
    part = np.partition(values, [n - k - 1, n - k])
    return 0.5 * float(part[n - k - 1] + part[n - k])


def _geometry(
    spec: ViewSpec, profile: VendorProfile
) -> tuple[FloatArray, FloatArray, BoolArray, tuple[float, float], FloatArray, FloatArray, BoolArray]:
    """Working grid (y, x in mm), breast mask, nipple tip, distance from the skin, pectoral coordinate,
    pectoral mask."""
    rows, cols = profile.rows, profile.columns
    h, w = -(-(rows - 1) // SCALE) + 1, -(-(cols - 1) // SCALE) + 1
    ws = profile.pixel_spacing_mm * SCALE
    y, x = np.mgrid[0:h, 0:w].astype(np.float32) * np.float32(ws)
    breast, tip = _outline(spec, x, y)
    dist = (ndimage.distance_transform_edt(breast).astype(np.float32) - 0.5) * np.float32(ws)
    dist = np.maximum(dist, 0.0)
    pect_coord = _pectoral(spec, x, y)
    pectoral = breast & (pect_coord > 0)
    return y, x, breast, tip, dist, pect_coord, pectoral


def _thickness_factor(spec: ViewSpec, dist: FloatArray) -> FloatArray:
    ramp = np.clip(dist / spec.shape.falloff_mm, 0.0, 1.0)
    thickness = np.sqrt(1.0 - (1.0 - ramp) ** 2)
    out: FloatArray = (0.12 + 0.88 * thickness**0.8).astype(np.float32)
    return out


def view_context(spec: ViewSpec, profile: VendorProfile) -> ViewContext:
    """The geometry lesions are placed in (canonical orientation), without rendering pixels."""
    _, _, breast, tip, dist, _, pectoral = _geometry(spec, profile)
    return ViewContext(
        laterality=spec.laterality,
        view=spec.view,
        tip_mm=tip,
        droop=spec.shape.droop,
        half_height_mm=spec.shape.half_height_mm,
        depth_mm=spec.shape.depth_mm,
        px_mm=profile.pixel_spacing_mm,
        ws_mm=profile.pixel_spacing_mm * SCALE,
        tissue=breast & ~pectoral,
        dist_mm=dist,
        factor=_thickness_factor(spec, dist),
        dense_contrast=spec.dense_contrast,
    )


@dataclass(frozen=True)
class ViewLevels:
    """Noise-free display levels of one view on the working grid (canonical orientation).

    ``value`` is what the 2-D renderer puts on the detector (fraction of full scale): ``level``
    times the thickness fall-off plus the skin line. ``level`` = ``static`` + ``gland``: the
    glandular texture ``gland`` is what tomosynthesis spreads over depth, ``static`` (fat, pectoral
    muscle, nipple) is the same on every slice.
    """

    breast: BoolArray
    pectoral: BoolArray
    dense: BoolArray
    texture: FloatArray
    dist_mm: FloatArray  # distance from the skin line
    tip_mm: tuple[float, float]
    static: FloatArray
    gland: FloatArray
    value: FloatArray
    working_spacing_mm: float


def _levels(spec: ViewSpec, profile: VendorProfile, rng: np.random.Generator) -> ViewLevels:
    """Outline, dense tissue thresholded to the target fraction, display levels (no noise)."""
    h, w = -(-(profile.rows - 1) // SCALE) + 1, -(-(profile.columns - 1) // SCALE) + 1
    ws = profile.pixel_spacing_mm * SCALE
    y, x, breast, (tip_x, tip_y), dist, pect_coord, pectoral = _geometry(spec, profile)
    tissue = breast & ~pectoral

    texture = power_law_noise((h, w), spec.beta, rng)
    field = _dense_field(spec, x, y, dist, texture)
    thr = _threshold(field, tissue, spec.target_fraction)
    dense = tissue & (field > thr)

    # Display levels (fraction of full scale) before the thickness fall-off.
    spread = float(field[tissue].std()) or 1.0
    z = (field - thr) / spread
    soft = special.expit(z / spec.edge_softness)
    core = np.clip(z / 2.0, 0.0, 1.0)
    fine = power_law_noise((h, w), 2.2, rng)
    level = spec.fat_level + 0.035 * fine + spec.dense_contrast * soft * (0.6 + 0.8 * core + 0.1 * fine)
    grad = np.exp(-np.hypot(x, y) / (0.8 * (spec.pectoral[0] if spec.pectoral else 1.0)))
    pect_level = spec.fat_level + spec.pectoral_contrast * spec.dense_contrast + 0.06 * grad + 0.03 * fine
    pect_w = special.expit(pect_coord * 60.0)
    gland = ((1.0 - pect_w) * (level - spec.fat_level) * breast).astype(np.float32)
    level = (1.0 - pect_w) * level + pect_w * pect_level

    nipple_d = np.hypot(x - tip_x, y - tip_y)
    level += 0.06 * np.exp(-((nipple_d / (spec.shape.nipple_radius_mm * 1.3)) ** 2))
    ramp = np.clip(dist / spec.shape.falloff_mm, 0.0, 1.0)
    thickness = np.sqrt(1.0 - (1.0 - ramp) ** 2)
    skin = 0.10 * np.exp(-(((dist - 0.7) / 0.5) ** 2))
    value = (level * (0.12 + 0.88 * thickness**0.8) + skin).astype(np.float32)
    static = (level - gland).astype(np.float32)
    return ViewLevels(breast, pectoral, dense, texture, dist, (tip_x, tip_y), static, gland, value, ws)


def view_levels(spec: ViewSpec, profile: VendorProfile) -> ViewLevels:
    """The noise-free levels :func:`render_view` starts from (same random stream, same pixels)."""
    return _levels(spec, profile, np.random.default_rng(spec.seed))


def render_view(spec: ViewSpec, profile: VendorProfile, lesions: Sequence[LesionSpec] = ()) -> RenderedView:
    """Render one view; dense area fraction of the breast (pectoral excluded) equals the target.

    ``lesions`` (placed by :func:`breastgate.phantoms.lesions.plan_lesions`) are added before the
    quantum noise; a view without lesions is bit-identical to one rendered without the argument.
    """
    rng = np.random.default_rng(spec.seed)
    rows, cols = profile.rows, profile.columns
    lv = _levels(spec, profile, rng)
    breast, pectoral, dense = lv.breast, lv.pectoral, lv.dense

    # Noise: a random byte >> shift, uniform in [0, nmax]; background is pushed below -nmax so it
    # clips to exactly 0 after the noise is added.
    maxv = profile.max_value
    nmax = 255 >> profile.noise_shift
    work = np.where(breast, lv.value * maxv - nmax / 2.0, -float(nmax) - 2.0).astype(np.float32)
    full = upsample(work, rows, cols)
    truth: list[dict[str, object]] = []
    if lesions:
        ctx = view_context(spec, profile)
        truth = [dict(t) for t in draw_lesions(full, ctx, list(lesions), maxv, spec.seed)]
    noise = np.frombuffer(rng.bytes(rows * cols), dtype=np.uint8).reshape(rows, cols)
    full += np.right_shift(noise, np.uint8(profile.noise_shift))
    np.maximum(full, 0.0, out=full)
    np.minimum(full, float(maxv), out=full)
    pixels = full.astype(np.uint16)

    if spec.laterality == "R":
        pixels = np.ascontiguousarray(pixels[:, ::-1])
        breast, pectoral, dense = breast[:, ::-1], pectoral[:, ::-1], dense[:, ::-1]
        truth = [mirror_truth(t, cols) for t in truth]
    return RenderedView(pixels, breast, pectoral, dense, lv.texture, lv.working_spacing_mm, tuple(truth))


def mirror_truth(truth: dict[str, object], cols: int) -> dict[str, object]:
    """Truth of a canonical-orientation view, in the mirrored (right breast) image: c → cols − c."""
    out = dict(truth)
    centre = truth["centre"]
    bbox = truth["bbox"]
    assert isinstance(centre, list) and isinstance(bbox, list)
    out["centre"] = [cols - centre[0], centre[1]]
    out["bbox"] = [cols - bbox[2], bbox[1], cols - bbox[0], bbox[3]]
    calcs = truth.get("calcifications")
    if isinstance(calcs, list):
        out["calcifications"] = [[cols - c, r] for c, r in calcs]
    return out
