"""Breast Imaging Report SR (PS3.16 TID 4200) of an AI report draft, in an Enhanced SR.

:class:`BreastImagingReportSR` encodes a :class:`~breastgate.domain.report.ReportDraft` (made by
:mod:`breastgate.reporting.draft`); ``from_dataset()`` reads one back. The draft type lives in
``domain`` because ``results`` may not import ``reporting`` (DESIGN §2) and a copy of it here plus a
mapping in the pipeline would be two shapes to keep in step (see :mod:`breastgate.domain.report`).

SOP class: Enhanced SR (1.2.840.10008.5.1.4.1.1.88.22); the content needs CODE, TEXT, NUM and no
SCOORD or by-reference items, and TID 4200 is a root template of Enhanced and Comprehensive SR
(reference dicom-sr.md §2). Written by :class:`highdicom.sr.EnhancedSR`; the template is ours
(highdicom has none for TID 4200), its content items highdicom's. Added after highdicom: the
Patient and General Study modules as every output copies them, the creation date and time pinned
(:func:`~.placement.pin_creation`), Completion Flag Description and the Author Observer Sequence,
which highdicom's SR constructor does not take.

Placement as every breastgate output: same study, Patient and General Study modules copied from
the images, a new series, deterministic UIDs (kind ``report-sr``), and Current Requested
Procedure Evidence listing the images. Draft state: Completion Flag PARTIAL,
Verification Flag UNVERIFIED, Preliminary Flag PRELIMINARY; the AI origin is in the Series
Description, the Author Observer Sequence (a device: breastgate) and the narrative's first
Impression text, the draft label.

Content tree, as emitted (rows of PixelMed's DicomSRValidator rules for TID 4200-4208)::

    CONTAINER (111400, DCM, "Breast Imaging Report")                  [TID 4200, template 4200/DCMR]
     ├ HAS CONCEPT MOD CODE Language = en-US                            [TID 1204]
     ├ CONTAINS CONTAINER (111412, DCM, "Narrative Summary")            [TID 4202]
     │   └ CONTAINS CONTAINER section (CID 6052) → CONTAINS TEXT element (CID 6053), per section:
     │       Breast composition → Breast composition: the MQSA sentence
     │       (59776-5, LN, "Findings") → Finding: one TEXT per finding sentence
     │       (111424, DCM, "Comparison to previous studies") → same concept: comparison sentences
     │       (19005-8, LN, "Impressions") → Impression: the label, BI-RADS line, reasons, algorithms
     │       (18783-1, LN, "Recommendations") → Recommendation: the management phrase
     └ CONTAINS CONTAINER (111414, DCM, "Supplementary Data")           [TID 4208]
         ├ CONTAINS CODE Procedure reported = CID 6050 (from the images' modality and sides),
         │   then (111411, DCM, "Mammography CAD") for mammograms         [TID 4201]
         │   └ HAS CONCEPT MOD Laterality = CID 6022
         ├ CONTAINS CONTAINER Breast composition                          [TID 4205]
         │   ├ CONTAINS CODE Breast composition = CID 6000 (a-d), HAS CONCEPT MOD Laterality Both
         │   └ CONTAINS NUM Percent Fibroglandular Tissue (%), HAS CONCEPT MOD Laterality Both
         ├ CONTAINS CONTAINER (121070, DCM, "Findings")                   [TID 4206]
         │   ├ CONTAINS CODE Procedure reported (the first above)        [TID 4201]
         │   └ CONTAINS CODE (121071, DCM, "Finding") = CID 6054, per codable finding
         │       ├ HAS CONCEPT MOD Laterality                             (row 5b)
         │       └ HAS PROPERTIES Diameter mm (TID 1400 row 1), Shape CID 6004, Margins CID 6006,
         │         Calcification Type CID 6010, Calcification Distribution CID 6012 (each only
         │         when the algorithm gave it), Change since last mammogram CID 6002
         └ CONTAINS CONTAINER (111413, DCM, "Overall Assessment")         (when a category is drafted)
             ├ CONTAINS CODE Assessment Category = CID 6027 (0, 1 or 2)  [TID 4203]
             └ CONTAINS CODE Recommended Follow-up = CID 6028: 0 → (111135, "Additional
               projections"), 1 and 2 → (111140, "Normal interval follow-up")

Left out: Clockface (row 7, CID 6018), Quadrant (row 8, CID 6020) and Depth (row 12, CID 6024):
the PixelMed validator we must pass (the Debian jar) has no definition of those three context
groups and reports every value, even a correct one, as an error ("not found in context group"), so
the location stays in the narrative finding sentence. Also left out: TID 1001 observation context
(it requires TID 1005/1006 procedure and subject context breastgate does not hold), TID 4209
patient characteristics, TID 4204 intervention and TID 4207 pathology (no such data), per-finding
TID 4203 (an AI gives no per-lesion category), the reason for procedure (the indication is
unknown), Lesion Density CID 6008 and the ultrasound rows (no algorithm reports them), TID 1400 Path
(the finding is not tied to an image in this template). Enhancing and ultrasound lesions have no
CID 6054 code breastgate can honestly pick (mass or not is unknown): narrative only.

Validator notes: the Debian PixelMed jar carries an older CID 6052 (DCM 121070 "Findings", 121074
"Recommendations", 111424 "Comparison to previous exams") and warns that the current LOINC section
codes (59776-5, 18783-1) are "not in template" and that 111424's meaning differs; both follow the
current PS3.16 (reference dicom-sr.md §2.4) and are warnings, not errors. PixelMed allows one TEXT
per section (TID 4202 row 4), so a section's sentences are one TEXT, lines separated by CR LF.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime

from highdicom.sr import CodeContentItem, ContainerContentItem, ContentItem, EnhancedSR
from pydicom.dataset import Dataset
from pydicom.sequence import Sequence as DicomSequence

from breastgate.domain.errors import EncodingError, InvalidInputError
from breastgate.domain.report import DraftFinding, ReportDraft
from breastgate.results import codes as c
from breastgate.results.placement import (
    creation_datetime,
    finish_instance,
    header_view,
    highdicom_fields,
    highdicom_refusal,
)
from breastgate.results.sr_content import (
    Code,
    Node,
    add,
    code_item,
    container_item,
    decode_content,
    num_item,
    plain_numbers,
    text_item,
)
from breastgate.results.uids import derive_uid

LOGGER = logging.getLogger(__name__)

ENHANCED_SR_STORAGE = "1.2.840.10008.5.1.4.1.1.88.22"
DEFAULT_SERIES_NUMBER = 9904
#: The "algorithm" named in the output UIDs: breastgate's report drafter.
DRAFTER_ID = "breastgate.report-draft"
#: Line separator inside a narrative TEXT (UT may hold CR LF, PS3.5 6.2).
LINE_BREAK = "\r\n"

_CONTAINS, _HP, _HCM = "CONTAINS", "HAS PROPERTIES", "HAS CONCEPT MOD"
_BOTH = c.SIDE_BY_LATERALITY["B"]
_CALCIFICATION_TYPES = {**c.CALCIFICATION_TYPES, **c.BENIGN_CALCIFICATION_TYPES}
_DESCRIPTOR_ROWS = (  # TID 4206 rows 14-17, in row order
    ("shape", c.SHAPE, c.SHAPES),
    ("margin", c.MARGINS, c.MARGIN_TYPES),
    ("calcification_type", c.CALCIFICATION_TYPE, _CALCIFICATION_TYPES),
    ("distribution", c.CALCIFICATION_DISTRIBUTION, c.CALCIFICATION_DISTRIBUTIONS),
)


@dataclass(frozen=True)
class Procedure:
    """TID 4201: the procedure reported (CID 6050) and its laterality (CID 6022)."""

    code: Code
    laterality: str

    def item(self) -> CodeContentItem:
        """The Procedure reported CODE with its Laterality modifier (relationship CONTAINS)."""
        item = code_item(c.PROCEDURE_REPORTED, self.code, _CONTAINS)
        add(item, code_item(c.LATERALITY, c.SIDE_BY_LATERALITY[self.laterality], _HCM))
        return item


def procedures_of(sources: Sequence[Dataset]) -> tuple[Procedure, ...]:
    """Procedures reported, from the images' Modality and Image Laterality (CID 6050 codes)."""
    sides = {str(s.get("ImageLaterality") or s.get("Laterality") or "") for s in sources} & {"L", "R"}
    side = sides.pop() if len(sides) == 1 else "B"
    modalities = {str(s.get("Modality", "")) for s in sources}
    out = []
    if "MG" in modalities:
        mammogram = {"B": c.MAMMOGRAM_BILATERAL, "L": c.MAMMOGRAM_LEFT, "R": c.MAMMOGRAM_RIGHT}[side]
        out += [Procedure(mammogram, side), Procedure(c.MAMMOGRAPHY_CAD, side)]
    if "MR" in modalities:
        out.append(Procedure(c.MRI_OF_BREAST, side))
    if "US" in modalities:
        out.append(Procedure(c.ULTRASONOGRAPHY_OF_BREAST, side))
    if not out:
        raise EncodingError(f"no breast procedure code (CID 6050) for modalities {sorted(modalities)}")
    return tuple(out)


def _section(heading: Code, element: Code, lines: Sequence[str]) -> list[ContainerContentItem]:
    """TID 4202 rows 2 and 4: a section heading CONTAINER with its one TEXT, lines CR LF separated."""
    if not lines:
        return []
    return [container_item(heading, _CONTAINS, [text_item(element, LINE_BREAK.join(lines), _CONTAINS)])]


def _narrative(draft: ReportDraft) -> ContainerContentItem:
    findings = [f"{f.number}. {f.sentence}" for f in draft.findings]
    none = "No findings at the AI operating point." if draft.birads is not None else "Not assessed by AI."
    algorithms = "; ".join(f"{a.id} {a.version} ({a.status})" for a in draft.algorithms)
    impressions = [
        f"{draft.label}. Status: {draft.status.value}.",
        *draft.impression,
        *([f"Algorithms: {algorithms}."] if algorithms else []),
        f"Report draft rules {DRAFTER_ID} {draft.rules_version}, rule {draft.rule}.",
    ]
    sections = [
        *_section(c.BREAST_COMPOSITION, c.BREAST_COMPOSITION, [draft.composition]),
        *_section(c.SECTION_FINDINGS, c.FINDING, findings or [none]),
        *_section(c.COMPARISON_TO_PREVIOUS, c.COMPARISON_TO_PREVIOUS, draft.comparison),
        *_section(c.SECTION_IMPRESSIONS, c.IMPRESSION, impressions),
        *_section(c.SECTION_RECOMMENDATIONS, c.RECOMMENDATION, [draft.recommendation]),
    ]
    return container_item(c.NARRATIVE_SUMMARY, _CONTAINS, sections)


def _composition(draft: ReportDraft) -> ContainerContentItem | None:
    """TID 4205 rows 1, 3-6, both breasts (the draft's category is per study)."""
    if draft.composition_category is None:
        return None
    code = code_item(c.BREAST_COMPOSITION, c.COMPOSITION_BY_CATEGORY[draft.composition_category], _CONTAINS)
    add(code, code_item(c.LATERALITY, _BOTH, _HCM))
    rows: list[ContentItem] = [code]
    if draft.percent_dense is not None:
        percent = round(draft.percent_dense, 1)
        pct = num_item(c.PERCENT_FIBROGLANDULAR, percent, c.PERCENT, _CONTAINS)
        add(pct, code_item(c.LATERALITY, _BOTH, _HCM))
        rows.append(pct)
    return container_item(c.BREAST_COMPOSITION, _CONTAINS, rows)


def _finding(finding: DraftFinding) -> CodeContentItem | None:
    """TID 4206 row 4 and the rows the finding has facts for; None for kinds without a code."""
    kind = c.FINDING_BY_KIND.get(str(finding.kind))
    if kind is None:
        LOGGER.info("report SR: %s finding %d kept in the narrative only", finding.kind, finding.number)
        return None
    item = code_item(c.FINDING, kind, _CONTAINS)
    rows: list[ContentItem] = [code_item(c.LATERALITY, c.SIDE_BY_LATERALITY[finding.laterality], _HCM)]
    if finding.size_mm is not None:
        rows.append(num_item(c.DIAMETER, round(finding.size_mm, 1), c.MILLIMETER, _HP))
    for key, concept, table in _DESCRIPTOR_ROWS:
        value = table.get(finding.descriptors.get(key, ""))
        if value is not None:
            rows.append(code_item(concept, value, _HP))
    if finding.change is not None:
        rows.append(code_item(c.CHANGE_SINCE_LAST_MAMMOGRAM, c.CHANGES[finding.change.value], _HP))
    add(item, *rows)
    return item


def _overall_assessment(draft: ReportDraft) -> ContainerContentItem | None:
    """TID 4208 row 8 with TID 4203 rows 1-2."""
    if draft.birads is None:
        return None
    follow_up = c.ADDITIONAL_PROJECTIONS if draft.birads == "0" else c.NORMAL_INTERVAL_FOLLOW_UP
    rows = [
        code_item(c.ASSESSMENT_CATEGORY, c.BIRADS_BY_CATEGORY[draft.birads], _CONTAINS),
        code_item(c.RECOMMENDED_FOLLOW_UP, follow_up, _CONTAINS),
    ]
    return container_item(c.OVERALL_ASSESSMENT, _CONTAINS, rows)


def build_tree(draft: ReportDraft, procedures: Sequence[Procedure]) -> ContainerContentItem:
    """The TID 4200 content tree of a draft (see the module docstring), of highdicom content items."""
    if not procedures:
        raise EncodingError("TID 4201 needs at least one procedure reported")
    supplementary: list[ContentItem] = [p.item() for p in procedures]
    composition = _composition(draft)
    if composition is not None:
        supplementary.append(composition)
    coded = [n for n in (_finding(f) for f in draft.findings) if n is not None]
    if coded:
        supplementary.append(container_item(c.FINDINGS, _CONTAINS, [procedures[0].item(), *coded]))
    assessment = _overall_assessment(draft)
    if assessment is not None:
        supplementary.append(assessment)
    root = container_item(
        c.BREAST_IMAGING_REPORT,
        None,
        [
            code_item(c.LANGUAGE, c.ENGLISH, _HCM),
            _narrative(draft),
            container_item(c.SUPPLEMENTARY_DATA, _CONTAINS, supplementary),
        ],
        template="4200",
    )
    plain_numbers(root)
    return root


@dataclass(frozen=True)
class DecodedFinding:
    """A TID 4206 Finding read back: its CID 6054 code, side and coded properties by concept."""

    code: Code
    laterality: str | None
    properties: dict[str, Code] = field(default_factory=dict)
    diameter_mm: float | None = None


@dataclass(frozen=True)
class DecodedBreastReport:
    """What :meth:`BreastImagingReportSR.from_dataset` returns."""

    sop_instance_uid: str
    series_instance_uid: str
    study_instance_uid: str
    completion_flag: str
    verification_flag: str
    preliminary_flag: str
    composition: Code | None
    composition_category: str | None
    percent_fibroglandular: float | None
    assessment: Code | None
    birads: str | None
    follow_up: tuple[Code, ...]
    procedures: tuple[Code, ...]
    findings: tuple[DecodedFinding, ...]
    narrative: dict[str, tuple[str, ...]]


class BreastImagingReportSR:
    """An Enhanced SR with a TID 4200 Breast Imaging Report of one AI report draft.

    Parameters
    ----------
    sources
        Headers of the study's images (pixel data not needed); all must share the draft's study.
    draft
        The report draft (:func:`breastgate.reporting.draft.build_draft`).
    created
        Content Date/Time; by default the study's date and time, so a re-run writes the same bytes.
    """

    def __init__(
        self,
        sources: Sequence[Dataset],
        draft: ReportDraft,
        created: datetime | None = None,
        *,
        series_number: int = DEFAULT_SERIES_NUMBER,
        instance_number: int = 1,
    ) -> None:
        if not sources:
            raise EncodingError("a report SR needs at least one source image")
        studies = {str(s.get("StudyInstanceUID", "")) for s in sources}
        if studies != {draft.study_instance_uid}:
            raise EncodingError("source images do not all belong to the draft's study")
        self.sources = tuple(sources)
        self.draft = draft
        self.series_number = series_number
        self.instance_number = instance_number
        self.content_date, self.content_time = creation_datetime(self.sources, created)
        inputs = [
            draft.study_instance_uid,
            *sorted(str(s.SOPInstanceUID) for s in self.sources),
            *(f"{a.id}@{a.version}:{a.status}" for a in draft.algorithms),
        ]
        self.sop_instance_uid = derive_uid("report-sr", DRAFTER_ID, draft.rules_version, inputs)
        self.series_instance_uid = derive_uid(
            "report-sr-series", DRAFTER_ID, draft.rules_version, [draft.study_instance_uid]
        )
        self.procedures = procedures_of(self.sources)
        # Build the tree now so a bad input fails here, not at write time.
        with highdicom_refusal("TID 4200 content"):
            self._tree = build_tree(draft, self.procedures)

    def to_dataset(self) -> Dataset:
        """The complete SR instance with file meta (Explicit VR Little Endian)."""
        created = (self.content_date, self.content_time)
        description = "breastgate AI report draft - not for diagnostic use"
        with highdicom_refusal("report SR"):  # SR Document General (C.17.2): a draft, not
            ds = EnhancedSR(  # complete, final nor verified
                evidence=[header_view(src) for src in self.sources],
                content=self._tree,
                series_instance_uid=self.series_instance_uid,
                series_number=self.series_number,
                sop_instance_uid=self.sop_instance_uid,
                instance_number=self.instance_number,
                **highdicom_fields(created, description, DRAFTER_ID, self.draft.rules_version),
            )
        finish_instance(ds, self.sources[0], created)  # PS3.3 C.7.1.1, C.7.2.1
        ds.CompletionFlagDescription = "AI-generated draft awaiting radiologist review"
        ds.AuthorObserverSequence = DicomSequence([self._author()])
        return ds

    def _author(self) -> Dataset:
        """Author Observer Sequence item (PS3.3 Table C.17-4a): the drafter is a device."""
        item = Dataset()
        item.ObserverType = "DEV"
        item.InstitutionName = ""
        item.InstitutionCodeSequence = DicomSequence([])
        item.StationName = ""
        item.DeviceUID = derive_uid("report-sr-device", DRAFTER_ID, "1", [DRAFTER_ID])
        item.Manufacturer = "breastgate"
        item.ManufacturerModelName = DRAFTER_ID
        item.StationAETitle = ""
        return item

    @staticmethod
    def from_dataset(ds: Dataset) -> DecodedBreastReport:
        """Decode a Breast Imaging Report SR (tolerant of content breastgate does not write)."""
        if str(ds.get("SOPClassUID", "")) not in (ENHANCED_SR_STORAGE, "1.2.840.10008.5.1.4.1.1.88.33"):
            raise InvalidInputError("not an Enhanced or Comprehensive SR")
        root = decode_content(ds)
        if not c.BREAST_IMAGING_REPORT.same(root.concept):
            raise InvalidInputError("not a Breast Imaging Report (TID 4200)")
        return _decode(ds, root)


def _side(node: Node) -> str | None:
    lat = node.first(c.LATERALITY, "CODE")
    return c.laterality_of(lat.code) if lat is not None and lat.code is not None else None


def _decode(ds: Dataset, root: Node) -> DecodedBreastReport:
    narrative: dict[str, tuple[str, ...]] = {}
    summary = root.first(c.NARRATIVE_SUMMARY, "CONTAINER")
    for section in summary.children if summary is not None else []:
        if section.vt == "CONTAINER" and section.concept is not None:
            texts = (n.text or "" for n in section.children if n.vt == "TEXT")
            narrative[section.concept.meaning] = tuple(line for t in texts for line in t.split(LINE_BREAK))
    supplementary = root.first(c.SUPPLEMENTARY_DATA, "CONTAINER") or Node("CONTAINER")
    composition = percent = None
    breast = supplementary.first(c.BREAST_COMPOSITION, "CONTAINER")
    if breast is not None:
        item = breast.first(c.BREAST_COMPOSITION, "CODE")
        composition = item.code if item is not None else None
        num = breast.first(c.PERCENT_FIBROGLANDULAR, "NUM")
        percent = num.num if num is not None else None
    findings = []
    for container in supplementary.find(c.FINDINGS, "CONTAINER"):
        for node in container.find(c.FINDING, "CODE"):
            props = {
                n.concept.meaning: n.code
                for n in node.children
                if n.vt == "CODE" and n.concept is not None and n.code is not None
            }
            props.pop(c.LATERALITY.meaning, None)
            diameter = node.first(c.DIAMETER, "NUM")
            size = diameter.num if diameter is not None else None
            findings.append(DecodedFinding(node.code or Code("", "", ""), _side(node), props, size))
    overall = supplementary.first(c.OVERALL_ASSESSMENT, "CONTAINER") or Node("CONTAINER")
    category = overall.first(c.ASSESSMENT_CATEGORY, "CODE")
    assessment = category.code if category is not None else None
    return DecodedBreastReport(
        sop_instance_uid=str(ds.SOPInstanceUID),
        series_instance_uid=str(ds.SeriesInstanceUID),
        study_instance_uid=str(ds.StudyInstanceUID),
        completion_flag=str(ds.get("CompletionFlag", "")),
        verification_flag=str(ds.get("VerificationFlag", "")),
        preliminary_flag=str(ds.get("PreliminaryFlag", "")),
        composition=composition,
        composition_category=c.category_of(composition) if composition is not None else None,
        percent_fibroglandular=percent,
        assessment=assessment,
        birads=c.birads_of(assessment),
        follow_up=tuple(n.code for n in overall.find(c.RECOMMENDED_FOLLOW_UP, "CODE") if n.code),
        procedures=tuple(n.code for n in supplementary.find(c.PROCEDURE_REPORTED, "CODE") if n.code),
        findings=tuple(findings),
        narrative=narrative,
    )


def decode_breast_report_sr(ds: Dataset) -> DecodedBreastReport:
    """Function form of :meth:`BreastImagingReportSR.from_dataset`."""
    return BreastImagingReportSR.from_dataset(ds)
