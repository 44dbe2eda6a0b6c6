"""TID 1500 Imaging Measurement Report of DCE-MRI lesions, in a Comprehensive 3D SR.

:class:`LesionMeasurementReport` is the MRI sibling of :mod:`breastgate.results.tid1500` (same
series 9906, same kind ``tid1500``, same observer context, algorithm identification and closing
comment): **one report per study with one TID 1411 Volumetric ROI measurement group per lesion**,
the standard TID 1500 usage (a measurement report "per lesion" is a group per lesion; one object
keeps the study's lesions together, as a reader and IHE AIR expect). Each group references its
lesion's segment of the SEG (:class:`~breastgate.results.lesion_seg.LesionSegmentation`) by
``ReferencedSegment`` (TID 1411 row 8, (121191, DCM, "Referenced Segment")), and shares its Tracking
Identifier and Tracking UID. Content tree, as emitted::

    CONTAINER (126000, DCM, "Imaging Measurement Report")              [TID 1500]
     ├ HAS CONCEPT MOD CODE Language = en-US                            [TID 1204]
     ├ HAS OBS CONTEXT Observer Type = Device, Device Observer UID / Name / Manufacturer / Model
     ├ CONTAINS CONTAINER (126010, DCM, "Imaging Measurements")
     │   └ CONTAINS CONTAINER (125007) Measurement Group per lesion     [TID 1411]
     │       ├ HAS OBS CONTEXT TEXT (112039) Tracking Identifier = Finding.id
     │       ├ HAS OBS CONTEXT UIDREF (112040) Tracking Unique Identifier = the SEG segment's
     │       ├ CONTAINS CODE (121071) Finding = (52988006, SCT, "Lesion")
     │       ├ CONTAINS IMAGE (121191) Referenced Segment → SEG, segment n
     │       ├ HAS CONCEPT MOD CODE Finding Site = quadrant or Breast, with Laterality (CID 244)
     │       ├ HAS CONCEPT MOD TEXT Algorithm Name / Version / Parameters  [TID 4019]
     │       ├ CONTAINS NUM (TDIC / P9VJ / 7J51, IBSI) Major / Minor / Least Axis in 3D Length, mm
     │       ├ CONTAINS NUM (YEKZ, IBSI) Volume from Voxel Summation, mm3
     │       ├ CONTAINS NUM (113059, DCM, "Signal change") % with derivation (56851009, SCT,
     │       │   "Maximum"): the peak percent enhancement of the lesion's mean curve
     │       ├ CONTAINS NUM (111012, DCM, "Certainty of Finding") %: the detection score
     │       ├ CONTAINS NUM (99BG) washout / plateau / persistent share of enhancing voxels, %
     │       ├ CONTAINS CODE (RID6058, RADLEX, "Enhancement pattern") = CID 6345
     │       │   (13059[7-9], DCM) "Persistent / Plateau / Washout delayed phase: Type 1/2/3 curve"
     │       └ CONTAINS CODE (99BG) Initial phase enhancement = slow / medium / fast (99BG)
     └ CONTAINS CONTAINER (C0034375, UMLS, "Qualitative Evaluations")
         └ CONTAINS TEXT (121106, DCM, "Comment") = "AI result (...) — not for diagnostic use."

Codes: PS3.16 has the BI-RADS delayed-phase curve types (CID 6345) but no initial-phase or
kinetic-share concepts; those use breastgate's local scheme 99BG, identified in Coding Scheme
Identification Sequence (PS3.3 C.12.1.1.4). SOP class Comprehensive 3D SR (…88.34), as the brief
for 3-D lesions asks; the content needs no SCOORD3D today, so Comprehensive SR would also hold it.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from datetime import datetime

import highdicom.sr as hd
from pydicom.dataset import Dataset

from breastgate.domain.errors import EncodingError, InvalidInputError
from breastgate.domain.model import AlgorithmManifest, AlgorithmResult, Finding
from breastgate.results import codes as c
from breastgate.results.lesion_seg import LesionSegmentation, tracking_uid
from breastgate.results.mammo_cad_sr import impression_text
from breastgate.results.placement import finish_instance, header_view, highdicom_fields, highdicom_refusal
from breastgate.results.sr_content import Code, container_item, number, plain_numbers, text_item
from breastgate.results.tid1500 import DEFAULT_SERIES_NUMBER, DEVICE_OBSERVER_NAME
from breastgate.results.uids import derive_uid

LOGGER = logging.getLogger(__name__)

COMPREHENSIVE_3D_SR_STORAGE = "1.2.840.10008.5.1.4.1.1.88.34"
REFERENCED_SEGMENT = Code("121191", "DCM", "Referenced Segment")
_CONTAINS = "CONTAINS"


@dataclass(frozen=True)
class DecodedLesionGroup:
    """One TID 1411 group read back: measurement values by concept code value."""

    tracking_identifier: str
    tracking_uid: str
    segmentation_sop_instance_uid: str
    segment_number: int | None
    laterality: str
    #: code value → (value, unit code value)
    measurements: dict[str, tuple[float, str]] = field(default_factory=dict)
    #: concept code value → value code
    evaluations: dict[str, Code] = field(default_factory=dict)


@dataclass(frozen=True)
class DecodedLesionReport:
    """What :meth:`LesionMeasurementReport.from_dataset` returns."""

    sop_instance_uid: str
    series_instance_uid: str
    study_instance_uid: str
    groups: tuple[DecodedLesionGroup, ...]
    comment: str


class LesionMeasurementReport:
    """TID 1500 report of a kinetics result's lesions, each group pointing at its SEG segment.

    Parameters
    ----------
    segmentation
        The result's :class:`LesionSegmentation` (its result, manifest and source grid are used).
    segmentation_dataset
        The SEG instance it wrote (referenced, and listed as evidence).
    created
        Content Date/Time; default: the segmentation's (the study date and time).

    Raises
    ------
    EncodingError
        A lesion lacks what TID 1411 needs, or highdicom refuses a value.
    """

    def __init__(
        self,
        segmentation: LesionSegmentation,
        segmentation_dataset: Dataset,
        *,
        created: datetime | None = None,
        series_number: int = DEFAULT_SERIES_NUMBER,
        instance_number: int = 1,
    ) -> None:
        self.seg = segmentation
        self.seg_dataset = segmentation_dataset
        self.result: AlgorithmResult = segmentation.result
        self.manifest: AlgorithmManifest = segmentation.manifest
        self.series_number, self.instance_number = series_number, instance_number
        self.created = (
            (created.strftime("%Y%m%d"), created.strftime("%H%M%S")) if created else segmentation.created
        )
        study, algo, version = (
            self.result.study_instance_uid,
            self.result.algorithm_id,
            self.result.algorithm_version,
        )
        inputs = [study, *segmentation.grid.input_uids]
        self.sop_instance_uid = derive_uid("tid1500", algo, version, inputs)
        self.series_instance_uid = derive_uid("tid1500-series", algo, version, [study])
        self.device_uid = derive_uid("tid1500-device", algo, version, [algo])
        with highdicom_refusal("TID 1500 content"):
            self._tree = self._build()

    def _build(self) -> hd.MeasurementReport:
        device = hd.DeviceObserverIdentifyingAttributes(
            uid=self.device_uid,
            name=DEVICE_OBSERVER_NAME,
            manufacturer_name=self.manifest.manufacturer,
            model_name=self.manifest.id,
        )
        observer = hd.ObserverContext(observer_type=c.DEVICE.coded(), observer_identifying_attributes=device)
        algorithm = hd.AlgorithmIdentification(
            self.manifest.id,
            self.manifest.version,
            [f"name={self.manifest.name}", f"manufacturer={self.manifest.manufacturer}"],
        )
        groups = [self._group(i, f, algorithm) for i, (_, f) in enumerate(self.seg.lesions, start=1)]
        report = hd.MeasurementReport(
            observation_context=hd.ObservationContext(observer_device_context=observer),
            procedure_reported=[],  # as tid1500: row 4 left out
            imaging_measurements=groups,
            title=c.IMAGING_MEASUREMENT_REPORT.coded(),
            language_of_content_item_and_descendants=hd.LanguageOfContentItemAndDescendants(
                c.ENGLISH.coded()
            ),
        )
        label = impression_text(self.result.algorithm_id, self.result.algorithm_version)
        comment = text_item(c.COMMENT, label, _CONTAINS)
        report[0].ContentSequence.append(container_item(c.QUALITATIVE_EVALUATIONS, _CONTAINS, [comment]))
        plain_numbers(report[0])
        return report

    def _group(
        self, segment: int, finding: Finding, algorithm: hd.AlgorithmIdentification
    ) -> hd.VolumetricROIMeasurementsAndQualitativeEvaluations:
        """TID 1411 for one lesion: its segment, site, 3-D size, peak enhancement and kinetics."""
        measurements: list[hd.Measurement] = []
        if finding.diameters_mm is not None:
            for concept, value in zip(
                (c.MAJOR_AXIS_3D, c.MINOR_AXIS_3D, c.LEAST_AXIS_3D), finding.diameters_mm, strict=True
            ):
                measurements.append(_num(concept, value, c.MILLIMETER))
        elif finding.size_mm is not None:
            measurements.append(_num(c.DIAMETER, finding.size_mm, c.MILLIMETER))
        if finding.volume_mm3 is not None:
            measurements.append(_num(c.VOLUME_VOXEL_SUMMATION, finding.volume_mm3, c.CUBIC_MILLIMETER))
        evaluations = []
        kinetics = finding.kinetics
        if kinetics is not None:
            if kinetics.peak_enhancement_pct is not None:
                measurements.append(
                    _num(c.SIGNAL_CHANGE, kinetics.peak_enhancement_pct, c.PERCENT, c.MAXIMUM)
                )
            for kind, share in (
                ("washout", kinetics.washout_share),
                ("plateau", kinetics.plateau_share),
                ("persistent", kinetics.persistent_share),
            ):
                if share is not None:
                    if not 0.0 <= share <= 1.0:
                        raise EncodingError(f"lesion {finding.id!r}: {kind} share {share!r} outside 0..1")
                    measurements.append(_num(c.KINETIC_SHARES[kind], share * 100.0, c.PERCENT))
            evaluations.append(
                hd.QualitativeEvaluation(
                    c.ENHANCEMENT_PATTERN.coded(), c.DELAYED_PHASES[kinetics.delayed_phase.value].coded()
                )
            )
            evaluations.append(
                hd.QualitativeEvaluation(
                    c.INITIAL_PHASE.coded(), c.INITIAL_PHASES[kinetics.initial_phase.value].coded()
                )
            )
        measurements.append(_num(c.CERTAINTY_OF_FINDING, round(finding.score * 100.0, 6), c.PERCENT))
        location = finding.location
        quadrant = c.QUADRANTS.get(location.quadrant or "") if location is not None else None
        clock = c.CLOCK_POSITIONS.get(location.clock or 0) if location is not None else None
        site = hd.FindingSite(
            (quadrant or c.BREAST).coded(),
            laterality=c.LATERALITY_BY_SIDE[finding.laterality].coded(),
            topographical_modifier=clock.coded() if clock is not None else None,
        )
        return hd.VolumetricROIMeasurementsAndQualitativeEvaluations(
            tracking_identifier=hd.TrackingIdentifier(
                uid=tracking_uid(self.result, finding), identifier=finding.id or f"lesion {segment}"
            ),
            referenced_segment=self._segment(segment),
            finding_type=c.LESION.coded(),
            algorithm_id=algorithm,
            finding_sites=[site],
            measurements=measurements,
            qualitative_evaluations=evaluations,
        )

    def _segment(self, segment: int) -> hd.ReferencedSegment:
        """TID 1411 row 8: the SEG segment and the source slices (frames) it lies on (row 9, Source
        image for segmentation), taken from the label map rather than by re-reading the SEG."""
        label = self.seg.lesions[segment - 1][0]
        labels = self.seg.mask  # the encoded slices, relabelled: segment n = value n
        grid = self.seg.grid
        frames: dict[str, list[int]] = {}
        classes: dict[str, str] = {}
        for index, k in enumerate(self.seg.slices):
            if not (labels[index] == segment).any():
                continue
            header, frame = grid.source_reference(k)
            uid = str(header.SOPInstanceUID)
            classes[uid] = str(header.SOPClassUID)
            frames.setdefault(uid, []).extend([] if frame is None else [frame])
        if not frames:
            raise EncodingError(f"segment {segment} (label {label}) has no voxels")
        sources = [
            hd.SourceImageForSegmentation(classes[uid], uid, sorted(numbers) or None)
            for uid, numbers in frames.items()
        ]
        return hd.ReferencedSegment(
            sop_class_uid=str(self.seg_dataset.SOPClassUID),
            sop_instance_uid=str(self.seg_dataset.SOPInstanceUID),
            segment_number=segment,
            source_images=sources,
        )

    @property
    def dataset(self) -> Dataset:
        """Same as :meth:`to_dataset` (a new Dataset each time)."""
        return self.to_dataset()

    def to_dataset(self) -> Dataset:
        """The complete Comprehensive 3D SR instance with file meta (Explicit VR Little Endian)."""
        description = f"breastgate {self.manifest.id} TID 1500 - not for diagnostic use"
        sources = self.seg.grid.sources
        with highdicom_refusal("TID 1500 document"):
            ds = hd.Comprehensive3DSR(
                evidence=[*(header_view(s) for s in sources), header_view(self.seg_dataset)],
                content=self._tree[0],
                series_instance_uid=self.series_instance_uid,
                series_number=self.series_number,
                sop_instance_uid=self.sop_instance_uid,
                instance_number=self.instance_number,
                is_complete=True,
                **highdicom_fields(self.created, description, self.manifest.id, self.manifest.version),
            )
        finish_instance(ds, sources[0], self.created)
        scheme = Dataset()
        scheme.CodingSchemeDesignator = c.LOCAL_SCHEME
        scheme.CodingSchemeName = "breastgate local codes"
        scheme.CodingSchemeResponsibleOrganization = "breastgate"
        ds.CodingSchemeIdentificationSequence = [scheme]
        return ds

    @staticmethod
    def from_dataset(ds: Dataset) -> DecodedLesionReport:
        """Decode a report written by this class (tolerant of extra content)."""
        if str(ds.get("SOPClassUID", "")) != COMPREHENSIVE_3D_SR_STORAGE:
            raise InvalidInputError("not a Comprehensive 3D SR")
        if not _concept(ds).same(c.IMAGING_MEASUREMENT_REPORT):
            raise InvalidInputError("not an Imaging Measurement Report (TID 1500)")
        groups: list[DecodedLesionGroup] = []
        comment = ""
        for item in ds.get("ContentSequence", []):
            if _concept(item).same(c.IMAGING_MEASUREMENTS):
                groups.extend(
                    _decode_group(g)
                    for g in item.get("ContentSequence", [])
                    if _concept(g).same(c.MEASUREMENT_GROUP)
                )
            elif _concept(item).same(c.QUALITATIVE_EVALUATIONS):
                comment = next(
                    (
                        str(t.TextValue)
                        for t in item.get("ContentSequence", [])
                        if _concept(t).same(c.COMMENT)
                    ),
                    "",
                )
        return DecodedLesionReport(
            sop_instance_uid=str(ds.SOPInstanceUID),
            series_instance_uid=str(ds.SeriesInstanceUID),
            study_instance_uid=str(ds.StudyInstanceUID),
            groups=tuple(groups),
            comment=comment,
        )


def _num(concept: Code, value: float, units: Code, derivation: Code | None = None) -> hd.Measurement:
    return hd.Measurement(
        concept.coded(),
        number(round(float(value), 6)),
        units.coded(),
        derivation=derivation.coded() if derivation else None,
    )


def _concept(item: Dataset) -> Code:
    names = item.get("ConceptNameCodeSequence")
    return Code.from_dataset(names[0]) if names else Code("", "", "")


def _decode_group(group: Dataset) -> DecodedLesionGroup:
    tracking, uid, seg_uid, laterality = "", "", "", ""
    segment: int | None = None
    measurements: dict[str, tuple[float, str]] = {}
    evaluations: dict[str, Code] = {}
    for item in group.get("ContentSequence", []):
        concept, vt = _concept(item), str(item.get("ValueType", ""))
        if concept.same(c.TRACKING_IDENTIFIER):
            tracking = str(item.TextValue)
        elif concept.same(c.TRACKING_UNIQUE_IDENTIFIER):
            uid = str(item.UID)
        elif concept.same(REFERENCED_SEGMENT) and item.get("ReferencedSOPSequence"):
            ref = item.ReferencedSOPSequence[0]
            seg_uid = str(ref.ReferencedSOPInstanceUID)
            segment = int(ref.ReferencedSegmentNumber) if "ReferencedSegmentNumber" in ref else None
        elif concept.same(c.FINDING_SITE):
            for modifier in item.get("ContentSequence", []):
                if _concept(modifier).same(c.LATERALITY):
                    laterality = Code.from_dataset(modifier.ConceptCodeSequence[0]).meaning
        elif vt == "NUM" and item.get("MeasuredValueSequence"):
            measured = item.MeasuredValueSequence[0]
            unit = Code.from_dataset(measured.MeasurementUnitsCodeSequence[0]).value
            measurements[concept.value] = (float(measured.NumericValue), unit)
        elif vt == "CODE" and item.get("ConceptCodeSequence"):
            evaluations[concept.value] = Code.from_dataset(item.ConceptCodeSequence[0])
    return DecodedLesionGroup(tracking, uid, seg_uid, segment, laterality, measurements, evaluations)
