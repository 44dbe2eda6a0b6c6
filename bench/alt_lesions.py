"""Lesions of the independent benchmark generator (``bench.alt_phantoms``).

Lesions are 3-D solids of that model, projected along the beam and added to the line integral of
the anatomy before scatter, noise, blur and the display LUT. Linear attenuation near 20 keV as in
``bench.alt_phantoms``: a mass is fibroglandular-like tissue 1.0-1.1 x gland; a calcification is
calcium hydroxyapatite, diluted (pure HA at 3.06 g/cm3 is ~20/cm), 12-20 x gland. The lesion
replaces the fat/gland mix of its ray, so the added line integral is the chord length times
(mu_lesion - mu_background) with mu_background from the local glandular fraction.

``bench.alt_phantoms`` imports this module lazily (inside ``generate_alt_study``), so the
module-level import of its constants below is not circular.
"""

from __future__ import annotations

import dataclasses
import math
from collections.abc import Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import numpy as np
from scipy import ndimage

from bench.alt_phantoms import MU, VIEWS, WRES

if TYPE_CHECKING:
    from bench.alt_phantoms import Anatomy, Grid

__all__ = ["LESION_KINDS", "AltLesion", "draw_lesions", "lesion_layer", "lesion_truth", "mirror_truth"]

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


def draw_lesions(
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


def lesion_layer(
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


def mirror_truth(mark: dict[str, Any], cols: int) -> dict[str, Any]:
    """Truth of a right-breast image: the canonical frame mirrored left-right."""
    out = dict(mark)
    c0, r0, c1, r1 = mark["bbox"]
    out["bbox"] = [cols - c1, r0, cols - c0, r1]
    out["centre"] = [cols - mark["centre"][0], mark["centre"][1]]
    if "calcifications" in mark:
        out["calcifications"] = [[cols - c, r] for c, r in mark["calcifications"]]
    return out


def lesion_truth(lesion: AltLesion, seen: list[dict[str, Any]]) -> dict[str, Any]:
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
