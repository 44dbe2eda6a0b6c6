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


# ---------------------------------------------------------------------------------------------
# Lesions: 3-D solids of this model, projected along the beam and added to the line integral.
# Linear attenuation near 20 keV as above: a mass is fibroglandular-like tissue 1.0-1.1 x gland;
# a calcification is calcium hydroxyapatite, diluted (pure HA at 3.06 g/cm3 is ~20/cm), 12-20 x
# gland. The lesion replaces the fat/gland mix of its ray, so the added line integral is the chord
# length times (mu_lesion - mu_background) with mu_background from the local glandular fraction.
LESION_KINDS = ("mass", "calcification_cluster")
MASS_MU_RATIO = (1.0, 1.1)
CALC_MU_RATIO = (12.0, 20.0)


@dataclass(frozen=True)
class Blob:
    """An ellipsoid (lesion frame, mm): centre, rotation (columns = axes) and semi-axes."""

    centre: np.ndarray
    rotation: np.ndarray
    axes: np.ndarray


@dataclass(frozen=True)
class Spicule:
    """A tapered 3-D spicule: root (lesion frame, mm), unit direction, length and base radius."""

    root: np.ndarray
    direction: np.ndarray
    length: float
    radius: float


@dataclass
class AltLesion:
    """One lesion of a study: its 3-D solid in a lesion frame and where each view sees its centre."""

    id: str
    kind: str
    laterality: str
    shape: str
    size_mm: float
    mu: float | list[float]  # 1/cm: one for a mass, one per calcification
    core: Blob | None = None
    lobes: list[tuple[int, float, np.ndarray]] = dataclasses.field(default_factory=list)
    spicules: list[Spicule] = dataclasses.field(default_factory=list)
    calcs: list[list[Blob]] = dataclasses.field(default_factory=list)
    d_nipple: float = 0.0
    at: dict[str, tuple[float, float]] = dataclasses.field(default_factory=dict)  # view -> (x, y) mm

    @property
    def radius(self) -> float:
        """Half-width (mm) the projected solid needs around its centre, spicules excluded."""
        if self.kind == "calcification_cluster":
            return float(max(np.linalg.norm(c[0].centre) for c in self.calcs)) + 1.0
        assert self.core is not None
        return float(self.core.axes.max() * (1.0 + sum(abs(a) for _, a, _ in self.lobes)))


def _rotation(rng: np.random.Generator) -> np.ndarray:
    q, r = np.linalg.qr(rng.standard_normal((3, 3)))
    return np.asarray(q * np.sign(np.diag(r)), dtype=np.float64)


def _unit(rng: np.random.Generator) -> np.ndarray:
    v = rng.standard_normal(3)
    return np.asarray(v / np.linalg.norm(v), dtype=np.float64)


def _draw_mass(rng: np.random.Generator, lesion: AltLesion) -> None:
    """Lobulated ellipsoid (zonal-harmonic perturbations) or ellipsoid core with tapered spicules."""
    size = lesion.size_mm
    axes = size / 2 * np.array([1.0, rng.uniform(0.7, 1.0), rng.uniform(0.6, 1.0)])
    lesion.core = Blob(np.zeros(3), _rotation(rng), axes)
    if lesion.shape == "lobulated":
        for _ in range(rng.integers(3, 6)):
            lesion.lobes.append((int(rng.integers(2, 6)), float(rng.uniform(0.05, 0.14)), _unit(rng)))
        return
    inverse = lesion.core.rotation @ np.diag(axes**-2.0) @ lesion.core.rotation.T
    for _ in range(rng.integers(8, 21)):
        u = _unit(rng)
        surface = 1.0 / math.sqrt(float(u @ inverse @ u))
        lesion.spicules.append(
            Spicule(0.85 * surface * u, u, rng.uniform(0.5, 1.5) * size / 2 + 2.0, rng.uniform(0.2, 0.45))
        )


def _draw_cluster(rng: np.random.Generator, lesion: AltLesion) -> None:
    """5-30 irregular calcifications (unions of 1-3 small ellipsoids) in a ~1 cm2 patch, 5 mm deep."""
    area = rng.uniform(60.0, 130.0)  # mm2
    ratio = rng.uniform(1.0, 2.0)
    a, b = math.sqrt(area * ratio / math.pi), math.sqrt(area / ratio / math.pi)
    turn = rng.uniform(0, math.pi)
    mus = []
    for _ in range(rng.integers(5, 31)):
        r, phi = math.sqrt(rng.random()), rng.uniform(0, 2 * math.pi)
        u, v = a * r * math.cos(phi), b * r * math.sin(phi)
        centre = np.array([u * math.cos(turn) - v * math.sin(turn), u * math.sin(turn) + v * math.cos(turn)])
        centre = np.append(centre, rng.uniform(-2.5, 2.5))
        diameter = rng.uniform(0.1, 0.5)
        parts = [
            Blob(
                centre + (0 if k == 0 else diameter / 4) * _unit(rng),
                _rotation(rng),
                diameter / 2 * rng.uniform(0.45, 1.0, 3),
            )
            for k in range(rng.integers(1, 4))
        ]
        lesion.calcs.append(parts)
        mus.append(MU["gland"] * rng.uniform(*CALC_MU_RATIO))
    lesion.mu = mus
    lesion.size_mm = round(2 * a, 1)


def _valid_columns(a: Anatomy, nipple_x: float, rad: float, need: float) -> dict[int, np.ndarray]:
    """Nipple distance (working pixels) -> rows where a lesion of half-width ``rad`` fits."""
    x = np.arange(a.breast.shape[1]) * WRES
    away = ndimage.distance_transform_edt(~a.pectoral, sampling=WRES) if a.pectoral.any() else np.inf
    ok = a.breast & (a.core_distance >= rad + 3.0) & (a.thickness >= need) & (away >= rad + 3.0)
    ok &= (x >= rad + 2.0)[None, :] & (x <= nipple_x - rad - 3.0)[None, :]
    out: dict[int, list[int]] = {}
    for j in np.flatnonzero(ok.any(axis=0)):
        out.setdefault(round((nipple_x - j * WRES) / WRES), []).extend(np.flatnonzero(ok[:, j]).tolist())
    return {k: np.array(v) for k, v in out.items()}


def _place(
    rng: np.random.Generator, lesion: AltLesion, pair: dict[str, tuple[Anatomy, float]], full: float
) -> None:
    """Put the lesion at one nipple distance along the breast axis in CC and MLO (rows drawn per view)."""
    for relax in (1.0, 0.6, 0.3, 0.0):
        need = relax * (2 * lesion.radius + 12.0)
        rad = relax * lesion.radius
        columns = {view: _valid_columns(a, nx, rad, min(need, 0.8 * full)) for view, (a, nx) in pair.items()}
        common = sorted(set(columns["CC"]) & set(columns["MLO"]))
        if common:
            break
    else:
        raise RuntimeError(f"no room for lesion {lesion.id}")
    k = common[int(rng.integers(len(common)))]
    lesion.d_nipple = k * WRES
    for view, (_, nipple_x) in pair.items():
        rows = columns[view][k]
        lesion.at[view] = (nipple_x - k * WRES, float(rows[int(rng.integers(len(rows)))]) * WRES)


def _draw_lesions(
    seed: int, attempt: int, kinds: Sequence[str], views: list[tuple[Anatomy, float]], full: float
) -> list[AltLesion]:
    """Draw each requested lesion (own random stream: lesion-free pixels stay as they were)."""
    rng = np.random.default_rng([seed, attempt, 0x1E5])
    out = []
    for n, kind in enumerate(kinds):
        lat = str(rng.choice(["L", "R"]))
        if kind == "mass":
            shape = str(rng.choice(["lobulated", "spiculated"]))
            size = round(float(rng.uniform(5.0, 30.0)), 1)
            lesion = AltLesion(
                f"alt-{kind}-{n}", kind, lat, shape, size, MU["gland"] * rng.uniform(*MASS_MU_RATIO)
            )
            _draw_mass(rng, lesion)
        else:
            lesion = AltLesion(f"alt-{kind}-{n}", kind, lat, "cluster", 0.0, 0.0)
            _draw_cluster(rng, lesion)
        pair = {view: views[i] for i, (la, view) in enumerate(VIEWS) if la == lat}
        nipples = {view: a.nipple[0] for view, (a, _) in pair.items()}
        _place(rng, lesion, {v: (pair[v][0], nipples[v]) for v in pair}, full)
        out.append(lesion)
    return out


def _view_frame(view: str, tilt: float) -> np.ndarray:
    """Lesion frame -> view frame: CC projects along z; MLO turns the breast about its axis (x)."""
    if view == "CC":
        return np.eye(3)
    c, s = math.cos(tilt), math.sin(tilt)
    return np.array([[1.0, 0.0, 0.0], [0.0, c, -s], [0.0, s, c]])


def _ellipsoid_chord(blob: Blob, frame: np.ndarray, x: np.ndarray, y: np.ndarray) -> np.ndarray:
    """Chord length (mm) along z through an ellipsoid; x, y in mm relative to the lesion centre."""
    rot = frame @ blob.rotation
    q = rot @ np.diag(blob.axes**-2.0) @ rot.T
    c = frame @ blob.centre
    px, py = x - c[0], y - c[1]
    lin = q[2, 0] * px + q[2, 1] * py
    quad = q[0, 0] * px * px + 2 * q[0, 1] * px * py + q[1, 1] * py * py - 1.0
    disc = lin * lin - q[2, 2] * quad
    return np.asarray(2.0 * np.sqrt(np.clip(disc, 0.0, None)) / q[2, 2], dtype=np.float32)


def _lobulated_chord(lesion: AltLesion, frame: np.ndarray, x: np.ndarray, y: np.ndarray) -> np.ndarray:
    """Chord (mm) through the lobulated solid: radius 1 + sum a_l P_l(n . u) in ellipsoid coordinates."""
    assert lesion.core is not None
    half = lesion.radius
    step = max(0.05, lesion.size_mm / 120)
    back = (frame @ lesion.core.rotation).T  # view frame -> ellipsoid axes
    chord = np.zeros(x.shape, dtype=np.float32)
    for z in np.arange(-half, half + step, step):
        p = back @ np.stack([x, y, np.full_like(x, z)]).reshape(3, -1)
        p = p / lesion.core.axes[:, None]
        r = np.linalg.norm(p, axis=0)
        u = p / np.maximum(r, 1e-9)
        bound = 1.0 + sum(
            amp * np.polynomial.legendre.Legendre.basis(deg)(n @ u) for deg, amp, n in lesion.lobes
        )
        chord += (r <= bound).reshape(x.shape).astype(np.float32) * np.float32(step)
    return chord


def _spicule_chord(sp: Spicule, frame: np.ndarray, x: np.ndarray, y: np.ndarray) -> np.ndarray:
    """Chord (mm) through a tapered spicule: a thin cone seen as cylinders of the local radius."""
    a, d = frame @ sp.root, frame @ sp.direction
    tilt = max(math.hypot(d[0], d[1]), 0.35)
    bx, by = d[0] * sp.length, d[1] * sp.length
    t = np.clip(((x - a[0]) * bx + (y - a[1]) * by) / max(bx * bx + by * by, 1e-9), 0.0, 1.0)
    dist2 = (x - a[0] - t * bx) ** 2 + (y - a[1] - t * by) ** 2
    radius = sp.radius * (1.0 - t)
    return np.asarray(2.0 * np.sqrt(np.clip(radius**2 - dist2, 0.0, None)) / tilt, dtype=np.float32)


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


def _excess_mu(a: Anatomy, x: np.ndarray, y: np.ndarray, mu: float) -> np.ndarray:
    """mu_lesion - mu of the fat/gland mix it displaces (1/mm), from the ray's glandular fraction."""
    g = ndimage.map_coordinates(a.glandular_fraction, [y / WRES, x / WRES], order=1, mode="nearest")
    return np.asarray((mu - (g * MU["gland"] + (1 - g) * MU["fat"])) / 10.0, dtype=np.float32)


def _mass_patch(
    lesion: AltLesion, at: tuple[float, float], a: Anatomy, grid: Grid, frame: np.ndarray, delta: np.ndarray
) -> dict[str, Any]:
    """Add the projected mass centred at ``at`` (mm) to ``delta``; truth in canonical pixels."""
    assert lesion.core is not None and isinstance(lesion.mu, float)
    x0, y0 = at
    reach = lesion.radius + max(
        (s.length + float(np.linalg.norm(s.root)) for s in lesion.spicules), default=0.0
    )
    rs, cs, mx, my = grid.window(x0, y0, reach + 0.5)
    if lesion.shape == "lobulated":
        step = max(0.05, lesion.size_mm / 120)
        g = np.arange(-lesion.radius - step, lesion.radius + 2 * step, step)
        gx, gy = np.meshgrid(g, g)
        coarse = _lobulated_chord(lesion, frame, gx, gy)
        where = [(my - y0 - g[0]) / step, (mx - x0 - g[0]) / step]
        chord = ndimage.map_coordinates(coarse, where, order=1, cval=0.0).astype(np.float32)
    else:
        chord = _ellipsoid_chord(lesion.core, frame, mx - x0, my - y0)
        for sp in lesion.spicules:
            chord += _spicule_chord(sp, frame, mx - x0, my - y0)
    delta[rs, cs] += chord * _excess_mu(a, mx, my, lesion.mu)
    r, c = np.nonzero(chord > 0.05 * chord.max())
    bbox = [
        float(cs.start + c.min()),
        float(rs.start + r.min()),
        float(cs.start + c.max() + 1),
        float(rs.start + r.max() + 1),
    ]
    return {"id": lesion.id, "centre": list(grid.to_px(x0, y0)), "bbox": bbox}


def _cluster_patch(
    lesion: AltLesion, at: tuple[float, float], a: Anatomy, grid: Grid, frame: np.ndarray, delta: np.ndarray
) -> dict[str, Any]:
    """Add the projected calcifications (4 x 4 sub-sampled per pixel) to ``delta``; truth."""
    assert isinstance(lesion.mu, list)
    x0, y0 = at
    sub, points = 4, []
    for parts, mu in zip(lesion.calcs, lesion.mu, strict=True):
        cx, cy, _ = frame @ parts[0].centre
        reach = max(float(np.linalg.norm(p.centre - parts[0].centre)) + p.axes.max() for p in parts) + 0.1
        rs, cs, mx, my = grid.window(x0 + cx, y0 + cy, reach, sub)
        chord = np.zeros(mx.shape, dtype=np.float32)
        for part in parts:
            chord = np.maximum(chord, _ellipsoid_chord(part, frame, mx - x0, my - y0))
        ny, nx = rs.stop - rs.start, cs.stop - cs.start
        mean = chord.reshape(ny, sub, nx, sub).mean(axis=(1, 3))
        delta[rs, cs] += mean * _excess_mu(a, mx[::sub, ::sub], my[::sub, ::sub], mu)
        points.append(list(grid.to_px(x0 + cx, y0 + cy)))
    arr = np.array(points)
    pad = 0.5 / grid.dx
    bbox = [*(arr.min(axis=0) - pad).tolist(), *(arr.max(axis=0) + pad).tolist()]
    return {"id": lesion.id, "centre": list(grid.to_px(x0, y0)), "bbox": bbox, "calcifications": points}


def _lesion_layer(
    lesions: list[AltLesion], view: str, a: Anatomy, grid: Grid, tilt: float
) -> tuple[np.ndarray, list[dict[str, Any]]]:
    """Extra line integral (canonical detector grid) of the lesions of this image, and their truth."""
    delta = np.zeros((grid.rows, grid.cols), dtype=np.float32)
    frame = _view_frame(view, tilt)
    truths = []
    for lesion in lesions:
        patch = _mass_patch if lesion.kind == "mass" else _cluster_patch
        truths.append(patch(lesion, lesion.at[view], a, grid, frame, delta))
    return delta, truths


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


def _mirror(mark: dict[str, Any], cols: int) -> dict[str, Any]:
    """Truth of a right-breast image: the canonical frame mirrored left-right."""
    out = dict(mark)
    c0, r0, c1, r1 = mark["bbox"]
    out["bbox"] = [cols - c1, r0, cols - c0, r1]
    out["centre"] = [cols - mark["centre"][0], mark["centre"][1]]
    if "calcifications" in mark:
        out["calcifications"] = [[cols - c, r] for c, r in mark["calcifications"]]
    return out


def _lesion_truth(lesion: AltLesion, seen: list[dict[str, Any]]) -> dict[str, Any]:
    """One lesion in the truth schema of ``breastgate.phantoms`` (views in CC, MLO order)."""
    views = [{k: v for k, v in mark.items() if k != "id"} for mark in seen if mark["id"] == lesion.id]
    mu = [round(m, 2) for m in lesion.mu] if isinstance(lesion.mu, list) else round(lesion.mu, 3)
    return {
        "id": lesion.id,
        "kind": lesion.kind,
        "shape": lesion.shape,
        "laterality": lesion.laterality,
        "size_mm": lesion.size_mm,
        "distance_from_nipple_mm": round(lesion.d_nipple, 1),
        "mu_per_cm": mu,
        "calcification_count": len(lesion.calcs),
        "views": views,
    }


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
    drawn = _draw_lesions(seed, attempt, lesions, views, plan["thickness"])
    tilt = math.radians(float(np.random.default_rng([seed, attempt, 0x7117]).uniform(40.0, 60.0)))
    datasets, per_image, seen = [], [], []
    for index, ((lat, view), (anatomy, pd)) in enumerate(zip(VIEWS, views, strict=True)):
        mine = [lesion for lesion in drawn if lesion.laterality == lat]
        grid = _detector(anatomy, acq)
        delta, marks = _lesion_layer(mine, view, anatomy, grid, tilt) if mine else (None, [])
        pixels = _render(rng, anatomy, acq, plan["thickness"], delta)
        if lat == "R":  # canonical frame has the chest wall on the left; R images face the other way
            pixels = np.ascontiguousarray(pixels[:, ::-1])
            marks = [_mirror(mark, grid.cols) for mark in marks]
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
        "lesions": [_lesion_truth(lesion, seen) for lesion in drawn],
    }
    return PhantomStudy(study_uid, datasets, truth)
