"""What ``breastgate.masses`` measures around a candidate: a projected dome, its closure, its texture.

Physics and anatomy (reference algorithms.md §2.2): a mass is a compact volume of roughly uniform
attenuation, so its projection adds to the background a dome ``A·√(1 − (r/R)²)`` (the chord
length through a sphere of radius R) that is brighter than its surroundings in every direction.
Fibroglandular tissue is a connected network of glands and fat: a bright region of it continues
into neighbouring tissue in some direction and is mottled inside. Every feature below asks one of
those questions, on the working image (about 0.6 mm pixels) sampled on a polar grid of
``N_ANGLES`` rays around the candidate:

- ``dome_r2``: how well the ray-averaged radial profile fits ``b + A·√(1 − (r/R)²)`` (R fitted);
- ``drop_tex``, ``sector_min_tex``: centre-to-surroundings drop (inside 0.5R minus 1.2-1.8R), its
  mean and its weakest of 8 sectors, in units of the breast's texture σ — a mass is closed all round;
- ``res6``: residual of the 2-D dome model inside 0.6R relative to A (a homogeneous interior);
- ``cor_q25``: lower quartile over the rays of each ray's correlation with the dome model;
- ``in_tex_A``: fine texture (0.6-2.4 mm band) inside 0.7R relative to A;
- ``ring_var_A``: spread of the mean level of 8 sectors of the 1.3-2.2R ring relative to A (a mass
  sits on its background; an island of glands has brighter tissue on one side);
- ``brightness_pct``: percentile of the candidate's level among breast pixels (a mass adds to
  whatever tissue it lies in).

Size: the dome is fitted again over ``SIZE_RANGE_MM``, choosing the radius that maximises
amplitude × R² (the fit that explains most contrast); the outline follows, per ray, the
half-amplitude crossing, bounded by 1.5 R.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
import numpy.typing as npt
from scipy import ndimage as ndi

from breastgate.algorithms._logistic import LogisticModel

FloatArray = npt.NDArray[np.float32]
BoolArray = npt.NDArray[np.bool_]

N_ANGLES = 32
SECTORS = 8
FINE_MM = 0.6
BAND_MM = 2.4
SIZE_RANGE_MM = (2.5, 16.0)
_ANGLES = np.linspace(0.0, 2.0 * math.pi, N_ANGLES, endpoint=False)


@dataclass(frozen=True)
class Maps:
    """Per-image inputs of the candidate features (working grid)."""

    fine: FloatArray  # image smoothed at FINE_MM
    band: FloatArray  # fine minus the image smoothed at BAND_MM
    breast: BoolArray
    tissue_sorted: npt.NDArray[np.float32]  # working-image values inside the tissue, sorted
    image: FloatArray
    texture_sigma: float
    px_mm: float


@dataclass(frozen=True)
class Dome:
    """A fitted dome b + A·√(1 − (r/R)²): radius in working pixels."""

    r2: float
    radius: float
    amplitude: float
    base: float


#: The candidate model of the mass detector: a logistic model like the DCE lesion model's.
MassModel = LogisticModel


def make_maps(
    image: FloatArray, breast: BoolArray, tissue: BoolArray, texture_sigma: float, px: float
) -> Maps:
    fine = ndi.gaussian_filter(image, FINE_MM / px)
    band = fine - ndi.gaussian_filter(image, BAND_MM / px)
    return Maps(
        fine=fine.astype(np.float32),
        band=band.astype(np.float32),
        breast=breast,
        tissue_sorted=np.sort(image[tissue]).astype(np.float32),
        image=image,
        texture_sigma=texture_sigma,
        px_mm=px,
    )


def polar(maps: Maps, r: float, c: float, radii: FloatArray) -> FloatArray:
    """Fine image on N_ANGLES rays × ``radii`` around (r, c); NaN outside the breast."""
    rr = r + np.sin(_ANGLES)[:, None] * radii[None, :]
    cc = c + np.cos(_ANGLES)[:, None] * radii[None, :]
    values = ndi.map_coordinates(maps.fine, [rr, cc], order=1, mode="nearest")
    inside = ndi.map_coordinates(maps.breast.astype(np.float32), [rr, cc], order=0, mode="constant")
    out: FloatArray = np.where(inside > 0, values, np.nan).astype(np.float32)
    return out


def _fit(radii: FloatArray, profile: FloatArray, radius: float, window: float) -> tuple[float, float, float]:
    """(R², A, b) of the dome of ``radius`` fitted to ``profile`` over r ≤ window·radius."""
    sel = (radii <= window * radius) & np.isfinite(profile)
    if sel.sum() < 5:
        return -1.0, 0.0, 0.0
    x = np.sqrt(np.clip(1.0 - (radii[sel] / radius) ** 2, 0.0, 1.0))
    y = profile[sel].astype(np.float64)
    design = np.stack([np.ones_like(x), x], axis=1)
    coef, *_ = np.linalg.lstsq(design, y, rcond=None)
    ss = float(((y - y.mean()) ** 2).sum())
    r2 = 1.0 - float(((y - design @ coef) ** 2).sum()) / ss if ss > 0 else 0.0
    return r2, float(coef[1]), float(coef[0])


def _nanmean_rows(values: FloatArray) -> FloatArray:
    counts = np.isfinite(values).sum(axis=1)
    sums = np.nansum(values, axis=1)
    out: FloatArray = np.where(counts > 0, sums / np.maximum(counts, 1), np.nan).astype(np.float32)
    return out


def features(maps: Maps, r: int, c: int, radius: float) -> tuple[dict[str, float], Dome]:
    """The candidate features (module docstring) around working pixel (r, c) at scale ``radius``."""
    tex = maps.texture_sigma
    radii = np.arange(0.0, 2.6 * radius + 1e-6, max(radius / 10.0, 0.5), dtype=np.float32)
    grid = polar(maps, r, c, radii)
    finite = np.isfinite(grid).any(axis=0)
    profile = np.full(radii.shape, np.nan, np.float32)
    profile[finite] = np.nanmean(grid[:, finite], axis=0)
    dome = Dome(-1.0, radius, 0.0, 0.0)
    for f in np.linspace(0.5, 1.8, 14):
        r2, amp, base = _fit(radii, profile, float(f) * radius, 2.2)
        if amp > 0 and r2 > dome.r2:
            dome = Dome(r2, float(f) * radius, amp, base)
    rf, amp = dome.radius, max(dome.amplitude, 1e-6)
    inner = radii <= 0.5 * rf
    outer = (radii >= 1.2 * rf) & (radii <= 1.8 * rf)
    drop = np.zeros(N_ANGLES, np.float32)
    if outer.any():
        drop = np.nan_to_num(_nanmean_rows(grid[:, inner]) - _nanmean_rows(grid[:, outer]))
    mean_drop = float(drop.mean())
    sectors = drop.reshape(SECTORS, -1).mean(axis=1)
    model = dome.base + dome.amplitude * np.sqrt(np.clip(1.0 - (radii / rf) ** 2, 0.0, 1.0))
    resid = grid - model[None, :]
    core = resid[:, radii <= 0.6 * rf]
    res6 = float(np.nanstd(core)) / amp if np.isfinite(core).any() else 0.0
    sel = radii <= 1.6 * rf
    centred = model[sel] - model[sel].mean()
    cors = []
    for ray in grid[:, sel]:
        if np.isfinite(ray).all() and ray.std() > 0 and centred.std() > 0:
            cors.append(float(((ray - ray.mean()) * centred).mean() / (ray.std() * centred.std())))
    cor_q25 = float(np.quantile(cors, 0.25)) if cors else 0.0
    in_tex, ring_var = _texture(maps, r, c, rf)
    level = float(maps.image[r, c])
    brightness = float(np.searchsorted(maps.tissue_sorted, level)) / max(maps.tissue_sorted.size, 1)
    return (
        {
            "drop_tex": mean_drop / tex,
            "sector_min_tex": float(sectors.min()) / tex,
            "dome_r2": dome.r2,
            "res6": res6,
            "cor_q25": cor_q25,
            "in_tex_A": in_tex / amp,
            "ring_var_A": ring_var / amp,
            "brightness_pct": brightness,
        },
        dome,
    )


def _texture(maps: Maps, r: int, c: int, rf: float) -> tuple[float, float]:
    """(fine-texture σ inside 0.7R, σ of the 8 sector means of the 1.3-2.2R ring)."""
    half = math.ceil(2.4 * rf) + 2
    r0, c0 = max(r - half, 0), max(c - half, 0)
    band = maps.band[r0 : r + half + 1, c0 : c + half + 1]
    fine = maps.fine[r0 : r + half + 1, c0 : c + half + 1]
    breast = maps.breast[r0 : r + half + 1, c0 : c + half + 1]
    yy, xx = np.mgrid[r0 : r0 + band.shape[0], c0 : c0 + band.shape[1]]
    d = np.hypot(yy - r, xx - c)
    inner = (d <= 0.7 * rf) & breast
    in_std = float(band[inner].std()) if inner.sum() > 3 else 0.0
    ring = (d >= 1.3 * rf) & (d <= 2.2 * rf) & breast
    sector = np.floor((np.arctan2(yy - r, xx - c) + math.pi) / (2 * math.pi) * SECTORS).astype(int) % SECTORS
    means = [float(fine[ring & (sector == k)].mean()) for k in range(SECTORS) if (ring & (sector == k)).any()]
    return in_std, float(np.std(means)) if means else 0.0


def size_and_outline(maps: Maps, r: int, c: int) -> tuple[float, list[tuple[float, float]]]:
    """Diameter in mm and outline (working (col, row) points) of the mass around (r, c)."""
    px = maps.px_mm
    radii = np.arange(0.0, 2.2 * SIZE_RANGE_MM[1] / px, 0.5, dtype=np.float32)
    grid = polar(maps, r, c, radii)
    finite = np.isfinite(grid).any(axis=0)
    profile = np.full(radii.shape, np.nan, np.float32)
    profile[finite] = np.nanmean(grid[:, finite], axis=0)
    best = (-math.inf, SIZE_RANGE_MM[0] / px, 0.0, 0.0)
    for radius_mm in np.geomspace(*SIZE_RANGE_MM, 24):
        radius = float(radius_mm) / px
        r2, amp, base = _fit(radii, profile, radius, 1.6)
        if amp > 0 and amp * r2 > best[0]:
            best = (amp * r2, radius, amp, base)
    _, radius, amp, base = best
    level = base + 0.5 * amp
    outline = []
    limit = 1.5 * radius
    for k, angle in enumerate(_ANGLES):
        ray = grid[k]
        below = np.nonzero(((ray < level) | ~np.isfinite(ray)) & (radii > 0))[0]
        edge = float(radii[below[0]]) if below.size else limit
        edge = min(max(edge, 1.0), limit)
        outline.append((c + edge * math.cos(angle), r + edge * math.sin(angle)))
    return 2.0 * radius * px, outline
