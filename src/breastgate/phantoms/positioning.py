"""Positioning ground truth of phantom studies: nipple, posterior nipple line, pectoral muscle.

Geometry follows the renderer (:mod:`breastgate.phantoms.anatomy`): canonical orientation, chest
wall at x = 0, y downwards, mm. The criteria are those of the reference (algorithms.md §5):

- **PNL** (posterior nipple line): on the MLO, the perpendicular distance from the nipple to the
  pectoral muscle edge (the straight chord of the muscle triangle, extended when the muscle is
  short); on the CC, the distance from the nipple to the chest-wall edge of the image. The
  nipple point is the apex of the nipple when it is in profile, else the most anterior point of
  the skin outline (what a reader, or the algorithm, falls back to).
- **Pectoral to PNL**: the muscle's inferior end (where its edge meets the chest-wall edge) may lie
  at most 10 mm above the PNL; ``pectoral_gap_mm`` > 0 is how far above it ends.
- **PNL CC vs MLO**: the two PNLs of a breast differ by at most 10 mm.
- **Pectoral angle**: the muscle edge's angle to the chest-wall (vertical) edge of the image, in
  :data:`PECTORAL_ANGLE_DEG` (a design choice, see :mod:`breastgate.algorithms.positioning`).
"""

from __future__ import annotations

import math
from typing import TYPE_CHECKING, Any

import numpy as np
import numpy.typing as npt

from breastgate.phantoms.anatomy import BreastShape, ViewSpec

if TYPE_CHECKING:
    from breastgate.phantoms.plan import StudyPlan

__all__ = [
    "DEFECTS",
    "PECTORAL_ANGLE_DEG",
    "PECTORAL_GAP_MM",
    "PNL_DIFFERENCE_MM",
    "nipple_in_profile",
    "nipple_point",
    "outline_xy",
    "pectoral_angle_deg",
    "pectoral_gap_mm",
    "pnl_mm",
    "positioning_truth",
]

#: Positioning defects :func:`breastgate.phantoms.plan.plan_study` can put in a study.
DEFECTS: tuple[str, ...] = ("pectoral_short", "pnl_mismatch", "nipple_not_in_profile", "missing_view")
#: The muscle may end at most this far above the PNL (algorithms.md §5: "should not exceed 10 mm").
PECTORAL_GAP_MM = 10.0
#: Largest accepted difference between the CC and the MLO PNL of a breast (algorithms.md §5).
PNL_DIFFERENCE_MM = 10.0
#: Accepted angle of the pectoral edge to the chest-wall edge on the MLO, degrees.
PECTORAL_ANGLE_DEG = (12.0, 45.0)
_SCREENING = (("R", "CC"), ("L", "CC"), ("R", "MLO"), ("L", "MLO"))
_THETAS = np.linspace(-math.pi / 2, math.pi / 2, 721)
FloatArray = npt.NDArray[np.float64]


def nipple_in_profile(spec: ViewSpec) -> bool:
    """Whether the nipple sits on the skin tip (the renderer's default)."""
    return spec.nipple_shift == (0.0, 0.0)


def _tip(shape: BreastShape) -> tuple[float, float]:
    tip_r = 1.0 + sum(amp * math.cos(phase) for amp, phase in shape.harmonics)
    tip_x = shape.depth_mm * tip_r
    return tip_x, shape.centre_mm + shape.droop * tip_x


def outline_xy(shape: BreastShape, thetas: FloatArray) -> tuple[FloatArray, FloatArray]:
    """Outline points (x, y) in mm at the angles ``thetas`` of the normalised ellipse (vectorised
    :func:`breastgate.phantoms.anatomy.outline_point`)."""
    radius = np.ones_like(thetas)
    for k, (amp, phase) in enumerate(shape.harmonics, start=2):
        radius = radius + amp * np.cos(k * thetas + phase)
    x = shape.depth_mm * radius * np.cos(thetas)
    return x, shape.centre_mm + shape.droop * x + shape.half_height_mm * radius * np.sin(thetas)


def _most_anterior(shape: BreastShape) -> tuple[float, float]:
    """Outline point farthest from the chest wall (largest x), nipple excluded."""
    x, y = outline_xy(shape, _THETAS)
    i = int(np.argmax(x))
    return float(x[i]), float(y[i])


def _line(spec: ViewSpec) -> tuple[float, float, float] | None:
    """Pectoral edge as (cos a, sin a, rho): x·cos a + y·sin a = rho, a = angle to the vertical."""
    if spec.pectoral is None:
        return None
    width, height, _ = spec.pectoral
    a = math.atan2(width, height)
    return math.cos(a), math.sin(a), height * math.sin(a)


def nipple_point(spec: ViewSpec) -> tuple[float, float]:
    """Where the PNL starts: the nipple centre when in profile (its apex is ``nipple_radius_mm``
    farther along the PNL), else the most anterior point of the outline."""
    return _tip(spec.shape) if nipple_in_profile(spec) else _most_anterior(spec.shape)


def pnl_mm(spec: ViewSpec) -> float:
    """Posterior nipple line: to the pectoral edge (MLO) or to the chest-wall edge (CC), mm."""
    x, y = nipple_point(spec)
    apex = spec.shape.nipple_radius_mm if nipple_in_profile(spec) else 0.0
    line = _line(spec)
    if spec.view != "MLO" or line is None:
        return x + apex
    cos_a, sin_a, rho = line
    return x * cos_a + y * sin_a - rho + apex


def pectoral_gap_mm(spec: ViewSpec) -> float | None:
    """How far (mm) above the PNL the muscle ends; ≤ 0 when it reaches the PNL. None without muscle."""
    line = _line(spec)
    if line is None:
        return None
    cos_a, sin_a, _ = line
    height = spec.pectoral[1] if spec.pectoral else 0.0
    x, y = nipple_point(spec)
    # Along the edge downwards, d = (-sin a, cos a), from its inferior end (0, height) to the PNL's foot.
    return -x * sin_a + (y - height) * cos_a


def pectoral_angle_deg(spec: ViewSpec) -> float | None:
    """Angle of the pectoral edge to the chest-wall edge of the image, degrees."""
    if spec.pectoral is None:
        return None
    return math.degrees(math.atan2(spec.pectoral[0], spec.pectoral[1]))


def _failure(name: str, laterality: str | None, view: str | None) -> dict[str, Any]:
    return {"name": name, "laterality": laterality, "view": view}


def positioning_truth(plan: StudyPlan) -> dict[str, Any]:
    """Per image PNL, pectoral-to-PNL and nipple-in-profile truth, per breast PNL difference, and
    the study verdict with the checks a correct positioning QA must fail (JSON-ready).

    Images are keyed by laterality and view; the writer of the study adds SOP Instance UIDs.
    """
    images: list[dict[str, Any]] = []
    failures: list[dict[str, Any]] = []
    pnl: dict[tuple[str, str], float] = {}
    for spec in plan.views:
        entry: dict[str, Any] = {
            "laterality": spec.laterality,
            "view": spec.view,
            "pnl_mm": round(pnl_mm(spec), 2),
            "nipple_in_profile": nipple_in_profile(spec),
            "pectoral_reaches_pnl": None,
            "pectoral_gap_mm": None,
            "pectoral_angle_deg": None,
        }
        pnl[(spec.laterality, spec.view)] = pnl_mm(spec)
        if not entry["nipple_in_profile"]:
            failures.append(_failure("nipple_in_profile", spec.laterality, spec.view))
        gap, angle = pectoral_gap_mm(spec), pectoral_angle_deg(spec)
        if spec.view == "MLO" and gap is not None and angle is not None:
            entry["pectoral_gap_mm"] = round(gap, 2)
            entry["pectoral_reaches_pnl"] = gap <= PECTORAL_GAP_MM
            entry["pectoral_angle_deg"] = round(angle, 2)
            if gap > PECTORAL_GAP_MM:
                failures.append(_failure("mlo_pectoral_to_pnl", spec.laterality, "MLO"))
            if not PECTORAL_ANGLE_DEG[0] <= angle <= PECTORAL_ANGLE_DEG[1]:
                failures.append(_failure("pectoral_angle", spec.laterality, "MLO"))
        images.append(entry)
    breasts: dict[str, dict[str, Any]] = {}
    for lat in ("L", "R"):
        cc, mlo = pnl.get((lat, "CC")), pnl.get((lat, "MLO"))
        if cc is None or mlo is None:
            continue
        breasts[lat] = {
            "pnl_cc_mm": round(cc, 2),
            "pnl_mlo_mm": round(mlo, 2),
            "pnl_difference_mm": round(abs(cc - mlo), 2),
        }
        if abs(cc - mlo) > PNL_DIFFERENCE_MM:
            failures.append(_failure("pnl_cc_mlo", lat, None))
    present = {(s.laterality, s.view) for s in plan.views}
    missing = [f"{lat} {view}" for lat, view in _SCREENING if (lat, view) not in present]
    if missing:
        failures.append(_failure("views_complete", None, None))
    return {
        "defects": list(plan.defects),
        "defect_sites": {k: list(v) for k, v in sorted(plan.defect_sites.items())},
        "images": images,
        "breasts": breasts,
        "missing_views": missing,
        "verdict": {
            "passed": not failures,
            "failing_checks": sorted({f["name"] for f in failures}),
            "failures": failures,
        },
    }
