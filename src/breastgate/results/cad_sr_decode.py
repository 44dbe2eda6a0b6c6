"""Read any Mammography CAD SR (PS3.3 A.35.5, PS3.16 TID 4000) into domain findings.

:meth:`breastgate.results.mammo_cad_sr.MammographyCADSR.from_dataset` reads back what breastgate
writes; this decoder reads what *another* CAD engine writes, tolerantly (STYLE "read tolerantly"):

- every TID 4006 Single Image Finding (111059) anywhere in the tree becomes a mark; those under
  one TID 4004 Composite Feature (111015) make one finding, each other one a finding of its own.
  Nested Single Image Findings (the Individual Calcifications of a cluster, TID 4006 row 25)
  become the mark's ``members``;
- the kind comes from the finding's code (CID 6014 / 6016, SCT or legacy SRT);
- geometry (TID 4021): the Center POINT gives ``point``; POLYLINE / POLYGON / MULTIPOINT, CIRCLE
  (centre, perimeter point) and ELLIPSE (major then minor axis end points) outlines give ``bbox``
  (and a polygon ``outline``); without a Center the outline's centre is used. The image is the
  IMAGE the SCOORD is SELECTED FROM, by reference (the CAD SR rule) or by value (tolerated), with
  its Referenced Frame Number for multi-frame images;
- laterality: the Image Library entry's Image Laterality (TID 4020 row 2), else the caller's
  ``image_laterality`` (from the referenced image's header);
- the raw score is Certainty of Finding (111012) — of Feature (111011) for a composite — else
  Probability of cancer (111047), on the engine's scale ``[lo, hi]``; it is normalised to 0..1
  and kept in ``Finding.attributes["raw_score"]`` (with ``score_scale_low`` / ``_high``).

- comparison with a prior: a finding's CID 6002 "Change since last mammogram" (129720009) gives
  ``comparison.change``; a temporal Composite Feature (Composite type 111153) is one finding whose
  nested feature, or whose Single Image Findings on the latest Study Date, are the current marks
  and the others its ``prior_marks``, with Difference in size (129806009) as ``size_change_mm``
  and the prior's study from the Pertinent Other Evidence Sequence.

Density is taken from the CAD summary when the SR carries it the way breastgate writes it
(:mod:`breastgate.results.tid4000`); other encodings of density are not read.
"""

from __future__ import annotations

import logging
import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

from pydicom.dataset import Dataset

from breastgate.domain.errors import EncodingError, InvalidInputError
from breastgate.domain.model import DensityAssessment, Finding, FindingComparison, FindingKind, Mark, Point
from breastgate.results import codes as c
from breastgate.results.mammo_cad_sr import decode_tree
from breastgate.results.sr_content import Code, Node, decode_content
from breastgate.results.tid4000_findings import change_of, comparison_of, is_temporal, split_temporal

LOGGER = logging.getLogger(__name__)

MAMMOGRAPHY_CAD_SR_STORAGE = "1.2.840.10008.5.1.4.1.1.88.50"
COMPOSITE_FEATURE = c.COMPOSITE_FEATURE
PROBABILITY_OF_CANCER = Code("111047", "DCM", "Probability of cancer")

#: CID 6014 / 6016 codes (SCT, legacy SRT, DCM variants) by finding kind.
_KIND_CODES: dict[FindingKind, tuple[str, ...]] = {
    FindingKind.MASS: ("129793001", "129788004", "111459", "F-01796", "F-01791"),
    FindingKind.CALCIFICATION_CLUSTER: ("129769006", "111105", "F-01775"),
    FindingKind.ARCHITECTURAL_DISTORTION: ("129792006", "F-01795"),
    FindingKind.ASYMMETRY: ("129789007", "129790003", "F-01792", "F-01793"),
}
_INDIVIDUAL_CALCIFICATION = ("129770007", "111104", "F-01776")


@dataclass(frozen=True)
class DecodedFindings:
    """What :func:`decode_findings` returns."""

    findings: tuple[Finding, ...]
    density: DensityAssessment | None
    score_scale: tuple[float, float]
    referenced_sop_instance_uids: tuple[str, ...]
    sop_instance_uid: str
    study_instance_uid: str


def kind_of(code: Code | None) -> FindingKind | None:
    """Finding kind of a Single Image Finding / Composite Feature value, or None."""
    if code is None:
        return None
    for kind, values in _KIND_CODES.items():
        if code.value in values:
            return kind
    return None


def normalise(raw: float, scale: tuple[float, float]) -> float:
    """``raw`` on ``[lo, hi]`` mapped to 0..1 (clipped)."""
    lo, hi = scale
    return min(max((raw - lo) / (hi - lo), 0.0), 1.0)


def _pairs(values: Sequence[float]) -> list[Point]:
    return [(float(values[i]), float(values[i + 1])) for i in range(0, len(values) - 1, 2)]


def _shape(
    graphic: tuple[str, tuple[float, ...]],
) -> tuple[Point, tuple[float, float, float, float], list[Point]]:
    """(centre, bbox, polygon) of one SCOORD (PS3.3 C.18.6.1.2 graphic types)."""
    kind, data = graphic
    pts = _pairs(data)
    if not pts:
        raise InvalidInputError("SCOORD without graphic data")
    if kind == "CIRCLE" and len(pts) >= 2:
        (cx, cy), (px, py) = pts[0], pts[1]
        r = math.hypot(px - cx, py - cy)
        return (cx, cy), (cx - r, cy - r, cx + r, cy + r), []
    if kind == "ELLIPSE" and len(pts) >= 4:
        (x1, y1), (x2, y2), (x3, y3), (x4, y4) = pts[:4]
        cx, cy = (x1 + x2) / 2, (y1 + y2) / 2
        ax, ay, bx, by = (x2 - x1) / 2, (y2 - y1) / 2, (x4 - x3) / 2, (y4 - y3) / 2
        ex, ey = math.hypot(ax, bx), math.hypot(ay, by)
        return (cx, cy), (cx - ex, cy - ey, cx + ex, cy + ey), []
    cols, rows = [p[0] for p in pts], [p[1] for p in pts]
    bbox = (min(cols), min(rows), max(cols), max(rows))
    ring = pts[:-1] if len(pts) > 2 and pts[0] == pts[-1] else pts
    return ((bbox[0] + bbox[2]) / 2, (bbox[1] + bbox[3]) / 2), bbox, ring if len(ring) >= 3 else []


def _image_of(scoord: Node) -> Node | None:
    for child in scoord.children:
        target = child.ref if child.ref is not None else child
        if target.vt == "IMAGE" and target.sop is not None:
            return target
    return None


def _num(node: Node, *concepts: Code) -> float | None:
    for concept in concepts:
        found = node.first(concept, "NUM")
        if found is not None and found.num is not None:
            return found.num
    return None


def _laterality(image: Node, fallback: Mapping[str, str]) -> str | None:
    lat = image.first(c.IMAGE_LATERALITY, "CODE")
    side = c.laterality_of(lat.code) if lat is not None and lat.code is not None else None
    if side in ("L", "R"):
        return side
    return fallback.get(image.sop[1]) if image.sop is not None else None


class _Reader:
    def __init__(self, scale: tuple[float, float], image_laterality: Mapping[str, str]) -> None:
        self.scale = scale
        self.image_laterality = image_laterality

    def mark(self, sif: Node) -> tuple[Mark, float | None] | None:
        """(mark, raw score) of one Single Image Finding, or None without usable geometry."""
        scoords = [ch for ch in sif.children if ch.vt == "SCOORD" and ch.ref is None and ch.graphic]
        center = next((s for s in scoords if c.CENTER.same(s.concept)), None)
        outline = next((s for s in scoords if not c.CENTER.same(s.concept) and _image_of(s)), None)
        anchor = center or outline
        if anchor is None or anchor.graphic is None:
            return None
        image = _image_of(anchor)
        if image is None or image.sop is None:
            return None
        point, bbox, ring = _shape(anchor.graphic)
        if outline is not None and outline.graphic is not None:
            _, bbox, ring = _shape(outline.graphic)
            if center is None:
                point = ((bbox[0] + bbox[2]) / 2, (bbox[1] + bbox[3]) / 2)
        rect = [(bbox[0], bbox[1]), (bbox[2], bbox[1]), (bbox[2], bbox[3]), (bbox[0], bbox[3])]
        if ring == rect:
            ring = []  # breastgate's stand-in for "no outline"
        raw = _num(sif, c.CERTAINTY_OF_FINDING, PROBABILITY_OF_CANCER)
        members = tuple(
            shape[0]
            for child in sif.children
            if c.SINGLE_IMAGE_FINDING.same(child.concept)
            and child.code is not None
            and child.code.value in _INDIVIDUAL_CALCIFICATION
            for s in child.children
            if s.vt == "SCOORD" and s.graphic is not None and c.CENTER.same(s.concept)
            for shape in [_shape(s.graphic)]
        )
        mark = Mark(
            sop_instance_uid=image.sop[1],
            point=point,
            bbox=bbox,
            score=normalise(raw, self.scale) if raw is not None else 0.0,
            laterality=_laterality(image, self.image_laterality),
            view=c.view_of(v.code) if (v := image.first(c.IMAGE_VIEW, "CODE")) is not None else None,
            frame=image.frames[0] if image.frames else None,
            sop_class_uid=image.sop[0],
            outline=tuple(ring),
            members=members,
            size_mm=_num(sif, c.DIAMETER),
        )
        return mark, raw

    def finding(
        self,
        ident: str,
        code: Code | None,
        sifs: list[Node],
        group: Node | None,
        comparison: FindingComparison | None = None,
    ) -> Finding | None:
        kind = kind_of(code) or next((k for s in sifs if (k := kind_of(s.code)) is not None), None)
        decoded = [m for m in (self.mark(s) for s in sifs) if m is not None]
        marks = tuple(m for m, _ in decoded)
        laterality = next((m.laterality for m in marks if m.laterality in ("L", "R")), None)
        if kind is None or not marks or laterality is None:
            LOGGER.warning("CAD SR: finding %r skipped (unknown kind, no marks or no laterality)", ident)
            return None
        raw = _num(group, c.CERTAINTY_OF_FEATURE, PROBABILITY_OF_CANCER) if group is not None else None
        if raw is None:
            raws = [r for _, r in decoded if r is not None]
            raw = max(raws) if raws else None
        attributes: dict[str, str | float] = {
            "score_scale_low": self.scale[0],
            "score_scale_high": self.scale[1],
        }
        if raw is not None:
            attributes["raw_score"] = raw
        size = _num(group, c.DIAMETER) if group is not None else marks[0].size_mm
        return Finding(
            id=ident,
            kind=kind,
            laterality=laterality,
            score=normalise(raw, self.scale) if raw is not None else 0.0,
            marks=marks,
            size_mm=size,
            attributes=attributes,
            comparison=comparison,
        )


def _tracking(node: Node) -> str:
    found = node.first(c.TRACKING_IDENTIFIER, "TEXT")
    return (found.text or "") if found is not None else ""


Group = tuple[Node | None, list[Node], Node | None, list[Node]]
"""(Composite Feature or None, its Single Image Findings, the temporal Composite Feature the
finding is compared in or None, the Single Image Findings on the prior)."""


def _groups(node: Node) -> list[Group]:
    """Findings' groups in document order. A temporal Composite Feature (111153) is one finding:
    its nested feature (or its Single Image Findings on the latest Study Date) now, the others on
    the prior (:func:`~.tid4000_findings.split_temporal`)."""
    out: list[Group] = []
    for child in node.children:
        if child.ref is not None:
            continue
        if COMPOSITE_FEATURE.same(child.concept) and is_temporal(child):
            current, sifs, prior = split_temporal(child)
            out.append((current, sifs, child, prior))
        elif COMPOSITE_FEATURE.same(child.concept):
            sifs = [s for s in child.children if s.ref is None and c.SINGLE_IMAGE_FINDING.same(s.concept)]
            out.append((child, sifs, None, []))
            out += [g for g in _groups(child) if g[0] is not None]  # nested composites
        elif c.SINGLE_IMAGE_FINDING.same(child.concept):
            if child.code is None or child.code.value not in _INDIVIDUAL_CALCIFICATION:
                out.append((None, [child], None, []))
        else:
            out += _groups(child)
    return out


def decode_findings(
    dataset: Dataset,
    scale: tuple[float, float] = (0.0, 100.0),
    image_laterality: Mapping[str, str] | None = None,
) -> DecodedFindings:
    """Findings (and density, when encoded as breastgate does) of a Mammography CAD SR.

    Parameters
    ----------
    dataset
        The SR. Anything that is not a Mammography CAD SR raises :class:`InvalidInputError`.
    scale
        The engine's score scale ``(lo, hi)``: raw scores are normalised with it.
    image_laterality
        Image Laterality by SOP Instance UID, for images whose library entry does not say.
    """
    lo, hi = float(scale[0]), float(scale[1])
    if not hi > lo:
        raise InvalidInputError(f"score scale {scale!r}: high must be above low")
    sop_class = str(dataset.get("SOPClassUID", ""))
    if sop_class != MAMMOGRAPHY_CAD_SR_STORAGE:
        raise InvalidInputError(f"not a Mammography CAD SR (SOP Class UID {sop_class or 'missing'})")
    try:
        root = decode_content(dataset)
    except (AttributeError, KeyError, TypeError, ValueError) as exc:
        raise EncodingError(f"Mammography CAD SR content tree cannot be read: {exc}") from exc
    if not c.MAMMO_CAD_REPORT.same(root.concept):
        raise InvalidInputError("not a TID 4000 Mammography CAD Report (root concept is not 111036)")
    reader = _Reader((lo, hi), image_laterality or {})
    prior_studies = {
        str(ref.ReferencedSOPInstanceUID): str(study.StudyInstanceUID)
        for study in dataset.get("PertinentOtherEvidenceSequence", [])
        for series in study.get("ReferencedSeriesSequence", [])
        for ref in series.get("ReferencedSOPSequence", [])
    }
    findings: list[Finding] = []
    for index, (group, sifs, temporal, prior) in enumerate(_groups(root), start=1):
        if not sifs:
            continue
        anchor = temporal or group or sifs[0]
        ident = _tracking(anchor) or _tracking(group or sifs[0]) or f"finding-{index}"
        changed = change_of(temporal or group or sifs[0])
        difference = _num(temporal, c.DIFFERENCE_IN_SIZE) if temporal is not None else None
        comparison = comparison_of(changed, prior, difference, prior_studies)
        found = reader.finding(ident, (group or sifs[0]).code, sifs, group, comparison)
        if found is not None:
            findings.append(found)
    try:
        density = decode_tree(root).density
    except InvalidInputError:
        density = None  # not written the way breastgate writes density
    referenced = tuple(
        str(ref.ReferencedSOPInstanceUID)
        for study in dataset.get("CurrentRequestedProcedureEvidenceSequence", [])
        for series in study.get("ReferencedSeriesSequence", [])
        for ref in series.get("ReferencedSOPSequence", [])
    )
    return DecodedFindings(
        findings=tuple(findings),
        density=density,
        score_scale=(lo, hi),
        referenced_sop_instance_uids=referenced,
        sop_instance_uid=str(dataset.get("SOPInstanceUID", "")),
        study_instance_uid=str(dataset.get("StudyInstanceUID", "")),
    )
