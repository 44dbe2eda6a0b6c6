"""What the lesion detectors share: input selection, the per-image loop, nipple-relative location,
CC/MLO correlation into one finding, and the per-study result.

CC/MLO correlation (reference algorithms.md §7): a candidate on the CC view and one on the MLO view
of the same breast are taken as one lesion by a one-to-one pairing on the distance from the nipple,
size and score (:mod:`breastgate.algorithms._cc_mlo`). The correlated finding's score is
``1 − (1 − s_cc)(1 − s_mlo)``: two independent views agreeing make the finding more credible.
Unpaired candidates stay single-view findings.

Location of a correlated finding: clock, quadrant and offsets from the nipple axis by CC + MLO
triangulation (:mod:`breastgate.algorithms._nipple_frame`, whose docstring has the math); the
distance from the nipple is the mean of the two views' in-plane distances; depth is the third of
the nipple-to-chest-wall distance.

Patient coordinates (tomosynthesis only; a projection image places a ray, not a point): each
volume mark carries the DICOM patient coordinates (LPS) of its point on its frame. They are in
that volume's Frame of Reference: every view is its own compression of the breast, so the CC and
MLO coordinates of one lesion are not comparable, and are never averaged. The finding's
``location.patient_mm`` is that of its highest-scoring mark (on a tie the first, the CC). A
finding seen on one view of a volume only is placed from its frame
(:func:`breastgate.algorithms._nipple_frame.volume_offsets`); a CC/MLO pair is triangulated.
"""

from __future__ import annotations

import logging
import math
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field, replace
from typing import Protocol

import numpy as np
import numpy.typing as npt

from breastgate.algorithms._cc_mlo import CC_VIEWS, MLO_VIEWS, assign_pairs
from breastgate.algorithms._nipple_frame import axis_offsets, clock_hours, clock_position, triangulate
from breastgate.algorithms.base import Selection
from breastgate.domain.model import (
    AlgorithmManifest,
    AlgorithmResult,
    AlgorithmStatus,
    Finding,
    FindingKind,
    FindingLocation,
    ImageOutcome,
    InstanceRef,
    Mark,
    StudyRef,
)
from breastgate.imaging.errors import ImagingError
from breastgate.imaging.geometry import BreastGeometry, analyse_breast
from breastgate.imaging.pixels import (
    BREAST_TOMOSYNTHESIS,
    MammoImage,
    density_eligibility,
    laterality_of,
    load_mammogram,
    read_header,
    view_of,
)

LOGGER = logging.getLogger(__name__)


BoolArray = npt.NDArray[np.bool_]


@dataclass(frozen=True)
class Candidate:
    """A detection on one image, in that image's pixel coordinates (column, row)."""

    point: tuple[float, float]
    bbox: tuple[float, float, float, float]
    score: float
    size_mm: float
    outline: tuple[tuple[float, float], ...] = ()
    members: tuple[tuple[float, float], ...] = ()
    features: dict[str, float] = field(default_factory=dict)
    frame: int | None = None  # 1-based frame of a multi-frame image (DBT), else None
    frames: tuple[int, int] | None = None  # 1-based (first, last) frames the lesion spans (DBT)


@dataclass(frozen=True)
class ImageContext:
    """One analysed image: pixels, geometry, and helpers to map working-grid masks to pixels."""

    ref: InstanceRef
    image: MammoImage
    geometry: BreastGeometry
    laterality: str
    view: str

    @property
    def px_mm(self) -> float:
        return float(min(self.image.spacing_mm))

    def full_mask(self, mask: BoolArray) -> BoolArray:
        """A working-grid mask (chest wall left) at the original resolution and orientation."""
        g = self.geometry
        work = mask[:, ::-1] if g.flipped else mask
        rows, cols = self.image.pixels.shape
        r_idx = np.minimum(np.arange(rows) // g.factor, work.shape[0] - 1)
        c_idx = np.minimum(np.arange(cols) // g.factor, work.shape[1] - 1)
        out: BoolArray = work[r_idx[:, None], c_idx[None, :]]
        return out

    def nipple_distance_mm(self, point: tuple[float, float]) -> float | None:
        nipple = self.geometry.nipple
        if nipple is None:
            return None
        sr, sc = self.image.spacing_mm
        return math.hypot((point[0] - nipple[0]) * sc, (point[1] - nipple[1]) * sr)

    def chest_wall_depth_mm(self) -> float | None:
        """Nipple to chest-wall edge of the image, along the rows (a simple PNL stand-in)."""
        nipple = self.geometry.nipple
        if nipple is None:
            return None
        cols = self.image.pixels.shape[1]
        edge = cols if self.geometry.flipped else 0.0
        return abs(nipple[0] - edge) * self.image.spacing_mm[1]

    def axis_offsets(self, point: tuple[float, float]) -> tuple[float, float] | None:
        """(behind, across) mm of ``point`` from the nipple along and across the nipple axis."""
        g = self.geometry
        if g.nipple is None:
            return None
        return axis_offsets(point, g.nipple, g.nipple_slope, self.image.spacing_mm, g.flipped)

    def patient_mm(self, point: tuple[float, float], frame: int | None) -> tuple[float, float, float] | None:
        """None: a point on a projection image is a ray through the breast, not a place in it."""
        return None

    def breast_offsets(self, point: tuple[float, float], frame: int | None) -> tuple[float, float] | None:
        """None: one projection gives one direction of the coronal plane, not both."""
        return None


class Located(Protocol):
    """What marks and CC/MLO correlation need of an analysed image (:class:`ImageContext`) or
    volume (``_tomo.VolumeContext``): the instance, side, view, nipple-relative distances, offsets
    from the nipple axis (:func:`axis_offsets`) and, for volumes, patient coordinates."""

    @property
    def ref(self) -> InstanceRef: ...

    @property
    def laterality(self) -> str: ...

    @property
    def view(self) -> str: ...

    def nipple_distance_mm(self, point: tuple[float, float]) -> float | None: ...

    def chest_wall_depth_mm(self) -> float | None: ...

    def axis_offsets(self, point: tuple[float, float]) -> tuple[float, float] | None: ...

    def patient_mm(self, point: tuple[float, float], frame: int | None) -> tuple[float, float, float] | None:
        """DICOM patient coordinates (LPS, mm) of ``point`` on 1-based ``frame``, or None."""
        ...

    def breast_offsets(self, point: tuple[float, float], frame: int | None) -> tuple[float, float] | None:
        """(medial, superior) mm from the nipple axis from this view alone (volumes), or None."""
        ...


class AnalysedVolume(Located, Protocol):
    """A volume after slice-wise detection: how many frames were read and slabs analysed."""

    @property
    def frames(self) -> int: ...

    @property
    def slabs(self) -> int: ...


Detector = Callable[[ImageContext], list[Candidate]]
#: Runs a 2-D detector over a Breast Tomosynthesis volume (``_tomo.detect_volume``).
VolumeDetector = Callable[[InstanceRef, Detector], tuple[AnalysedVolume, list[Candidate]]]


def check_input(ref: InstanceRef) -> tuple[str | None, AlgorithmStatus, str | None, str | None]:
    """(reason to skip or None, status, laterality, view) for one instance."""
    if ref.modality and ref.modality.upper() != "MG":
        return f"not a mammogram (modality {ref.modality})", AlgorithmStatus.SKIPPED, None, None
    try:
        header = read_header(ref.path)
    except Exception as exc:
        return f"file cannot be read as DICOM: {exc}", AlgorithmStatus.FAILED, ref.laterality, ref.view
    laterality = laterality_of(header) or ref.laterality
    view = view_of(header) or ref.view
    return density_eligibility(header), AlgorithmStatus.SKIPPED, laterality, view


def select_mammograms(study: StudyRef) -> Selection:
    """For Presentation 2-D mammograms as inputs; every other instance skipped with its reason."""
    inputs: list[InstanceRef] = []
    skipped: list[ImageOutcome] = []
    for ref in study.instances:
        reason, status, laterality, view = check_input(ref)
        if reason is None:
            inputs.append(ref)
        else:
            skipped.append(
                ImageOutcome(ref.sop_instance_uid, status, reason, laterality=laterality, view=view)
            )
    return Selection(study=study, inputs=tuple(inputs), skipped=tuple(skipped))


def _analyse(ref: InstanceRef) -> ImageContext:
    image = load_mammogram(ref.path)
    geometry = analyse_breast(image)
    if geometry.area_mm2(geometry.tissue) < 1000.0:
        raise ImagingError("breast region too small (< 10 cm²); segmentation failed")
    return ImageContext(ref, image, geometry, image.laterality, (image.view or "").upper())


@dataclass
class _Detected:
    context: Located
    candidates: list[Candidate]
    volume: bool = False  # a tomosynthesis volume: correlated with volumes only


def _detect_one(
    ref: InstanceRef, detect: Detector, volume: VolumeDetector | None
) -> tuple[Located, list[Candidate], dict[str, float]]:
    """Context, candidates and extra measurements of one input: a 2-D image, or with ``volume``
    a tomosynthesis volume (frames read, slabs analysed)."""
    if volume is not None:
        analysed, candidates = volume(ref, detect)
        return analysed, candidates, {"frames": float(analysed.frames), "slabs": float(analysed.slabs)}
    context = _analyse(ref)
    return context, detect(context), {}


def run_detector(
    selection: Selection,
    manifest: AlgorithmManifest,
    kind: FindingKind,
    detect: Detector,
    threshold: float,
    volume: VolumeDetector | None = None,
) -> AlgorithmResult:
    """Detect on every input image, correlate CC/MLO per breast, and build the study result.

    With ``volume``, Breast Tomosynthesis inputs go through it (slabs of the volume, detections
    merged in 3-D, marks with their frame); without it they fail as not being 2-D mammograms.
    """
    outcomes: list[ImageOutcome] = list(selection.skipped)
    detected: list[_Detected] = []
    for ref in selection.inputs:
        started = time.perf_counter()
        is_volume = volume is not None and ref.sop_class_uid == BREAST_TOMOSYNTHESIS
        try:
            context, candidates, extra = _detect_one(ref, detect, volume if is_volume else None)
        except ImagingError as exc:
            outcomes.append(
                ImageOutcome(ref.sop_instance_uid, AlgorithmStatus.FAILED, str(exc), ref.laterality, ref.view)
            )
            continue
        except Exception as exc:  # one image must never take the study down
            LOGGER.exception("%s failed on %s", manifest.id, ref.sop_instance_uid)
            message = f"{manifest.id} failed: {type(exc).__name__}: {exc}"
            outcomes.append(
                ImageOutcome(ref.sop_instance_uid, AlgorithmStatus.FAILED, message, ref.laterality, ref.view)
            )
            continue
        seconds = time.perf_counter() - started
        measurements = {
            "candidates": float(len(candidates)),
            "max_score": max((c.score for c in candidates), default=0.0),
            "seconds": round(seconds, 3),
            **extra,
        }
        outcomes.append(
            ImageOutcome(
                ref.sop_instance_uid, AlgorithmStatus.OK, "", context.laterality, context.view, measurements
            )
        )
        detected.append(_Detected(context, candidates, is_volume))
    base = {
        "algorithm_id": manifest.id,
        "algorithm_version": manifest.version,
        "study_instance_uid": selection.study.study_instance_uid,
        "images": tuple(outcomes),
        "operating_threshold": threshold,
    }
    if not detected:
        failed = any(o.status == AlgorithmStatus.FAILED for o in outcomes)
        reasons = "; ".join(sorted({o.message for o in outcomes if o.message})) or "no images"
        status = AlgorithmStatus.FAILED if failed else AlgorithmStatus.SKIPPED
        return AlgorithmResult(status=status, message=f"no usable mammogram: {reasons}", **base)  # type: ignore[arg-type]
    findings = correlate(detected, kind)
    return AlgorithmResult(status=AlgorithmStatus.OK, findings=tuple(findings), **base)  # type: ignore[arg-type]


def _mark(det: _Detected, cand: Candidate) -> Mark:
    ctx = det.context
    point = (round(cand.point[0], 2), round(cand.point[1], 2))
    where = ctx.patient_mm(point, cand.frame)
    return Mark(
        sop_instance_uid=ctx.ref.sop_instance_uid,
        point=point,
        bbox=tuple(round(v, 2) for v in cand.bbox),  # type: ignore[arg-type]
        score=round(cand.score, 4),
        laterality=ctx.laterality,
        view=ctx.view,
        frame=cand.frame,
        sop_class_uid=ctx.ref.sop_class_uid,
        outline=tuple((round(c, 2), round(r, 2)) for c, r in cand.outline),
        members=tuple((round(c, 2), round(r, 2)) for c, r in cand.members),
        size_mm=round(cand.size_mm, 1),
        patient_mm=None if where is None else (round(where[0], 2), round(where[1], 2), round(where[2], 2)),
        frames=cand.frames,
    )


def _depth(distance: float | None, pnl: float | None) -> str | None:
    if distance is None or not pnl:
        return None
    third = distance / pnl
    return "anterior" if third < 1 / 3 else "middle" if third < 2 / 3 else "posterior"


def _patient_mm(marks: Sequence[Mark]) -> tuple[float, float, float] | None:
    """The patient coordinates of the highest-scoring mark that has them (first on a tie)."""
    placed = [m for m in marks if m.patient_mm is not None]
    return max(placed, key=lambda m: m.score).patient_mm if placed else None


def _triangulate(
    cc: tuple[_Detected, Candidate], mlo: tuple[_Detected, Candidate]
) -> tuple[float, float] | None:
    """(medial, superior) mm of a CC/MLO pair from the nipple axis."""
    on_cc = cc[0].context.axis_offsets(cc[1].point)
    on_mlo = mlo[0].context.axis_offsets(mlo[1].point)
    return None if on_cc is None or on_mlo is None else triangulate(on_cc[1], on_mlo[1])


def _location(
    pair: Sequence[tuple[_Detected, Candidate]], laterality: str, marks: Sequence[Mark]
) -> tuple[FindingLocation, float | None]:
    """The finding's location and, for a CC/MLO pair, its unrounded clock (hours)."""
    distances = [d.context.nipple_distance_mm(c.point) for d, c in pair]
    known = [x for x in distances if x is not None]
    distance = float(np.mean(known)) if known else None
    pnls = [d.context.chest_wall_depth_mm() for d, _ in pair]
    pnl_known = [x for x in pnls if x]
    cc = next(((d, c) for d, c in pair if d.context.view in CC_VIEWS), None)
    mlo = next(((d, c) for d, c in pair if d.context.view in MLO_VIEWS), None)
    clock = quadrant = hours = None
    where = _triangulate(cc, mlo) if cc is not None and mlo is not None else None
    if where is None:  # one view: a volume places it from its frame
        placed = [d.context.breast_offsets(c.point, c.frame) for d, c in pair]
        where = next((w for w in placed if w is not None), None)
    if where is not None:
        medial, superior = where
        clock, quadrant = clock_position(laterality, medial, superior)
        hours = clock_hours(laterality, medial, superior)
    depth = _depth(distance, max(pnl_known) if pnl_known else None)
    location = FindingLocation(
        clock=clock,
        quadrant=quadrant,
        depth=depth,
        distance_from_nipple_mm=None if distance is None else round(distance, 1),
        patient_mm=_patient_mm(marks),
    )
    return location, hours


Group = list[tuple[_Detected, Candidate]]


def _side_groups(detected: list[_Detected], side: str) -> list[Group]:
    """CC/MLO pairs (greedy by combined score) and unpaired candidates of one breast."""
    groups: list[Group] = []
    ccs = [
        (d, c)
        for d in detected
        if d.context.laterality == side and d.context.view in CC_VIEWS
        for c in d.candidates
    ]
    mlos = [
        (d, c)
        for d in detected
        if d.context.laterality == side and d.context.view in MLO_VIEWS
        for c in d.candidates
    ]
    others = [
        (d, c)
        for d in detected
        if d.context.laterality == side and d.context.view not in CC_VIEWS | MLO_VIEWS
        for c in d.candidates
    ]
    used_cc: set[int] = set()
    used_mlo: set[int] = set()
    for i, j in assign_pairs(ccs, mlos):
        used_cc.add(i)
        used_mlo.add(j)
        groups.append([ccs[i], mlos[j]])
    groups += [[x] for i, x in enumerate(ccs) if i not in used_cc]
    groups += [[x] for j, x in enumerate(mlos) if j not in used_mlo]
    groups += [[x] for x in others]
    return groups


def correlate(detected: list[_Detected], kind: FindingKind) -> list[Finding]:
    """One finding per CC/MLO pair of the same lesion, one per unpaired candidate (sorted by score).

    Tomosynthesis volumes pair with volumes and 2-D images with 2-D images (a synthesized view is
    derived from its volume, so it is not a second, independent look); a volume finding and a
    finding on a synthesized view of that volume at the same place name each other in
    ``correlated_with``.
    """
    prefix = {FindingKind.MASS: "mass", FindingKind.CALCIFICATION_CLUSTER: "calc"}.get(kind, str(kind))
    groups: list[Group] = []
    for volumes in (False, True):
        family = [d for d in detected if d.volume == volumes]
        for side in ("L", "R"):
            groups += _side_groups(family, side)
    findings: list[Finding] = []
    for group in groups:
        laterality = group[0][0].context.laterality
        miss = 1.0
        for _, cand in group:
            miss *= 1.0 - cand.score
        score = round(1.0 - miss, 4)
        marks = tuple(_mark(d, c) for d, c in group)
        location, hours = _location(group, laterality, marks)
        attributes = {"views": float(len(group))}
        if hours is not None:
            attributes["clock_hours"] = round(hours, 2)
        findings.append(
            Finding(
                id="",
                kind=kind,
                laterality=laterality,
                score=min(max(score, 0.0), 1.0),
                marks=marks,
                size_mm=round(max(c.size_mm for _, c in group), 1),
                location=location,
                attributes=attributes,
            )
        )
    findings.sort(key=lambda f: (-f.score, f.laterality, f.marks[0].sop_instance_uid, f.marks[0].point))
    findings = [replace(f, id=f"{prefix}-{i + 1}") for i, f in enumerate(findings)]
    sources = _synthesized_from(detected)
    return _link_synthesized(findings, sources) if sources else findings


def _synthesized_from(detected: list[_Detected]) -> dict[str, str]:
    """2-D image → the analysed volume it was synthesized from (its Source Image Sequence names
    the volume and does not deny Spatial Locations Preserved, PS3.3 C.7.6.1.1.4)."""
    volumes = {d.context.ref.sop_instance_uid for d in detected if d.volume}
    out: dict[str, str] = {}
    for d in detected:
        if d.volume or not volumes:
            continue
        try:
            header = read_header(d.context.ref.path)
        except Exception:  # read tolerantly: no link is better than no result
            continue
        for item in header.get("SourceImageSequence") or ():
            uid = str(item.get("ReferencedSOPInstanceUID", ""))
            if uid in volumes and str(item.get("SpatialLocationsPreserved", "YES")).upper() != "NO":
                out[d.context.ref.sop_instance_uid] = uid
    return out


def _link_synthesized(findings: list[Finding], sources: dict[str, str]) -> list[Finding]:
    """Volume finding ↔ synthesized-view finding when a mark of one lies in the box of a mark of
    the other on the same pixel grid (the synthesized view and its volume share it)."""

    def inside(p: tuple[float, float], box: tuple[float, float, float, float]) -> bool:
        return box[0] <= p[0] <= box[2] and box[1] <= p[1] <= box[3]

    def same_place(a: Mark, b: Mark) -> bool:
        return sources.get(b.sop_instance_uid) == a.sop_instance_uid and (
            inside(a.point, b.bbox) or inside(b.point, a.bbox)
        )

    links: dict[str, list[str]] = {f.id: [] for f in findings}
    for a in findings:
        for b in findings:
            if any(same_place(ma, mb) for ma in a.marks for mb in b.marks):
                links[a.id].append(b.id)
                links[b.id].append(a.id)
    return [replace(f, correlated_with=tuple(links[f.id])) if links[f.id] else f for f in findings]
