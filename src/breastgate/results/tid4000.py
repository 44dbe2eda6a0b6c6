"""PS3.16 TID 4000 Mammography CAD Document Root: density, summaries, and the findings' place.

Encoding choice (reference dicom-sr.md §1.3-1.9 and §9; sectra.md §1.3), as emitted::

    CONTAINER Mammography CAD Report [TID 4000, Content Template 4000/DCMR]
     ├ HAS CONCEPT MOD Language = en-US                                      [TID 1204]
     ├ CONTAINS Image Library → IMAGE per source image + HAS ACQ CONTEXT     [TID 4020]
     │   └ then IMAGE + Referenced Frame Number per (multi-frame image, frame) a mark is on
     ├ CONTAINS CODE CAD Processing and Findings Summary = CID 6047          [TID 4001]
     │   ├ HAS PROPERTIES TEXT Impression Description "AI result (...) — not for diagnostic use" + lines
     │   ├ HAS PROPERTIES TEXT Algorithm Name / Version / Parameters         [TID 4019]
     │   └ HAS PROPERTIES NUM (112191, DCM, "Breast tissue density") %       [TID 4002 rows 12-13]
     │       ├ HAS CONCEPT MOD Laterality (Both breasts / Right / Left breast)
     │       ├ HAS PROPERTIES CODE (129715009, SCT, "Breast composition") = CID 6000   (study, breasts)
     │       └ R-INFERRED FROM → Image Library IMAGE(s)                       (breasts, images)
     │   └ INFERRED FROM Individual Impression/Recommendation per finding     [TID 4003, see
     │                                                          breastgate.results.tid4000_findings]
     ├ CONTAINS CODE Summary of Detections = CID 6042; Not Attempted for density alone
     │   └ INFERRED FROM CONTAINER Successful / Failed Detections             [TID 4015/4017]
     │       └ CONTAINS CODE Detection Performed = CID 6014 per lesion kind
     │           ├ HAS PROPERTIES TID 4019, R-HAS PROPERTIES → images
     │           └ HAS PROPERTIES Maximum / Recommended CAD Operating Point   [TID 4023]
     └ CONTAINS CODE Summary of Analyses = CID 6042                          [TID 4016/4018]
         └ INFERRED FROM CONTAINER Successful / Failed Analyses
             └ CONTAINS CODE Analysis Performed = (133890006, SCT, "Breast composition analysis"),
               (133884007, SCT, "Spatial collocation analysis") for findings correlated across
               views, (133886009, SCT, "Temporal correlation") when the result compared the
               study with a prior, (133887000, SCT, "Image quality analysis") for images with
               quality checks
                 ├ HAS PROPERTIES TID 4019
                 └ R-HAS PROPERTIES → the images that succeeded / failed or were skipped

Why not a TID 4006 "Breast composition" Single Image Finding with TID 4007? It is the textbook
place, but the two validators we must pass cannot both accept it: PS3.3 Table A.35.5-2 (enforced by
dcmtk, which then refuses to read the file) forbids CODE → CONTAINS, while PixelMed's
DicomSRValidator (the Debian jar) requires the TID 4007 rows with relationship CONTAINS, and also
flags the by-reference INFERRED FROM of TID 4006 row 10 as the Image-Quality-only row 18.
Every placement of a category *inside* TID 4002 rows with value sets (rows 1, 3) is an error too
(CID 6026 / CID 6002 are not extensible). So the density is TID 4002 row 12 NUM per level (study,
each breast, each image), which both validators accept and any SR viewer shows as "Breast tissue
density = N %" with its laterality; the BI-RADS a-d category is a coded HAS PROPERTIES child of the
study/breast NUMs (permitted by A.35.5-2 row 6; PixelMed only warns "not in template") and is also
spelled out in the Impression Description, the item a workstation shows as the CAD summary text.
Decoding (:func:`~.mammo_cad_sr.decode_tree`) relies on the order written here: study NUM first,
then breast NUMs (both with a category), then image NUMs (without).

Built from highdicom content items (``CodeContentItem``, ``NumContentItem``, ``TextContentItem``,
``ImageContentItem``, ``ScoordContentItem``, ``ContainerContentItem``); the by-reference links are
ours (:class:`~breastgate.results.sr_content.ContentReference`), numbered once the tree is whole.
highdicom requires a concept name on every IMAGE item; the Image Library entries lose it again once
the tree is built, as TID 4020 row 1 and the PS3.17 Annex E examples have none.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field, replace

from highdicom.sr import (
    CodeContentItem,
    ContainerContentItem,
    ContentItem,
    DateContentItem,
    ImageContentItem,
    NumContentItem,
    TextContentItem,
    TimeContentItem,
)
from pydicom.dataset import Dataset

from breastgate.domain.errors import EncodingError, InvalidInputError
from breastgate.domain.model import (
    ChangeKind,
    DensityAssessment,
    Finding,
    FindingKind,
    QualityCheck,
)
from breastgate.results import codes as c
from breastgate.results.sr_content import (
    Code,
    ContentReference,
    Node,
    add,
    code_item,
    container_item,
    num_item,
    number_references,
    plain_numbers,
    text_item,
)
from breastgate.results.tid4000_findings import (
    FindingEncoder,
    detection_code,
    operating_points,
)

LOGGER = logging.getLogger(__name__)

#: Concept name highdicom requires on an IMAGE item (its own library entries use it too).
SOURCE = Code("260753009", "SCT", "Source")
_CONTAINS, _ACQ = "CONTAINS", "HAS ACQ CONTEXT"
_SIDE_NAMES = {"L": "Left breast", "R": "Right breast", "B": "Both breasts"}


@dataclass(frozen=True)
class AlgorithmIdentification:
    """PS3.16 TID 4019: name, version and free-text parameters."""

    name: str
    version: str
    parameters: tuple[str, ...] = ()

    def __post_init__(self) -> None:
        if not self.name or not self.version:
            raise EncodingError("TID 4019 needs an algorithm name and version")

    def items(self, rel: str = "HAS PROPERTIES") -> list[TextContentItem]:
        """The TID 4019 rows as highdicom TEXT items, HAS PROPERTIES as the CAD templates include
        them (highdicom's ``AlgorithmIdentification`` is HAS CONCEPT MOD only, as TID 1500 wants)."""
        return [
            text_item(c.ALGORITHM_NAME, self.name, rel),
            text_item(c.ALGORITHM_VERSION, self.version, rel),
            *(text_item(c.ALGORITHM_PARAMETERS, p, rel) for p in self.parameters),
        ]

    @classmethod
    def from_node(cls, node: Node) -> AlgorithmIdentification | None:
        """Decode the TID 4019 items below ``node``, or None when absent."""
        name, version = node.first(c.ALGORITHM_NAME, "TEXT"), node.first(c.ALGORITHM_VERSION, "TEXT")
        if name is None or version is None:
            return None
        params = tuple(n.text or "" for n in node.find(c.ALGORITHM_PARAMETERS, "TEXT"))
        return cls(name.text or "", version.text or "", params)


@dataclass(frozen=True)
class ImageLibraryEntry:
    """PS3.16 TID 4020 CAD Image Library Entry, built from an image header (no pixels needed)."""

    sop_class_uid: str
    sop_instance_uid: str
    laterality: str | None = None
    view: Code | None = None
    view_modifiers: tuple[Code, ...] = ()
    orientation: tuple[str, str] | None = None
    study_date: str | None = None
    study_time: str | None = None
    content_date: str | None = None
    content_time: str | None = None
    spacing_mm: tuple[float, float] | None = None
    primary_angle: float | None = None
    rows_columns: tuple[int, int] | None = None
    #: Set on the extra entry of one frame of a multi-frame image (TID 4021 refers by reference only).
    frame: int | None = None

    @classmethod
    def from_header(cls, ds: Dataset) -> ImageLibraryEntry:
        """Read the attributes TID 4020 rows 2-13 are conditional on."""
        try:
            sop_class, sop_inst = str(ds.SOPClassUID), str(ds.SOPInstanceUID)
        except AttributeError as exc:
            raise InvalidInputError("source image lacks SOP Class/Instance UID") from exc
        view = mods = None
        if ds.get("ViewCodeSequence"):
            item = ds.ViewCodeSequence[0]
            view = Code.from_dataset(item)
            mods = tuple(Code.from_dataset(m) for m in item.get("ViewModifierCodeSequence", []))
        orient = ds.get("PatientOrientation")
        orientation = (str(orient[0]), str(orient[1])) if orient and len(orient) == 2 else None
        spacing = ds.get("ImagerPixelSpacing") or ds.get("PixelSpacing")
        angle = ds.get("PositionerPrimaryAngle")
        lat = str(ds.get("ImageLaterality", "") or "") or _frame_laterality(ds)
        return cls(
            sop_class,
            sop_inst,
            laterality=lat if lat in c.SIDE_BY_LATERALITY else None,
            view=view,
            view_modifiers=mods or (),
            orientation=orientation,
            study_date=str(ds.get("StudyDate", "") or "") or None,
            study_time=str(ds.get("StudyTime", "") or "") or None,
            content_date=str(ds.get("ContentDate", "") or "") or None,
            content_time=str(ds.get("ContentTime", "") or "") or None,
            spacing_mm=(float(spacing[0]), float(spacing[1])) if spacing and len(spacing) == 2 else None,
            primary_angle=float(angle) if angle not in (None, "") else None,
            rows_columns=(int(ds.Rows), int(ds.Columns)) if ds.get("Rows") and ds.get("Columns") else None,
        )

    def to_item(self, sides: Mapping[str, Code] = c.SIDE_BY_LATERALITY) -> ImageContentItem:
        """The IMAGE item built by highdicom with its HAS ACQ CONTEXT rows (each only when the
        source has it; a date or time highdicom cannot parse is left out with a warning).

        ``sides`` codes Image Laterality: CID 6022 for TID 4020; TID 1602 (the TID 1600 library
        entry, which shares these rows) wants CID 244 (:data:`codes.LATERALITY_BY_SIDE`).
        """
        frames = [self.frame] if self.frame is not None else None
        img = ImageContentItem(
            SOURCE.coded(), self.sop_class_uid, self.sop_instance_uid, frames, None, _CONTAINS
        )
        rows: list[ContentItem] = []
        if self.laterality and self.laterality in sides:
            rows.append(code_item(c.IMAGE_LATERALITY, sides[self.laterality], _ACQ))
        if self.view is not None:
            view = code_item(c.IMAGE_VIEW, self.view, _ACQ)
            add(view, *(code_item(c.IMAGE_VIEW_MODIFIER, m, "HAS CONCEPT MOD") for m in self.view_modifiers))
            rows.append(view)
        if self.orientation:
            rows.append(text_item(c.PATIENT_ORIENTATION_ROW, self.orientation[0], _ACQ))
            rows.append(text_item(c.PATIENT_ORIENTATION_COLUMN, self.orientation[1], _ACQ))
        for kind, concept, value in (
            (DateContentItem, c.STUDY_DATE, self.study_date),
            (TimeContentItem, c.STUDY_TIME, self.study_time),
            (DateContentItem, c.CONTENT_DATE, self.content_date),
            (TimeContentItem, c.CONTENT_TIME, self.content_time),
        ):
            try:
                rows.extend([kind(concept.coded(), value, _ACQ)] if value else [])
            except ValueError:
                LOGGER.warning(
                    "image %s: %s %r left out of its library entry",
                    self.sop_instance_uid,
                    concept.meaning,
                    value,
                )
        if self.spacing_mm:
            # Pixel Spacing is row spacing (vertical) \ column spacing (horizontal), PS3.3 10.7.1.3
            rows.append(num_item(c.HORIZONTAL_PIXEL_SPACING, self.spacing_mm[1], c.MILLIMETER, _ACQ))
            rows.append(num_item(c.VERTICAL_PIXEL_SPACING, self.spacing_mm[0], c.MILLIMETER, _ACQ))
        if self.primary_angle is not None:
            rows.append(num_item(c.POSITIONER_PRIMARY_ANGLE, self.primary_angle, c.DEGREE, _ACQ))
        add(img, *rows)
        return img


def _frame_laterality(ds: Dataset) -> str | None:
    """Frame Laterality of the shared Frame Anatomy (enhanced multi-frame images such as DBT)."""
    try:
        value = ds.SharedFunctionalGroupsSequence[0].FrameAnatomySequence[0].FrameLaterality
    except (AttributeError, IndexError):
        return None
    return str(value) or None


@dataclass(frozen=True)
class DensityContent:
    """What TID 4000 says (density, findings, quality), decoded or to encode.

    ``detection_kinds`` are the lesion kinds the algorithm looked for (TID 4015 Detection
    Performed); ``density_analysis`` says whether it performed a breast composition analysis.
    """

    algorithm: AlgorithmIdentification
    density: DensityAssessment | None
    image_density: Mapping[str, tuple[str, float | None]] = field(default_factory=dict)
    succeeded: tuple[str, ...] = ()
    failed: tuple[str, ...] = ()
    impression: str = ""
    library: tuple[tuple[str, str], ...] = ()
    findings: tuple[Finding, ...] = ()
    quality: tuple[QualityCheck, ...] = ()
    operating_threshold: float | None = None
    detection_kinds: tuple[FindingKind, ...] = ()
    density_analysis: bool = True
    #: The result compared the study with a prior (TID 4018 "Temporal correlation" analysis).
    temporal: bool = False
    #: Lines of the CAD summary text on the comparison with the prior (after the density lines).
    comparison_lines: tuple[str, ...] = ()


def _density_num(side: str, percent: float, category: str | None = None) -> NumContentItem:
    """TID 4002 rows 12-13: NUM (112191, DCM, "Breast tissue density") in % with its Laterality.

    With ``category``, the NUM also carries HAS PROPERTIES CODE (129715009, SCT, "Breast composition")
    = CID 6000 value (an item outside TID 4002: PixelMed warns, IOD table A.35.5-2 row 6 permits it).
    """
    if not 0.0 <= percent <= 100.0:
        raise EncodingError(f"percent density {percent!r} outside 0-100")
    num = num_item(c.BREAST_TISSUE_DENSITY, percent, c.PERCENT, "HAS PROPERTIES")
    add(num, code_item(c.LATERALITY, c.SIDE_BY_LATERALITY[side], "HAS CONCEPT MOD"))
    if category is not None:
        if category not in c.COMPOSITION_BY_CATEGORY:
            raise EncodingError(f"breast composition category {category!r} is not one of a-d")
        add(num, code_item(c.BREAST_COMPOSITION, c.COMPOSITION_BY_CATEGORY[category], "HAS PROPERTIES"))
    return num


def _check_density(dens: DensityAssessment) -> None:
    """Reject categories outside BI-RADS a-d, percentages outside 0-100 and unknown sides."""
    levels = [
        (dens.category, dens.percent_dense),
        *((b.category, b.percent_dense) for b in dens.per_breast.values()),
    ]
    for category, percent in levels:
        if category not in c.COMPOSITION_BY_CATEGORY:
            raise EncodingError(f"breast composition category {category!r} is not one of a-d")
        if not 0.0 <= percent <= 100.0:
            raise EncodingError(f"percent density {percent!r} outside 0-100")
    if set(dens.per_breast) - {"L", "R"}:
        raise EncodingError(f"per-breast density keys must be L or R, got {sorted(dens.per_breast)}")


def _describe(side: str, category: str, percent: float) -> str:
    meaning = c.COMPOSITION_BY_CATEGORY[category].meaning
    return (
        f"{_SIDE_NAMES[side]}: breast density (BI-RADS 5th ed.) {category} ({meaning}), {percent:.1f} % dense"
    )


def _library(entries: Sequence[ImageLibraryEntry], findings: Sequence[Finding]) -> list[ImageLibraryEntry]:
    """Entries of the source images, then one per (image, frame) a mark points at.

    An entry whose header lacks Image Laterality takes the laterality of the findings marked on it.
    """
    sides = {m.sop_instance_uid: f.laterality for f in findings for m in f.marks}
    out = [
        e
        if e.laterality or e.sop_instance_uid not in sides
        else replace(e, laterality=sides[e.sop_instance_uid])
        for e in entries
    ]
    by_uid = {e.sop_instance_uid: e for e in out}
    prior = [m for f in findings if f.comparison is not None for m in f.comparison.prior_marks]
    frames = sorted({(m.sop_instance_uid, m.frame) for f in findings for m in f.marks if m.frame is not None})
    frames += sorted(
        {(m.sop_instance_uid, m.frame) for m in prior if m.frame is not None and m.sop_instance_uid in by_uid}
        - set(frames)
    )
    for uid, frame in frames:
        if uid not in by_uid:
            raise EncodingError(f"mark on image {uid} that is not in the library")
        out.append(replace(by_uid[uid], frame=frame))
    return out


def _status(ok: Sequence[str], bad: Sequence[str]) -> Code:
    """CID 6042 Status of Results from the images that succeeded and failed."""
    if ok:
        return c.PARTIALLY_SUCCEEDED if bad else c.SUCCEEDED
    return c.FAILED if bad else c.NOT_ATTEMPTED


def _summary(ok: Sequence[str], bad: Sequence[str], found: bool) -> Code:
    """CID 6047 CAD Processing and Findings Summary."""
    if ok and not bad:
        return c.ALL_SUCCEEDED_WITH_FINDINGS if found else c.ALL_SUCCEEDED_NO_FINDINGS
    if ok:
        return c.NOT_ALL_SUCCEEDED_WITH_FINDINGS if found else c.NOT_ALL_SUCCEEDED_NO_FINDINGS
    if bad:
        return c.NONE_SUCCEEDED
    return c.ALL_SUCCEEDED_WITH_FINDINGS if found else c.NONE_SUCCEEDED


def build_tree(content: DensityContent, entries: Sequence[ImageLibraryEntry]) -> ContainerContentItem:
    """Build the TID 4000 content tree of highdicom content items, by-reference links numbered."""
    algo = content.algorithm
    items = {(e.sop_instance_uid, e.frame): e.to_item() for e in _library(entries, content.findings)}
    images = {uid: item for (uid, frame), item in items.items() if frame is None}
    if not images:
        raise EncodingError("TID 4000 needs at least one Image Library entry")
    ok = [u for u in content.succeeded if u in images]
    bad = [u for u in content.failed if u in images]
    dens = content.density
    poor = [q for q in content.quality if not q.passed and q.sop_instance_uid in images]
    lines = [content.impression]
    if dens is not None:
        _check_density(dens)
        lines += _density_lines(dens)
    lines += [f"Image quality: {q.name} not met ({q.reason or 'no reason given'})" for q in poor]
    lines += content.comparison_lines
    rows: list[ContentItem] = [*_overall_change(content.findings)]
    rows.append(text_item(c.IMPRESSION_DESCRIPTION, "\n".join(lines), "HAS PROPERTIES"))
    rows.extend(algo.items())
    if dens is not None:
        rows.extend(_density_nums(dens, content, entries, images))
    encoder = FindingEncoder(algo, content.operating_threshold, items)
    rows.extend(encoder.impression(finding) for finding in content.findings)
    cad = code_item(c.CAD_SUMMARY, _summary(ok, bad, bool(dens or content.findings)), "CONTAINS")
    add(cad, *rows)
    root = container_item(
        c.MAMMO_CAD_REPORT,
        None,
        [
            code_item(c.LANGUAGE, c.ENGLISH, "HAS CONCEPT MOD"),
            container_item(c.IMAGE_LIBRARY, "CONTAINS", list(items.values())),
            cad,
            _detections(content, ok, bad, images),
            _analyses(content, ok, bad, images),
        ],
        template="4000",
    )
    plain_numbers(root)
    number_references(root)
    for entry in items.values():  # TID 4020 row 1: an IMAGE without concept name (PS3.17 Annex E)
        del entry.ConceptNameCodeSequence
    return root


#: CID 6002 changes, most telling first: the one TID 4002 row 3 (VM 1) states for the study.
_CHANGE_ORDER = (ChangeKind.NEW, ChangeKind.INCREASED, ChangeKind.DECREASED, ChangeKind.STABLE)


def _overall_change(findings: Sequence[Finding]) -> list[CodeContentItem]:
    """TID 4002 rows 3-4 in the CAD summary: Differential Diagnosis/Impression = the most telling
    change since the prior among the findings (CID 6002: new, then increased, decreased,
    stable), with the Laterality of the findings that changed so (CID 6022, Both breasts when
    both); none without a compared finding. Each finding carries its own change (see
    :mod:`breastgate.results.tid4000_findings`)."""
    changes = {f.comparison.change: set[str]() for f in findings if f.comparison is not None}
    for f in findings:
        if f.comparison is not None:
            changes[f.comparison.change].add(f.laterality)
    change = next((k for k in _CHANGE_ORDER if k in changes), None)
    if change is None:
        return []
    sides = changes[change]
    item = code_item(c.DIFFERENTIAL_DIAGNOSIS, c.CHANGES[change.value], "HAS PROPERTIES")
    add(
        item,
        code_item(
            c.LATERALITY, c.SIDE_BY_LATERALITY["B" if len(sides) > 1 else sides.pop()], "HAS CONCEPT MOD"
        ),
    )
    return [item]


def _detections(
    content: DensityContent, ok: Sequence[str], bad: Sequence[str], images: Mapping[str, ContentItem]
) -> CodeContentItem:
    """TID 4000 rows 6-7: one Detection Performed per lesion kind (TID 4015/4017/4023)."""
    kinds = content.detection_kinds
    # Density alone is not a detection: TID 4000 row 7 is absent when row 6 is Not Attempted.
    status = _status(ok, bad) if kinds else c.NOT_ATTEMPTED
    summary = code_item(c.SUMMARY_OF_DETECTIONS, status, "CONTAINS")
    if status == c.NOT_ATTEMPTED:
        return summary
    for container, uids in ((c.SUCCESSFUL_DETECTIONS, ok), (c.FAILED_DETECTIONS, bad)):
        if not uids:
            continue
        performed = []
        for kind in kinds:
            item = code_item(c.DETECTION_PERFORMED, detection_code(kind), "CONTAINS")
            add(
                item,
                *content.algorithm.items(),
                *(ContentReference("HAS PROPERTIES", images[u]) for u in uids),
            )
            if container == c.SUCCESSFUL_DETECTIONS:
                add(item, *operating_points(content.operating_threshold))
            performed.append(item)
        add(summary, container_item(container, "INFERRED FROM", performed))
    return summary


def _analyses(
    content: DensityContent, ok: Sequence[str], bad: Sequence[str], images: Mapping[str, ContentItem]
) -> CodeContentItem:
    """TID 4000 rows 8-9 (TID 4016/4018): composition, cross-view correlation, temporal
    correlation with the prior (CID 6043 133886009; the current images), image quality."""
    analyses: list[tuple[Code, list[str], list[str]]] = []
    if content.density_analysis:
        analyses.append((c.BREAST_COMPOSITION_ANALYSIS, list(ok), list(bad)))
    correlated = {
        m.sop_instance_uid
        for f in content.findings
        if len({(m.sop_instance_uid, m.frame) for m in f.marks}) >= 2
        for m in f.marks
    }
    if correlated:
        analyses.append((c.SPATIAL_COLLOCATION_ANALYSIS, [u for u in images if u in correlated], []))
    if content.temporal and ok:
        analyses.append((c.TEMPORAL_CORRELATION, list(ok), []))
    checked = {q.sop_instance_uid for q in content.quality}
    if checked & set(images):
        analyses.append((c.IMAGE_QUALITY_ANALYSIS, [u for u in images if u in checked], []))
    all_ok = [u for _, good, _ in analyses for u in good]
    all_bad = [u for _, _, failed in analyses for u in failed]
    summary = code_item(c.SUMMARY_OF_ANALYSES, _status(all_ok, all_bad), "CONTAINS")
    for container, rows in (
        (c.SUCCESSFUL_ANALYSES, [(code, good) for code, good, _ in analyses if good]),
        (c.FAILED_ANALYSES, [(code, failed) for code, _, failed in analyses if failed]),
    ):
        performed = []
        for code, uids in rows:
            item = code_item(c.ANALYSIS_PERFORMED, code, "CONTAINS")
            add(
                item,
                *content.algorithm.items(),
                *(ContentReference("HAS PROPERTIES", images[u]) for u in uids),
            )
            performed.append(item)
        if performed:
            add(summary, container_item(container, "INFERRED FROM", performed))
    return summary


def _study_side(dens: DensityAssessment) -> str:
    sides = [s for s in ("R", "L") if s in dens.per_breast]
    return sides[0] if len(sides) == 1 else "B"


def _density_lines(dens: DensityAssessment) -> list[str]:
    lines = ["Study - " + _describe(_study_side(dens), dens.category, dens.percent_dense)]
    for side in ("R", "L"):
        breast = dens.per_breast.get(side)
        if breast is not None:
            lines.append(_describe(side, breast.category, breast.percent_dense))
    return lines


def _density_nums(
    dens: DensityAssessment,
    content: DensityContent,
    entries: Sequence[ImageLibraryEntry],
    images: Mapping[str, ContentItem],
) -> list[NumContentItem]:
    """Study NUM, one NUM per breast (R-INFERRED FROM its images), then one NUM per image."""
    by_uid = {e.sop_instance_uid: e for e in entries}
    nums = [_density_num(_study_side(dens), dens.percent_dense, dens.category)]
    for side in ("R", "L"):
        breast = dens.per_breast.get(side)
        if breast is None:
            continue
        num = _density_num(side, breast.percent_dense, breast.category)
        for uid in breast.sop_instance_uids:
            if uid not in images:
                raise EncodingError(f"breast density references image {uid} that is not in the library")
            add(num, ContentReference("INFERRED FROM", images[uid]))
        nums.append(num)
    for uid, (_, percent) in content.image_density.items():
        entry = by_uid.get(uid)
        if percent is None or entry is None:
            continue
        num = _density_num(entry.laterality or "B", percent)
        add(num, ContentReference("INFERRED FROM", images[uid]))
        nums.append(num)
    return nums
