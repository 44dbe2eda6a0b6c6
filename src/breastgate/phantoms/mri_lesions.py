"""Enhancing lesions of the DCE-MRI phantom: lobulated ellipsoids with extended-Tofts kinetics.

A lesion's kinetics are drawn for a target curve type (I persistent, II plateau, III washout) and
kept only when the class recomputed from its own noise-free signal curve, with the study's
sequence and phase times, is that type with a margin from the class boundaries (so noise does not
flip the truth). The truth always comes from the recomputed curve (:func:`lesion_truth`), never
from the target. A heterogeneous lesion has a washout rim around a persistent (or necrotic) core;
its truth is the worst curve of its parts.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from functools import partial
from typing import Any

import numpy as np
import numpy.typing as npt

from breastgate.phantoms.dce_physics import (
    CurveClass,
    TissueKinetics,
    ToftsTable,
    classify_curve,
    spgr,
)
from breastgate.phantoms.dce_physics import (
    Sequence as MrSequence,
)
from breastgate.phantoms.errors import PhantomError
from breastgate.phantoms.mri_anatomy import Breast

__all__ = ["CURVE_TYPES", "DceLesion", "DceLesionRequest", "place_lesions"]

Floats = npt.NDArray[np.floating[Any]]
CURVE_TYPES = ("I", "II", "III")
_MARGIN_DELAYED = 3.0  # percentage points from ±10 %
_MARGIN_INITIAL = 8.0  # percentage points from 50 % and 100 %
#: A lobe: centre (x, y, z mm) and semi-axes (mm) along the lesion's rotated axes.
Lobe = tuple[tuple[float, ...], tuple[float, ...]]
_RIM = 0.65  # normalised radius beyond which a heterogeneous lesion's rim starts


@dataclass(frozen=True)
class DceLesionRequest:
    """What a caller asks for; ``None`` fields are drawn from the seed."""

    curve_type: str | None = None
    diameter_mm: float | None = None
    laterality: str | None = None
    heterogeneous: bool | None = None
    #: Placement by clock (whole hours facing the patient: 3 = the patient's left) and distance
    #: from the nipple tip (3-D, as the truth's ``distance_from_nipple_mm``); ``radial_mm`` is
    #: the offset from the nipple axis (default half the distance). None: drawn as before.
    clock: int | None = None
    distance_from_nipple_mm: float | None = None
    radial_mm: float | None = None

    def __post_init__(self) -> None:
        if self.curve_type is not None and self.curve_type not in CURVE_TYPES:
            raise PhantomError(f"curve_type must be one of {CURVE_TYPES}, got {self.curve_type!r}")
        if self.diameter_mm is not None and not 4.0 <= self.diameter_mm <= 40.0:
            raise PhantomError(f"lesion diameter must be within 4-40 mm, got {self.diameter_mm}")
        if self.laterality is not None and self.laterality not in ("L", "R"):
            raise PhantomError(f"laterality must be 'L' or 'R', got {self.laterality!r}")
        if self.clock is not None and not 1 <= self.clock <= 12:
            raise PhantomError(f"clock must be 1-12, got {self.clock}")


@dataclass(frozen=True)
class DceLesion:
    """One lesion in the body frame: lobes (centres, semi-axes, shared rotation) and kinetics."""

    id: str
    laterality: str
    centre_mm: tuple[float, float, float]
    rotation: Floats  # 3x3, columns are the lesion's axes in body coordinates
    lobes: tuple[Lobe, ...]
    rim: TissueKinetics
    core: TissueKinetics | None  # None: homogeneous
    t10_s: float
    m0: float
    target_type: str

    def scaled(self, factor: float) -> DceLesion:
        """The same lesion with every lobe ``factor`` times smaller about the centre (a prior)."""
        c = np.array(self.centre_mm)
        lobes = tuple(
            (tuple(float(v) for v in c + factor * (np.array(lc) - c)), tuple(r * factor for r in radii))
            for lc, radii in self.lobes
        )
        return DceLesion(**{**self.__dict__, "lobes": lobes})

    @property
    def reach_mm(self) -> float:
        """Radius of a sphere about the centre holding the whole lesion."""
        c = np.array(self.centre_mm)
        return max(float(np.linalg.norm(np.array(lc) - c)) + max(r) for lc, r in self.lobes)

    def distance(self, x: Floats, y: Floats, z: Floats) -> Floats:
        """Normalised distance to the lobe union (≤ 1 inside) and the local semi-axis scale (mm)."""
        best = np.full(np.broadcast_shapes(x.shape, y.shape, z.shape), np.inf)
        for centre, radii in self.lobes:
            d = (x - centre[0], y - centre[1], z - centre[2])
            local = [sum(self.rotation[k, j] * d[k] for k in range(3)) / radii[j] for j in range(3)]
            best = np.minimum(best, np.sqrt(local[0] ** 2 + local[1] ** 2 + local[2] ** 2))
        return best

    def kinetics_at(self, d: Floats) -> tuple[Floats, Floats, Floats]:
        """K^trans, k_ep, v_p at normalised distances ``d`` (rim and core of a heterogeneous lesion)."""
        parts = [self.rim] if self.core is None else [self.core, self.rim]
        rim = d > _RIM if self.core is not None else np.ones(d.shape, dtype=bool)
        out = []
        for attr in ("ktrans", "kep", "vp"):
            values = np.where(rim, getattr(self.rim, attr), getattr(parts[0], attr))
            out.append(values.astype(np.float64))
        return out[0], out[1], out[2]

    def curves(self, table: ToftsTable, seq: MrSequence, step_mm: float = 0.5) -> dict[str, Floats]:
        """Noise-free mean signal curves ("mean", and "rim"/"core" if heterogeneous) over the lesion."""
        pts, d = self.sample(step_mm)
        del pts
        ktrans, kep, vp = self.kinetics_at(d)
        signal = np.array(
            [
                spgr(self.m0, self.t10_s, table.concentration(p, ktrans, kep, vp), seq)
                for p in range(len(table.times))
            ]
        )
        out = {"mean": signal.mean(axis=1)}
        if self.core is not None:
            rim = d > _RIM
            out["rim"], out["core"] = signal[:, rim].mean(axis=1), signal[:, ~rim].mean(axis=1)
        return out

    def sample(self, step_mm: float = 0.5) -> tuple[Floats, Floats]:
        """Grid points (N, 3) inside the lesion and their normalised distances."""
        reach = self.reach_mm
        step = min(step_mm, min(min(r) for _, r in self.lobes) / 4)
        axis = np.arange(-reach, reach + step, step)
        c = self.centre_mm
        x, y, z = np.meshgrid(axis + c[0], axis + c[1], axis + c[2], indexing="ij")
        d = self.distance(x, y, z)
        inside = d <= 1.0
        return np.stack([x[inside], y[inside], z[inside]], axis=1), d[inside]


def _draw_kinetics(rng: np.random.Generator, curve_type: str) -> TissueKinetics:
    if curve_type == "I":
        kep = rng.uniform(0.03, 0.11)
        ve = rng.uniform(0.35, 0.9)
        vp = rng.uniform(0.0, 0.03)
    elif curve_type == "II":
        kep = rng.uniform(0.22, 0.38)
        ve = rng.uniform(0.35, 0.7)
        vp = rng.uniform(0.0, 0.04)
    else:
        kep = rng.uniform(0.55, 1.6)
        ve = rng.uniform(0.2, 0.5)
        vp = rng.uniform(0.02, 0.08)
    return TissueKinetics(float(kep * ve), float(ve), float(vp))


def _clear(c: CurveClass, curve_type: str) -> bool:
    """The class is ``curve_type`` and away from the boundaries by the margins."""
    return (
        c.curve_type == curve_type
        and abs(abs(c.delayed_pct) - 10.0) >= _MARGIN_DELAYED
        and abs(c.initial_pct - 50.0) >= _MARGIN_INITIAL
        and abs(c.initial_pct - 100.0) >= _MARGIN_INITIAL
    )


def _kinetics_for(
    rng: np.random.Generator, curve_type: str, t10: float, table: ToftsTable, seq: MrSequence
) -> TissueKinetics:
    """Draw kinetics until the noise-free curve clearly has ``curve_type`` (a few tries at most)."""
    kin = _draw_kinetics(rng, curve_type)
    for _ in range(200):
        conc = [
            table.concentration(p, np.array(kin.ktrans), np.array(kin.kep), np.array(kin.vp))
            for p in range(len(table.times))
        ]
        if _clear(classify_curve(spgr(1.0, t10, np.array(conc), seq)), curve_type):
            return kin
        kin = _draw_kinetics(rng, curve_type)
    return kin  # the truth is recomputed from the curve anyway


def _random_rotation(rng: np.random.Generator) -> Floats:
    q, r = np.linalg.qr(rng.standard_normal((3, 3)))
    out: Floats = q * np.sign(np.diag(r))
    return out


def _centre(rng: np.random.Generator, breast: Breast, reach: float) -> tuple[float, float, float] | None:
    for _ in range(400):
        u = rng.uniform(0.15, 0.85)
        ang = rng.uniform(0, 2 * math.pi)
        rad = math.sqrt(rng.uniform(0, 1)) * math.sqrt(max(1 - u**breast.power, 0.0)) * 0.75
        x = breast.x_mm + u * breast.tip_dx_mm + rad * breast.a_mm * math.cos(ang)
        z = breast.z_mm + u * breast.tip_dz_mm + rad * breast.b_mm * math.sin(ang)
        y = breast.base_y_mm - u * breast.depth_mm
        shrink = reach + breast.skin_mm + 3.0
        if min(breast.a_mm, breast.b_mm, breast.depth_mm) <= shrink + 1:
            continue
        if float(breast.level(np.array(x), np.array(y), np.array(z), shrink)) <= 1.0:
            return float(x), float(y), float(z)
    return None


#: Scale factors tried on a clock placement that does not fit: nearest to the request first.
_FIT_FACTORS = tuple(sorted((1.0 + 0.05 * k for k in range(-18, 13)), key=lambda f: (abs(f - 1.0), f)))


def _room(where: tuple[float, float, float], reach: float, others: Sequence[DceLesion]) -> bool:
    """Whether a lesion of ``reach`` at ``where`` keeps 5 mm from every one of ``others``."""
    return all(np.linalg.norm(np.subtract(where, o.centre_mm)) > reach + o.reach_mm + 5 for o in others)


def _clock_centre(
    req: DceLesionRequest, breast: Breast, reach: float, clear: Callable[[tuple[float, float, float]], bool]
) -> tuple[float, float, float] | None:
    """Centre (body frame) at the requested clock and 3-D distance from the nipple: ``d`` along
    the breast's axis behind the nipple, ``radial_mm`` across it; the radial offset, then the
    distance, scaled until the lesion lies ``reach`` + skin + 3 mm inside the breast and is
    ``clear`` of the other lesions."""
    assert req.clock is not None
    dist = req.distance_from_nipple_mm if req.distance_from_nipple_mm is not None else 0.5 * breast.depth_mm
    radial = min(req.radial_mm if req.radial_mm is not None else 0.5 * dist, 0.95 * dist)
    angle = req.clock / 12.0 * 2.0 * math.pi
    shrink = reach + breast.skin_mm + 3.0
    for fd in _FIT_FACTORS:
        for fr in [f for f in _FIT_FACTORS if f <= 1.0]:
            r = radial * fr
            d = math.sqrt(max((dist * fd) ** 2 - r * r, 0.0))
            u = 1.0 - d / breast.depth_mm
            if not 0.0 < u < 1.0:
                continue
            x = breast.x_mm + u * breast.tip_dx_mm + r * math.sin(angle)  # +x: the patient's left
            z = breast.z_mm + u * breast.tip_dz_mm + r * math.cos(angle)  # +z: superior
            y = breast.base_y_mm - u * breast.depth_mm
            inside = float(breast.level(np.array(x), np.array(y), np.array(z), shrink)) <= 1.0
            if inside and clear((float(x), float(y), float(z))):
                return float(x), float(y), float(z)
    return None


def place_lesions(
    rng: np.random.Generator,
    requests: Sequence[DceLesionRequest],
    breasts: tuple[Breast, Breast],
    table: ToftsTable,
    seq: MrSequence,
    avoid: Sequence[DceLesion] = (),
    prefix: str = "M",
) -> list[DceLesion]:
    """Place the requested lesions inside the breasts, apart from each other and from ``avoid``;
    ids are ``prefix`` + 1, 2..."""
    placed: list[DceLesion] = []
    for req in requests:
        lat = req.laterality or str(rng.choice(["L", "R"]))
        breast = breasts[0] if lat == "R" else breasts[1]
        curve_type = req.curve_type or str(rng.choice(CURVE_TYPES, p=[0.35, 0.3, 0.35]))
        diameter = req.diameter_mm or float(np.exp(rng.uniform(math.log(5), math.log(30))))
        diameter = min(diameter, 0.5 * min(breast.a_mm, breast.b_mm, breast.depth_mm))
        hetero = req.heterogeneous if req.heterogeneous is not None else bool(rng.random() < 0.5)
        hetero = hetero and curve_type == "III" and diameter >= 10
        radii = tuple(
            sorted(
                (diameter / 2 * f for f in (1.0, rng.uniform(0.6, 1.0), rng.uniform(0.5, 0.9))), reverse=True
            )
        )
        lobes_rel: list[Lobe] = [((0.0, 0.0, 0.0), radii)]
        for _ in range(int(rng.integers(0, 3)) if diameter >= 8 else 0):
            off = rng.normal(0, 1, 3)
            off = off / np.linalg.norm(off) * radii[0] * rng.uniform(0.4, 0.7)
            lobes_rel.append((tuple(float(v) for v in off), tuple(r * rng.uniform(0.4, 0.65) for r in radii)))
        reach = max(float(np.linalg.norm(o)) + max(r) for o, r in lobes_rel)
        clear = partial(_room, reach=reach, others=(*avoid, *placed))
        centre = None
        for _ in range(20 if req.clock is None else 1):
            centre = (
                _centre(rng, breast, reach) if req.clock is None else _clock_centre(req, breast, reach, clear)
            )
            if centre is not None and clear(centre):
                break
            centre = None
        if centre is None:
            raise PhantomError(f"no room for a {diameter:.0f} mm lesion in the {lat} breast")
        rotation = _random_rotation(rng)
        lobes = tuple(
            (tuple(float(v) for v in np.array(centre) + rotation @ np.array(o)), tuple(float(r) for r in rr))
            for o, rr in lobes_rel
        )
        t10 = float(rng.uniform(1.0, 1.5))
        rim = _kinetics_for(rng, curve_type, t10, table, seq)
        core = None
        if hetero:
            core = (
                TissueKinetics(0.0, 0.5, 0.0)
                if rng.random() < 0.3
                else _kinetics_for(rng, "I", t10, table, seq)
            )
        placed.append(
            DceLesion(
                id=f"{prefix}{len(placed) + 1}",
                laterality=lat,
                centre_mm=centre,
                rotation=rotation,
                lobes=lobes,
                rim=rim,
                core=core,
                t10_s=t10,
                m0=float(rng.uniform(0.75, 0.9)),
                target_type=curve_type,
            )
        )
    return placed
