"""Lesions and look-alikes in synthetic FFDM views, with ground truth in each view's pixel coordinates.

A lesion lives in breast coordinates relative to the nipple: ``d`` mm behind the nipple along the
nipple axis, ``m`` mm medial and ``s`` mm superior of that axis. Its projection (reference
algorithms.md §7, 45° MLO): on the CC view the row offset from the nipple axis is ``+m`` (rows grow
medially on both sides, Patient Orientation A\\R and P\\L); on the MLO view it is
``(m - s)·cos 45°`` (rows grow inferiorly, image-up is superolateral). The distance from the
nipple along the axis is the same on both views, which is what CC/MLO correlation relies on.

Signals are added to the detector-resolution image before quantum noise, in display levels
(fraction of full scale) scaled by the local thickness factor:

- masses: projected thickness of an ellipsoid ``sqrt(1 - r²)`` with a boundary modulated by
  harmonics (oval / irregular), spicules for spiculated masses, edge blur for indistinct ones;
- calcification clusters: 5-30 calcifications of 0.1-0.5 mm within about 1 cm² (fine pleomorphic:
  bright, irregular and elongated; amorphous: small, faint, round), blurred by the detector;
- distractors that are not clusters: scattered round benign calcifications (≥ 15 mm apart),
  vascular calcifications (tram-track lines along a vessel), skin calcifications (within 2 mm of
  the skin line, lucent centre).
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field, replace
from typing import Any

import numpy as np
import numpy.typing as npt
from scipy import ndimage

__all__ = [
    "CALC_SHAPES",
    "MASS_SHAPES",
    "SKIN_HOLE_LEVEL",
    "SKIN_RING_LEVEL",
    "VESSEL_WALL",
    "VESSEL_WALL_LEVEL",
    "Calcification",
    "LesionRequest",
    "LesionSpec",
    "ViewContext",
    "calc_blob",
    "centre_mm",
    "clock_of",
    "clock_offsets",
    "distractor_rng",
    "draw_lesions",
    "mass_profile",
    "plan_lesions",
    "skin_spots",
    "vascular_walls",
]

FloatArray = npt.NDArray[np.float32]

MASS_SHAPES = ("round", "oval", "irregular", "spiculated")
CALC_SHAPES = ("fine_pleomorphic", "amorphous")
_COS45 = math.cos(math.radians(45.0))


@dataclass(frozen=True)
class LesionRequest:
    """What a caller asks for; any field left None is drawn from the study's lesion stream."""

    kind: str  # "mass" | "calcification_cluster"
    shape: str | None = None
    size_mm: float | None = None
    contrast: float | None = None  # fraction of the study's dense-tissue contrast (masses) or level
    laterality: str | None = None
    #: Placement by clock (whole hours facing the patient, algorithms.md §7) and distance behind
    #: the nipple along its axis (``d_mm``, as the truth's ``distance_from_nipple_mm``); with a
    #: clock, ``radial_mm`` is the offset from the nipple axis (default half the distance).
    clock: int | None = None
    distance_from_nipple_mm: float | None = None
    radial_mm: float | None = None


@dataclass(frozen=True)
class Calcification:
    """One calcification relative to the cluster centre (mm, in the projection plane)."""

    du: float
    dv: float
    diameter_mm: float
    elongation: float
    angle: float
    level: float


@dataclass(frozen=True)
class LesionSpec:
    """A lesion placed in breast coordinates (see module docstring)."""

    id: str
    kind: str
    shape: str
    laterality: str
    size_mm: float
    d_mm: float
    m_mm: float
    s_mm: float
    contrast: float
    malignant_looking: bool
    seed: int
    calcs: tuple[Calcification, ...] = ()
    distractor: str | None = None  # scattered_benign | vascular | skin (not a lesion)
    extra: dict[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class ViewContext:
    """What drawing needs from a rendered view (canonical orientation: chest wall at column 0)."""

    laterality: str
    view: str
    tip_mm: tuple[float, float]  # (x, y) of the nipple tip
    droop: float
    half_height_mm: float
    depth_mm: float
    px_mm: float  # detector pixel spacing
    ws_mm: float  # working grid spacing
    tissue: npt.NDArray[np.bool_]  # working grid: breast minus pectoral
    dist_mm: FloatArray  # working grid: distance from the skin line
    factor: FloatArray  # working grid: thickness factor multiplying display levels
    dense_contrast: float


def view_offset_mm(lesion: LesionSpec, view: str) -> float:
    """Row offset (mm) of the lesion from the nipple axis on the given view."""
    return lesion.m_mm if view == "CC" else (lesion.m_mm - lesion.s_mm) * _COS45


def centre_mm(lesion: LesionSpec, ctx: ViewContext) -> tuple[float, float]:
    """(x, y) in mm of the lesion centre on a view, canonical orientation."""
    tx, ty = ctx.tip_mm
    x = tx - lesion.d_mm
    y = ty - ctx.droop * lesion.d_mm + view_offset_mm(lesion, ctx.view)
    return x, y


def _inside(ctx: ViewContext, x: float, y: float, margin_mm: float) -> bool:
    r, c = round(y / ctx.ws_mm), round(x / ctx.ws_mm)
    h, w = ctx.tissue.shape
    if not (0 <= r < h and 0 <= c < w) or not ctx.tissue[r, c]:
        return False
    rad = max(1, math.ceil(margin_mm / ctx.ws_mm))
    window = ctx.tissue[max(r - rad, 0) : r + rad + 1, max(c - rad, 0) : c + rad + 1]
    return bool(window.all()) and float(ctx.dist_mm[r, c]) > margin_mm


def _draw_calcs(n: int, rng: np.random.Generator, shape: str, radius_mm: float) -> tuple[Calcification, ...]:
    calcs: list[Calcification] = []
    tries = 0
    while len(calcs) < n and tries < 50 * n:
        tries += 1
        rr = radius_mm * math.sqrt(float(rng.uniform(0, 1)))
        th = float(rng.uniform(0, 2 * math.pi))
        du, dv = rr * math.cos(th), rr * math.sin(th)
        if any(math.hypot(du - c.du, dv - c.dv) < 0.6 for c in calcs):
            continue
        if shape == "fine_pleomorphic":
            diameter, elong, level = rng.uniform(0.15, 0.5), rng.uniform(1.0, 2.5), rng.uniform(0.10, 0.22)
        else:
            diameter, elong, level = rng.uniform(0.1, 0.3), rng.uniform(1.0, 1.3), rng.uniform(0.06, 0.11)
        calcs.append(
            Calcification(du, dv, float(diameter), float(elong), float(rng.uniform(0, math.pi)), float(level))
        )
    return tuple(calcs)


def _sample_position(
    rng: np.random.Generator, contexts: dict[str, ViewContext], margin_mm: float
) -> tuple[float, float, float] | None:
    """(d, m, s) inside the tissue of every view of the breast, ``margin_mm`` from its edges."""
    cc, mlo = contexts.get("CC"), contexts.get("MLO")
    ref = cc or mlo
    if ref is None:
        return None
    for _ in range(200):
        d = float(rng.uniform(0.2, 0.8)) * ref.depth_mm
        m = float(rng.uniform(-0.55, 0.55)) * (cc or ref).half_height_mm * (1 - 0.5 * (1 - d / ref.depth_mm))
        s = float(rng.uniform(-0.5, 0.5)) * (mlo or ref).half_height_mm
        probe = LesionSpec("", "", "", "", 0, d, m, s, 0, False, 0)
        if all(_inside(ctx, *centre_mm(probe, ctx), margin_mm) for ctx in contexts.values()):
            return d, m, s
    return None


def clock_offsets(laterality: str, clock: float, radial_mm: float) -> tuple[float, float]:
    """(m, s) mm of a point ``radial_mm`` from the nipple axis at ``clock`` hours (facing the
    patient: 3 o'clock is lateral on the left breast, medial on the right)."""
    angle = clock / 12.0 * 2.0 * math.pi
    right_of_viewer = radial_mm * math.sin(angle)
    medial = right_of_viewer if laterality == "R" else -right_of_viewer
    return medial, radial_mm * math.cos(angle)


def clock_of(laterality: str, m_mm: float, s_mm: float) -> int:
    """Whole-hour clock (1-12, facing the patient) of the offsets ``m`` (medial), ``s`` (superior)."""
    right_of_viewer = m_mm if laterality == "R" else -m_mm
    angle = math.degrees(math.atan2(right_of_viewer, s_mm)) % 360.0
    return round(angle / 30.0) % 12 or 12


#: Scale factors tried on a clock placement that does not fit: nearest to the request first.
_FIT_FACTORS = tuple(sorted((1.0 + 0.05 * k for k in range(-18, 13) if k), key=lambda f: (abs(f - 1.0), f)))


def _clock_position(
    req: LesionRequest, lat: str, contexts: dict[str, ViewContext], margin_mm: float
) -> tuple[float, float, float] | None:
    """(d, m, s) of a lesion placed by clock and distance, scaled (radial offset first, then the
    distance) until it lies inside every view of the breast ``margin_mm`` from its edges."""
    ref = contexts.get("CC") or next(iter(contexts.values()))
    d0 = req.distance_from_nipple_mm if req.distance_from_nipple_mm is not None else 0.5 * ref.depth_mm
    r0 = req.radial_mm if req.radial_mm is not None else 0.5 * d0
    assert req.clock is not None
    for fd in (1.0, *_FIT_FACTORS):
        for fr in (1.0, *[f for f in _FIT_FACTORS if f < 1.0]):
            d, r = d0 * fd, r0 * fr
            m, s = clock_offsets(lat, req.clock, r)
            probe = LesionSpec("", "", "", "", 0, d, m, s, 0, False, 0)
            if all(_inside(ctx, *centre_mm(probe, ctx), margin_mm) for ctx in contexts.values()):
                return d, m, s
    return None


def plan_lesions(
    seed: int,
    requests: list[LesionRequest],
    contexts: dict[tuple[str, str], ViewContext],
    distractors: bool,
) -> list[LesionSpec]:
    """Place the requested lesions (and, if asked, distractors) in the breasts, deterministically."""
    rng = np.random.default_rng(np.random.SeedSequence([seed, 0x1E5105]))
    out: list[LesionSpec] = []
    for index, req in enumerate(requests):
        lat = req.laterality or str(rng.choice(["L", "R"]))
        per_view = {view: ctx for (side, view), ctx in contexts.items() if side == lat}
        dense_contrast = next(iter(per_view.values())).dense_contrast
        if req.kind == "mass":
            shape = req.shape or str(rng.choice(MASS_SHAPES))
            size = req.size_mm or float(rng.uniform(5.0, 30.0))
            contrast = req.contrast if req.contrast is not None else float(rng.uniform(0.35, 0.9))
            margin = 0.5 * size + 3.0
            malignant = shape in ("irregular", "spiculated")
            calcs: tuple[Calcification, ...] = ()
        elif req.kind == "calcification_cluster":
            shape = req.shape or str(rng.choice(CALC_SHAPES))
            n = int(rng.integers(5, 31))
            radius = float(rng.uniform(2.0, 5.0))
            calcs = _draw_calcs(n, rng, shape, radius)
            size = 2 * max(math.hypot(c.du, c.dv) for c in calcs) + 0.5
            contrast = req.contrast if req.contrast is not None else 1.0
            margin = radius + 4.0
            malignant = True
        else:
            raise ValueError(f"unknown lesion kind {req.kind!r}")
        if req.clock is not None:
            position = _clock_position(req, lat, per_view, margin)
        else:
            position = _sample_position(rng, per_view, margin)
        if position is None:
            continue
        d, m, s = position
        out.append(
            LesionSpec(
                id=f"lesion-{index + 1}",
                kind=req.kind,
                shape=shape,
                laterality=lat,
                size_mm=round(float(size), 2),
                d_mm=d,
                m_mm=m,
                s_mm=s,
                contrast=float(contrast) * (dense_contrast if req.kind == "mass" else 1.0),
                malignant_looking=malignant,
                seed=int(rng.integers(0, 2**31)),
                calcs=calcs,
                extra={}
                if req.clock is None
                else {"clock": clock_of(lat, m, s), "radial_mm": math.hypot(m, s)},
            )
        )
    if distractors:
        out.extend(_plan_distractors(rng, contexts))
    return out


def _plan_distractors(
    rng: np.random.Generator, contexts: dict[tuple[str, str], ViewContext]
) -> list[LesionSpec]:
    out: list[LesionSpec] = []
    for lat in ("L", "R"):
        per_view = {view: ctx for (side, view), ctx in contexts.items() if side == lat}
        if not per_view:
            continue
        kinds = [k for k in ("scattered_benign", "vascular", "skin") if rng.uniform() < 0.6]
        for kind in kinds:
            if kind == "scattered_benign":
                placed: list[tuple[float, float, float]] = []
                for _ in range(int(rng.integers(3, 9))):
                    pos = _sample_position(rng, per_view, 4.0)
                    if pos is None or any(math.dist(pos, p) < 15.0 for p in placed):
                        continue
                    placed.append(pos)
                    calc = Calcification(
                        0, 0, float(rng.uniform(0.6, 1.6)), 1.0, 0.0, float(rng.uniform(0.1, 0.25))
                    )
                    out.append(_distractor(kind, lat, pos, rng, (calc,), len(out)))
            elif kind == "vascular":
                pos = _sample_position(rng, per_view, 10.0)
                if pos is not None:
                    extra = {
                        "length_mm": float(rng.uniform(25, 60)),
                        "angle": float(rng.uniform(0, math.pi)),
                        "curvature": float(rng.uniform(-0.02, 0.02)),
                        "width_mm": float(rng.uniform(1.0, 2.0)),
                    }
                    spec = _distractor(kind, lat, pos, rng, (), len(out))
                    out.append(replace(spec, extra=extra))
            else:
                out.append(_distractor(kind, lat, (0.0, 0.0, 0.0), rng, (), len(out)))
    return out


def _distractor(
    kind: str,
    lat: str,
    pos: tuple[float, float, float],
    rng: np.random.Generator,
    calcs: tuple[Calcification, ...],
    index: int,
) -> LesionSpec:
    d, m, s = pos
    return LesionSpec(
        id=f"distractor-{index + 1}",
        kind="distractor",
        shape=kind,
        laterality=lat,
        size_mm=0.0,
        d_mm=d,
        m_mm=m,
        s_mm=s,
        contrast=1.0,
        malignant_looking=False,
        seed=int(rng.integers(0, 2**31)),
        calcs=calcs,
        distractor=kind,
    )


# --------------------------------------------------------------------------------------------------
# Drawing (canonical orientation, detector resolution, values in stored units)


def _factor_at(ctx: ViewContext, x: float, y: float) -> float:
    r = min(max(round(y / ctx.ws_mm), 0), ctx.factor.shape[0] - 1)
    c = min(max(round(x / ctx.ws_mm), 0), ctx.factor.shape[1] - 1)
    return float(ctx.factor[r, c])


def _patch(full: FloatArray, cx: float, cy: float, half: int) -> tuple[slice, slice, FloatArray, FloatArray]:
    """Slices of ``full`` around (cx, cy) pixels and the pixel-centre coordinates relative to it."""
    rows, cols = full.shape
    r0, r1 = max(int(cy) - half, 0), max(min(int(cy) + half + 1, rows), 0)
    c0, c1 = max(int(cx) - half, 0), max(min(int(cx) + half + 1, cols), 0)
    r1, c1 = max(r1, r0), max(c1, c0)
    yy, xx = np.mgrid[r0:r1, c0:c1].astype(np.float32)
    return slice(r0, r1), slice(c0, c1), xx - np.float32(cx), yy - np.float32(cy)


def mass_profile(lesion: LesionSpec, px: float) -> tuple[FloatArray, int, dict[str, Any]]:
    """Projected thickness (0..1) of a mass on a local grid centred on its centre; also extent info."""
    rng = np.random.default_rng(lesion.seed)
    radius = lesion.size_mm / 2.0 / px
    reach = 2.4 if lesion.shape == "spiculated" else 1.4
    half = math.ceil(radius * reach) + 4
    yy, xx = np.mgrid[-half : half + 1, -half : half + 1].astype(np.float32)
    aspect = 1.0 if lesion.shape == "round" else float(rng.uniform(1.3, 1.8))
    rot = float(rng.uniform(0, math.pi))
    u = xx * math.cos(rot) + yy * math.sin(rot)
    v = -xx * math.sin(rot) + yy * math.cos(rot)
    a, b = radius * math.sqrt(aspect), radius / math.sqrt(aspect)
    rho = np.hypot(u / a, v / b)
    theta = np.arctan2(v / b, u / a)
    bound = np.ones_like(rho)
    if lesion.shape in ("irregular", "spiculated"):
        for k in range(3, 8):
            bound += float(rng.uniform(0.04, 0.12)) * np.cos(k * theta + float(rng.uniform(0, 2 * math.pi)))
    r = rho / bound
    prof = np.sqrt(np.clip(1.0 - r * r, 0.0, 1.0)).astype(np.float32)
    if lesion.shape == "spiculated":
        spic = np.zeros_like(prof)
        for _ in range(int(rng.integers(10, 22))):
            ang = float(rng.uniform(0, 2 * math.pi))
            length = radius * float(rng.uniform(0.6, 1.4))
            width = max(0.35 / px, 1.0)
            dx, dy = math.cos(ang), math.sin(ang)
            along = xx * dx + yy * dy - 0.85 * radius
            across = np.abs(-xx * dy + yy * dx)
            taper = np.clip(1.0 - along / length, 0.0, 1.0)
            line = np.exp(-((across / (width * (0.3 + 0.7 * taper))) ** 2)) * taper * (along > -0.3 * radius)
            spic = np.maximum(spic, (0.45 * line).astype(np.float32))
        prof = np.maximum(prof, spic)
    blur = (0.8 if lesion.shape == "irregular" else 0.3) / px
    prof = ndimage.gaussian_filter(prof, blur).astype(np.float32)
    core = prof > 0.05
    rows_any, cols_any = np.nonzero(core)
    info = {
        "extent_px": (
            float(cols_any.min() - half),
            float(rows_any.min() - half),
            float(cols_any.max() - half + 1),
            float(rows_any.max() - half + 1),
        )
    }
    return prof, half, info


def calc_blob(full: FloatArray, cx: float, cy: float, calc: Calcification, px: float, amp: float) -> None:
    """Add one calcification (ellipse of the given diameter, detector blur σ ≈ 0.6 px) at (cx, cy)."""
    radius = calc.diameter_mm / 2.0 / px
    sx = math.sqrt((radius * math.sqrt(calc.elongation)) ** 2 / 2.0 + 0.36)
    sy = math.sqrt((radius / math.sqrt(calc.elongation)) ** 2 / 2.0 + 0.36)
    half = math.ceil(3 * max(sx, sy)) + 1
    rows, cols = full.shape
    if not (-half <= cx < cols + half and -half <= cy < rows + half):
        return  # outside the detector (a vessel or skin calcification running off the image)
    rs, cs, xx, yy = _patch(full, cx, cy, half)
    if xx.size == 0:
        return
    u = xx * math.cos(calc.angle) + yy * math.sin(calc.angle)
    v = -xx * math.sin(calc.angle) + yy * math.cos(calc.angle)
    # Integrated signal ∝ area; the peak falls when the calcification is smaller than the blur.
    area_ratio = (radius * radius) / (2.0 * sx * sy)
    peak = amp * min(1.0, 1.6 * area_ratio)
    full[rs, cs] += (peak * np.exp(-0.5 * ((u / sx) ** 2 + (v / sy) ** 2))).astype(np.float32)


def draw_lesions(
    full: FloatArray, ctx: ViewContext, lesions: list[LesionSpec], maxv: int, seed: int
) -> list[dict[str, Any]]:
    """Add every lesion of this breast to ``full`` (canonical orientation); return per-lesion truth.

    Truth entries give ``centre`` [col, row] and ``bbox`` [c0, r0, c1, r1] in DICOM image
    coordinates of the canonical orientation (the caller mirrors them for right breasts) and,
    for clusters, ``calcifications`` [[col, row], ...].
    """
    px = ctx.px_mm
    truths: list[dict[str, Any]] = []
    for lesion in lesions:
        if lesion.laterality != ctx.laterality:
            continue
        x, y = centre_mm(lesion, ctx)
        cx, cy = x / px, y / px
        scale = maxv * _factor_at(ctx, x, y)
        if lesion.kind == "mass":
            prof, half, info = mass_profile(lesion, px)
            r0, c0 = round(cy) - half, round(cx) - half
            rs = slice(max(r0, 0), min(r0 + prof.shape[0], full.shape[0]))
            cs = slice(max(c0, 0), min(c0 + prof.shape[1], full.shape[1]))
            sub = prof[rs.start - r0 : rs.stop - r0, cs.start - c0 : cs.stop - c0]
            full[rs, cs] += sub * np.float32(lesion.contrast * scale)
            e = info["extent_px"]
            ccol, crow = round(cx) + 0.5, round(cy) + 0.5
            bbox = [ccol + e[0] - 0.5, crow + e[1] - 0.5, ccol + e[2] - 0.5, crow + e[3] - 0.5]
            truths.append({"id": lesion.id, "centre": [ccol, crow], "bbox": bbox})
        elif lesion.kind == "calcification_cluster":
            points = []
            for calc in lesion.calcs:
                px_c, py_c = cx + calc.du / px, cy + calc.dv / px
                calc_blob(full, px_c, py_c, calc, px, calc.level * scale)
                points.append([px_c + 0.5, py_c + 0.5])
            arr = np.array(points)
            pad = 0.5 / px
            bbox = [
                float(arr[:, 0].min() - pad),
                float(arr[:, 1].min() - pad),
                float(arr[:, 0].max() + pad),
                float(arr[:, 1].max() + pad),
            ]
            truths.append(
                {"id": lesion.id, "centre": [cx + 0.5, cy + 0.5], "bbox": bbox, "calcifications": points}
            )
        else:
            _draw_distractor(full, ctx, lesion, cx, cy, scale, maxv)
    return truths


#: Distractor calcifications: a vessel wall element and the levels (fraction of full scale, before
#: the thickness factor) of vessel walls and of the rings and lucent centres of skin calcifications.
VESSEL_WALL = Calcification(0, 0, 0.25, 1.0, 0.0, 0.0)
VESSEL_WALL_LEVEL = 0.09
SKIN_RING_LEVEL, SKIN_HOLE_LEVEL = 0.18, -0.12


def distractor_rng(lesion: LesionSpec, view: str) -> np.random.Generator:
    """The stream that draws a distractor's details on one view (vessel gaps, skin spots)."""
    return np.random.default_rng([lesion.seed, len(view)])


def vascular_walls(
    lesion: LesionSpec, px: float, cx: float, cy: float, rng: np.random.Generator
) -> list[tuple[float, float, float]]:
    """Wall points (col, row, pixels) of a vascular distractor centred on (cx, cy): a broken tram
    track along a gently curved vessel; each with its distance along the track (pixels, 0 at the
    centre, negative before it)."""
    length, angle = lesion.extra["length_mm"] / px, lesion.extra["angle"]
    width, curv = lesion.extra["width_mm"] / px, lesion.extra["curvature"] * px
    t = np.arange(-length / 2, length / 2, 0.7)
    dx, dy = math.cos(angle), math.sin(angle)
    bend = curv * t * t
    xs, ys = cx + t * dx - bend * dy, cy + t * dy + bend * dx
    on = np.convolve(rng.uniform(size=t.size) < 0.75, np.ones(9), mode="same") > 3  # broken segments
    walls: list[tuple[float, float, float]] = []
    for xi, yi, ti, keep in zip(xs, ys, t, on, strict=True):
        if keep:
            walls.extend((xi - side * width * dy, yi + side * width * dx, ti) for side in (-0.5, 0.5))
    return walls


def skin_spots(ctx: ViewContext, rng: np.random.Generator) -> list[tuple[float, float, float]]:
    """Skin calcifications (col, row in pixels, ring diameter in mm): a few, 0.5-1.5 mm inside the
    skin line, within 4 mm of a point drawn on it; none when the working grid has no such band."""
    px = ctx.px_mm
    band = (ctx.dist_mm > 0.5) & (ctx.dist_mm < 1.5) & ctx.tissue
    rows, cols = np.nonzero(band)
    if rows.size == 0:
        return []
    pick = int(rng.integers(0, rows.size))
    r0, c0 = rows[pick] * ctx.ws_mm / px, cols[pick] * ctx.ws_mm / px
    spots = []
    for _ in range(int(rng.integers(3, 7))):
        rr, cc = r0 + rng.uniform(-40, 40) * 0.1 / px, c0 + rng.uniform(-40, 40) * 0.1 / px
        r_w, c_w = int(rr * px / ctx.ws_mm), int(cc * px / ctx.ws_mm)
        if not (0 <= r_w < band.shape[0] and 0 <= c_w < band.shape[1]) or ctx.dist_mm[r_w, c_w] > 2.0:
            continue
        if not ctx.tissue[r_w, c_w]:
            continue
        spots.append((cc, rr, float(rng.uniform(0.5, 1.0))))
    return spots


def _draw_distractor(
    full: FloatArray, ctx: ViewContext, lesion: LesionSpec, cx: float, cy: float, scale: float, maxv: int
) -> None:
    px = ctx.px_mm
    rng = distractor_rng(lesion, ctx.view)
    if lesion.distractor == "scattered_benign":
        for calc in lesion.calcs:
            calc_blob(full, cx, cy, calc, px, calc.level * scale)
    elif lesion.distractor == "vascular":
        for x, y, _ in vascular_walls(lesion, px, cx, cy, rng):
            calc_blob(full, x, y, VESSEL_WALL, px, VESSEL_WALL_LEVEL * scale)
    elif lesion.distractor == "skin":
        # Calcifications with lucent centres: a ring minus a hole of half its diameter.
        for cc, rr, diameter in skin_spots(ctx, rng):
            ring = Calcification(0, 0, diameter, 1.0, 0.0, 0.0)
            local = maxv * _factor_at(ctx, cc * px, rr * px)
            calc_blob(full, cc, rr, ring, px, SKIN_RING_LEVEL * local)
            hole = Calcification(0, 0, ring.diameter_mm * 0.5, 1.0, 0.0, 0.0)
            calc_blob(full, cc, rr, hole, px, SKIN_HOLE_LEVEL * local)
