"""Mammography CAD SR Storage (PS3.3 A.35.5, SOP Class 1.2.840.10008.5.1.4.1.1.88.50).

Carries a result's breast density, lesion findings (CAD marks), failed quality checks and operating
point.

:class:`MammographyCADSR` is valid once built: the constructor checks the inputs, ``to_dataset()``
writes the object, ``from_dataset()`` reads one back. Placement follows DESIGN §4 and dicom-sr.md
§9: same study (Patient and General Study modules copied from the images), a new series with a
deterministic UID, Current Requested Procedure Evidence Sequence listing every source image.
The content tree (TID 4000) and the reasons for its shape are in :mod:`breastgate.results.tid4000`
(density, summaries) and :mod:`breastgate.results.tid4000_findings` (findings, quality).

The template is ours (highdicom has no TID 4000), built from highdicom content items; so is the SOP
instance, not a highdicom SR document: highdicom has no Mammography CAD SR class, and its SR
classes re-parse the content tree and refuse the by-reference items TID 4000 needs (see
:class:`~breastgate.results.sr_content.ContentReference`).
"""

from __future__ import annotations

import logging
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime

from pydicom.dataset import Dataset
from pydicom.sequence import Sequence as DicomSequence

from breastgate.domain.errors import EncodingError, InvalidInputError
from breastgate.domain.model import (
    PRIOR_STATUS_TEXT,
    AlgorithmManifest,
    AlgorithmResult,
    AlgorithmStatus,
    BreastDensity,
    ChangeKind,
    DensityAssessment,
    Finding,
    FindingKind,
    PriorStatus,
)
from breastgate.results import codes as c
from breastgate.results.placement import (
    attach_file_meta,
    evidence_item,
    highdicom_refusal,
    new_instance,
    sr_document_general,
)
from breastgate.results.sr_content import Node, decode_content
from breastgate.results.tid4000 import (
    AlgorithmIdentification,
    DensityContent,
    ImageLibraryEntry,
    build_tree,
)
from breastgate.results.tid4000_findings import (
    MODEL_CARD_PARAMETER,
    THRESHOLD_PARAMETER,
    decode_findings,
    encodable,
    kind_of,
    threshold_from,
)
from breastgate.results.uids import derive_uid

LOGGER = logging.getLogger(__name__)

MAMMOGRAPHY_CAD_SR_STORAGE = "1.2.840.10008.5.1.4.1.1.88.50"
DEFAULT_SERIES_NUMBER = 9901
#: Measurement key an algorithm uses for an image's percent density (ImageOutcome.measurements).
PERCENT_DENSE_KEY = "percent_dense"


def impression_text(algorithm_id: str, version: str) -> str:
    """The label every CAD SR carries (brief: says what made it and that it is not diagnostic)."""
    return f"AI result ({algorithm_id} {version}) — not for diagnostic use."


@dataclass(frozen=True)
class DecodedCADSR:
    """What :meth:`MammographyCADSR.from_dataset` returns."""

    sop_instance_uid: str
    series_instance_uid: str
    study_instance_uid: str
    algorithm_name: str
    algorithm_version: str
    algorithm_parameters: tuple[str, ...]
    density: DensityAssessment | None
    image_density: dict[str, tuple[str, float | None]]
    succeeded_sop_instance_uids: tuple[str, ...]
    failed_sop_instance_uids: tuple[str, ...]
    referenced_sop_instance_uids: tuple[str, ...]
    impression: str
    findings: tuple[Finding, ...] = ()
    operating_threshold: float | None = None
    detection_kinds: tuple[FindingKind, ...] = field(default=())


class MammographyCADSR:
    """A Mammography CAD SR for one density :class:`AlgorithmResult` on one study.

    Parameters
    ----------
    sources
        Headers of the study's images (pixel data not needed); all must share the result's study.
    result
        The result: density (None when the algorithm failed or skipped, or does not assess
        density), findings with their marks, quality checks and operating threshold.
    manifest
        Algorithm manifest (id, version, name, manufacturer). Finding kinds named in
        ``manifest.outputs`` count as detections performed even when nothing was found.
    created
        Content Date/Time of the document.
    detection_kinds
        Lesion kinds the algorithm looked for, besides those of its findings and its manifest.
    prior_sources
        Headers of prior-study images the findings' comparisons mark (``FindingComparison
        .prior_marks``): they join the Image Library (TID 4020, with their Study Date) so a
        temporal Composite Feature can point at the finding on the prior, and are listed in the
        Pertinent Other Evidence Sequence (PS3.3 C.17.2.3). Without them the change is still
        stated (TID 4002 CID 6002), the prior's marks are not.
    """

    def __init__(
        self,
        sources: Sequence[Dataset],
        result: AlgorithmResult,
        manifest: AlgorithmManifest,
        created: datetime,
        *,
        series_number: int = DEFAULT_SERIES_NUMBER,
        instance_number: int = 1,
        detection_kinds: Sequence[FindingKind] = (),
        prior_sources: Sequence[Dataset] = (),
    ) -> None:
        if not sources:
            raise EncodingError("a CAD SR needs at least one source image")
        if (manifest.id, manifest.version) != (result.algorithm_id, result.algorithm_version):
            raise EncodingError("manifest and result name different algorithms or versions")
        studies = {str(s.get("StudyInstanceUID", "")) for s in sources}
        if studies != {result.study_instance_uid}:
            raise EncodingError("source images do not all belong to the result's study")
        findings = tuple(f for f in result.findings if encodable(f.kind))
        if len(findings) < len(result.findings):
            LOGGER.warning(
                "CAD SR: %d finding(s) of a kind without a Mammography CAD code left out",
                len(result.findings) - len(findings),
            )
        named = {
            *detection_kinds,
            *(f.kind for f in findings),
            *(k for k in FindingKind if k in manifest.outputs),
        }
        kinds = tuple(k for k in FindingKind if k in named and encodable(k))
        if result.status == AlgorithmStatus.OK and result.density is None and not kinds:
            raise EncodingError("an ok density result must carry a DensityAssessment")
        threshold = result.operating_threshold
        if threshold is not None and not 0.0 <= threshold <= 1.0:
            raise EncodingError(f"operating threshold {threshold!r} outside 0..1")
        self.sources = tuple(sources)
        self.result = result
        self.manifest = manifest
        self.created = created
        self.series_number = series_number
        self.instance_number = instance_number
        self.entries = tuple(ImageLibraryEntry.from_header(s) for s in self.sources)
        known = {e.sop_instance_uid for e in self.entries}
        marked = {
            m.sop_instance_uid
            for f in findings
            if f.comparison is not None and f.comparison.change != ChangeKind.NEW
            for m in f.comparison.prior_marks
        }
        self.prior_sources = tuple(
            p for p in prior_sources if str(p.get("SOPInstanceUID", "")) in marked - known
        )
        library = self.entries + tuple(ImageLibraryEntry.from_header(p) for p in self.prior_sources)
        unknown = [i.sop_instance_uid for i in result.images if i.sop_instance_uid not in known]
        if unknown:
            LOGGER.warning("CAD SR: %d image outcome(s) have no source header and are left out", len(unknown))
        inputs = [result.study_instance_uid, *sorted(known)]
        self.sop_instance_uid = derive_uid("cad-sr", result.algorithm_id, result.algorithm_version, inputs)
        self.series_instance_uid = derive_uid(
            "cad-sr-series", result.algorithm_id, result.algorithm_version, [result.study_instance_uid]
        )
        self.content = DensityContent(
            algorithm=AlgorithmIdentification(
                result.algorithm_id,
                result.algorithm_version,
                (
                    f"name={manifest.name}",
                    f"manufacturer={manifest.manufacturer}",
                    *([f"{MODEL_CARD_PARAMETER}{manifest.model_card}"] if manifest.model_card else []),
                    *([f"{THRESHOLD_PARAMETER}{threshold!r}"] if threshold is not None else []),
                ),
            ),
            density=result.density,
            image_density=self._image_density(),
            succeeded=tuple(i.sop_instance_uid for i in result.images if i.status == AlgorithmStatus.OK),
            failed=tuple(i.sop_instance_uid for i in result.images if i.status != AlgorithmStatus.OK),
            impression=impression_text(result.algorithm_id, result.algorithm_version),
            findings=findings,
            quality=result.quality,
            operating_threshold=threshold,
            detection_kinds=kinds,
            density_analysis=result.density is not None or not kinds,
            temporal=_compared(result, findings),
            comparison_lines=comparison_lines(result, findings),
        )
        self.library = library
        # Build the tree now so a bad input fails here, not at write time.
        with highdicom_refusal("TID 4000 content"):
            self._tree = build_tree(self.content, self.library)

    @classmethod
    def from_result(
        cls,
        result: AlgorithmResult,
        manifest: AlgorithmManifest,
        sources: Sequence[Dataset],
        created: datetime | None = None,
        detection_kinds: Sequence[FindingKind] = (),
        prior_sources: Sequence[Dataset] = (),
    ) -> MammographyCADSR:
        """Pipeline-friendly constructor; ``created`` defaults to now (UTC)."""
        return cls(
            sources,
            result,
            manifest,
            created or datetime.now(UTC),
            detection_kinds=detection_kinds,
            prior_sources=prior_sources,
        )

    @property
    def dataset(self) -> Dataset:
        """Same as :meth:`to_dataset` (a new Dataset each time)."""
        return self.to_dataset()

    def _image_density(self) -> dict[str, tuple[str, float | None]]:
        dens = self.result.density
        out: dict[str, tuple[str, float | None]] = {}
        if dens is None:
            return out
        for breast in dens.per_breast.values():
            for uid in breast.sop_instance_uids:
                out[uid] = (breast.category, None)
        for img in self.result.images:
            if img.sop_instance_uid in out and PERCENT_DENSE_KEY in img.measurements:
                out[img.sop_instance_uid] = (
                    out[img.sop_instance_uid][0],
                    float(img.measurements[PERCENT_DENSE_KEY]),
                )
        return out

    def to_dataset(self) -> Dataset:
        """The complete SR instance with file meta (Explicit VR Little Endian)."""
        ds = new_instance(
            MAMMOGRAPHY_CAD_SR_STORAGE,
            self.sop_instance_uid,
            self.sources[0],
            created=(self.created.strftime("%Y%m%d"), self.created.strftime("%H%M%S")),
            modality="SR",  # SR Document Series (C.17.1)
            series_instance_uid=self.series_instance_uid,
            series_number=self.series_number,
            series_description=f"breastgate {self.manifest.id} CAD SR - not for diagnostic use",
            model_name=self.manifest.id,
            software_version=self.manifest.version,
        )
        ds.StudyInstanceUID = self.result.study_instance_uid
        sr_document_general(ds, self.instance_number, self._evidence())
        by_study: dict[str, list[Dataset]] = {}
        for prior in self.prior_sources:
            by_study.setdefault(str(prior.get("StudyInstanceUID", "")), []).append(prior)
        if by_study:
            # PS3.3 C.17.2.3: the prior images the content references, outside the current study.
            ds.PertinentOtherEvidenceSequence = DicomSequence(
                [evidence_item(headers, study) for study, headers in sorted(by_study.items())]
            )
        # SR Document Content (C.17.3), root template TID 4000: a new tree, its items this dataset's
        for element in build_tree(self.content, self.library):
            ds[element.tag] = element
        attach_file_meta(ds)
        return ds

    def _evidence(self) -> Dataset:
        """Hierarchical SOP Instance Reference Macro (PS3.3 Table C.17-3) for the source images."""
        return evidence_item(self.sources, self.result.study_instance_uid)

    @staticmethod
    def from_dataset(ds: Dataset) -> DecodedCADSR:
        """Decode a Mammography CAD SR written by this class (tolerant of extra content)."""
        if str(ds.get("SOPClassUID", "")) != MAMMOGRAPHY_CAD_SR_STORAGE:
            raise InvalidInputError("not a Mammography CAD SR")
        prior_studies = {
            str(ref.ReferencedSOPInstanceUID): str(study.StudyInstanceUID)
            for study in ds.get("PertinentOtherEvidenceSequence", [])
            for series in study.get("ReferencedSeriesSequence", [])
            for ref in series.get("ReferencedSOPSequence", [])
        }
        content = decode_tree(decode_content(ds), prior_studies)
        referenced = tuple(
            str(ref.ReferencedSOPInstanceUID)
            for study in ds.get("CurrentRequestedProcedureEvidenceSequence", [])
            for series in study.get("ReferencedSeriesSequence", [])
            for ref in series.get("ReferencedSOPSequence", [])
        )
        return DecodedCADSR(
            sop_instance_uid=str(ds.SOPInstanceUID),
            series_instance_uid=str(ds.SeriesInstanceUID),
            study_instance_uid=str(ds.StudyInstanceUID),
            algorithm_name=content.algorithm.name,
            algorithm_version=content.algorithm.version,
            algorithm_parameters=content.algorithm.parameters,
            density=content.density,
            image_density=dict(content.image_density),
            succeeded_sop_instance_uids=content.succeeded,
            failed_sop_instance_uids=content.failed,
            referenced_sop_instance_uids=referenced,
            impression=content.impression,
            findings=content.findings,
            operating_threshold=content.operating_threshold,
            detection_kinds=content.detection_kinds,
        )


def _compared(result: AlgorithmResult, findings: Sequence[Finding]) -> bool:
    """Whether the result compared the study with a prior (a temporal correlation analysis)."""
    held = result.priors is not None and result.priors.status == PriorStatus.HELD
    return held or result.density_change is not None or any(f.comparison for f in findings)


def _day(value: str | None) -> str:
    text = (value or "").strip()
    return f"{text[:4]}-{text[4:6]}-{text[6:8]}" if len(text) == 8 and text.isdigit() else text


def comparison_lines(result: AlgorithmResult, findings: Sequence[Finding]) -> tuple[str, ...]:
    """The CAD summary text on the prior: each finding's change, the density against the
    prior's, or why no comparison was made (``PRIOR_STATUS_TEXT``)."""
    lines: list[str] = []
    for f in findings:
        comp = f.comparison
        if comp is None:
            continue
        since = (
            f" since the prior of {_day(comp.prior_study_date)}"
            if comp.prior_study_date
            else " since the prior"
        )
        if comp.change in (ChangeKind.INCREASED, ChangeKind.DECREASED):
            by = f" by {abs(comp.size_change_mm):.1f} mm" if comp.size_change_mm is not None else ""
            sizes = (
                f" ({comp.prior_size_mm:.1f} to {f.size_mm:.1f} mm)"
                if comp.prior_size_mm is not None and f.size_mm is not None
                else ""
            )
            lines.append(f"Finding {f.id}: {comp.change.value} in size{by}{sizes}{since}")
        else:
            lines.append(f"Finding {f.id}: {comp.change.value}{since}")
    change, dens = result.density_change, result.density
    if change is not None and dens is not None:
        when = f" of {_day(change.prior_study_date)}" if change.prior_study_date else ""
        lines.append(
            f"Breast density against the prior{when}: category {change.prior_category} "
            f"({change.prior_percent_dense:.1f} % dense), now {dens.category} "
            f"({change.change_pp:+.1f} percentage points)"
        )
    priors = result.priors
    if priors is not None and priors.status != PriorStatus.HELD and not lines:
        lines.append(f"Comparison with prior: {PRIOR_STATUS_TEXT[priors.status]}")
    return tuple(lines)


def _side(node: Node) -> str | None:
    lat = node.first(c.LATERALITY, "CODE")
    return c.laterality_of(lat.code) if lat is not None and lat.code is not None else None


def _category(node: Node) -> str | None:
    code = node.first(c.BREAST_COMPOSITION, "CODE")
    return c.category_of(code.code) if code is not None and code.code is not None else None


def _image_refs(node: Node) -> tuple[str, ...]:
    return tuple(ch.ref.sop[1] for ch in node.children if ch.ref is not None and ch.ref.sop is not None)


def decode_tree(root: Node, prior_studies: Mapping[str, str] | None = None) -> DensityContent:
    """Read back what :func:`~.tid4000.build_tree` wrote (tolerant of extra items);
    ``prior_studies`` maps prior SOP Instance UIDs to their study (Pertinent Other Evidence)."""
    if not c.MAMMO_CAD_REPORT.same(root.concept):
        raise InvalidInputError("not a TID 4000 Mammography CAD Report")
    library = root.first(c.IMAGE_LIBRARY, "CONTAINER")
    lib = tuple(n.sop for n in (library.children if library else []) if n.sop is not None and not n.frames)
    cad = root.first(c.CAD_SUMMARY, "CODE")
    if cad is None:
        raise InvalidInputError("CAD Processing and Findings Summary missing")
    algo = AlgorithmIdentification.from_node(cad)
    if algo is None:
        raise InvalidInputError("Algorithm Identification missing from the CAD summary")
    impression = cad.first(c.IMPRESSION_DESCRIPTION, "TEXT")

    # Written in order: the study NUM, one NUM per breast (both with a category), then image NUMs.
    nums = cad.find(c.BREAST_TISSUE_DENSITY, "NUM")
    levels = [(n, _category(n)) for n in nums if _category(n) is not None]
    density = None
    image_density: dict[str, tuple[str, float | None]] = {}
    if levels:
        study_num, study_category = levels[0]
        per_breast: dict[str, BreastDensity] = {}
        for num, category in levels[1:]:
            side = _side(num)
            if side in ("L", "R") and category is not None:
                per_breast[side] = BreastDensity(side, category, num.num or 0.0, _image_refs(num))
        density = DensityAssessment(study_category or "", study_num.num or 0.0, per_breast)
        for num in nums:
            if _category(num) is not None:
                continue
            breast = per_breast.get(_side(num) or "")
            for uid in _image_refs(num):
                image_density[uid] = (breast.category if breast else density.category, num.num)

    succeeded: list[str] = []
    failed: list[str] = []
    detections = root.first(c.SUMMARY_OF_DETECTIONS, "CODE")
    analyses = root.first(c.SUMMARY_OF_ANALYSES, "CODE")
    kinds: list[FindingKind] = []
    for parent, container, item, bucket in (
        (detections, c.SUCCESSFUL_DETECTIONS, c.DETECTION_PERFORMED, succeeded),
        (detections, c.FAILED_DETECTIONS, c.DETECTION_PERFORMED, failed),
        (analyses, c.SUCCESSFUL_ANALYSES, c.ANALYSIS_PERFORMED, succeeded),
        (analyses, c.FAILED_ANALYSES, c.ANALYSIS_PERFORMED, failed),
    ):
        box = parent.first(container, "CONTAINER") if parent else None
        for performed in box.find(item, "CODE") if box else []:
            kind = kind_of(performed.code) if item == c.DETECTION_PERFORMED else None
            if kind is not None and kind not in kinds:
                kinds.append(kind)
            refs = (ch.ref.sop[1] for ch in performed.children if ch.ref is not None and ch.ref.sop)
            bucket.extend(u for u in refs if u not in bucket)
    return DensityContent(
        algorithm=algo,
        density=density,
        image_density=image_density,
        succeeded=tuple(succeeded),
        failed=tuple(failed),
        impression=(impression.text or "") if impression else "",
        library=lib,
        findings=decode_findings(cad, prior_studies),
        operating_threshold=threshold_from(algo.parameters),
        detection_kinds=tuple(kinds),
    )


def decode_cad_sr(ds: Dataset) -> DecodedCADSR:
    """Function form of :meth:`MammographyCADSR.from_dataset`."""
    return MammographyCADSR.from_dataset(ds)
