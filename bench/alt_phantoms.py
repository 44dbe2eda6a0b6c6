"""An independent synthetic 4-view mammogram generator for evaluating the density algorithm.

Written without reference to ``breastgate.phantoms`` internals (only a finished DICOM header is
borrowed from ``generate_mg_study``). The model follows the VICTRE recipe (algorithms.md §6.1):

* a compressed breast: outline (superellipse with octave-noise wobble, nipple bump), compressed
  thickness by density class (VICTRE 65/55/45/35 mm for a/b/c/d) and a thickness map T(x, y) whose
  edge is a semi-ellipse (vertical semi-axis T/2, horizontal semi-axis 1-2.5 x T/2), a 0.7-1.5 mm
  skin layer and a subcutaneous fat layer;
* glandular tissue from 3-D Voronoi compartments, each either fat or fibroglandular, chosen by a
  score that favours the central and subareolar breast plus noise; Cooper's ligaments as the
  compartment walls in fat; ducts branching from the nipple with lobules (TDLUs) at their ends;
  Perlin-style octave value noise modulating the gland; pectoral muscle on MLO;
* Beer-Lambert projection with linear attenuation at ~20 keV (effective energy of 28 kVp W/Rh),
  scatter (low-pass, SPR 0.1-0.35), signal-dependent quantum noise and detector blur;
* "For Presentation" processing: periphery equalisation (none to strong), a sigmoid, log or gamma
  display LUT, 12-14 bits stored, pixel spacing 0.05-0.1 mm, MONOCHROME2 or (1 in 4) MONOCHROME1.

Truth: per image, the dense AREA fraction is the fraction of breast pixels (pectoral muscle
excluded) whose projected glandular fraction -- gland thickness / total thickness along the ray --
exceeds 0.5. The study value is the mean of the four images; the category uses FIXED thresholds
a < 10 <= b < 33 <= c < 65 <= d, and a study is only accepted when its PD lies at least 3 points
inside its band (otherwise the anatomy is redrawn).

Lesions (masses, calcification clusters) are 3-D solids drawn and projected by ``bench.alt_lesions``.
"""

from __future__ import annotations

import copy
import dataclasses
import datetime as dt
import functools
import logging
import math
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import pydicom
from pydicom.uid import generate_uid
from scipy import ndimage

from breastgate.phantoms import PhantomStudy, generate_mg_study

__all__ = ["BANDS", "THICKNESS_MM", "category_of", "generate_alt_study"]

LOGGER = logging.getLogger(__name__)

CATS = "abcd"
BANDS = {"a": (0.0, 10.0), "b": (10.0, 33.0), "c": (33.0, 65.0), "d": (65.0, 100.0)}
MARGIN = 3.0
TARGETS = {"a": (0.5, 6.5), "b": (13.5, 29.5), "c": (36.5, 61.5), "d": (68.5, 88.0)}
THICKNESS_MM = {"a": 65.0, "b": 55.0, "c": 45.0, "d": 35.0}  # VICTRE compressed thickness per class
# Linear attenuation (1/cm) near 20 keV: mass attenuation x VICTRE density (adipose 0.92, gland
# 1.035, skin 1.09, ligament 1.12, muscle 1.05 g/cm3); gland/fat ratio ~1.75 as at 28 kVp.
MU = {"fat": 0.46, "gland": 0.80, "skin": 0.83, "ligament": 0.86, "muscle": 0.84}
WRES = 0.8  # working grid (mm) for the anatomy and the truth
DZ = 3.5  # slab thickness (mm) of the 3-D compartment grid
VIEWS = (("R", "CC"), ("L", "CC"), ("R", "MLO"), ("L", "MLO"))
MAX_PIXELS = 8_900_000
LUT_SIZE = 4096
FIELDS = ((170.0, 130.0), (200.0, 150.0), (240.0, 180.0), (300.0, 240.0))


def category_of(percent_dense: float) -> str:
    """Category for an area PD with the fixed thresholds a < 10 <= b < 33 <= c < 65 <= d."""
    return "a" if percent_dense < 10 else "b" if percent_dense < 33 else "c" if percent_dense < 65 else "d"


def octave_noise(
    rng: np.random.Generator, shape: tuple[int, ...], cells: float, octaves: int = 6
) -> np.ndarray:
    """Perlin-style fractal value noise: octaves of smooth noise, lacunarity 2, persistence 0.5."""
    out = np.zeros(shape, dtype=np.float32)
    amp, total = 1.0, 0.0
    for o in range(octaves):
        n = max(2, round(cells * 2**o))
        coarse = rng.standard_normal([n + 2 for _ in shape]).astype(np.float32)
        zoomed = ndimage.zoom(coarse, [s / n for s in shape], order=1, mode="nearest", grid_mode=True)
        out += amp * zoomed[tuple(slice(0, s) for s in shape)]
        total += amp
        amp *= 0.5
    out /= total
    return np.asarray((out - out.mean()) / (out.std() + 1e-6), dtype=np.float32)


@dataclass(frozen=True)
class Acquisition:
    """Detector and processing choices of one study."""

    spacing_mm: float
    bits_stored: int
    monochrome1: bool
    equalisation: float
    lut: str
    lut_param: float
    photons: float
    spr: float
    blur_px: float
    window: tuple[float, float]


@dataclass
class Anatomy:
    """Working-grid maps (mm) of one view in the canonical frame (chest wall at x = 0)."""

    breast: np.ndarray
    pectoral: np.ndarray
    thickness: np.ndarray
    skin: np.ndarray
    gland: np.ndarray
    ligament: np.ndarray
    muscle: np.ndarray
    core_distance: np.ndarray
    nipple: tuple[float, float] = (0.0, 0.0)

    @property
    def glandular_fraction(self) -> np.ndarray:
        return np.where(self.thickness > 0, self.gland / np.maximum(self.thickness, 1e-6), 0.0)

    def percent_dense(self) -> float:
        region = self.breast & ~self.pectoral
        return float(100.0 * (self.glandular_fraction[region] > 0.5).mean())


def _outline(
    rng: np.random.Generator, view: str, field: tuple[float, float], size: dict[str, float]
) -> tuple[np.ndarray, np.ndarray, np.ndarray, tuple[float, float]]:
    """Breast mask, pectoral mask and edge distance (mm) on the working grid.

    The anterior skin line is x_edge(y): a superellipse about the nipple level for CC; for MLO a
    convex curve from the axilla (top edge) out to the nipple, then round to the inframammary fold.
    """
    height, width = field
    ny, nx = int(height / WRES), int(width / WRES)
    y = np.arange(ny, dtype=np.float32) * WRES
    x = np.arange(nx, dtype=np.float32) * WRES
    depth, yc, p = size["depth"], size["yc"], size["exponent"]
    below = np.clip((y - yc) / size["down"], 0.0, 1.0)
    edge = depth * (1.0 - below**p) ** (1.0 / p)
    above = np.clip((yc - y) / size["up"], 0.0, 1.0)
    if view == "MLO":
        w0, q = size["axilla"], size["upper_exponent"]
        edge_up = w0 + (depth - w0) * (1.0 - above**q) ** (1.0 / q)
    else:
        edge_up = depth * (1.0 - above**p) ** (1.0 / p)
    edge = np.where(y < yc, edge_up, edge) * (1.0 + 0.05 * octave_noise(rng, (ny,), 3.0, 4))
    edge = np.where((y > yc + size["down"]) | ((view == "CC") & (y < yc - size["up"])), -1.0, edge)
    mask = x[None, :] < edge[:, None]
    xx, yy = np.meshgrid(x, y)
    nip_row = int(np.argmax(edge))
    nip_y, nip_x = float(y[nip_row]), float(edge[nip_row])
    mask |= np.hypot(xx - (nip_x + 1.0), yy - nip_y) < rng.uniform(3.5, 5.0)  # nipple in profile
    pectoral = np.zeros_like(mask)
    if view == "MLO":
        top, left = size["pect_top"], size["pect_left"]
        bow = rng.uniform(-0.08, 0.12)
        s = xx / top + yy / left
        pectoral = mask & (s + bow * np.sin(np.pi * np.clip(xx / top, 0, 1)) < 1.0)
    pad_top = 8 if view == "MLO" else 0
    padded = np.pad(mask, ((pad_top, 0), (8, 0)), constant_values=True)
    distance = ndimage.distance_transform_edt(padded, sampling=WRES)[pad_top:, 8:]
    return mask, pectoral, distance.astype(np.float32), (nip_x, nip_y)


def _edge_profile(distance: np.ndarray, full: float, edge: float) -> np.ndarray:
    """Thickness with a semi-elliptical edge: horizontal semi-axis ``edge``, vertical ``full / 2``."""
    u = np.clip((edge - distance) / edge, 0.0, 1.0)
    return np.where(distance > 0, full * np.sqrt(np.clip(1.0 - u**2, 0.0, 1.0)), 0.0).astype(np.float32)


def _ducts(
    rng: np.random.Generator, shape: tuple[int, int], nipple: tuple[float, float], n_lob: float
) -> np.ndarray:
    """Gland thickness (mm) of ducts branching from the nipple and lobules at their tips."""
    ducts = np.zeros(shape, dtype=np.float32)
    lobules = np.zeros(shape, dtype=np.float32)
    ny, nx = shape

    def put(target: np.ndarray, px: float, py: float, value: float) -> None:
        i, j = int(py / WRES), int(px / WRES)
        if 0 <= i < ny and 0 <= j < nx:
            target[i, j] += value

    stack = [(nipple[0], nipple[1], math.pi + rng.uniform(-0.9, 0.9), 0) for _ in range(rng.integers(6, 12))]
    while stack:
        x0, y0, angle, gen = stack.pop()
        length = rng.uniform(6, 18)
        for t in np.arange(0, length, WRES / 2):
            put(ducts, x0 + t * math.cos(angle), y0 + t * math.sin(angle), 0.6)
        x1, y1 = x0 + length * math.cos(angle), y0 + length * math.sin(angle)
        if gen >= 5 or rng.random() < 0.12 * gen:
            for _ in range(rng.poisson(n_lob)):
                put(lobules, x1 + rng.normal(0, 3), y1 + rng.normal(0, 3), rng.uniform(4, 10))
            continue
        for turn in (-1, 1):
            stack.append((x1, y1, angle + turn * rng.uniform(0.15, 0.6), gen + 1))
    ducts = ndimage.gaussian_filter(ducts, 0.6)
    lobules = ndimage.gaussian_filter(lobules, 1.6 / WRES)
    return np.asarray(ducts + lobules, dtype=np.float32)


def _compartments(rng: np.random.Generator, shape_plan: dict[str, Any]) -> tuple[np.ndarray, np.ndarray]:
    """3-D Voronoi compartments of one breast (VICTRE): label of the nearest random seed, and the seeds."""
    height, width = shape_plan["field"]
    full = shape_plan["thickness"]
    ny, nx = int(height / WRES), int(width / WRES)
    nz = max(4, round(full / DZ))
    n_seeds = int(min(6000, ny * nx * WRES**2 * full / shape_plan["compartment"] ** 3))
    seeds = np.stack([rng.integers(0, s, n_seeds) for s in (nz, ny, nx)], axis=1)
    seed_id = np.full((nz, ny, nx), -1, dtype=np.int32)
    seed_id[seeds[:, 0], seeds[:, 1], seeds[:, 2]] = np.arange(n_seeds, dtype=np.int32)
    nearest = ndimage.distance_transform_edt(
        seed_id < 0, sampling=(full / nz, WRES, WRES), return_distances=False, return_indices=True
    )
    return seed_id[nearest[0], nearest[1], nearest[2]], seeds


def _anatomy(
    rng: np.random.Generator,
    view: str,
    shape_plan: dict[str, Any],
    volume: tuple[np.ndarray, np.ndarray],
    target: float,
) -> Anatomy:
    """Build one view of a breast and pick its gland compartments so its area PD is near ``target``."""
    size = dict(shape_plan["size"][view])
    field = shape_plan["field"]
    full = shape_plan["thickness"]
    breast, pectoral, distance, nip = _outline(rng, view, field, size)
    edge = shape_plan["edge"] * full / 2
    skin_mm, subfat = shape_plan["skin"], shape_plan["subfat"]
    thickness = _edge_profile(distance, full, edge)
    inner = _edge_profile(distance - skin_mm, full - 2 * skin_mm, edge - skin_mm)
    core = _edge_profile(distance - skin_mm - subfat, full - 2 * (skin_mm + subfat), edge - skin_mm - subfat)
    skin = thickness - inner
    ny, nx = breast.shape
    labels, seeds = volume
    nz = labels.shape[0]
    dz = full / nz
    zc = (np.arange(nz, dtype=np.float32) + 0.5) * dz - full / 2
    cell = shape_plan["compartment"]
    n_seeds = len(seeds)
    # Bend the flat Voronoi walls into lobulated curves: one smooth in-plane displacement field.
    waves = max(2.0, min(ny, nx) * WRES / (2.0 * cell))
    amp = 0.3 * cell / WRES
    iy = np.arange(ny)[:, None] + amp * octave_noise(rng, (ny, nx), waves, 3)
    ix = np.arange(nx)[None, :] + amp * octave_noise(rng, (ny, nx), waves, 3)
    iy = np.clip(np.rint(iy), 0, ny - 1).astype(np.intp)
    ix = np.clip(np.rint(ix), 0, nx - 1).astype(np.intp)
    labels = labels[:, iy, ix]
    # Partial-volume weight of each slab inside the gland-bearing core (no stepped contours).
    occupancy = np.clip((core / 2)[None] - np.abs(zc)[:, None, None], -dz / 2, dz / 2) / dz + 0.5
    occupancy *= ~pectoral[None]
    capable = occupancy > 0
    in_tissue = np.abs(zc)[:, None, None] < (inner / 2)[None]
    pix = np.broadcast_to(np.arange(ny * nx).reshape(1, ny, nx), labels.shape)
    cap_lab, cap_pix, cap_w = labels[capable], pix[capable], occupancy[capable]
    # Compartment score: central/subareolar preference + per-compartment noise + large-scale noise.
    sy, sx = seeds[:, 1] * WRES, seeds[:, 2] * WRES
    axis_y = size["yc"] + 0.0 * sx
    blob = octave_noise(rng, (ny // 8 + 1, nx // 8 + 1), 2.0, 3)
    score = (
        -((((sx / size["depth"]) - shape_plan["focus"]) / 0.45) ** 2)
        - ((sy - axis_y) / (0.75 * size["down"] + 0.75 * size["up"]) * 1.4) ** 2
        + shape_plan["scatter"] * rng.standard_normal(n_seeds)
        + 0.6 * blob[seeds[:, 1] // 8, seeds[:, 2] // 8]
    )
    gland_level = rng.uniform(0.78, 1.0, n_seeds)
    fat_level = rng.uniform(0.0, 0.12, n_seeds)
    texture = 1.0 + 0.25 * ndimage.zoom(octave_noise(rng, (ny // 2, nx // 2), 6.0), 2, order=1)[:ny, :nx]
    texture = np.pad(texture, ((0, ny - texture.shape[0]), (0, nx - texture.shape[1])), mode="edge")
    extra = _ducts(rng, (ny, nx), nip, shape_plan["lobules"]) * breast * ~pectoral
    region = breast & ~pectoral
    n_region = max(1, int(region.sum()))

    def gland_for(threshold: float) -> np.ndarray:
        level = np.where(score > threshold, gland_level, fat_level)
        g = np.bincount(cap_pix, weights=level[cap_lab] * cap_w, minlength=ny * nx).reshape(ny, nx) * dz
        return np.asarray(np.clip(g * texture + extra, 0.0, core), dtype=np.float32)

    def pd(threshold: float) -> float:
        g = gland_for(threshold)
        return 100.0 * float(((g > 0.5 * thickness) & region).sum()) / n_region

    lo, hi = float(score.min()) - 1.0, float(score.max()) + 1.0
    for _ in range(14):  # PD falls as the threshold rises
        mid = (lo + hi) / 2
        lo, hi = (mid, hi) if pd(mid) > target else (lo, mid)
    gland = gland_for((lo + hi) / 2)
    # Cooper's ligaments: compartment walls inside tissue with fat on one side, seen edge-on.
    fat_lab = ~(score > (lo + hi) / 2)
    wall = np.zeros(labels.shape, dtype=bool)
    wall[:, 1:, :] |= labels[:, 1:, :] != labels[:, :-1, :]
    wall[:, :, 1:] |= labels[:, :, 1:] != labels[:, :, :-1]
    wall &= in_tissue & fat_lab[labels]
    ligament = wall.sum(axis=0).astype(np.float32) * dz * shape_plan["ligament"]
    ligament = np.minimum(ndimage.gaussian_filter(ligament, 0.5), np.maximum(inner - gland, 0.0))
    muscle = np.where(pectoral, shape_plan["muscle"] * inner, 0.0).astype(np.float32)
    return Anatomy(breast, pectoral, thickness, skin, gland, ligament, muscle, distance, nip)


def _attenuation(a: Anatomy) -> np.ndarray:
    """Line integral of mu (dimensionless) per working pixel, Beer-Lambert."""
    fat = np.maximum(a.thickness - a.skin - a.gland - a.ligament - a.muscle, 0.0)
    mm = (
        MU["fat"] * fat
        + MU["gland"] * a.gland
        + MU["skin"] * a.skin
        + MU["ligament"] * a.ligament
        + MU["muscle"] * a.muscle
    )
    return np.asarray(mm / 10.0, dtype=np.float32)


@dataclass(frozen=True)
class Grid:
    """Detector pixels of one image in the canonical frame: pitch (mm) per axis and shape."""

    rows: int
    cols: int
    dx: float
    dy: float

    def to_px(self, x: float, y: float) -> tuple[float, float]:
        """Working-frame mm -> continuous pixel coordinates (top-left corner of pixel (0, 0) is 0)."""
        return float((x + WRES / 2) / self.dx), float((y + WRES / 2) / self.dy)

    def window(
        self, x: float, y: float, half: float, sub: int = 1
    ) -> tuple[slice, slice, np.ndarray, np.ndarray]:
        """Pixels within ``half`` mm of (x, y) and their (sub-sampled) centres in mm."""
        (u0, v0), (u1, v1) = self.to_px(x - half, y - half), self.to_px(x + half, y + half)
        cs = slice(max(0, math.floor(u0)), min(self.cols, math.ceil(u1)))
        rs = slice(max(0, math.floor(v0)), min(self.rows, math.ceil(v1)))
        off = (np.arange(sub) + 0.5) / sub
        xs = ((np.arange(cs.start, cs.stop)[:, None] + off).ravel()) * self.dx - WRES / 2
        ys = ((np.arange(rs.start, rs.stop)[:, None] + off).ravel()) * self.dy - WRES / 2
        mx, my = np.meshgrid(xs, ys)
        return rs, cs, mx, my


def _detector(a: Anatomy, acq: Acquisition) -> Grid:
    rows, cols = (round(s * WRES / acq.spacing_mm) for s in a.breast.shape)
    return Grid(rows, cols, a.breast.shape[1] * WRES / cols, a.breast.shape[0] * WRES / rows)


def _render(
    rng: np.random.Generator, a: Anatomy, acq: Acquisition, full: float, lesion: np.ndarray | None = None
) -> np.ndarray:
    """Project, add scatter, noise and blur, then apply For Presentation processing (uint16).

    ``lesion`` is an extra line integral on the detector grid (canonical frame): it attenuates the
    primary beam at full resolution and, through a working-grid copy, the scatter.
    """
    primary = np.exp(-_attenuation(a))
    lit = primary if lesion is None else primary * np.exp(-_upsample(lesion, *a.breast.shape))
    scatter = acq.spr * ndimage.gaussian_filter(lit * a.breast, 12.0 / WRES)
    expected = -np.log(np.clip(primary + scatter * a.breast, 1e-6, None)).astype(np.float32)
    # Periphery equalisation: lift the thin edge towards the plateau of a low-pass image.
    weight = ndimage.gaussian_filter(a.breast.astype(np.float32), 5.0 / WRES)
    low = ndimage.gaussian_filter(expected, 5.0 / WRES) / np.maximum(weight, 1e-3)
    plateau = float(np.median(expected[a.core_distance > 25.0])) if (a.core_distance > 25.0).any() else 1.0
    comp = acq.equalisation * np.clip(plateau - low, 0.0, None) * a.breast
    # Window anchored on physics, not on image content: fat and gland at the compressed thickness.
    a_fat = MU["fat"] * full / 10 - math.log1p(acq.spr)
    a_gland = MU["gland"] * full / 10 - math.log1p(acq.spr)
    lo = a_fat - (a_gland - a_fat) * acq.window[0]
    hi = a_gland + (a_gland - a_fat) * acq.window[1]
    rows, cols = (round(s * WRES / acq.spacing_mm) for s in a.breast.shape)
    up = _upsample(expected, rows, cols)
    inside_up = up > 1e-3  # air attenuates nothing: the skin line is where attenuation starts
    if lesion is not None:  # -log(P exp(-dA) + S) = -log(P + S) - log(share exp(-dA) + 1 - share)
        share = _upsample(primary / np.clip(primary + scatter * a.breast, 1e-6, None), rows, cols)
        up -= np.log(share * np.exp(-lesion) + (1.0 - share))
    # Quantum noise in the log domain: var(log N) = 1 / N for N = n0 exp(-A) detected quanta.
    n0 = acq.photons * (acq.spacing_mm / 0.1) ** 2
    noise = rng.standard_normal(up.shape, dtype=np.float32)
    noise *= np.exp(0.5 * up) * np.float32(1 / math.sqrt(n0))
    noise += up
    measured = ndimage.gaussian_filter(noise, acq.blur_px)
    measured += _upsample(comp.astype(np.float32), rows, cols)
    measured -= np.float32(lo)
    measured *= np.float32((LUT_SIZE - 1) / max(hi - lo, 1e-3))
    index = np.clip(measured, 0, LUT_SIZE - 1).astype(np.intp)
    index[~inside_up] = LUT_SIZE  # the last entry is the background
    return np.asarray(_display_lut(acq)[index], dtype=np.uint16)


def _upsample(image: np.ndarray, rows: int, cols: int) -> np.ndarray:
    """Separable linear interpolation to (rows, cols), pixel centres aligned."""

    def axis(n_in: int, n_out: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        pos = np.clip((np.arange(n_out, dtype=np.float32) + 0.5) * (n_in / n_out) - 0.5, 0, n_in - 1)
        i0 = np.floor(pos).astype(np.intp)
        i1 = np.minimum(i0 + 1, n_in - 1)
        return i0, i1, (pos - i0).astype(np.float32)

    y0, y1, wy = axis(image.shape[0], rows)
    x0, x1, wx = axis(image.shape[1], cols)
    tall = image[y0] * (1 - wy)[:, None] + image[y1] * wy[:, None]
    out = tall[:, x0] * (1 - wx)[None, :]
    out += tall[:, x1] * wx[None, :]
    return np.asarray(out, dtype=np.float32)


def _display_lut(acq: Acquisition) -> np.ndarray:
    """Sigmoid, log or gamma display curve as a table; one extra entry for the background."""
    x = np.linspace(0.0, 1.0, LUT_SIZE)
    if acq.lut == "sigmoid":
        k = acq.lut_param
        s0, s1 = 1 / (1 + math.exp(k * 0.45)), 1 / (1 + math.exp(-k * 0.55))
        y = (1 / (1 + np.exp(-k * (x - 0.45))) - s0) / (s1 - s0)
    elif acq.lut == "log":
        y = np.log1p(acq.lut_param * x) / math.log1p(acq.lut_param)
    else:
        y = x**acq.lut_param
    top = 2**acq.bits_stored - 1
    table = np.append(np.rint((0.04 + 0.93 * y) * top), 0.0).astype(np.uint16)
    return (top - table).astype(np.uint16) if acq.monochrome1 else table


def _plan(rng: np.random.Generator, category: str) -> dict[str, Any]:
    """Breast size/shape and tissue parameters shared by both breasts of a study."""
    dense = CATS.index(category) / 3
    thickness = THICKNESS_MM[category] + rng.uniform(-5, 5)
    depth = rng.uniform(65, 140) * (1.1 - 0.2 * dense)
    half = min(135.0, depth * rng.uniform(0.75, 1.15))
    # The smallest detector field (height, width in mm) that holds the breast; small fields allow
    # fine pixel spacings within the pixel budget.
    fits = [f for f in FIELDS if depth * 1.08 + 20 <= f[1] and 2 * half + 25 <= f[0]]
    field = fits[0] if fits else FIELDS[-1]
    cc = {"depth": depth, "yc": field[0] / 2 + rng.uniform(-10, 10), "exponent": rng.uniform(1.6, 2.2)}
    cc.update(up=half, down=half * rng.uniform(0.85, 1.1))
    mlo = {"depth": min(depth * 1.08, field[1] - 20), "yc": field[0] * rng.uniform(0.5, 0.62)}
    mlo.update(down=min(half * rng.uniform(0.7, 0.95), field[0] * 0.36), exponent=rng.uniform(1.8, 2.8))
    mlo.update(pect_top=depth * rng.uniform(0.3, 0.55), upper_exponent=rng.uniform(1.3, 2.2))
    mlo.update(up=mlo["yc"], axilla=mlo["pect_top"] * rng.uniform(1.15, 1.6))
    mlo["pect_left"] = mlo["yc"] * rng.uniform(0.6, 1.1)
    cc["depth"] = min(cc["depth"], field[1] - 15)
    return {
        "field": field,
        "thickness": thickness,
        "size": {"CC": cc, "MLO": mlo},
        "edge": rng.uniform(1.0, 2.5),
        "skin": rng.uniform(0.7, 1.5),
        "subfat": rng.uniform(2.0, 8.0) * (1.2 - 0.8 * dense),
        "compartment": rng.uniform(6.0, 14.0),
        "focus": rng.uniform(0.3, 0.55),
        "scatter": rng.uniform(0.3, 1.2),
        "lobules": rng.uniform(0.5, 3.0),
        "ligament": rng.uniform(0.15, 0.45),
        "muscle": rng.uniform(0.55, 0.9),
    }


def _acquisition(rng: np.random.Generator, field: tuple[float, float]) -> Acquisition:
    spacing = rng.uniform(0.05, 0.1)
    budget = MAX_PIXELS if field[0] * field[1] <= 30_000 else 7_200_000  # fine pitch on small fields only
    spacing = min(0.1, max(spacing, math.sqrt(field[0] * field[1] / budget)))
    lut = str(rng.choice(["sigmoid", "log", "gamma"]))
    param = {"sigmoid": rng.uniform(3, 8), "log": rng.uniform(2, 20), "gamma": rng.uniform(0.8, 1.6)}[lut]
    return Acquisition(
        spacing_mm=round(float(spacing), 4),
        bits_stored=int(rng.choice([12, 12, 13, 14, 14])),
        monochrome1=bool(rng.random() < 0.25),
        equalisation=float(rng.choice([0.0, rng.uniform(0.2, 0.6), rng.uniform(0.6, 1.0)])),
        lut=lut,
        lut_param=float(param),
        photons=float(rng.uniform(3000, 12000)),
        spr=float(rng.uniform(0.1, 0.35)),
        blur_px=float(rng.uniform(0.5, 1.0)),
        window=(float(rng.uniform(0.5, 1.3)), float(rng.uniform(0.0, 0.35))),
    )


@functools.lru_cache(maxsize=1)
def _template() -> tuple[pydicom.Dataset, ...]:
    """Headers borrowed once from the house generator, pixel data removed."""
    study = generate_mg_study(7, category="b", vendor="profile-b-100um")
    headers = []
    for ds in study.datasets:
        ds = copy.deepcopy(ds)
        del ds.PixelData
        headers.append(ds)
    return tuple(headers)


def _uid(seed: int, name: str) -> str:
    return str(generate_uid(entropy_srcs=["bench.alt_phantoms", str(seed), name]))


def _header(index: int, seed: int, pixels: np.ndarray, acq: Acquisition, thickness: float) -> pydicom.Dataset:
    ds = copy.deepcopy(_template()[index])
    lat = str(ds.ImageLaterality)
    sop = _uid(seed, f"sop{index}")
    ds.file_meta.MediaStorageSOPInstanceUID = pydicom.uid.UID(sop)
    ds.SOPInstanceUID = sop
    ds.StudyInstanceUID = _uid(seed, "study")
    ds.SeriesInstanceUID = _uid(seed, "series")
    ds.FrameOfReferenceUID = _uid(seed, f"for{lat}")
    ds.SourceImageSequence[0].ReferencedSOPInstanceUID = _uid(seed, f"raw{index}")
    when = dt.datetime(2025, 3, 3, 9, 0) + dt.timedelta(days=seed % 500, minutes=3 * (seed % 97))
    ds.StudyDate = ds.ContentDate = ds.AcquisitionDate = ds.InstanceCreationDate = when.strftime("%Y%m%d")
    ds.StudyTime = ds.ContentTime = ds.AcquisitionTime = ds.InstanceCreationTime = when.strftime("%H%M%S")
    ds.PatientName = f"ALTPHANTOM^{seed:04d}"
    ds.PatientID = f"AP{seed:08d}"
    ds.AccessionNumber = f"ALT{seed:07d}"[-16:]
    ds.StudyID = f"{seed % 10**8}"
    ds.Manufacturer = "breastgate alt phantom"
    ds.ManufacturerModelName = "Alt Phantom FFDM"
    ds.DeviceSerialNumber = "SN-ALT"
    ds.KVP = "28"
    ds.AnodeTargetMaterial = "TUNGSTEN"
    ds.FilterMaterial = "RHODIUM"
    ds.ImagerPixelSpacing = [f"{acq.spacing_mm:g}", f"{acq.spacing_mm:g}"]
    ds.BodyPartThickness = f"{thickness:.0f}"
    ds.Rows, ds.Columns = pixels.shape
    ds.BitsStored = acq.bits_stored
    ds.HighBit = acq.bits_stored - 1
    ds.PixelData = pixels.tobytes()
    top = 2**acq.bits_stored - 1
    ds.WindowCenter = [f"{top / 2:.0f}", f"{top * 0.55:.0f}"]
    ds.WindowWidth = [f"{top:.0f}", f"{top * 0.8:.0f}"]
    if "PixelPaddingValue" in ds:
        del ds.PixelPaddingValue
    if acq.monochrome1:
        ds.PhotometricInterpretation = "MONOCHROME1"
        ds.PresentationLUTShape = "INVERSE"
        ds.PixelIntensityRelationshipSign = 1  # higher values = more beam intensity
    else:
        ds.PhotometricInterpretation = "MONOCHROME2"
        ds.PresentationLUTShape = "IDENTITY"
        ds.PixelIntensityRelationshipSign = -1
    ds.DerivationDescription = "Synthetic phantom rendered by bench.alt_phantoms (independent model)"
    return ds


def _views(
    seed: int, category: str, attempt: int
) -> tuple[list[tuple[Anatomy, float]], dict[str, Any], float]:
    rng = np.random.default_rng([seed, attempt, 0xA17])
    plan = _plan(rng, category)
    target = float(rng.uniform(*TARGETS[category]))
    side_shift = float(rng.uniform(-2.0, 2.0))
    out = []
    volumes = {lat: _compartments(rng, plan) for lat in "RL"}  # CC and MLO see the same breast
    for lat, view in VIEWS:
        t = max(0.3, target + (side_shift if lat == "R" else -side_shift) + rng.uniform(-1.5, 1.5))
        anatomy = _anatomy(rng, view, plan, volumes[lat], t)
        out.append((anatomy, anatomy.percent_dense()))
    return out, plan, target


def generate_alt_study(
    seed: int,
    category: str | None = None,
    *,
    monochrome1: bool | None = None,
    lesions: Sequence[str] = (),
) -> PhantomStudy:
    """Deterministic 4-view study (R CC, L CC, R MLO, L MLO) from the independent model.

    Parameters
    ----------
    seed
        Determines everything: anatomy, acquisition, processing and UIDs.
    category
        Target density category "a".."d"; drawn evenly from ``seed`` when None.
    monochrome1
        Force MONOCHROME1 (True) or MONOCHROME2 (False); drawn from ``seed`` (1 in 4) when None.
        Everything else, pixels included, is the same: MONOCHROME1 stores ``2**BitsStored - 1 - v``.
    lesions
        Lesion kinds to add, each "mass" or "calcification_cluster", on a breast drawn from
        ``seed``. They are 3-D solids of this model projected with the anatomy (before scatter,
        noise, blur and the display LUT), seen on CC and MLO of their breast at the same distance
        from the nipple; the MLO projects the same solid turned 40-60 degrees about the breast axis.
        Without lesions the pixels are those of a study generated before this option existed.

    Notes
    -----
    ``truth["lesions"]`` follows ``breastgate.phantoms``: per lesion id, kind, laterality, shape,
    size_mm and per view the SOP Instance UID, centre [col, row] and bbox [c0, r0, c1, r1] in
    pixel coordinates of that image (top-left corner of the top-left pixel = (0, 0)); clusters
    also list their calcifications [[col, row], ...].

    ``truth["density"]["percent_dense"]`` is the mean over the four images of the dense AREA
    fraction: breast pixels (pectoral excluded) whose projected glandular fraction (gland thickness
    / total thickness along the ray) exceeds 0.5. Its category uses a < 10 <= b < 33 <= c < 65 <= d
    and is guaranteed to lie >= 3 points inside the band.
    """
    # Lazy: bench.alt_lesions imports this module's constants at its top level.
    from bench.alt_lesions import LESION_KINDS, draw_lesions, lesion_layer, lesion_truth, mirror_truth

    cat = category or CATS[int(np.random.default_rng([seed, 0xC47]).integers(0, 4))]
    if cat not in BANDS:
        raise ValueError(f"category must be one of a-d, got {cat!r}")
    unknown = [k for k in lesions if k not in LESION_KINDS]
    if unknown:
        raise ValueError(f"lesion kinds must be among {LESION_KINDS}, got {unknown}")
    low, high = BANDS[cat]
    for attempt in range(20):
        views, plan, target = _views(seed, cat, attempt)
        study_pd = float(np.mean([pd for _, pd in views]))
        if (cat == "a" or study_pd >= low + MARGIN) and (cat == "d" or study_pd <= high - MARGIN):
            break
        LOGGER.debug("alt phantom seed=%d attempt=%d pd=%.1f outside band %s", seed, attempt, study_pd, cat)
    else:
        raise RuntimeError(f"could not place seed {seed} inside category {cat}")
    rng = np.random.default_rng([seed, attempt, 0xD1C])
    acq = _acquisition(rng, plan["field"])
    if monochrome1 is not None:
        acq = dataclasses.replace(acq, monochrome1=monochrome1)
    drawn = draw_lesions(seed, attempt, lesions, views, plan["thickness"])
    tilt = math.radians(float(np.random.default_rng([seed, attempt, 0x7117]).uniform(40.0, 60.0)))
    datasets, per_image, seen = [], [], []
    for index, ((lat, view), (anatomy, pd)) in enumerate(zip(VIEWS, views, strict=True)):
        mine = [lesion for lesion in drawn if lesion.laterality == lat]
        grid = _detector(anatomy, acq)
        delta, marks = lesion_layer(mine, view, anatomy, grid, tilt) if mine else (None, [])
        pixels = _render(rng, anatomy, acq, plan["thickness"], delta)
        if lat == "R":  # canonical frame has the chest wall on the left; R images face the other way
            pixels = np.ascontiguousarray(pixels[:, ::-1])
            marks = [mirror_truth(mark, grid.cols) for mark in marks]
        ds = _header(index, seed, pixels, acq, plan["thickness"])
        datasets.append(ds)
        seen += [{"sop_instance_uid": str(ds.SOPInstanceUID), "view": view, **mark} for mark in marks]
        region = anatomy.breast & ~anatomy.pectoral
        per_image.append(
            {
                "sop_instance_uid": str(ds.SOPInstanceUID),
                "laterality": lat,
                "view": view,
                "percent_dense": round(pd, 4),
                "breast_area_cm2": round(float(region.sum()) * WRES**2 / 100, 2),
            }
        )
    breast_pd = {
        lat: float(np.mean([p["percent_dense"] for p in per_image if p["laterality"] == lat])) for lat in "LR"
    }
    study_uid = str(datasets[0].StudyInstanceUID)
    truth = {
        "schema": "breastgate.phantom-truth/1",
        "generator": "bench.alt_phantoms",
        "study_instance_uid": study_uid,
        "seed": seed,
        "vendor": "alt",
        "acquisition": {
            "pixel_spacing_mm": acq.spacing_mm,
            "bits_stored": acq.bits_stored,
            "photometric": "MONOCHROME1" if acq.monochrome1 else "MONOCHROME2",
            "equalisation": round(acq.equalisation, 3),
            "lut": acq.lut,
            "thickness_mm": round(plan["thickness"], 1),
        },
        "density": {
            "category": cat,
            "percent_dense": round((breast_pd["L"] + breast_pd["R"]) / 2, 4),
            "target_percent_dense": round(target, 2),
            "per_breast": {
                lat: {"category": cat, "percent_dense": round(v, 4)} for lat, v in breast_pd.items()
            },
            "per_image": per_image,
        },
        "lesions": [lesion_truth(lesion, seen) for lesion in drawn],
    }
    return PhantomStudy(study_uid, datasets, truth)
