"""Anatomy of the DCE-MRI phantom: a prone bilateral axial breast volume as analytic shapes.

Coordinates are the patient's (LPS, mm): +x towards the patient's left, +y posterior, +z superior.
The anatomy is drawn in a *body* frame; a study's patient frame is the body frame shifted by
``offset_mm`` (its positioning), so a prior study of the same woman has the same body and another
offset. Tissues (fat, fibroglandular tissue with a 1/f texture, skin, nipple, subcutaneous fat,
pectoralis, chest wall/lung, heart with myocardium and blood pool) carry M0, T10 and extended-Tofts
parameters per voxel; vessels (tortuous tubes) and lesions are partial-volume components mixed in
the signal domain by :mod:`breastgate.phantoms.mri_render`.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import numpy.typing as npt
from scipy import ndimage

from breastgate.phantoms.dce_physics import HCT

__all__ = ["Breast", "DceAnatomy", "Heart", "TissueMaps", "Vessel", "plan_anatomy"]

Floats = npt.NDArray[np.floating[Any]]
F32 = npt.NDArray[np.float32]

#: M0, T10 (s), K^trans (min⁻¹), v_e, v_p per tissue (algorithms.md §3.5 ranges; fat short T1).
TISSUES: dict[str, tuple[float, float, float, float, float]] = {
    "air": (0.0, 1.0, 0.0, 1.0, 0.0),
    "lung": (0.05, 1.2, 0.0, 1.0, 0.0),
    "fat": (1.0, 0.31, 0.0, 1.0, 0.0),
    "fgt": (0.85, 1.3, 0.0, 0.4, 0.004),
    "skin": (0.8, 1.0, 0.015, 0.3, 0.01),
    "nipple": (0.75, 1.0, 0.12, 0.35, 0.03),
    "muscle": (0.65, 1.0, 0.05, 0.12, 0.03),
    "myocardium": (0.7, 1.1, 0.5, 0.25, 0.1),
    "blood": (0.9, 1.6, 0.0, 1.0, 1.0 - HCT),
}
#: Body-frame box (x, y, z mm) that holds both breasts of any seed: where the texture is defined.
TEXTURE_BOX = ((-180.0, -170.0, -115.0), (180.0, 30.0, 115.0))
BPE_KTRANS = {"minimal": 0.004, "mild": 0.012, "moderate": 0.026, "marked": 0.045}


@dataclass(frozen=True)
class Breast:
    """A half-ellipsoid-like breast on the chest wall: base centre (x, z), radii, depth, shape."""

    laterality: str
    x_mm: float
    z_mm: float
    a_mm: float  # lateral half-width of the base
    b_mm: float  # superior-inferior half-height of the base
    depth_mm: float
    power: float  # profile exponent: 2 ellipsoid, < 2 more conical
    taper: float  # 0.5 ellipsoid-like, 1 conical
    tip_dx_mm: float
    tip_dz_mm: float
    skin_mm: float
    fgt_threshold: float
    base_y_mm: float

    def level(self, x: Floats, y: Floats, z: Floats, shrink_mm: float = 0.0) -> Floats:
        """≤ 1 inside (``shrink_mm`` moves the surface inwards); u ≤ 0 (behind the base) is outside."""
        u = (self.base_y_mm - y) / (self.depth_mm - shrink_mm)
        uc = np.clip(u, 0.0, 1.0)
        xc = self.x_mm + uc * self.tip_dx_mm
        zc = self.z_mm + uc * self.tip_dz_mm
        r2 = ((x - xc) / (self.a_mm - shrink_mm)) ** 2 + ((z - zc) / (self.b_mm - shrink_mm)) ** 2
        profile = np.maximum(1.0 - uc**self.power, 1e-6) ** (2.0 * self.taper)
        out: Floats = np.where(u > 0, r2 / profile, 9.0)
        return out

    def bounds(self) -> tuple[tuple[float, float, float], tuple[float, float, float]]:
        """(low, high) corners (x, y, z mm) of a box holding the breast and its nipple."""
        dx, dz = abs(self.tip_dx_mm) + self.a_mm + 6.0, abs(self.tip_dz_mm) + self.b_mm + 6.0
        return (
            (self.x_mm - dx, self.base_y_mm - self.depth_mm - 6.0, self.z_mm - dz),
            (self.x_mm + dx, self.base_y_mm + 1.0, self.z_mm + dz),
        )

    @property
    def nipple_mm(self) -> tuple[float, float, float]:
        return (self.x_mm + self.tip_dx_mm, self.base_y_mm - self.depth_mm, self.z_mm + self.tip_dz_mm)


@dataclass(frozen=True)
class Heart:
    """An ellipsoid heart (myocardium shell around the blood pool) behind the chest wall."""

    centre_mm: tuple[float, float, float]
    radii_mm: tuple[float, float, float]
    wall_mm: float


@dataclass(frozen=True)
class Vessel:
    """A tortuous tube: centreline points (body mm) and a radius, blood-pool kinetics."""

    id: str
    laterality: str
    points_mm: Floats
    radius_mm: float

    @property
    def length_mm(self) -> float:
        return float(np.linalg.norm(np.diff(self.points_mm, axis=0), axis=1).sum())


@dataclass
class TissueMaps:
    """Per-voxel M0, T10, K^trans, k_ep, v_p of the background tissues (float32)."""

    m0: F32
    t10: F32
    ktrans: F32
    kep: F32
    vp: F32
    labels: npt.NDArray[np.uint8]


LABELS = {name: i for i, name in enumerate(TISSUES)}


@dataclass
class DceAnatomy:
    """Every random anatomical choice of a woman (body frame), drawn from her seed."""

    breasts: tuple[Breast, Breast]
    chest_radius_mm: float
    subcut_mm: float
    muscle_mm: float
    body_half_width_mm: float
    heart: Heart
    vessels: list[Vessel]
    texture: F32  # 1/f noise on a grid (z, y, x), unit variance
    texture_origin_mm: tuple[float, float, float]
    texture_step_mm: float
    bpe: str
    bpe_ktrans: float
    fat_m0: float
    extras: dict[str, float] = field(default_factory=dict)

    def chest_y(self, x: Floats) -> Floats:
        """y of the anterior surface of the pectoralis at lateral position x (curved chest wall)."""
        out: Floats = x**2 / (2 * self.chest_radius_mm)
        return out

    def texture_at(self, x: Floats, y: Floats, z: Floats) -> Floats:
        ox, oy, oz = self.texture_origin_mm
        s = self.texture_step_mm
        coords = np.stack([(z - oz) / s, (y - oy) / s, (x - ox) / s])
        out: Floats = ndimage.map_coordinates(self.texture, coords, order=1, mode="nearest")
        return out

    def maps(self, x: Floats, y: Floats, z: Floats) -> TissueMaps:
        """Tissue maps on the grid of axes ``x`` (C), ``y`` (R), ``z`` (K) (body mm; any shapes that
        ravel to those), shaped (K, R, C). Shapes are evaluated only inside their bounding boxes."""
        xs, ys, zs = (np.asarray(v, dtype=np.float64).ravel() for v in (x, y, z))
        shape = (len(zs), len(ys), len(xs))
        plane, rib_band = self._body_plane(xs, ys)
        label = np.broadcast_to(plane, shape).copy()
        for k in np.flatnonzero(np.sin(zs / 7.0) > 0.3):
            label[k][rib_band] = LABELS["muscle"]
        fgt_score = np.zeros(shape, dtype=np.float32)
        for breast in self.breasts:
            box = _box(xs, ys, zs, *breast.bounds())
            if box is not None:
                self._breast(breast, label[box], fgt_score[box], xs[box[2]], ys[box[1]], zs[box[0]])
        hx, hy, hz = self.heart.centre_mm
        box = _box(
            xs,
            ys,
            zs,
            np.subtract(self.heart.centre_mm, self.heart.radii_mm),
            np.add(self.heart.centre_mm, self.heart.radii_mm),
        )
        if box is not None:
            xb, yb, zb = xs[box[2]][None, None, :], ys[box[1]][None, :, None], zs[box[0]][:, None, None]
            rx, ry, rz = self.heart.radii_mm
            w = self.heart.wall_mm
            h = ((xb - hx) / rx) ** 2 + ((yb - hy) / ry) ** 2 + ((zb - hz) / rz) ** 2
            pool = ((xb - hx) / (rx - w)) ** 2 + ((yb - hy) / (ry - w)) ** 2 + ((zb - hz) / (rz - w)) ** 2
            view = label[box]
            behind = np.isin(view, (LABELS["lung"], LABELS["muscle"])) & (
                yb > self.chest_y(xb) + self.muscle_mm
            )
            view[behind & (h <= 1.0)] = LABELS["myocardium"]
            view[behind & (pool <= 1.0)] = LABELS["blood"]
        return self._to_maps(label, fgt_score)

    def _body_plane(self, xs: Floats, ys: Floats) -> tuple[npt.NDArray[np.uint8], npt.NDArray[np.bool_]]:
        """Axial labels of the trunk (the same on every slice) and the band where ribs are."""
        xb, yb = xs[None, :], ys[:, None]
        plane = np.full((len(ys), len(xs)), LABELS["air"], dtype=np.uint8)
        cy = self.chest_y(xb)
        inside_body = (np.abs(xb) < self.body_half_width_mm) & (yb > cy - self.subcut_mm)
        plane[inside_body] = LABELS["fat"]
        plane[inside_body & (yb < cy - self.subcut_mm + 2.0)] = LABELS["skin"]
        plane[inside_body & (yb >= cy) & (yb < cy + self.muscle_mm)] = LABELS["muscle"]
        behind = inside_body & (yb >= cy + self.muscle_mm)
        plane[behind] = LABELS["muscle"]  # chest wall and mediastinum
        half = self.body_half_width_mm
        top = self.muscle_mm + 4.0
        for side in (-1.0, 1.0):  # one lung per side, an ellipse in the axial plane
            cx, rx, ry = side * 0.5 * half, 0.4 * half, 0.9 * half
            lung = ((xb - cx) / rx) ** 2 + ((yb - (cy + top + ry)) / ry) ** 2 <= 1.0
            plane[behind & lung] = LABELS["lung"]
        plane[behind & (np.abs(xb) > half - 8.0)] = LABELS["fat"]
        return plane, behind & (yb < cy + self.muscle_mm + 6.0)

    def _breast(
        self,
        breast: Breast,
        label: npt.NDArray[np.uint8],
        fgt_score: F32,
        xs: Floats,
        ys: Floats,
        zs: Floats,
    ) -> None:
        """Label one breast (skin, fat, glandular tissue, nipple) in views of its bounding box."""
        xb, yb, zb = xs[None, None, :], ys[None, :, None], zs[:, None, None]
        cy = self.chest_y(xb)
        in_breast = breast.level(xb, yb, zb) <= 1.0
        label[in_breast & (label != LABELS["muscle"])] = LABELS["skin"]
        inner = breast.level(xb, yb, zb, breast.skin_mm)
        core = inner <= 1.0
        label[core & (yb < cy)] = LABELS["fat"]
        idx = core & (yb < cy - 2.0)
        if idx.any():
            shape = idx.shape
            px, py, pz = (np.broadcast_to(v, shape)[idx] for v in (xb, yb, zb))
            score = self.texture_at(px, py, pz) + 2.2 * (1.0 - inner[idx]) - 1.0
            fgt = score > breast.fgt_threshold
            where = np.nonzero(idx)
            chosen = tuple(w[fgt] for w in where)
            label[chosen] = LABELS["fgt"]
            fgt_score[chosen] = (score[fgt] - breast.fgt_threshold).astype(np.float32)
        nx, ny, nz = breast.nipple_mm
        d2 = (xb - nx) ** 2 + ((yb - ny) * 1.3) ** 2 + (zb - nz) ** 2
        label[(d2 < 25.0) & (yb > ny - 4.0)] = LABELS["nipple"]

    def _to_maps(self, label: npt.NDArray[np.uint8], fgt_score: Floats) -> TissueMaps:
        table = np.array(list(TISSUES.values()), dtype=np.float32)
        table[LABELS["fat"], 0] = self.fat_m0
        m0, t10, ktrans, ve, vp = (table[label, i] for i in range(5))
        fgt = label == LABELS["fgt"]
        if fgt.any():
            s = np.clip(fgt_score[fgt], 0.0, 2.0).astype(np.float32)
            # Denser, brighter glandular islands enhance more (patchy BPE), slow persistent kinetics.
            ktrans[fgt] = self.bpe_ktrans * (0.4 + 0.9 * s)
            t10[fgt] = 1.2 + 0.1 * np.clip(s, 0, 2)
            m0[fgt] = 0.8 + 0.05 * s
        kep = np.where(ve > 0, ktrans / ve, 0.0).astype(np.float32)
        return TissueMaps(m0, t10, ktrans, kep, vp, label)


def _box(xs: Floats, ys: Floats, zs: Floats, low: Any, high: Any) -> tuple[slice, slice, slice] | None:
    """Index slices (k, r, c) of the ascending axes within the box [low, high] (x, y, z), or None."""
    out = []
    for axis, lo, hi in ((zs, low[2], high[2]), (ys, low[1], high[1]), (xs, low[0], high[0])):
        a, b = int(np.searchsorted(axis, lo, "left")), int(np.searchsorted(axis, hi, "right"))
        if a >= b:
            return None
        out.append(slice(a, b))
    return out[0], out[1], out[2]


def _texture(rng: np.random.Generator, shape: tuple[int, ...], step_mm: float, beta: float) -> F32:
    """Gaussian noise with a 1/f^β power spectrum (β ≈ 3 for breast parenchyma), unit variance."""
    freqs = np.meshgrid(*(np.fft.fftfreq(n, d=step_mm) for n in shape), indexing="ij", sparse=True)
    f = np.sqrt(sum(g**2 for g in freqs))
    f[(0,) * len(shape)] = 1.0
    amp = f ** (-beta / 2.0) * np.exp(-((f * 4.0) ** 2))  # no structure finer than ~4 mm
    amp[(0,) * len(shape)] = 0.0
    noise = np.fft.ifftn(np.fft.fftn(rng.standard_normal(shape)) * amp).real
    out: F32 = ((noise - noise.mean()) / (noise.std() + 1e-12)).astype(np.float32)
    return out


def _vessels(rng: np.random.Generator, breast: Breast, start_index: int) -> list[Vessel]:
    out: list[Vessel] = []
    for _i in range(int(rng.integers(2, 6))):
        ang = rng.uniform(0, 2 * math.pi)
        rad = rng.uniform(0.3, 0.8)
        p = np.array(
            [
                breast.x_mm + rad * breast.a_mm * math.cos(ang),
                breast.base_y_mm - 3.0,
                breast.z_mm + rad * breast.b_mm * math.sin(ang),
            ]
        )
        target = np.array(breast.nipple_mm) + rng.normal(0, 10, 3)
        direction = (target - p) / np.linalg.norm(target - p)
        points = [p.copy()]
        length = rng.uniform(40, 130)
        step = 0.5
        for _ in range(int(length / step)):
            toward = (target - p) / max(float(np.linalg.norm(target - p)), 1.0)
            direction = 0.93 * direction + 0.05 * toward + rng.normal(0, 0.06, 3)
            direction /= np.linalg.norm(direction)
            p = p + step * direction
            lvl = breast.level(np.array(p[0]), np.array(p[1]), np.array(p[2]), breast.skin_mm + 2)
            if float(lvl) > 1.0:
                break
            points.append(p.copy())
        if len(points) > 20:
            out.append(
                Vessel(
                    f"V{start_index + len(out) + 1}",
                    breast.laterality,
                    np.array(points),
                    float(rng.uniform(0.7, 1.8)),
                )
            )
    return out


def _breast(rng: np.random.Generator, laterality: str, chest_radius: float, subcut: float) -> Breast:
    sign = 1.0 if laterality == "L" else -1.0
    x = sign * rng.uniform(62, 88)
    a = rng.uniform(45, 72)
    base_y = x**2 / (2 * chest_radius) - subcut + 1.0
    return Breast(
        laterality=laterality,
        x_mm=float(x),
        z_mm=float(rng.uniform(-12, 8)),
        a_mm=float(a),
        b_mm=float(a * rng.uniform(0.8, 1.05)),
        depth_mm=float(rng.uniform(45, 140)),
        power=float(rng.uniform(1.6, 2.6)),
        taper=float(rng.uniform(0.5, 1.0)),
        tip_dx_mm=float(sign * rng.uniform(-8, 12)),
        tip_dz_mm=float(rng.uniform(-15, 6)),
        skin_mm=float(rng.uniform(1.5, 2.5)),
        fgt_threshold=0.0,
        base_y_mm=float(base_y),
    )


def plan_anatomy(seed: int, texture_step_mm: float = 2.0) -> DceAnatomy:
    """Draw the woman of ``seed`` (body frame; the texture grid at ``texture_step_mm``)."""
    rng = np.random.default_rng(np.random.SeedSequence([seed, 0xD0CE]))
    chest_radius = float(rng.uniform(230, 420))
    subcut = float(rng.uniform(5, 18))
    right = _breast(rng, "R", chest_radius, subcut)
    left = _breast(rng, "L", chest_radius, subcut)
    # Mild asymmetry: the left breast is the right one's near-mirror image.
    left = Breast(**{**left.__dict__, "depth_mm": right.depth_mm * float(rng.uniform(0.9, 1.1))})
    step = max(2.0, texture_step_mm)
    lo, hi = np.array(TEXTURE_BOX[0]), np.array(TEXTURE_BOX[1])
    tshape = tuple(int(v) for v in np.ceil((hi - lo) / step)[::-1] + 1)
    texture = _texture(rng, tshape, step, float(rng.uniform(2.6, 3.2)))
    bpe = str(rng.choice(["minimal", "mild", "moderate", "marked"], p=[0.35, 0.35, 0.22, 0.08]))
    fgt_fraction = float(rng.uniform(0.08, 0.6))
    heart = Heart(
        centre_mm=(float(rng.uniform(5, 35)), float(rng.uniform(75, 100)), float(-rng.uniform(75, 110))),
        radii_mm=(float(rng.uniform(50, 65)), float(rng.uniform(40, 55)), float(rng.uniform(45, 60))),
        wall_mm=float(rng.uniform(8, 12)),
    )
    anatomy = DceAnatomy(
        breasts=(right, left),
        chest_radius_mm=chest_radius,
        subcut_mm=subcut,
        muscle_mm=float(rng.uniform(8, 18)),
        body_half_width_mm=float(rng.uniform(150, 180)),
        heart=heart,
        vessels=[],
        texture=texture,
        texture_origin_mm=TEXTURE_BOX[0],
        texture_step_mm=step,
        bpe=bpe,
        bpe_ktrans=BPE_KTRANS[bpe] * float(rng.uniform(0.8, 1.25)),
        fat_m0=float(rng.choice([1.0, rng.uniform(0.08, 0.2)], p=[0.6, 0.4])),
        extras={"fgt_fraction": fgt_fraction},
    )
    anatomy.breasts = tuple(_calibrate(anatomy, b, fgt_fraction) for b in anatomy.breasts)  # type: ignore[assignment]
    anatomy.vessels = _vessels(rng, anatomy.breasts[0], 0)
    anatomy.vessels += _vessels(rng, anatomy.breasts[1], len(anatomy.vessels))
    return anatomy


def _calibrate(anatomy: DceAnatomy, breast: Breast, fraction: float) -> Breast:
    """Pick the FGT threshold that makes ``fraction`` of the breast's interior glandular."""
    g = np.mgrid[-1:1:24j, 0:1:24j, -1:1:24j]
    x = breast.x_mm + g[0] * breast.a_mm
    y = breast.base_y_mm - g[1] * breast.depth_mm
    z = breast.z_mm + g[2] * breast.b_mm
    inner = breast.level(x, y, z, breast.skin_mm)
    idx = inner <= 1.0
    score = anatomy.texture_at(x[idx], y[idx], z[idx]) + 2.2 * (1.0 - inner[idx]) - 1.0
    threshold = float(np.quantile(score, 1.0 - fraction)) if score.size else 0.0
    return Breast(**{**breast.__dict__, "fgt_threshold": threshold})
