"""Imaging Measurement Report (PS3.16 TID 1500) of a result's findings, in a Comprehensive SR.

Some sites, and Sectra's own tooling, read the generic TID 1500 measurement report (the IHE AIR
encoding of regions and measurements) rather than, or beside, the Mammography CAD SR.
:class:`MeasurementReport` encodes the findings a reader is shown (score at or above the operating
point, as the GSPS); ``from_dataset()`` reads one back. SOP class: Comprehensive SR
(1.2.840.10008.5.1.4.1.1.88.33): marks are 2-D pixel coordinates, so SCOORD is enough. Placement as
every breastgate output: same study, Patient and General Study copied, a new series, deterministic
UIDs (kinds ``tid1500``, ``tid1500-series``, ``tid1500-device``, ``tid1500-tracking``).

Built with highdicom: :class:`highdicom.sr.ComprehensiveSR` around a
:class:`highdicom.sr.MeasurementReport` of
:class:`highdicom.sr.PlanarROIMeasurementsAndQualitativeEvaluations` groups (``ImageRegion``,
``FindingSite``, ``Measurement``, ``TrackingIdentifier``, ``AlgorithmIdentification``), observer
context from ``ObserverContext`` / ``DeviceObserverIdentifyingAttributes``. Content tree, as
emitted (reference dicom-sr.md §3.1; rows as PixelMed's DicomSRValidator)::

    CONTAINER (126000, DCM, "Imaging Measurement Report")       [TID 1500, template 1500/DCMR]
     ├ HAS CONCEPT MOD CODE Language = en-US                      [TID 1204]
     ├ HAS OBS CONTEXT CODE (121005) Observer Type = (121007, DCM, "Device")  [TID 1001/1002]
     ├ HAS OBS CONTEXT UIDREF (121012) Device Observer UID, TEXT (121013) Name "breastgate",
     │   (121014) Manufacturer, (121015) Model Name = algorithm id   [TID 1004]
     ├ CONTAINS CONTAINER Image Library → Image Library Group → IMAGE per source image,
     │   with the HAS ACQ CONTEXT rows TID 1602/1603 share with TID 4020, Image Laterality
     │   from CID 244                                                [TID 1600/1601]
     ├ CONTAINS CONTAINER (126010, DCM, "Imaging Measurements")
     │   └ CONTAINS CONTAINER (125007) Measurement Group per (finding, marked image)  [TID 1410]
     │       ├ HAS OBS CONTEXT TEXT (112039) Tracking Identifier = Finding.id
     │       ├ HAS OBS CONTEXT UIDREF (112040) Tracking Unique Identifier (one per finding)
     │       ├ CONTAINS CODE (121071) Finding = CID 6054 (kinds without a code: row left out)
     │       ├ HAS CONCEPT MOD CODE (363698007) Finding Site = quadrant (CID 6020) or Breast
     │       │   ├ HAS CONCEPT MOD CODE (272741003) Laterality = CID 244 Left / Right  [TID 1419]
     │       │   └ HAS CONCEPT MOD CODE (106233006) Topographical modifier = clock (CID 6018)
     │       ├ HAS CONCEPT MOD TEXT Algorithm Name / Version / Parameters  [TID 4019]
     │       ├ CONTAINS NUM (81827009, SCT, "Diameter") mm (the mark's size, else the finding's)
     │       ├ CONTAINS NUM (111012, DCM, "Certainty of Finding") % (the mark's score)
     │       └ CONTAINS SCOORD (111030) Image Region: closed POLYLINE (outline, else the bbox)
     │           └ SELECTED FROM IMAGE (by value; Referenced Frame Number for DBT)
     └ CONTAINS CONTAINER (C0034375, UMLS, "Qualitative Evaluations")
         └ CONTAINS TEXT (121106, DCM, "Comment") = "AI result (...) — not for diagnostic use."

Choices:

- One Measurement Group per marked image: TID 1410 is a planar ROI (one Image Region). The marks of
  one finding (CC and MLO, or a volume and its synthesized view) share the Tracking Identifier and
  Tracking Unique Identifier, which is what those rows are for (one lesion, several regions).
- The score is a detection confidence, not a calibrated probability of malignancy, so it is
  (111012, DCM, "Certainty of Finding"), as in the CAD SR, not (111047, DCM, "Probability of cancer").
- Procedure reported (row 4, optional) is left out. CID 100 is a baseline (extensible) group, so
  the CID 6050 mammogram code (36626-0, LN) is allowed, but the PixelMed validator we must pass
  (the Debian jar, CID 100 of 2019) reports every code outside its list as an error, including
  (43468-8, LN, "XR unspecified body region") of the current CID 100; the only X-ray-neutral code
  it knows, (363679005, SCT, "Imaging procedure"), says nothing.
- No Geometric purpose of region (row 3c): a closed POLYLINE is the region itself.
- Ours, not highdicom's: the Image Library (highdicom's ``ImageLibrary`` requires Patient
  Orientation and Imager Pixel Spacing on every projection image, which tomosynthesis volumes
  carry in functional groups only, and writes no laterality or view), inserted before the
  measurements; the Qualitative Evaluations container (``MeasurementReport`` takes imaging
  measurements only), appended. Earlier reports carried TID 4019 once, on the Imaging Measurements
  container; highdicom puts it in each group (TID 1410 row 8); the decoder reads either.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime

import highdicom.sr as hd
import numpy as np
from pydicom.dataset import Dataset

from breastgate.domain.errors import EncodingError, InvalidInputError
from breastgate.domain.model import AlgorithmManifest, AlgorithmResult, Finding, Mark
from breastgate.results import codes as c
from breastgate.results.mammo_cad_sr import impression_text
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
    container_item,
    decode_content,
    number,
    plain_numbers,
    text_item,
)
from breastgate.results.tid4000 import AlgorithmIdentification, ImageLibraryEntry
from breastgate.results.tid4000_findings import (
    MODEL_CARD_PARAMETER,
    THRESHOLD_PARAMETER,
    bbox_rectangle,
    closed_polyline,
    threshold_from,
)
from breastgate.results.uids import derive_uid

LOGGER = logging.getLogger(__name__)

COMPREHENSIVE_SR_STORAGE = "1.2.840.10008.5.1.4.1.1.88.33"
DEFAULT_SERIES_NUMBER = 9906
DEVICE_OBSERVER_NAME = "breastgate"

_CONTAINS = "CONTAINS"


def shown_findings(result: AlgorithmResult) -> tuple[Finding, ...]:
    """Findings at or above the operating point (all of them without one), as the GSPS shows."""
    threshold = result.operating_threshold if result.operating_threshold is not None else 0.0
    return tuple(f for f in result.findings if f.score >= threshold)


def _percent(score: float) -> float:
    if not 0.0 <= score <= 1.0:
        raise EncodingError(f"score {score!r} outside 0..1")
    return round(score * 100.0, 6)


@dataclass(frozen=True)
class DecodedGroup:
    """One TID 1410 Measurement Group read back."""

    tracking_identifier: str
    tracking_uid: str
    finding: Code | None
    sop_instance_uid: str
    frame: int | None
    points: tuple[tuple[float, float], ...]
    laterality: Code | None
    finding_site: Code | None
    certainty_percent: float | None
    diameter_mm: float | None


@dataclass(frozen=True)
class DecodedMeasurementReport:
    """What :meth:`MeasurementReport.from_dataset` returns."""

    sop_instance_uid: str
    series_instance_uid: str
    study_instance_uid: str
    algorithm_name: str
    algorithm_version: str
    operating_threshold: float | None
    groups: tuple[DecodedGroup, ...]
    comment: str


class MeasurementReport:
    """A TID 1500 Imaging Measurement Report of the shown findings of one :class:`AlgorithmResult`.

    Parameters
    ----------
    sources
        Headers of the study's images (pixel data not needed); all must share the result's study.
        Marks on images without a header here are left out with a warning. Listed (Image Library,
        evidence) by SOP Instance UID.
    result
        The result; its findings at or above the operating threshold are encoded.
    manifest
        Algorithm manifest (id, version, name, manufacturer).
    created
        Content Date/Time; default: the study date and time, so the output depends only on inputs.

    Raises
    ------
    EncodingError
        No shown finding has a mark on a source image, a mark's frame is out of range, the
        manifest and result disagree, or the sources span another study.
    """

    def __init__(
        self,
        sources: Sequence[Dataset],
        result: AlgorithmResult,
        manifest: AlgorithmManifest,
        *,
        created: datetime | None = None,
        series_number: int = DEFAULT_SERIES_NUMBER,
        instance_number: int = 1,
    ) -> None:
        if not sources:
            raise EncodingError("a TID 1500 report needs at least one source image")
        if (manifest.id, manifest.version) != (result.algorithm_id, result.algorithm_version):
            raise EncodingError("manifest and result name different algorithms or versions")
        if {str(s.get("StudyInstanceUID", "")) for s in sources} != {result.study_instance_uid}:
            raise EncodingError("source images do not all belong to the result's study")
        threshold = result.operating_threshold
        if threshold is not None and not 0.0 <= threshold <= 1.0:
            raise EncodingError(f"operating threshold {threshold!r} outside 0..1")
        # One order whatever the caller's, so the same inputs give the same bytes.
        self.sources = tuple(sorted(sources, key=lambda s: str(s.SOPInstanceUID)))
        self.result = result
        self.manifest = manifest
        self.series_number = series_number
        self.instance_number = instance_number
        self.creation_date, self.creation_time = creation_datetime(self.sources, created)
        self._headers = {str(s.SOPInstanceUID): s for s in self.sources}
        self.findings = shown_findings(result)
        self.marks = self._marks()
        if not self.marks:
            raise EncodingError("no finding at the operating point has a mark on a source image")
        study = result.study_instance_uid
        algo, version = result.algorithm_id, result.algorithm_version
        self.sop_instance_uid = derive_uid("tid1500", algo, version, [study, *sorted(self._headers)])
        self.series_instance_uid = derive_uid("tid1500-series", algo, version, [study])
        self.device_uid = derive_uid("tid1500-device", algo, version, [algo])
        self.algorithm = AlgorithmIdentification(
            algo,
            version,
            (
                f"name={manifest.name}",
                f"manufacturer={manifest.manufacturer}",
                *([f"{MODEL_CARD_PARAMETER}{manifest.model_card}"] if manifest.model_card else []),
                *([f"{THRESHOLD_PARAMETER}{threshold!r}"] if threshold is not None else []),
            ),
        )
        # Build the tree now so a bad input fails here, not at write time.
        with highdicom_refusal("TID 1500 content"):
            self._tree = self._build()

    @classmethod
    def from_result(
        cls,
        result: AlgorithmResult,
        manifest: AlgorithmManifest,
        sources: Sequence[Dataset],
        created: datetime | None = None,
    ) -> MeasurementReport:
        """Pipeline-friendly constructor, the shape of ``MammographyCADSR.from_result``."""
        return cls(sources, result, manifest, created=created)

    def tracking_uid(self, finding: Finding) -> str:
        """Tracking Unique Identifier of a finding: the same for every build of the same result."""
        return derive_uid(
            "tid1500-tracking",
            self.result.algorithm_id,
            self.result.algorithm_version,
            [self.result.study_instance_uid, f"finding={finding.id}", f"kind={finding.kind.value}"],
        )

    def _marks(self) -> tuple[tuple[int, Finding, Mark], ...]:
        out = []
        for ordinal, finding in enumerate(self.findings, start=1):
            for mark in finding.marks:
                header = self._headers.get(mark.sop_instance_uid)
                if header is None:
                    LOGGER.warning("TID 1500: mark of finding %r on an image without a header", finding.id)
                    continue
                frames = int(header.get("NumberOfFrames", 1) or 1)
                if mark.frame is not None and not 1 <= mark.frame <= frames:
                    raise EncodingError(f"mark of finding {finding.id!r} on frame {mark.frame} of {frames}")
                out.append((ordinal, finding, mark))
        return tuple(out)

    # ------------------------------------------------------------ content tree

    def _build(self) -> hd.MeasurementReport:
        device = hd.DeviceObserverIdentifyingAttributes(
            uid=self.device_uid,
            name=DEVICE_OBSERVER_NAME,
            manufacturer_name=self.manifest.manufacturer,
            model_name=self.manifest.id,
        )
        observer = hd.ObserverContext(observer_type=c.DEVICE.coded(), observer_identifying_attributes=device)
        algorithm = hd.AlgorithmIdentification(
            self.algorithm.name, self.algorithm.version, self.algorithm.parameters
        )
        report = hd.MeasurementReport(
            observation_context=hd.ObservationContext(observer_device_context=observer),
            procedure_reported=[],  # row 4 left out, see the module docstring
            imaging_measurements=[self._group(n, f, m, algorithm) for n, f, m in self.marks],
            title=c.IMAGING_MEASUREMENT_REPORT.coded(),
            language_of_content_item_and_descendants=hd.LanguageOfContentItemAndDescendants(
                c.ENGLISH.coded()
            ),
        )
        entries = [ImageLibraryEntry.from_header(src).to_item(c.LATERALITY_BY_SIDE) for src in self.sources]
        library = container_item(
            c.IMAGE_LIBRARY, _CONTAINS, [container_item(c.IMAGE_LIBRARY_GROUP, _CONTAINS, entries)]
        )
        root = report[0].ContentSequence
        root.insert(len(root) - 1, library)  # before Imaging Measurements (TID 1500 rows 5-6)
        label = impression_text(self.result.algorithm_id, self.result.algorithm_version)
        comment = text_item(c.COMMENT, label, _CONTAINS)
        root.append(container_item(c.QUALITATIVE_EVALUATIONS, _CONTAINS, [comment]))
        plain_numbers(report[0])
        return report

    def _group(
        self, ordinal: int, finding: Finding, mark: Mark, algorithm: hd.AlgorithmIdentification
    ) -> hd.PlanarROIMeasurementsAndQualitativeEvaluations:
        """TID 1410 Planar ROI Measurements for one mark, with its TID 1419 rows."""
        ident = finding.id or f"finding {ordinal}"
        kind = c.FINDING_BY_KIND.get(finding.kind.value)
        if kind is None:
            LOGGER.info("TID 1500: %s finding %r has no CID 6054 code (no Finding row)", finding.kind, ident)
        size = mark.size_mm if mark.size_mm is not None else finding.size_mm
        measurements = [] if size is None else [_measurement(c.DIAMETER, round(size, 3), c.MILLIMETER)]
        measurements.append(_measurement(c.CERTAINTY_OF_FINDING, _percent(mark.score), c.PERCENT))
        return hd.PlanarROIMeasurementsAndQualitativeEvaluations(
            tracking_identifier=hd.TrackingIdentifier(uid=self.tracking_uid(finding), identifier=ident),
            referenced_region=self._region(mark),
            finding_type=kind.coded() if kind is not None else None,
            algorithm_id=algorithm,
            finding_sites=[_finding_site(finding)],
            measurements=measurements,
        )

    def _region(self, mark: Mark) -> hd.ImageRegion:
        """TID 1410 rows 5-6: the closed outline (else the bbox) SELECTED FROM its image and frame."""
        ring = mark.outline if len(mark.outline) >= 3 else bbox_rectangle(mark.bbox)
        points = np.array(closed_polyline(ring), dtype=float).reshape(-1, 2)
        sop_class = str(self._headers[mark.sop_instance_uid].SOPClassUID)
        frames = [mark.frame] if mark.frame is not None else None
        source = hd.SourceImageForRegion(sop_class, mark.sop_instance_uid, frames)
        return hd.ImageRegion("POLYLINE", points, source)

    # ------------------------------------------------------------ dataset

    @property
    def dataset(self) -> Dataset:
        """Same as :meth:`to_dataset` (a new Dataset each time)."""
        return self.to_dataset()

    def to_dataset(self) -> Dataset:
        """The complete SR instance with file meta (Explicit VR Little Endian)."""
        created = (self.creation_date, self.creation_time)
        description = f"breastgate {self.manifest.id} TID 1500 - not for diagnostic use"
        with highdicom_refusal("TID 1500 document"):
            ds = hd.ComprehensiveSR(
                evidence=[header_view(src) for src in self.sources],
                content=self._tree[0],
                series_instance_uid=self.series_instance_uid,
                series_number=self.series_number,
                sop_instance_uid=self.sop_instance_uid,
                instance_number=self.instance_number,
                is_complete=True,
                **highdicom_fields(created, description, self.manifest.id, self.manifest.version),
            )
        finish_instance(ds, self.sources[0], created)
        return ds

    @staticmethod
    def from_dataset(ds: Dataset) -> DecodedMeasurementReport:
        """Decode a TID 1500 report written by this class (tolerant of extra content)."""
        if str(ds.get("SOPClassUID", "")) != COMPREHENSIVE_SR_STORAGE:
            raise InvalidInputError("not a Comprehensive SR")
        root = decode_content(ds)
        if not c.IMAGING_MEASUREMENT_REPORT.same(root.concept):
            raise InvalidInputError("not an Imaging Measurement Report (TID 1500)")
        measurements = root.first(c.IMAGING_MEASUREMENTS, "CONTAINER") or Node("CONTAINER")
        groups = measurements.find(c.MEASUREMENT_GROUP, "CONTAINER")
        algorithm = next(
            (a for a in map(AlgorithmIdentification.from_node, [measurements, *groups]) if a is not None),
            None,
        )
        if algorithm is None:
            raise InvalidInputError("TID 1500 report without Algorithm Identification (TID 4019)")
        notes = root.first(c.QUALITATIVE_EVALUATIONS, "CONTAINER")
        comment = notes.first(c.COMMENT, "TEXT") if notes is not None else None
        return DecodedMeasurementReport(
            sop_instance_uid=str(ds.SOPInstanceUID),
            series_instance_uid=str(ds.SeriesInstanceUID),
            study_instance_uid=str(ds.StudyInstanceUID),
            algorithm_name=algorithm.name,
            algorithm_version=algorithm.version,
            operating_threshold=threshold_from(algorithm.parameters),
            groups=tuple(g for g in map(_decode_group, groups) if g is not None),
            comment=(comment.text or "") if comment is not None else "",
        )


def _finding_site(finding: Finding) -> hd.FindingSite:
    """TID 1419 rows 2-4: the quadrant (CID 6020) or Breast, its side (CID 244) and clock (CID 6018)."""
    location = finding.location
    quadrant = c.QUADRANTS.get(location.quadrant or "") if location is not None else None
    clock = c.CLOCK_POSITIONS.get(location.clock or 0) if location is not None else None
    return hd.FindingSite(
        (quadrant or c.BREAST).coded(),
        laterality=c.LATERALITY_BY_SIDE[finding.laterality].coded(),
        topographical_modifier=clock.coded() if clock is not None else None,
    )


def _measurement(concept: Code, value: float, units: Code) -> hd.Measurement:
    """TID 300 Measurement: a NUM (CONTAINS) and nothing else."""
    return hd.Measurement(concept.coded(), number(value), units.coded())


def _decode_group(group: Node) -> DecodedGroup | None:
    region = group.first(c.IMAGE_REGION, "SCOORD")
    image = next((ch for ch in region.children if ch.vt == "IMAGE"), None) if region else None
    if region is None or region.graphic is None or image is None or image.sop is None:
        LOGGER.warning("TID 1500: measurement group without an image region skipped")
        return None
    values = region.graphic[1]
    points = tuple((float(values[i]), float(values[i + 1])) for i in range(0, len(values) - 1, 2))

    def value(concept: Code, vt: str) -> Node | None:
        return group.first(concept, vt)

    site = value(c.FINDING_SITE, "CODE")
    laterality = site.first(c.LATERALITY, "CODE") if site is not None else None
    tracking, uid, finding = (
        value(c.TRACKING_IDENTIFIER, "TEXT"),
        value(c.TRACKING_UNIQUE_IDENTIFIER, "UIDREF"),
        value(c.FINDING, "CODE"),
    )
    certainty, diameter = value(c.CERTAINTY_OF_FINDING, "NUM"), value(c.DIAMETER, "NUM")
    return DecodedGroup(
        tracking_identifier=(tracking.text or "") if tracking else "",
        tracking_uid=(uid.text or "") if uid else "",
        finding=finding.code if finding else None,
        sop_instance_uid=image.sop[1],
        frame=image.frames[0] if image.frames else None,
        points=points,
        laterality=laterality.code if laterality else None,
        finding_site=site.code if site else None,
        certainty_percent=certainty.num if certainty else None,
        diameter_mm=diameter.num if diameter else None,
    )


def decode_measurement_report(ds: Dataset) -> DecodedMeasurementReport:
    """Function form of :meth:`MeasurementReport.from_dataset`."""
    return MeasurementReport.from_dataset(ds)
