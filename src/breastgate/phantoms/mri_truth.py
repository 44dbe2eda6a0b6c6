"""Ground truth of a DCE-MRI phantom study (truth.json).

Lesion classes are recomputed from each lesion's own noise-free mean signal curve(s) with the
rules of :func:`breastgate.phantoms.dce_physics.classify_curve`; a heterogeneous lesion reports its
worst part. Positions are patient coordinates (LPS mm) of the study (its positioning offset
applied), clock positions whole hours read facing the patient (12 superior, 3 o'clock towards the
patient's left in both breasts; algorithms.md §7), distances from the nipple tip in mm.
"""

from __future__ import annotations

import math
from typing import TYPE_CHECKING, Any

import numpy as np

from breastgate.phantoms.dce_physics import CurveClass, classify_curve, spgr
from breastgate.phantoms.mri_anatomy import TISSUES
from breastgate.phantoms.mri_headers import series_description

if TYPE_CHECKING:
    from breastgate.phantoms.mri import DcePlan
    from breastgate.phantoms.mri_lesions import DceLesion

__all__ = ["clock_hour", "dce_truth"]

#: Peak enhancement (%) below which a part of a lesion counts as not enhancing (necrosis).
_ENHANCING_PCT = 10.0


def clock_hour(
    nipple: tuple[float, float, float] | list[float], point: tuple[float, float, float] | list[float]
) -> int:
    """Whole-hour clock position of ``point`` about ``nipple`` in the coronal plane, facing the
    patient: 12 = superior (+z), 3 = the patient's left (+x), for either breast."""
    dx, dz = point[0] - nipple[0], point[2] - nipple[2]
    angle = math.degrees(math.atan2(dx, dz)) % 360.0
    hour = round(angle / 30.0) % 12
    return 12 if hour == 0 else hour


def _r(values: Any, nd: int = 2) -> list[float]:
    return [round(float(v), nd) + 0.0 for v in values]


def _class_dict(c: CurveClass) -> dict[str, Any]:
    return {
        "curve_type": c.curve_type,
        "initial_phase": c.initial_phase,
        "delayed_phase": c.delayed_phase,
        "initial_enhancement_pct": float(c.initial_pct),
        "delayed_change_pct": float(c.delayed_pct),
        "peak_enhancement_pct": float(c.peak_pct),
    }


def _extent(points: np.ndarray, step: float) -> tuple[list[float], float]:
    """Diameters (mm, largest first) along the principal axes and volume (mm³) of sample points."""
    centred = points - points.mean(axis=0)
    _, vectors = np.linalg.eigh(np.cov(centred.T)) if len(points) > 3 else (None, np.eye(3))
    proj = centred @ vectors
    diam = sorted((float(proj[:, i].max() - proj[:, i].min()) + step for i in range(3)), reverse=True)
    return _r(diam, 1), round(len(points) * step**3, 1)


def _lesion(plan: DcePlan, lesion: DceLesion, nipples: dict[str, list[float]]) -> dict[str, Any]:
    step = 0.5
    curves = lesion.curves(plan.table, plan.sequence, step)
    classes = {name: classify_curve(curve) for name, curve in curves.items()}
    worst = classes["mean"]
    for name in ("rim", "core"):
        # A non-enhancing (necrotic) part has no curve type, whatever its flat curve classifies as.
        if name in classes and classes[name].peak_pct >= _ENHANCING_PCT and classes[name].worse_than(worst):
            worst = classes[name]
    points, _ = lesion.sample(min(step, min(min(r) for _, r in lesion.lobes) / 4))
    diameters, volume = _extent(points, min(step, min(min(r) for _, r in lesion.lobes) / 4))
    off = np.array(plan.imaging.offset_mm)
    centre = points.mean(axis=0) + off  # the centroid: lobes move it off the main lobe's centre
    nipple = nipples[lesion.laterality]
    entry: dict[str, Any] = {
        "id": lesion.id,
        "laterality": lesion.laterality,
        "patient_mm": _r(centre),
        "voxel_ksr": _r(plan.geometry.to_voxel(centre), 1),
        "diameters_mm": diameters,
        "volume_mm3": volume,
        **_class_dict(worst),
        "heterogeneous": lesion.core is not None,
        "mean_curve": {**_class_dict(classes["mean"]), "signal": _r(curves["mean"] / curves["mean"][0], 4)},
        "tofts": {"rim" if lesion.core is not None else "whole": lesion.rim.as_dict()},
        "t10_s": round(lesion.t10_s, 3),
        "clock": clock_hour(nipple, centre.tolist()),
        "distance_from_nipple_mm": round(float(np.linalg.norm(centre - np.array(nipple))), 1),
    }
    if lesion.core is not None:
        entry["tofts"]["core"] = lesion.core.as_dict()
        entry["components"] = {
            name: {**_class_dict(classes[name]), "enhancing": bool(classes[name].peak_pct >= _ENHANCING_PCT)}
            for name in ("rim", "core")
        }
    return entry


def _focus(plan: DcePlan, focus: DceLesion, nipples: dict[str, list[float]]) -> dict[str, Any]:
    """A focus: where, how big and how it enhances (no diameters along axes, no components)."""
    full = _lesion(plan, focus, nipples)
    keep = ("id", "laterality", "patient_mm", "voxel_ksr", "volume_mm3", "curve_type", "initial_phase")
    return {
        **{k: full[k] for k in keep},
        "diameter_mm": full["diameters_mm"][0],
        "delayed_phase": full["delayed_phase"],
    }


def _blood_curve(plan: DcePlan, vp: float) -> dict[str, Any]:
    m0, t10 = TISSUES["blood"][:2]
    n = len(plan.table.times)
    conc = [plan.table.concentration(p, np.zeros(1), np.zeros(1), np.full(1, vp))[0] for p in range(n)]
    signal = spgr(m0, t10, np.array(conc), plan.sequence)
    return _class_dict(classify_curve(signal))


def _heart(plan: DcePlan) -> dict[str, Any]:
    heart = plan.anatomy.heart
    off = np.array(plan.imaging.offset_mm)
    centre = np.array(heart.centre_mm) + off
    geo = plan.geometry
    kc = geo.to_voxel(centre)[0]
    half = heart.radii_mm[2] / geo.slice_mm
    first, last = max(0, math.ceil(kc - half)), min(geo.slices - 1, math.floor(kc + half))
    return {
        "patient_mm": _r(centre),
        "radii_mm": _r(heart.radii_mm, 1),
        "slices": [first, last] if first <= last else None,
        "blood_pool": _blood_curve(plan, TISSUES["blood"][4]),
    }


def _vessels(plan: DcePlan) -> list[dict[str, Any]]:
    off = np.array(plan.imaging.offset_mm)
    curve = _blood_curve(plan, plan.imaging.blood_vp)
    return [
        {
            "id": v.id,
            "laterality": v.laterality,
            "radius_mm": round(v.radius_mm, 2),
            "length_mm": round(v.length_mm, 1),
            "points_mm": [_r(p + off, 1) for p in v.points_mm[::10]],
            "vp": round(plan.imaging.blood_vp, 3),
            **curve,
        }
        for v in plan.anatomy.vessels
    ]


def dce_truth(plan: DcePlan) -> dict[str, Any]:
    """The truth.json of a planned study (independent of the noise and of the DICOM form)."""
    ctx, geo, im = plan.ctx, plan.geometry, plan.imaging
    off = np.array(im.offset_mm)
    nipples = {b.laterality: _r(np.array(b.nipple_mm) + off) for b in plan.anatomy.breasts}
    n = len(ctx.times_s)
    truth: dict[str, Any] = {
        "kind": "mri",
        "form": plan.form,
        "seed": plan.seed,
        "study_instance_uid": ctx.study_uid,
        "patient_id": ctx.patient_id,
        "study_date": ctx.study_start.strftime("%Y%m%d"),
        "frame_of_reference_uid": ctx.frame_of_reference_uid,
        "phases": {
            "count": n,
            "pre_contrast_index": 0,
            "times_s": list(ctx.times_s),
            "series_descriptions": [series_description(p) for p in range(n)],
            "acquisition_start_times": [ctx.acquired(p).strftime("%H%M%S.%f")[:13] for p in range(n)],
            "injection_time": ctx.injection.strftime("%H%M%S"),
            "temporal_resolution_s": ctx.temporal_resolution_s,
            "bolus_arrival_s": im.table.delay_s,
        },
        "sequence": {
            "repetition_time_ms": ctx.sequence.tr_ms,
            "echo_time_ms": ctx.sequence.te_ms,
            "flip_angle_deg": ctx.sequence.flip_deg,
            "field_strength_t": ctx.sequence.field_t,
            "r1_per_mm_s": 4.5,
            "aif": "Parker 2006 population AIF, plasma = blood / (1 - 0.42)",
        },
        "geometry": {
            "shape_ksr": [geo.slices, geo.rows, geo.cols],
            "origin_mm": _r(geo.origin_mm, 3),
            "pixel_spacing_mm": [geo.pixel_mm, geo.pixel_mm],
            "slice_thickness_mm": geo.slice_mm,
            "spacing_between_slices_mm": geo.slice_mm,
            "orientation": [1.0, 0.0, 0.0, 0.0, 1.0, 0.0],
            "positioning_offset_mm": _r(off),
        },
        "motion_mm": [
            _r([m[2] * geo.pixel_mm, m[1] * geo.pixel_mm, m[0] * geo.slice_mm]) for m in im.motion_vox
        ],
        "noise": {"snr": round(im.snr, 2), "rician": True},
        "psf_sigma_vox": round(im.blur_vox, 3),
        "bias_field": {"amplitude": round(im.bias[0], 3)},
        "fat_suppressed": plan.anatomy.fat_m0 < 0.5,
        "bpe": {"level": plan.anatomy.bpe, "ktrans_per_min": round(plan.anatomy.bpe_ktrans, 4)},
        "fgt_fraction": round(plan.anatomy.extras["fgt_fraction"], 3),
        "breasts": [
            {
                "laterality": b.laterality,
                "nipple_mm": nipples[b.laterality],
                "depth_mm": round(b.depth_mm, 1),
                "base_width_mm": round(2 * b.a_mm, 1),
                "base_height_mm": round(2 * b.b_mm, 1),
            }
            for b in plan.anatomy.breasts
        ],
        "lesions": [_lesion(plan, les, nipples) for les in plan.lesions],
        "foci": [_focus(plan, f, nipples) for f in plan.foci],
        "vessels": _vessels(plan),
        "heart": _heart(plan),
        "other_enhancing": ["heart", "vessels", "foci", "nipples", "skin", "pectoralis", "bpe"],
    }
    if plan.prior is not None:
        truth["prior"] = {"is_prior": True, **plan.prior}
    return truth
