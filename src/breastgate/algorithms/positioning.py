"""Mammography positioning QA (``breastgate.positioning``): PNL, pectoral muscle, nipple, views.

Per image (For Presentation MG, CC and MLO): breast mask and pectoral line from
:mod:`breastgate.imaging.geometry` (the pectoral search accepts a small muscle here, down to
:data:`PECTORAL_AREA` of the breast, because a short muscle is exactly what QA must see), the
nipple as the bump of the skin line at the most anterior point of the breast
(:func:`~breastgate.imaging.landmarks.find_nipple`), and the posterior nipple line (PNL): the
perpendicular from the nipple to the pectoral edge on the MLO, the distance from the nipple to the
chest-wall edge of the image on the CC (reference algorithms.md §5).

Checks (``QualityCheck.name``), worded for the technologist:

- ``mlo_pectoral_to_pnl`` (per MLO): the muscle reaches down to at most 10 mm above the PNL
  ("should not exceed 10 mm", IARC atlas; Volpara's "Adequate Pec to PNL" uses 1 cm as well).
- ``pectoral_angle`` (per MLO): angle of the muscle edge to the chest-wall edge of the image, in
  :data:`PECTORAL_ANGLE_DEG` = 12-45°. A design choice, not a published limit: the reference gives
  C-arm angles of 40-50° but no limit on the edge angle in the image. Below 12° the muscle is a
  near-vertical sliver (too little muscle, shoulder not relaxed); above 45° it lies almost flat,
  which suggests a wrong C-arm angle (or a misread edge). The pectoral search covers 10-50°.
- ``pnl_cc_mlo`` (per breast with both views): CC and MLO PNL differ by at most 10 mm.
- ``nipple_in_profile`` (per image): a nipple bump at the skin tip.
- ``views_complete``: R CC, L CC, R MLO and L MLO all present.
- ``study_verdict``: passed when every other check passed and every image could be assessed.

Checks that cannot be evaluated (e.g. the PNL difference of a breast with one view, the angle of
a muscle that was not found) are left out; the missing view or muscle fails its own check.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable, Sequence
from dataclasses import dataclass

from breastgate.algorithms.base import Selection
from breastgate.domain.model import (
    SCREENING_VIEWS,
    AlgorithmManifest,
    AlgorithmResult,
    AlgorithmStatus,
    ImageOutcome,
    InstanceRef,
    QualityCheck,
    StudyRef,
)
from breastgate.imaging.errors import ImagingError
from breastgate.imaging.geometry import analyse_breast, pectoral_muscle
from breastgate.imaging.landmarks import find_nipple, pectoral_angle_deg, posterior_nipple_line
from breastgate.imaging.pixels import (
    MG_FOR_PRESENTATION,
    MammoImage,
    density_eligibility,
    laterality_of,
    load_mammogram,
    read_header,
    view_of,
)

LOGGER = logging.getLogger(__name__)

#: The muscle may end at most this far (mm) above the PNL (algorithms.md §5).
PECTORAL_GAP_MM = 10.0
#: Largest accepted difference (mm) between the CC and MLO PNL of one breast (algorithms.md §5).
PNL_DIFFERENCE_MM = 10.0
#: Accepted angle of the pectoral edge to the chest-wall edge on the MLO, degrees (design choice).
PECTORAL_ANGLE_DEG = (12.0, 45.0)
#: Pectoral area accepted, as a fraction of the breast (density uses 0.02-0.35).
PECTORAL_AREA = (0.004, 0.35)
#: Smallest breast area (cm²) accepted; below it the segmentation is not credible.
MIN_BREAST_CM2 = 10.0
_VIEWS = ("CC", "MLO")
_SIDE = {"L": "Left", "R": "Right"}
_ORDER = (("R", "CC"), ("L", "CC"), ("R", "MLO"), ("L", "MLO"))
_FOUR = "R CC, L CC, R MLO and L MLO"
_NIPPLE_ADVICE = "turn the breast so the nipple points forward at the skin line."

MANIFEST = AlgorithmManifest(
    id="breastgate.positioning",
    version="1.0.0",
    name="Mammography positioning QA (PNL, pectoral muscle, nipple, views)",
    intended_use=(
        "Positioning quality checks of For Presentation screening mammograms (CC and MLO): pectoral "
        "muscle down to the posterior nipple line, pectoral angle, CC vs MLO nipple line, nipple in "
        "profile and completeness of the four views; feedback for technologists, not a diagnosis."
    ),
    modalities=("MG",),
    sop_class_uids=(MG_FOR_PRESENTATION,),
    views=_VIEWS,
    outputs=("quality",),
    model_card="docs/algorithms/breastgate.positioning.md@1.0",
)


@dataclass(frozen=True)
class ViewPositioning:
    """Positioning measurements of one image (distances in mm, nipple in image pixels)."""

    sop_instance_uid: str
    laterality: str
    view: str
    pnl_mm: float
    nipple_in_profile: bool
    nipple_protrusion_mm: float
    nipple: tuple[float, float]  # (column, row) in the original image
    pectoral_found: bool = False
    pectoral_gap_mm: float | None = None
    pectoral_angle_deg: float | None = None

    def measurements(self) -> dict[str, float]:
        """The numbers for :class:`ImageOutcome.measurements`."""
        out = {
            "pnl_mm": round(self.pnl_mm, 2),
            "nipple_in_profile": float(self.nipple_in_profile),
            "nipple_protrusion_mm": round(self.nipple_protrusion_mm, 2),
            "nipple_col": round(self.nipple[0], 1),
            "nipple_row": round(self.nipple[1], 1),
        }
        if self.view == "MLO":
            out["pectoral_found"] = float(self.pectoral_found)
        if self.pectoral_gap_mm is not None:
            out["pectoral_gap_mm"] = round(self.pectoral_gap_mm, 2)
        if self.pectoral_angle_deg is not None:
            out["pectoral_angle_deg"] = round(self.pectoral_angle_deg, 2)
        return out


def measure_view(image: MammoImage) -> ViewPositioning:
    """Nipple, PNL and (MLO) pectoral line of one decoded mammogram.

    Raises
    ------
    ImagingError
        The breast cannot be segmented (the message says why).
    """
    view = (image.view or "").upper()
    geometry = analyse_breast(image)
    px_mm = min(image.spacing_mm) * geometry.factor
    breast_cm2 = geometry.area_mm2(geometry.breast) / 100.0
    if breast_cm2 < MIN_BREAST_CM2:
        raise ImagingError(f"breast region too small ({breast_cm2:.1f} cm²); segmentation failed")
    line = geometry.pectoral_line
    if view == "MLO" and line is None:
        _, line = pectoral_muscle(geometry.image, geometry.breast, px_mm, PECTORAL_AREA)
    nipple = find_nipple(geometry.breast, px_mm)
    if nipple is None:
        raise ImagingError("no skin line found; the breast outline is not visible")
    pnl, gap = posterior_nipple_line(nipple.point, line if view == "MLO" else None, px_mm)
    col, row = nipple.point
    if geometry.flipped:
        col = geometry.image.shape[1] - 1 - col
    return ViewPositioning(
        sop_instance_uid=image.sop_instance_uid,
        laterality=image.laterality,
        view=view,
        pnl_mm=pnl,
        nipple_in_profile=nipple.in_profile,
        nipple_protrusion_mm=nipple.protrusion_mm,
        nipple=((col + 0.5) * geometry.factor, (row + 0.5) * geometry.factor),
        pectoral_found=view == "MLO" and line is not None,
        pectoral_gap_mm=gap,
        pectoral_angle_deg=pectoral_angle_deg(line) if view == "MLO" and line is not None else None,
    )


def _where(v: ViewPositioning) -> str:
    return f"{_SIDE.get(v.laterality, v.laterality)} {v.view}"


def _check_on(
    v: ViewPositioning, name: str, passed: bool, reason: str, value: float | None = None, unit: str = ""
) -> QualityCheck:
    return QualityCheck(name, passed, reason, v.sop_instance_uid, v.laterality, v.view, value, unit)


def _image_checks(v: ViewPositioning) -> list[QualityCheck]:
    where = _where(v)
    checks = [
        _check_on(
            v,
            "nipple_in_profile",
            v.nipple_in_profile,
            f"{where}: nipple in profile."
            if v.nipple_in_profile
            else f"{where}: nipple not in profile; {_NIPPLE_ADVICE}",
            value=round(v.nipple_protrusion_mm, 1),
            unit="mm",
        )
    ]
    if v.view != "MLO":
        return checks
    if v.pectoral_gap_mm is None or v.pectoral_angle_deg is None:
        reason = f"{where}: pectoral muscle not seen; include the muscle down to the nipple line."
        checks.append(_check_on(v, "mlo_pectoral_to_pnl", False, reason))
        return checks
    gap = v.pectoral_gap_mm
    if gap > PECTORAL_GAP_MM:
        reason = (
            f"{where}: pectoral muscle ends {gap:.0f} mm above the nipple line; include more of the muscle."
        )
    elif gap > 0:
        reason = f"{where}: pectoral muscle ends {gap:.0f} mm above the nipple line (within 10 mm)."
    else:
        reason = f"{where}: pectoral muscle reaches {-gap:.0f} mm below the nipple line."
    checks.append(
        _check_on(v, "mlo_pectoral_to_pnl", gap <= PECTORAL_GAP_MM, reason, value=round(gap, 1), unit="mm")
    )
    angle = v.pectoral_angle_deg
    lo, hi = PECTORAL_ANGLE_DEG
    if angle < lo:
        reason = (
            f"{where}: pectoral muscle edge is steep ({angle:.0f}° to the chest wall, expected "
            f"{lo:.0f}-{hi:.0f}°); relax the shoulder and bring more muscle into the view."
        )
    elif angle > hi:
        reason = (
            f"{where}: pectoral muscle edge is almost flat ({angle:.0f}° to the chest wall, expected "
            f"{lo:.0f}-{hi:.0f}°); check the C-arm angle."
        )
    else:
        reason = f"{where}: pectoral muscle edge at {angle:.0f}° to the chest wall."
    checks.append(
        _check_on(v, "pectoral_angle", lo <= angle <= hi, reason, value=round(angle, 1), unit="deg")
    )
    return checks


def _pair_check(lat: str, cc: ViewPositioning, mlo: ViewPositioning) -> QualityCheck | None:
    if not mlo.pectoral_found:
        return None  # no pectoral line: the MLO PNL is not measurable (mlo_pectoral_to_pnl fails)
    diff = cc.pnl_mm - mlo.pnl_mm
    side = _SIDE.get(lat, lat)
    where = f"{side} breast: nipple line {cc.pnl_mm:.0f} mm on CC vs {mlo.pnl_mm:.0f} mm on MLO"
    if abs(diff) <= PNL_DIFFERENCE_MM:
        reason = f"{where} (within 10 mm)."
    else:
        short = "CC" if diff < 0 else "MLO"
        reason = (
            f"{where} ({abs(diff):.0f} mm apart); the {short} is short, "
            f"pull more posterior tissue into the {short} view."
        )
    return QualityCheck(
        "pnl_cc_mlo",
        abs(diff) <= PNL_DIFFERENCE_MM,
        reason,
        laterality=lat,
        value=round(abs(diff), 1),
        unit="mm",
    )


def assess(
    views: Sequence[ViewPositioning], present: Iterable[tuple[str, str]], unassessed: Sequence[str] = ()
) -> tuple[QualityCheck, ...]:
    """Quality checks of a study from its measured views, the (laterality, view) pairs present and
    the reasons of images that could not be assessed; ends with ``study_verdict``."""
    order = {key: i for i, key in enumerate(_ORDER)}
    ordered = sorted(views, key=lambda v: (order.get((v.laterality, v.view), 9), v.sop_instance_uid))
    checks: list[QualityCheck] = []
    for v in ordered:
        checks.extend(_image_checks(v))
    by_key = {(v.laterality, v.view): v for v in ordered}
    for lat in ("R", "L"):
        cc, mlo = by_key.get((lat, "CC")), by_key.get((lat, "MLO"))
        pair = _pair_check(lat, cc, mlo) if cc and mlo else None
        if pair is not None:
            checks.append(pair)
    have = set(present)
    missing = [f"{_SIDE[lat]} {view}" for lat, view in _ORDER if (lat, view) not in have]
    n = len(SCREENING_VIEWS & have)
    checks.append(
        QualityCheck(
            "views_complete",
            not missing,
            "All four screening views present."
            if not missing
            else f"Missing view(s): {', '.join(missing)}; a screening study needs {_FOUR}.",
            value=float(n),
            unit="views",
        )
    )
    problems = [c.reason for c in checks if not c.passed] + list(unassessed)
    verdict = (
        f"Positioning acceptable on {len(ordered)} view(s)."
        if not problems
        else f"{len(problems)} positioning problem(s): " + " ".join(problems)
    )
    checks.append(QualityCheck("study_verdict", not problems, verdict, value=float(len(problems))))
    return tuple(checks)


class PositioningAlgorithm:
    """Built-in positioning QA (entry point ``positioning``)."""

    manifest: AlgorithmManifest = MANIFEST

    def is_available(self) -> tuple[bool, str]:
        """Always available: numpy, scipy, scikit-image and pydicom are core dependencies."""
        return True, ""

    def select(self, study: StudyRef) -> Selection:
        """For Presentation CC and MLO mammograms; every other instance skipped with the reason."""
        inputs: list[InstanceRef] = []
        skipped: list[ImageOutcome] = []
        for ref in study.instances:
            reason, status, laterality, view = _check(ref)
            if reason is None:
                inputs.append(ref)
            else:
                outcome = ImageOutcome(ref.sop_instance_uid, status, reason, laterality=laterality, view=view)
                skipped.append(outcome)
        return Selection(study=study, inputs=tuple(inputs), skipped=tuple(skipped))

    def run(self, selection: Selection) -> AlgorithmResult:
        """Measure every input and assess the study. Never raises for a bad image."""
        outcomes: list[ImageOutcome] = list(selection.skipped)
        measured: list[ViewPositioning] = []
        present: set[tuple[str, str]] = set()
        unassessed: list[str] = []
        for ref in selection.inputs:
            outcome, view = _run_one(ref)
            outcomes.append(outcome)
            if outcome.laterality and outcome.view:
                present.add((outcome.laterality, outcome.view))
            if view is not None:
                measured.append(view)
            else:
                where = f"{_SIDE.get(outcome.laterality or '', 'Unknown side')} {outcome.view or 'image'}"
                unassessed.append(f"{where} could not be assessed ({outcome.message}).")
        base = {
            "algorithm_id": MANIFEST.id,
            "algorithm_version": MANIFEST.version,
            "study_instance_uid": selection.study.study_instance_uid,
            "images": tuple(outcomes),
        }
        if not measured:
            failed = any(o.status == AlgorithmStatus.FAILED for o in outcomes)
            status = AlgorithmStatus.FAILED if failed else AlgorithmStatus.SKIPPED
            reasons = "; ".join(sorted({o.message for o in outcomes if o.message})) or "no images"
            return AlgorithmResult(status=status, message=f"no usable CC/MLO mammogram: {reasons}", **base)  # type: ignore[arg-type]
        quality = assess(measured, present, unassessed)
        return AlgorithmResult(status=AlgorithmStatus.OK, quality=quality, **base)  # type: ignore[arg-type]


def _check(ref: InstanceRef) -> tuple[str | None, AlgorithmStatus, str | None, str | None]:
    if ref.modality and ref.modality.upper() != "MG":
        return f"not a mammogram (modality {ref.modality})", AlgorithmStatus.SKIPPED, None, None
    try:
        header = read_header(ref.path)
    except Exception as exc:
        return f"file cannot be read as DICOM: {exc}", AlgorithmStatus.FAILED, ref.laterality, ref.view
    laterality = laterality_of(header) or ref.laterality
    view = view_of(header) or ref.view
    reason = density_eligibility(header)
    if reason:
        return (
            reason.replace("density runs", "positioning QA runs"),
            AlgorithmStatus.SKIPPED,
            laterality,
            view,
        )
    if (view or "").upper() not in _VIEWS:
        why = f"view {view or 'unknown'}: positioning QA covers CC and MLO views"
        return why, AlgorithmStatus.SKIPPED, laterality, view
    return None, AlgorithmStatus.SKIPPED, laterality, view


def _run_one(ref: InstanceRef) -> tuple[ImageOutcome, ViewPositioning | None]:
    laterality, view = ref.laterality, ref.view
    try:
        header = read_header(ref.path)
        laterality = laterality_of(header) or laterality
        view = (view_of(header) or view or "").upper() or None
        measured = measure_view(load_mammogram(ref.path))
    except ImagingError as exc:
        return ImageOutcome(ref.sop_instance_uid, AlgorithmStatus.FAILED, str(exc), laterality, view), None
    except Exception as exc:  # an image must never take the study down
        LOGGER.exception("positioning failed on %s", ref.sop_instance_uid)
        message = f"positioning failed: {type(exc).__name__}: {exc}"
        return ImageOutcome(ref.sop_instance_uid, AlgorithmStatus.FAILED, message, laterality, view), None
    outcome = ImageOutcome(
        ref.sop_instance_uid,
        AlgorithmStatus.OK,
        "",
        measured.laterality,
        measured.view,
        measurements=measured.measurements(),
    )
    return outcome, measured
