"""Lesion findings and image-quality findings in a Mammography CAD SR (PS3.16 TID 4003-4023).

Shape emitted under (111017) "CAD Processing and Findings Summary" [TID 4001 row 3], one TID 4003
per :class:`~breastgate.domain.model.Finding` (reference dicom-sr.md §1.4-1.9)::

    INFERRED FROM CONTAINER Individual Impression/Recommendation              [TID 4003]
     ├ HAS CONCEPT MOD Rendering Intent (finding score vs operating threshold)
     └ CONTAINS CODE Composite Feature = CID 6016 (marks on >= 2 images)       [TID 4004]
         ├ HAS CONCEPT MOD Rendering Intent
         ├ HAS OBS CONTEXT TEXT Tracking Identifier = Finding.id               [TID 4108]
         ├ HAS PROPERTIES Composite type = spatially, Scope = multiple images  [TID 4005]
         ├ HAS PROPERTIES TID 4019, NUM Certainty of Feature %, NUM Diameter mm (no path)
         └ INFERRED FROM CODE Single Image Finding ... (one per mark, below)    [TID 4006]
       or, for a finding marked on one image:
     └ CONTAINS CODE Single Image Finding = CID 6014                           [TID 4006]
         ├ HAS CONCEPT MOD Rendering Intent (mark score)
         │   └ HAS PROPERTIES NUM CAD Operating Point = 1 (Optional marks, threshold set)
         ├ HAS OBS CONTEXT TEXT Tracking Identifier (single-image finding only)
         ├ HAS PROPERTIES TID 4019, NUM Certainty of Finding %
         ├ HAS PROPERTIES SCOORD Center POINT / Outline POLYLINE (closed)      [TID 4021]
         │   └ R-SELECTED FROM → Image Library IMAGE (its frame entry for DBT)
         ├ HAS PROPERTIES TID 4010/4011 rows: Number of calcifications | Calcification Type,
         │   Shape, Margins, NUM Diameter (TID 1400) with INFERRED FROM SCOORD Path → IMAGE
         └ INFERRED FROM CODE Single Image Finding = Individual Calcification (per cluster member)
             └ Rendering Intent Optional, TID 4019, Center POINT, Calcification Type

A finding compared with a prior study (``Finding.comparison``)::

    INFERRED FROM CONTAINER Individual Impression/Recommendation              [TID 4003]
     ├ HAS CONCEPT MOD Rendering Intent
     └ CONTAINS CODE Composite Feature = CID 6016                              [TID 4004]
         ├ HAS CONCEPT MOD Rendering Intent, HAS OBS CONTEXT Tracking Identifier
         ├ HAS PROPERTIES Composite type = (111153, DCM, "... related temporally"),
         │   Scope = multiple images, TID 4019, Certainty of Feature %        [TID 4005]
         ├ HAS PROPERTIES NUM (129806009, SCT, "Difference in size") mm      [TID 4005 row 11,
         │                                        CID 6037: current − prior size]
         ├ INFERRED FROM the current finding: its spatial Composite Feature (nested TID 4004,
         │   marks on >= 2 images) or its Single Image Finding                 (as above)
         ├ INFERRED FROM CODE Single Image Finding per mark on the prior      [TID 4006]
         │   └ Center / Outline R-SELECTED FROM → the prior's Image Library IMAGE (TID 4020 with
         │     the prior's Study Date; the prior's images are in Pertinent Other Evidence)
         └ HAS PROPERTIES CODE (129720009, SCT, "Change since last mammogram") = CID 6002

A new finding (no marks on the prior), or one whose prior images were not given, keeps its
usual shape with the CID 6002 change as a HAS PROPERTIES child of its Composite Feature or Single
Image Finding. The CAD summary (TID 4001) states the most telling change of the study in TID
4002 row 3 (Differential Diagnosis/Impression = CID 6002, VM 1: new, then increased, decreased,
stable) with its Laterality, and TID 4016 lists (133886009, SCT, "Temporal correlation").

Choices, each checked with PixelMed's DicomSRValidator and dciodvfy:

- Codes: mass → 129793001 "Mammography breast density" per view and 129788004 "Mammographic breast
  mass" as composite (the PS3.17 Annex E pattern); calcification cluster → 129769006 both levels;
  architectural distortion → 129792006.
- Frames: TID 4021 Center/Outline may only point *by reference* at an Image Library IMAGE, so a
  DBT mark gets its own library entry: the same image with Referenced Frame Number (0008,1160).
- TID 4009/4010/4011 each need at least one of their rows. A cluster gives its member count;
  an individual calcification its Calcification Type (``Finding.attributes["calcification_type"]``
  mapped to CID 6010, else "Microcalcifications of the breast"); a mass its Shape / Margins when
  the attributes name them, and a Diameter (TID 1400) whose Path is the longer bounding-box axis
  through the centre (the algorithm reports a size, not the line it measured).
- A single-image finding's score and size are its mark's; a composite's are the finding's.
- Operating point (TID 4023, one threshold): Maximum 1, Recommended 0. At 0 a display shows the
  Presentation Required marks (score >= threshold), at 1 also the Optional ones. The threshold
  value itself travels as Algorithm Parameter ``operating_threshold=...`` (TID 4019 row 3).
- Quality checks: the textbook place is a TID 4006 "Image Quality" finding (TID 4014) with
  R-INFERRED FROM its image (row 18), but the PixelMed validator we must pass rejects row 18 (and
  the Image Region rows 19-20) whatever the content ("Conditional content item present when
  condition not satisfied": its condition tests the concept name, not the value, for 111101).
  So every checked image is listed under Analyses Performed "Image quality analysis" (TID 4018),
  and each failed check is a line of the CAD summary's Impression Description.
- A mark's Diameter is written only when none of the coded TID 4010/4011 rows (Number of
  calcifications, Calcification Type / Distribution, Shape, Margins) is: PixelMed reads those
  templates' "at least one of" as "one of" and reports a measurement beside them as not in the
  template. A correlated finding's size stays on its Composite Feature (TID 4005 row 7).
- Kinds without a Mammography CAD code that PixelMed accepts are left out with a warning:
  asymmetry (129789007 "Focal asymmetric breast tissue" is only in CID 6016, and PixelMed refuses it
  as a Single Image Finding), enhancing lesion and ultrasound lesion (not mammography).
- Location (clock, quadrant, depth), ``correlated_with`` and other attributes have no place in
  these templates and are left to the results JSON.
- Comparison: TID 4002 inside TID 4003 (its row 3) is the textbook place of a finding's change,
  but IOD Table A.35.5-2 (dcmtk refuses the file) forbids HAS PROPERTIES from a CONTAINER while
  PixelMed requires it there; so the per-finding change is a HAS PROPERTIES CODE of the feature
  (concept and values of TID 4206; PixelMed: "not in template", a warning). PixelMed's TID
  4004/4005 lack the nested Composite Feature and row 11 (Difference in size) that PS3.16 has:
  warnings too, no errors.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping, Sequence
from dataclasses import replace
from typing import TYPE_CHECKING

from highdicom.sr import CodeContentItem, ContainerContentItem, ContentItem, ImageContentItem, NumContentItem

from breastgate.domain.errors import EncodingError
from breastgate.domain.model import ChangeKind, Finding, FindingComparison, FindingKind, Mark
from breastgate.results import codes as c
from breastgate.results.sr_content import (
    Code,
    ContentReference,
    Node,
    add,
    code_item,
    container_item,
    num_item,
    scoord_item,
    text_item,
)

if TYPE_CHECKING:
    from breastgate.results.tid4000 import AlgorithmIdentification

LOGGER = logging.getLogger(__name__)

ImageKey = tuple[str, int | None]
"""(SOP Instance UID, 1-based frame or None): the key of an Image Library entry."""

#: TID 4006 value per finding kind (CID 6014).
SINGLE_IMAGE_CODE: dict[FindingKind, Code] = {
    FindingKind.MASS: c.MAMMO_DENSITY,
    FindingKind.CALCIFICATION_CLUSTER: c.CALCIFICATION_CLUSTER,
    FindingKind.ARCHITECTURAL_DISTORTION: c.ARCHITECTURAL_DISTORTION,
}
#: TID 4004 value per finding kind (CID 6016).
COMPOSITE_CODE: dict[FindingKind, Code] = {
    FindingKind.MASS: c.BREAST_MASS,
    FindingKind.CALCIFICATION_CLUSTER: c.CALCIFICATION_CLUSTER,
    FindingKind.ARCHITECTURAL_DISTORTION: c.ARCHITECTURAL_DISTORTION,
}
THRESHOLD_PARAMETER = "operating_threshold="
#: TID 4019 Algorithm Parameters entry naming the model card of the algorithm version (``path@version``).
MODEL_CARD_PARAMETER = "model_card="
_HP, _CM, _IF = "HAS PROPERTIES", "HAS CONCEPT MOD", "INFERRED FROM"


def encodable(kind: FindingKind) -> bool:
    """Whether a finding kind has a (validated) Mammography CAD SR code."""
    return kind in SINGLE_IMAGE_CODE


def detection_code(kind: FindingKind) -> Code:
    """TID 4017 Detection Performed value (CID 6014) for a kind; EncodingError if it has none."""
    try:
        return SINGLE_IMAGE_CODE[kind]
    except KeyError:
        raise EncodingError(f"finding kind {kind} has no Mammography CAD SR code") from None


def kind_of(code: Code | None) -> FindingKind | None:
    """Finding kind of a TID 4006 value, or None (individual calcification, quality, unknown)."""
    for kind, known in SINGLE_IMAGE_CODE.items():
        if known.same(code):
            return kind
    return None


def rendering_intent(score: float, threshold: float | None) -> Code:
    """CID 6034: Presentation Required at or above the operating threshold (or without one)."""
    return c.PRESENTATION_REQUIRED if threshold is None or score >= threshold else c.PRESENTATION_OPTIONAL


def operating_points(threshold: float | None) -> list[NumContentItem]:
    """TID 4023 rows 1-2 for one threshold: Maximum CAD Operating Point 1, Recommended 0."""
    if threshold is None:
        return []
    return [
        num_item(c.MAXIMUM_CAD_OPERATING_POINT, 1, c.ARBITRARY_UNIT, _HP),
        num_item(c.RECOMMENDED_CAD_OPERATING_POINT, 0, c.RANGE_0_N, _HP),
    ]


def _percent(score: float) -> float:
    if not 0.0 <= score <= 1.0:
        raise EncodingError(f"score {score!r} outside 0..1")
    return round(score * 100.0, 6)


def closed_polyline(points: Sequence[tuple[float, float]]) -> tuple[float, ...]:
    """Graphic Data of a closed POLYLINE (first point repeated last, PS3.3 C.18.6.1.2)."""
    pts = list(points)
    if pts[0] != pts[-1]:
        pts.append(pts[0])
    return tuple(v for p in pts for v in p)


def bbox_rectangle(bbox: tuple[float, float, float, float]) -> list[tuple[float, float]]:
    """Corners of a (c0, r0, c1, r1) box, clockwise from the top-left: a mark without outline."""
    c0, r0, c1, r1 = bbox
    return [(c0, r0), (c1, r0), (c1, r1), (c0, r1)]


class FindingEncoder:
    """Builds the TID 4003 sub-trees of one result from highdicom content items.

    Parameters
    ----------
    algorithm
        TID 4019 identification repeated on every finding (row 5, mandatory).
    threshold
        The result's operating threshold (0-1) or None.
    images
        Image Library IMAGE items by (SOP Instance UID, frame); every mark's key must be present.
    """

    def __init__(
        self,
        algorithm: AlgorithmIdentification,
        threshold: float | None,
        images: Mapping[ImageKey, ImageContentItem],
    ) -> None:
        self.algorithm = algorithm
        self.threshold = threshold
        self.images = images

    def _image(self, mark: Mark) -> ImageContentItem:
        item = self.images.get((mark.sop_instance_uid, mark.frame))
        if item is None:
            raise EncodingError(f"mark on image {mark.sop_instance_uid} that is not in the library")
        return item

    def _intent(self, intent: Code) -> CodeContentItem:
        item = code_item(c.RENDERING_INTENT, intent, _CM)
        if intent == c.PRESENTATION_OPTIONAL and self.threshold is not None:
            add(item, num_item(c.CAD_OPERATING_POINT, 1, c.RANGE_1_N, _HP))
        return item

    def impression(self, finding: Finding) -> ContainerContentItem:
        """TID 4003 for one finding: a Composite Feature, or the Single Image Finding(s); with a
        comparison, its change (TID 4002) and, when the prior's images are in the library, a
        temporal Composite Feature over the current finding and its marks on the prior."""
        detection_code(finding.kind)
        rows: list[ContentItem] = [
            code_item(c.RENDERING_INTENT, rendering_intent(finding.score, self.threshold), _CM)
        ]
        prior = self.prior_marks(finding)
        images = {(m.sop_instance_uid, m.frame) for m in finding.marks}
        if prior:
            features = [self._temporal(finding, prior)]
        elif len(images) >= 2:
            features = [self._composite(finding)]
        else:
            features = [self._single(finding, mark, "CONTAINS", alone=True) for mark in finding.marks]
        if finding.comparison is not None:
            for feature in features:
                add(feature, self._change(finding.comparison))
        rows.extend(features)
        return container_item(c.INDIVIDUAL_IMPRESSION, _IF, rows)

    def prior_marks(self, finding: Finding) -> tuple[Mark, ...]:
        """The finding's marks on the prior when it was there (not new) and every one of their
        images is in the library; else none (the change is still stated, TID 4002)."""
        comparison = finding.comparison
        if comparison is None or comparison.change == ChangeKind.NEW or not comparison.prior_marks:
            return ()
        if any((m.sop_instance_uid, m.frame) not in self.images for m in comparison.prior_marks):
            return ()
        return comparison.prior_marks

    @staticmethod
    def _change(comparison: FindingComparison) -> CodeContentItem:
        """HAS PROPERTIES CODE (129720009, SCT, "Change since last mammogram") = CID 6002 on the
        finding's Composite Feature or Single Image Finding. The concept and values are TID
        4206's (Breast Imaging Report); TID 4004-4006 have no row for it, so PixelMed says "not
        in template" (a warning), and PS3.3 Table A.35.5-2 allows CODE HAS PROPERTIES CODE. TID
        4002 row 3 inside TID 4003 is not usable: A.35.5-2 forbids HAS PROPERTIES from a
        CONTAINER, PixelMed requires it (see :mod:`breastgate.results.tid4000`)."""
        return code_item(c.CHANGE_SINCE_LAST_MAMMOGRAM, c.CHANGES[comparison.change.value], _HP)

    def _temporal(self, finding: Finding, prior: Sequence[Mark]) -> CodeContentItem:
        """TID 4004 with Composite type "related temporally" (CID 6035 111153): INFERRED FROM the
        current finding (its spatial Composite Feature, or its Single Image Finding) and from a
        Single Image Finding per mark on the prior; TID 4005 row 11 Difference in size (CID 6037)."""
        comparison = finding.comparison
        assert comparison is not None
        item = code_item(c.COMPOSITE_FEATURE, COMPOSITE_CODE[finding.kind], "CONTAINS")
        rows: list[ContentItem] = [
            code_item(c.RENDERING_INTENT, rendering_intent(finding.score, self.threshold), _CM)
        ]
        if finding.id:
            rows.append(text_item(c.TRACKING_IDENTIFIER, finding.id, "HAS OBS CONTEXT"))
        rows.append(code_item(c.COMPOSITE_TYPE, c.RELATED_TEMPORALLY, _HP))
        rows.append(code_item(c.SCOPE_OF_FEATURE, c.MULTIPLE_IMAGES, _HP))
        rows.extend(self.algorithm.items())
        rows.append(num_item(c.CERTAINTY_OF_FEATURE, _percent(finding.score), c.PERCENT, _HP))
        if comparison.size_change_mm is not None:
            rows.append(num_item(c.DIFFERENCE_IN_SIZE, comparison.size_change_mm, c.MILLIMETER, _HP))
        if len({(m.sop_instance_uid, m.frame) for m in finding.marks}) >= 2:
            rows.append(self._composite(finding, _IF))
        else:
            rows.extend(self._single(finding, mark, _IF, alone=True) for mark in finding.marks)
        before = replace(finding, size_mm=comparison.prior_size_mm, marks=tuple(prior), comparison=None)
        rows.extend(self._single(before, mark, _IF, alone=len(prior) == 1) for mark in prior)
        add(item, *rows)
        return item

    def _composite(self, finding: Finding, rel: str = "CONTAINS") -> CodeContentItem:
        item = code_item(c.COMPOSITE_FEATURE, COMPOSITE_CODE[finding.kind], rel)
        rows: list[ContentItem] = [
            code_item(c.RENDERING_INTENT, rendering_intent(finding.score, self.threshold), _CM)
        ]
        if finding.id:
            rows.append(text_item(c.TRACKING_IDENTIFIER, finding.id, "HAS OBS CONTEXT"))
        rows.append(code_item(c.COMPOSITE_TYPE, c.RELATED_SPATIALLY, _HP))
        rows.append(code_item(c.SCOPE_OF_FEATURE, c.MULTIPLE_IMAGES, _HP))
        rows.extend(self.algorithm.items())
        rows.append(num_item(c.CERTAINTY_OF_FEATURE, _percent(finding.score), c.PERCENT, _HP))
        if finding.size_mm is not None:
            rows.append(num_item(c.DIAMETER, finding.size_mm, c.MILLIMETER, _HP))
        rows.extend(self._single(finding, mark, _IF) for mark in finding.marks)
        add(item, *rows)
        return item

    def _single(self, finding: Finding, mark: Mark, rel: str, *, alone: bool = False) -> CodeContentItem:
        image = self._image(mark)
        item = code_item(c.SINGLE_IMAGE_FINDING, SINGLE_IMAGE_CODE[finding.kind], rel)
        rows: list[ContentItem] = [self._intent(rendering_intent(mark.score, self.threshold))]
        if alone and finding.id:
            rows.append(text_item(c.TRACKING_IDENTIFIER, finding.id, "HAS OBS CONTEXT"))
        rows.extend(self.algorithm.items())
        rows.append(num_item(c.CERTAINTY_OF_FINDING, _percent(mark.score), c.PERCENT, _HP))
        rows.extend(self._geometry(mark, image))
        size = mark.size_mm if mark.size_mm is not None else (finding.size_mm if alone else None)
        coded, described = self._coded_rows(finding, mark)
        rows.extend(coded)
        if not described:
            # PixelMed reads "at least one of" TID 4010/4011 rows as "one of": size only alone.
            rows.extend(self._diameter(mark, image, size))
            if size is None and finding.kind == FindingKind.MASS:
                LOGGER.warning("CAD SR: mass mark without size, shape or margin (TID 4011 rows absent)")
        calc_type = c.CALCIFICATION_TYPES.get(str(finding.attributes.get("calcification_type", "")))
        for member in mark.members if finding.kind == FindingKind.CALCIFICATION_CLUSTER else ():
            rows.append(self._member(member, image, calc_type or c.MICROCALCIFICATION))
        add(item, *rows)
        return item

    @staticmethod
    def _coded_rows(finding: Finding, mark: Mark) -> tuple[list[ContentItem], bool]:
        """TID 4010 rows 1-3 (cluster) or TID 4011 rows 2-3 (mass) from the mark and attributes,
        and whether they describe the finding (a coded row or a member count)."""
        attrs = finding.attributes
        out: list[ContentItem] = []
        rows: list[tuple[Code, Code | None]] = []
        if finding.kind == FindingKind.CALCIFICATION_CLUSTER:
            if mark.members:
                count = float(len(mark.members))
                out.append(num_item(c.NUMBER_OF_CALCIFICATIONS, count, c.NO_UNITS, _HP))
            calc_type = c.CALCIFICATION_TYPES.get(str(attrs.get("calcification_type", "")))
            rows.append((c.CALCIFICATION_TYPE, calc_type))
            distribution = c.CALCIFICATION_DISTRIBUTIONS.get(str(attrs.get("distribution", "")))
            rows.append((c.CALCIFICATION_DISTRIBUTION, distribution))
        elif finding.kind == FindingKind.MASS:
            rows.append((c.SHAPE, c.SHAPES.get(str(attrs.get("shape", "")))))
            rows.append((c.MARGINS, c.MARGIN_TYPES.get(str(attrs.get("margin", attrs.get("shape", ""))))))
        present = [(concept, code) for concept, code in rows if code is not None]
        if finding.kind == FindingKind.CALCIFICATION_CLUSTER and not (
            present or mark.members or mark.size_mm
        ):
            present = [(c.CALCIFICATION_TYPE, c.MICROCALCIFICATION)]  # TID 4010 needs one row
        out.extend(code_item(concept, code, _HP) for concept, code in present)
        return out, bool(present) or bool(mark.members)

    @staticmethod
    def _geometry(mark: Mark, image: ImageContentItem) -> list[ContentItem]:
        """TID 4021: Center POINT and closed Outline POLYLINE (the bbox rectangle without outline),
        each R-SELECTED FROM its Image Library entry."""
        center = scoord_item(c.CENTER, "POINT", mark.point, _HP)
        ring = mark.outline if len(mark.outline) >= 3 else bbox_rectangle(mark.bbox)
        outline = scoord_item(c.OUTLINE, "POLYLINE", closed_polyline(ring), _HP)
        for item in (center, outline):
            add(item, ContentReference("SELECTED FROM", image))
        return [center, outline]

    @staticmethod
    def _diameter(mark: Mark, image: ImageContentItem, size: float | None) -> list[ContentItem]:
        """TID 1400 Diameter with its Path: the longer bbox axis through the centre."""
        if size is None:
            return []
        c0, r0, c1, r1 = mark.bbox
        col, row = mark.point
        path = (c0, row, c1, row) if c1 - c0 >= r1 - r0 else (col, r0, col, r1)
        scoord = scoord_item(c.PATH, "POLYLINE", path, _IF)
        add(scoord, ContentReference("SELECTED FROM", image))
        num = num_item(c.DIAMETER, size, c.MILLIMETER, _HP)
        add(num, scoord)
        return [num]

    def _member(
        self, point: tuple[float, float], image: ImageContentItem, calc_type: Code
    ) -> CodeContentItem:
        """TID 4006 row 25: an Individual Calcification of a cluster (TID 4009 Calcification Type)."""
        item = code_item(c.SINGLE_IMAGE_FINDING, c.INDIVIDUAL_CALCIFICATION, _IF)
        center = scoord_item(c.CENTER, "POINT", point, _HP)
        add(center, ContentReference("SELECTED FROM", image))
        add(
            item,
            self._intent(c.PRESENTATION_OPTIONAL),
            *self.algorithm.items(),
            center,
            code_item(c.CALCIFICATION_TYPE, calc_type, _HP),
        )
        return item


# ---------------------------------------------------------------- decoding


def _scoord(node: Node, concept: Code) -> tuple[tuple[float, ...], Node | None] | None:
    found = node.first(concept, "SCOORD")
    if found is None or found.graphic is None:
        return None
    target = next((ch.ref for ch in found.children if ch.ref is not None), None)
    return found.graphic[1], target


def _pairs(values: Sequence[float]) -> tuple[tuple[float, float], ...]:
    return tuple((float(values[i]), float(values[i + 1])) for i in range(0, len(values) - 1, 2))


def _num(node: Node, concept: Code) -> float | None:
    found = node.first(concept, "NUM")
    return found.num if found is not None else None


def _library_facts(image: Node | None) -> tuple[str | None, str | None]:
    """(laterality, view abbreviation) from an Image Library IMAGE's acquisition context."""
    if image is None:
        return None, None
    lat = image.first(c.IMAGE_LATERALITY, "CODE")
    view = image.first(c.IMAGE_VIEW, "CODE")
    side = c.laterality_of(lat.code) if lat is not None and lat.code is not None else None
    return side, c.view_of(view.code if view is not None else None)


def decode_mark(node: Node) -> Mark | None:
    """A :class:`Mark` from a TID 4006 Single Image Finding (None without a usable Center)."""
    center = _scoord(node, c.CENTER)
    if center is None or len(center[0]) < 2:
        return None
    values, image = center
    if image is None or image.sop is None:
        return None
    outline = _scoord(node, c.OUTLINE)
    ring = _pairs(outline[0]) if outline is not None else ()
    if len(ring) > 1 and ring[0] == ring[-1]:
        ring = ring[:-1]
    point = (float(values[0]), float(values[1]))
    if ring:
        cols, rows = [p[0] for p in ring], [p[1] for p in ring]
        bbox = (min(cols), min(rows), max(cols), max(rows))
    else:
        bbox = (point[0], point[1], point[0], point[1])
    if list(ring) == bbox_rectangle(bbox):
        ring = ()  # the encoder's stand-in for "no outline"
    members = tuple(
        (float(m[0][0]), float(m[0][1]))
        for child in node.find(c.SINGLE_IMAGE_FINDING, "CODE")
        if c.INDIVIDUAL_CALCIFICATION.same(child.code)
        for m in [_scoord(child, c.CENTER)]
        if m is not None and len(m[0]) >= 2
    )
    certainty = _num(node, c.CERTAINTY_OF_FINDING)
    laterality, view = _library_facts(image)
    return Mark(
        sop_instance_uid=image.sop[1],
        point=point,
        bbox=bbox,
        score=round(certainty / 100.0, 6) if certainty is not None else 0.0,
        laterality=laterality,
        view=view,
        frame=image.frames[0] if image.frames else None,
        sop_class_uid=image.sop[0],
        outline=ring,
        members=members,
        size_mm=_num(node, c.DIAMETER),
    )


def _attributes(node: Node) -> dict[str, str | float]:
    out: dict[str, str | float] = {}
    for key, concept, table in (
        ("calcification_type", c.CALCIFICATION_TYPE, c.CALCIFICATION_TYPES),
        ("distribution", c.CALCIFICATION_DISTRIBUTION, c.CALCIFICATION_DISTRIBUTIONS),
        ("shape", c.SHAPE, c.SHAPES),
        ("margin", c.MARGINS, c.MARGIN_TYPES),
    ):
        found = node.first(concept, "CODE")
        word = next((w for w, code in table.items() if code.same(found.code if found else None)), None)
        if word is not None:
            out[key] = word
    return out


def _tracking(node: Node) -> str:
    found = node.first(c.TRACKING_IDENTIFIER, "TEXT")
    return (found.text or "") if found is not None else ""


def is_temporal(node: Node) -> bool:
    """Whether a Composite Feature's Composite type is "related temporally" (CID 6035 111153)."""
    kind = node.first(c.COMPOSITE_TYPE, "CODE")
    return kind is not None and c.RELATED_TEMPORALLY.same(kind.code)


def _study_date(single: Node) -> str:
    """Study Date (TID 4020 row 7) of the library image a Single Image Finding's Center is on."""
    center = _scoord(single, c.CENTER)
    image = center[1] if center is not None else None
    found = image.first(c.STUDY_DATE, "DATE") if image is not None else None
    return (found.text or "") if found is not None else ""


def change_of(node: Node) -> ChangeKind | None:
    """The CID 6002 "Change since last mammogram" a feature or finding carries, or None."""
    found = node.first(c.CHANGE_SINCE_LAST_MAMMOGRAM, "CODE")
    code = found.code if found is not None else None
    return next((ChangeKind(k) for k, known in c.CHANGES.items() if known.same(code)), None)


def comparison_of(
    change: ChangeKind | None,
    prior: Sequence[Node],
    size_change: float | None,
    prior_studies: Mapping[str, str],
    size: float | None = None,
) -> FindingComparison | None:
    """A finding's comparison from its change code and its Single Image Findings on the prior;
    the prior's Study Instance UID from the Pertinent Other Evidence (``prior_studies``: SOP
    Instance UID → Study Instance UID), else the only prior study listed there, else empty."""
    if change is None:
        return None
    marks = tuple(m for m in (decode_mark(p) for p in prior) if m is not None)
    studies = {prior_studies.get(m.sop_instance_uid) for m in marks} - {None}
    if not studies and len(set(prior_studies.values())) == 1:
        studies = set(prior_studies.values())
    dates = [d for d in (_study_date(p) for p in prior) if d]
    prior_size = next((m.size_mm for m in marks if m.size_mm is not None), None)
    if prior_size is None and size is not None and size_change is not None:
        prior_size = round(size - size_change, 6)  # current − prior, as encoded
    return FindingComparison(
        prior_study_instance_uid=str(next(iter(studies))) if len(studies) == 1 else "",
        change=change,
        size_change_mm=size_change,
        prior_size_mm=prior_size,
        prior_study_date=dates[0] if dates else None,
        prior_marks=marks,
    )


def split_temporal(comp: Node) -> tuple[Node | None, list[Node], list[Node]]:
    """(current spatial Composite Feature or None, current singles, prior singles) of a temporal
    Composite Feature: a nested feature is the current finding; otherwise the singles on the
    latest Study Date are (the first single when no dates tell)."""
    nested = comp.find(c.COMPOSITE_FEATURE, "CODE")
    singles = comp.find(c.SINGLE_IMAGE_FINDING, "CODE")
    if nested:
        return nested[0], nested[0].find(c.SINGLE_IMAGE_FINDING, "CODE"), singles
    dates = [_study_date(s) for s in singles]
    latest = max(dates, default="")
    if latest and len(set(dates)) > 1:
        return (
            None,
            [s for s, d in zip(singles, dates, strict=True) if d == latest],
            [s for s, d in zip(singles, dates, strict=True) if d != latest],
        )
    return None, singles[:1], singles[1:]


def decode_findings(cad: Node, prior_studies: Mapping[str, str] | None = None) -> tuple[Finding, ...]:
    """Findings below a TID 4001 CAD summary (image-quality and unknown findings are skipped),
    with their comparison with the prior when the SR states one (a change code, a temporal
    Composite Feature). ``prior_studies`` maps prior SOP Instance UIDs to their Study Instance
    UID (the Pertinent Other Evidence Sequence)."""
    prior_studies = prior_studies or {}
    out: list[Finding] = []
    for impression in cad.find(c.INDIVIDUAL_IMPRESSION, "CONTAINER"):
        for comp in impression.find(c.COMPOSITE_FEATURE, "CODE"):
            prior: list[Node] = []
            feature: Node | None = comp
            if is_temporal(comp):
                feature, singles, prior = split_temporal(comp)
            else:
                singles = comp.find(c.SINGLE_IMAGE_FINDING, "CODE")
            kinds = [kind_of(s.code) for s in singles]
            marks = [m for m in (decode_mark(s) for s in singles) if m is not None]
            if not marks:
                continue
            source = feature if feature is not None else comp
            certainty = _num(source, c.CERTAINTY_OF_FEATURE)
            score = round(certainty / 100.0, 6) if certainty is not None else max(m.score for m in marks)
            size = _num(source, c.DIAMETER) if feature is not None else marks[0].size_mm
            difference = _num(comp, c.DIFFERENCE_IN_SIZE)
            comparison = comparison_of(change_of(comp), prior, difference, prior_studies, size)
            out += _finding(
                _tracking(comp), kinds[0] if kinds else None, score, marks, size, singles, comparison
            )
        for single in impression.find(c.SINGLE_IMAGE_FINDING, "CODE"):
            mark = decode_mark(single)
            if mark is None:
                continue
            comparison = comparison_of(change_of(single), [], None, prior_studies)
            out += _finding(
                _tracking(single),
                kind_of(single.code),
                mark.score,
                [mark],
                mark.size_mm,
                [single],
                comparison,
            )
    return tuple(out)


def _finding(
    ident: str,
    kind: FindingKind | None,
    score: float,
    marks: list[Mark],
    size: float | None,
    nodes: list[Node],
    comparison: FindingComparison | None = None,
) -> list[Finding]:
    laterality = next((m.laterality for m in marks if m.laterality in ("L", "R")), None)
    if kind is None or not marks or laterality is None:
        LOGGER.warning("CAD SR: finding %r skipped (unknown kind, no marks or no laterality)", ident)
        return []
    attributes: dict[str, str | float] = {}
    for node in nodes:
        attributes.update(_attributes(node))
    return [
        Finding(
            id=ident,
            kind=kind,
            laterality=laterality,
            score=min(max(score, 0.0), 1.0),
            marks=tuple(marks),
            size_mm=size,
            attributes=attributes,
            comparison=comparison,
        )
    ]


def threshold_from(parameters: Sequence[str]) -> float | None:
    """The operating threshold stored as a TID 4019 Algorithm Parameter, or None."""
    for p in parameters:
        if p.startswith(THRESHOLD_PARAMETER):
            try:
                return float(p[len(THRESHOLD_PARAMETER) :])
            except ValueError:
                return None
    return None
