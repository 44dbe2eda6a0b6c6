"""Breast DCE-MRI kinetics (``breastgate.kinetics``), the way CADstream / DynaCAD work.

Reads the dynamic series (:func:`breastgate.imaging.dce.read_dce`: series per phase, one
multi-phase series or an Enhanced MR object), registers the phases onto the early post-contrast
phase (whole-voxel translation by phase correlation), computes percent enhancement and the
delayed change voxel by voxel (:mod:`breastgate.algorithms._dce_maps`, reference algorithms.md
§3.1), segments focal enhancing lesions while leaving out vessels, the heart and diffuse
background enhancement (:mod:`breastgate.algorithms._dce_lesions`) and reports, per lesion, three
diameters, volume, the worst curve type held by a real share of its voxels, the shares of washout /
plateau / persistent voxels, peak enhancement, and where it lies (clock facing the patient,
quadrant, depth, distance from the nipple, centre in patient coordinates; reference §7).

Score: a logistic model over the candidate's features (``LESION_MODEL``, fitted by
``bench/dce_model_fit.py`` on development phantoms of two generators, cross-validated by study):
its early and peak enhancement, delayed change, focal ratio against its surroundings, volume and diameters,
elongation beyond its basin and flatness (vessels, single-slice pieces), fill, surrounding
enhancement and early contrast (background parenchymal enhancement), depth under the skin and
Hessian blobness (a vessel curves down across two axes only). The nipple (within ``NIPPLE_MM`` of
it and reaching the skin) is left out. Candidates scoring at least ``REPORT_FLOOR`` are reported
(at most ``MAX_FINDINGS``, highest first); those at or above ``OPERATING_THRESHOLD`` (about one
false lesion per study on the development phantoms) are shown. It ranks candidates, it is not a
probability of malignancy: the curve type is reported beside it.

Tracking: when the study carries an MR prior (``StudyRef.priors``), the prior is analysed the same
way, registered to the current study by translation in patient space
(:mod:`breastgate.algorithms._dce_tracking`), and lesions are matched by centre distance; each
finding gets a :class:`FindingComparison` and the prior's curve type in ``attributes``.
"""

from __future__ import annotations

import logging
import math
from dataclasses import dataclass, replace

import numpy as np
from skimage import measure

from breastgate.algorithms._dce_lesions import Lesion, Rejected, label_volume, segment
from breastgate.algorithms._dce_maps import (
    Anatomy,
    KineticsParameters,
    Maps,
    compute_maps,
    kinetic_class_map,
    phase_order_warning,
)
from breastgate.algorithms._dce_tracking import compare_with_prior
from breastgate.algorithms._logistic import LogisticModel
from breastgate.algorithms.base import Selection
from breastgate.domain.model import (
    PRIOR_STATUS_TEXT,
    AlgorithmManifest,
    AlgorithmResult,
    AlgorithmStatus,
    DelayedPhase,
    Finding,
    FindingKind,
    FindingKinetics,
    FindingLocation,
    ImageOutcome,
    Mark,
    PriorUse,
    ResultVolume,
    StudyRef,
)
from breastgate.imaging.dce import ENHANCED_MR_IMAGE, MR_IMAGE, DceError, DceSeries, read_dce
from breastgate.imaging.errors import ImagingError

LOGGER = logging.getLogger(__name__)

MANIFEST = AlgorithmManifest(
    id="breastgate.kinetics",
    version="1.3.0",
    name="Breast DCE-MRI kinetics (enhancement, curve types, enhancing lesions)",
    intended_use=(
        "Colour-codes enhancement kinetics (persistent / plateau / washout) of dynamic "
        "contrast-enhanced breast MRI and lists enhancing lesions with size, volume, worst curve "
        "type and location, compared with the prior MRI when one is held; a reference implementation."
    ),
    modalities=("MR",),
    sop_class_uids=(MR_IMAGE, ENHANCED_MR_IMAGE),
    outputs=("findings", "kinetic_map", "seg", "parametric_map"),
    model_card="docs/algorithms/breastgate.kinetics.md@1.3",
    prior_modalities=("MR",),
)

#: The lesion model (module docstring): ``bench/dce_model_fit.py`` prints it.
LESION_MODEL = LogisticModel(
    features=(
        "early_pct",
        "peak_pct",
        "change_pct",
        "focal_ratio",
        "volume_mm3",
        "largest_mm",
        "smallest_mm",
        "free_elongation",
        "flatness",
        "fill",
        "surround_pct",
        "early_contrast_pct",
        "skin_mm",
        "blobness",
    ),
    log=frozenset(
        [
            "early_pct",
            "fill",
            "flatness",
            "focal_ratio",
            "free_elongation",
            "largest_mm",
            "peak_pct",
            "smallest_mm",
            "volume_mm3",
        ]
    ),
    low=(
        2.5802,
        3.6028,
        -46.4,
        0.59884,
        3.9551,
        1.8245,
        -2.9957,
        0,
        0.0099503,
        -1.4343,
        0.7,
        4.926,
        1.5,
        0.056,
    ),
    high=(
        5.4621,
        5.4832,
        61,
        2.4928,
        8.9766,
        4.2177,
        3.0989,
        2.3487,
        8.5622,
        1.4473,
        66.974,
        208.62,
        24.074,
        0.799,
    ),
    mean=(
        3.8518,
        4.335,
        9.772,
        1.1242,
        5.5018,
        2.692,
        0.66354,
        0.64972,
        2.6035,
        -0.002606,
        18.272,
        45.188,
        10.802,
        0.38143,
    ),
    scale=(
        0.66086,
        0.41183,
        23.609,
        0.40323,
        1.1172,
        0.47408,
        1.9207,
        0.52393,
        3.1599,
        0.5713,
        13.147,
        41.158,
        6.1103,
        0.16911,
    ),
    weights=(
        2.2579,
        -1.619,
        0.26307,
        1.3781,
        2.2512,
        -2.0078,
        0.77826,
        -0.42378,
        -0.53893,
        0.19984,
        0.73363,
        0.11159,
        0.40432,
        0.39957,
    ),
    bias=-7.0138,
)
#: Findings with a score at or above this are shown (Presentation Required); cross-validated
#: operating point of at most one false lesion per study on the development phantoms.
OPERATING_THRESHOLD = 0.11
#: Candidates below this score are not reported at all; at most MAX_FINDINGS are.
REPORT_FLOOR = 0.03
MAX_FINDINGS = 12
#: The nipple enhances: a candidate within NIPPLE_MM of the nipple that reaches to within
#: NIPPLE_SKIN_MM of the skin is the nipple, not a lesion.
NIPPLE_MM, NIPPLE_SKIN_MM = 15.0, 4.0


def lesion_features(lesion: Lesion, nipple_mm: float | None) -> dict[str, float]:
    """The candidate features the lesion model reads (names as in ``LESION_MODEL``)."""
    return {
        "early_pct": lesion.early_pct,
        "peak_pct": lesion.peak_pct,
        "change_pct": lesion.change_pct,
        "focal_ratio": lesion.focal_ratio,
        "volume_mm3": lesion.volume_mm3,
        "largest_mm": lesion.diameters_mm[0],
        "smallest_mm": lesion.diameters_mm[2],
        "free_elongation": lesion.free_elongation,
        "elongation": lesion.elongation,
        "flatness": lesion.flatness,
        "fill": lesion.fill,
        "heterogeneity": lesion.heterogeneity,
        "surround_pct": lesion.surround_pct,
        "surround_early_pct": lesion.surround_early_pct,
        "early_contrast_pct": lesion.early_pct - lesion.surround_early_pct,
        "inscribed_mm": lesion.inscribed_mm,
        "skin_mm": lesion.skin_mm,
        "blobness": lesion.blobness,
        "nipple_mm": 100.0 if nipple_mm is None else nipple_mm,
    }


def is_nipple(lesion: Lesion, nipple_mm: float | None) -> bool:
    return nipple_mm is not None and nipple_mm <= NIPPLE_MM and lesion.skin_mm <= NIPPLE_SKIN_MM


def score(lesion: Lesion, nipple_mm: float | None = None) -> float:
    """The lesion model's probability that a candidate is a lesion (not a vessel, a focus,
    background enhancement), rounded."""
    return round(LESION_MODEL.score(lesion_features(lesion, nipple_mm)), 3)


@dataclass(frozen=True)
class Analysis:
    """One study's DCE analysis: the series, its maps and its lesions (current or prior)."""

    study: StudyRef
    series: DceSeries
    maps: Maps
    lesions: list[Lesion]  # reported, highest score first
    rejected: Rejected
    scores: tuple[float, ...] = ()  # the lesion model's, one per lesion


def analyse_study(study: StudyRef, params: KineticsParameters) -> Analysis:
    """Read, map and segment one study (raises DceError/ImagingError when it has no DCE series);
    keeps the candidates the lesion model scores at least ``REPORT_FLOOR`` (at most
    ``MAX_FINDINGS``, highest first), the nipple left out."""
    series = read_dce(study.instances)
    maps = compute_maps(series, params)
    candidates, rejected = segment(maps, series, params)
    scored: list[tuple[float, Lesion]] = []
    for lesion in candidates:
        _, location = locate(series.grid.to_patient(lesion.centre_index), maps.anatomy)
        if is_nipple(lesion, location.distance_from_nipple_mm):
            rejected.nipple += 1
            continue
        scored.append((score(lesion, location.distance_from_nipple_mm), lesion))
    scored.sort(key=lambda pair: pair[0], reverse=True)
    kept = [pair for pair in scored if pair[0] >= REPORT_FLOOR][:MAX_FINDINGS]
    rejected.unlikely += len(scored) - len(kept)
    return Analysis(
        study, series, maps, [lesion for _, lesion in kept], rejected, tuple(value for value, _ in kept)
    )


def _clock(laterality: str, dx: float, dz: float) -> tuple[int, str]:
    """Clock hour facing the patient (3 o'clock = patient's left for both breasts) and quadrant."""
    angle = math.degrees(math.atan2(dx, dz)) % 360.0  # 0 = superior, 90 = patient left
    hour = round(angle / 30.0) % 12 or 12
    lateral = dx > 0 if laterality == "L" else dx < 0
    return hour, ("U" if dz >= 0 else "L") + ("O" if lateral else "I") + "Q"


def locate(centre: tuple[float, float, float], anatomy: Anatomy) -> tuple[str, FindingLocation]:
    """Laterality (x against the midline) and location relative to that breast's nipple."""
    x, y, z = centre
    laterality = "L" if x > anatomy.midline_x else "R"
    nipple = anatomy.nipples.get(laterality)
    if nipple is None:
        return laterality, FindingLocation(patient_mm=(round(x, 1), round(y, 1), round(z, 1)))
    dx, dy, dz = x - nipple[0], y - nipple[1], z - nipple[2]
    clock, quadrant = _clock(laterality, dx, dz)
    wall = float(anatomy.chest_wall_y(x))
    third = (y - nipple[1]) / max(wall - nipple[1], 1.0)
    depth = "anterior" if third < 1 / 3 else "middle" if third < 2 / 3 else "posterior"
    return laterality, FindingLocation(
        clock=clock,
        quadrant=quadrant,
        depth=depth,
        distance_from_nipple_mm=round(math.sqrt(dx * dx + dy * dy + dz * dz), 1),
        patient_mm=(round(x, 1), round(y, 1), round(z, 1)),
    )


def _mark(lesion: Lesion, series: DceSeries, score_value: float, laterality: str) -> Mark:
    """The mark on the early post-contrast image at the lesion's central slice."""
    k0 = lesion.box[0].start
    slices = np.flatnonzero(lesion.mask.any(axis=(1, 2)))
    local = int(slices[np.argmin(np.abs(slices + k0 - lesion.centre_index[0]))])
    plane = lesion.mask[local]
    rows, cols = np.nonzero(plane)
    r0, c0 = lesion.box[1].start, lesion.box[2].start
    point = (round(lesion.centre_index[2] + 0.5, 2), round(lesion.centre_index[1] + 0.5, 2))
    bbox = (
        float(cols.min() + c0),
        float(rows.min() + r0),
        float(cols.max() + c0 + 1),
        float(rows.max() + r0 + 1),
    )
    contours = measure.find_contours(np.pad(plane, 1).astype(np.float32), 0.5)  # type: ignore[no-untyped-call]
    outline: tuple[tuple[float, float], ...] = ()
    if contours:
        longest = max(contours, key=len)
        step = max(len(longest) // 64, 1)
        outline = tuple(
            (round(float(c) - 1 + c0 + 0.5, 2), round(float(r) - 1 + r0 + 0.5, 2)) for r, c in longest[::step]
        )
    k = local + k0
    frame = series.slice_frames[k] if series.slice_frames else None
    patient = series.grid.to_patient((k, point[1] - 0.5, point[0] - 0.5))
    return Mark(
        sop_instance_uid=series.slice_uids[k],
        point=point,
        bbox=bbox,
        score=score_value,
        laterality=laterality,
        frame=frame,
        sop_class_uid=ENHANCED_MR_IMAGE if frame is not None else MR_IMAGE,
        outline=outline,
        size_mm=lesion.diameters_mm[0],
        patient_mm=(round(patient[0], 1), round(patient[1], 1), round(patient[2], 1)),
    )


def findings_of(analysis: Analysis) -> list[Finding]:
    """One ENHANCING_LESION finding per lesion, in ``analysis.lesions`` order (label n = n-th)."""
    out: list[Finding] = []
    for n, (lesion, value) in enumerate(zip(analysis.lesions, analysis.scores, strict=True), start=1):
        centre = analysis.series.grid.to_patient(lesion.centre_index)
        laterality, location = locate(centre, analysis.maps.anatomy)
        out.append(
            Finding(
                id=f"kinetics-{n}",
                kind=FindingKind.ENHANCING_LESION,
                laterality=laterality,
                score=value,
                marks=(_mark(lesion, analysis.series, value, laterality),),
                size_mm=lesion.diameters_mm[0],
                location=location,
                kinetics=FindingKinetics(
                    initial_phase=lesion.initial,
                    delayed_phase=lesion.delayed,
                    peak_enhancement_pct=lesion.peak_pct,
                    washout_share=lesion.shares[DelayedPhase.WASHOUT],
                    plateau_share=lesion.shares[DelayedPhase.PLATEAU],
                    persistent_share=lesion.shares[DelayedPhase.PERSISTENT],
                ),
                diameters_mm=lesion.diameters_mm,
                volume_mm3=lesion.volume_mm3,
                attributes={
                    "early_enhancement_pct": lesion.early_pct,
                    "delayed_change_pct": lesion.change_pct,
                    "mean_curve_type": {"persistent": "I", "plateau": "II", "washout": "III"}[
                        lesion.mean_delayed
                    ],
                    "focal_ratio": lesion.focal_ratio,
                    "fill": lesion.fill,
                    "heterogeneity": lesion.heterogeneity,
                    "mean_curve_pct": " ".join(f"{v:.1f}" for v in lesion.curve_pct),
                },
            )
        )
    return out


def volumes_of(analysis: Analysis, params: KineticsParameters) -> tuple[ResultVolume, ...]:
    """kinetic_class, lesion_labels and percent_enhancement on the early phase's grid."""
    series = analysis.series
    shape = series.grid.shape
    labels = label_volume(analysis.lesions, shape)
    classes = kinetic_class_map(analysis.maps, params, labels > 0)
    common = {"source_sop_instance_uids": series.slice_uids, "source_frames": series.slice_frames}
    return (
        ResultVolume(
            "kinetic_class",
            shape,
            "uint8",
            classes.tobytes(),
            labels={1: "persistent", 2: "plateau", 3: "washout"},
            **common,  # type: ignore[arg-type]
        ),
        ResultVolume(
            "lesion_labels",
            shape,
            labels.dtype.name,
            labels.tobytes(),
            labels={n: f"kinetics-{n}" for n in range(1, len(analysis.lesions) + 1)},
            **common,  # type: ignore[arg-type]
        ),
        ResultVolume(
            "percent_enhancement",
            shape,
            "float32",
            analysis.maps.early_pct.astype(np.float32, copy=False).tobytes(),
            unit="%",
            **common,  # type: ignore[arg-type]
        ),
    )


class KineticsAlgorithm:
    """DCE-MRI kinetics with lesion segmentation and prior tracking (module docstring)."""

    manifest = MANIFEST

    def __init__(self, params: KineticsParameters | None = None) -> None:
        self.params = params or KineticsParameters()

    def is_available(self) -> tuple[bool, str]:
        return True, ""

    def select(self, study: StudyRef) -> Selection:
        inputs = tuple(
            i
            for i in study.instances
            if i.modality == "MR" and i.sop_class_uid in (MR_IMAGE, ENHANCED_MR_IMAGE)
        )
        skipped = tuple(
            ImageOutcome(
                i.sop_instance_uid, AlgorithmStatus.SKIPPED, f"not an MR image (modality {i.modality})"
            )
            for i in study.instances
            if i not in inputs
        )
        return Selection(study=study, inputs=inputs, skipped=skipped)

    def run(self, selection: Selection) -> AlgorithmResult:
        study = replace(selection.study, instances=selection.inputs)
        base = AlgorithmResult(
            algorithm_id=MANIFEST.id,
            algorithm_version=MANIFEST.version,
            study_instance_uid=selection.study.study_instance_uid,
            status=AlgorithmStatus.SKIPPED,
            model_card=MANIFEST.model_card,
        )
        try:
            analysis = analyse_study(study, self.params)
        except (DceError, ImagingError) as exc:
            return replace(base, message=str(exc), images=selection.skipped)
        findings = findings_of(analysis)
        findings, priors, prior_note = self._compare(selection.study, analysis, findings)
        images = self._outcomes(analysis, selection)
        message = "; ".join(
            part
            for part in (
                f"{len(findings)} enhancing lesion(s); "
                f"{analysis.series.phases} phases ({analysis.series.form})",
                _rejected_text(analysis.rejected),
                phase_order_warning(analysis.maps),
                prior_note,
            )
            if part
        )
        return replace(
            base,
            status=AlgorithmStatus.OK,
            message=message,
            images=images,
            findings=tuple(findings),
            operating_threshold=OPERATING_THRESHOLD,
            volumes=volumes_of(analysis, self.params),
            priors=priors,
        )

    def _compare(
        self, study: StudyRef, analysis: Analysis, findings: list[Finding]
    ) -> tuple[list[Finding], PriorUse, str]:
        mr_priors = [p for p in study.priors if any(i.modality == "MR" for i in p.instances)]
        if not mr_priors:
            status = study.prior_status
            return findings, PriorUse(status, (), PRIOR_STATUS_TEXT[status]), ""
        reasons: list[str] = []
        for prior in mr_priors:
            try:
                prior_analysis = analyse_study(replace(prior, priors=()), self.params)
            except (DceError, ImagingError) as exc:
                reasons.append(f"prior {prior.study_date or ''} unusable: {exc}".replace("  ", " "))
                continue
            compared, note = compare_with_prior(
                analysis, prior_analysis, findings_of(prior_analysis), findings
            )
            use = PriorUse(study.prior_status, (prior.study_instance_uid,), f"compared with prior; {note}")
            return compared, use, note
        return findings, PriorUse(study.prior_status, (), "; ".join(reasons)), "; ".join(reasons)

    @staticmethod
    def _outcomes(analysis: Analysis, selection: Selection) -> tuple[ImageOutcome, ...]:
        used = set(analysis.series.sop_instance_uids)
        ignored = dict(analysis.series.ignored)
        out = [ImageOutcome(uid, AlgorithmStatus.OK) for uid in analysis.series.sop_instance_uids]
        for ref in selection.inputs:
            if ref.sop_instance_uid not in used:
                reason = ignored.get(ref.series_instance_uid, "not part of the dynamic series")
                out.append(ImageOutcome(ref.sop_instance_uid, AlgorithmStatus.SKIPPED, reason))
        return tuple(out) + selection.skipped


def _rejected_text(rejected: Rejected) -> str:
    parts = [
        f"{n} {what}"
        for what, n in (
            ("diffuse", rejected.diffuse),
            ("vessel", rejected.vessel),
            ("too large", rejected.large),
            ("nipple", rejected.nipple),
            ("unlikely", rejected.unlikely),
        )
        if n
    ]
    return f"set aside: {', '.join(parts)}" if parts else ""
