"""DICOM headers of tomosynthesis phantoms: Breast Tomosynthesis Image (PS3.3 A.55) and the
synthesized 2-D Digital Mammography image derived from it (PS3.3 A.26, Image Type Value 4
GENERATED_2D, dicom-sr.md §5.3).

Patient coordinates (LPS) of a volume: the row direction is the first value of the MG Patient
Orientation (A or P), the column direction points down the image (towards the patient's right/left
on the CC, inferomedially on a 45° MLO), and frames are stacked from the breast support (frame 1)
towards the paddle and the X-ray source, 1 mm apart.
"""

from __future__ import annotations

import datetime as dt
import math
from typing import BinaryIO

import numpy as np
import numpy.typing as npt
import pydicom
from pydicom.sequence import Sequence as DicomSequence

from breastgate.phantoms.anatomy import ViewSpec
from breastgate.phantoms.headers import (
    VIEW_CODES,
    code_item,
    equipment,
    file_meta,
    patient_study,
    phantom_uid,
)
from breastgate.phantoms.mg import ImageIds, mg_image_dataset
from breastgate.phantoms.plan import StudyPlan
from breastgate.phantoms.tomo import TomoGeometry

__all__ = [
    "BREAST_TOMOSYNTHESIS",
    "dbt_dataset",
    "frame_position",
    "orientation",
    "patient_point",
    "synthesized_dataset",
]

#: Breast Tomosynthesis Image Storage (PS3.4 B.5).
BREAST_TOMOSYNTHESIS = "1.2.840.10008.5.1.4.1.1.13.1.3"
_S = math.sqrt(0.5)
# Row and column direction cosines per (laterality, view), LPS (see module docstring).
_ORIENTATION: dict[tuple[str, str], tuple[tuple[float, float, float], tuple[float, float, float]]] = {
    ("L", "CC"): ((0.0, -1.0, 0.0), (-1.0, 0.0, 0.0)),
    ("R", "CC"): ((0.0, 1.0, 0.0), (1.0, 0.0, 0.0)),
    ("L", "MLO"): ((0.0, -1.0, 0.0), (-_S, 0.0, -_S)),
    ("R", "MLO"): ((0.0, 1.0, 0.0), (_S, 0.0, -_S)),
}
_STACK_ID = "1"
_STACK_ID_TAG = 0x00209056
_IN_STACK_TAG = 0x00209057
_FRAME_CONTENT_TAG = 0x00209111


def orientation(laterality: str, view: str) -> tuple[npt.NDArray[np.float64], ...]:
    """(row direction, column direction, up) unit vectors; up points from the breast support to
    the source (−(row × column))."""
    row, col = (np.array(v) for v in _ORIENTATION[(laterality, view)])
    return row, col, -np.cross(row, col)


def frame_position(laterality: str, view: str, geometry: TomoGeometry, frame: int) -> list[float]:
    """Image Position (Patient) of the top-left pixel centre of 1-based ``frame``."""
    _, _, up = orientation(laterality, view)
    return [round(float(v), 4) + 0.0 for v in geometry.height_mm(frame) * up]


def patient_point(
    laterality: str, view: str, geometry: TomoGeometry, frame: int, point: list[float], pixel_mm: float
) -> list[float]:
    """Patient coordinates (mm) of image point [col, row] (DICOM image coordinates) on ``frame``."""
    row, col, up = orientation(laterality, view)
    at = (
        geometry.height_mm(frame) * up + (point[0] - 0.5) * pixel_mm * row + (point[1] - 0.5) * pixel_mm * col
    )
    return [round(float(v), 2) + 0.0 for v in at]


def _ds(value: float) -> str:
    return f"{value:.6g}"


def _shared_groups(plan: StudyPlan, spec: ViewSpec) -> pydicom.Dataset:
    """Shared Functional Groups (PS3.3 A.55.4): pixel measures, orientation, anatomy, transforms."""
    p = plan.profile
    row, col, _ = orientation(spec.laterality, spec.view)
    measures = pydicom.Dataset()
    measures.PixelSpacing = [_ds(p.pixel_spacing_mm), _ds(p.pixel_spacing_mm)]
    measures.SliceThickness = "1"
    plane = pydicom.Dataset()
    plane.ImageOrientationPatient = [_ds(float(v) + 0.0) for v in (*row, *col)]
    anatomy = pydicom.Dataset()
    anatomy.AnatomicRegionSequence = DicomSequence([code_item("76752008", "SCT", "Breast")])
    anatomy.FrameLaterality = spec.laterality
    transform = pydicom.Dataset()
    transform.RescaleIntercept = "0"
    transform.RescaleSlope = "1"
    transform.RescaleType = "US"
    voi = pydicom.Dataset()
    voi.WindowCenter = _ds(p.window_center)
    voi.WindowWidth = _ds(p.window_width)
    voi.WindowCenterWidthExplanation = "NORMAL"
    voi.VOILUTFunction = "LINEAR"
    shared = pydicom.Dataset()
    shared.PixelMeasuresSequence = DicomSequence([measures])
    shared.PlaneOrientationSequence = DicomSequence([plane])
    shared.FrameAnatomySequence = DicomSequence([anatomy])
    shared.PixelValueTransformationSequence = DicomSequence([transform])
    shared.FrameVOILUTSequence = DicomSequence([voi])
    return shared


def _per_frame_groups(spec: ViewSpec, geometry: TomoGeometry, acquired: str) -> DicomSequence:
    """Per-frame Functional Groups: Frame Content, Plane Position, X-Ray 3D Frame Type."""
    items = []
    for frame in range(1, geometry.frames + 1):
        content = pydicom.Dataset()
        content.FrameAcquisitionDateTime = acquired
        content.FrameReferenceDateTime = acquired
        content.FrameAcquisitionDuration = 3700.0
        content.StackID = _STACK_ID
        content.InStackPositionNumber = frame
        content.DimensionIndexValues = [1, frame]
        position = pydicom.Dataset()
        position.ImagePositionPatient = [
            _ds(v) for v in frame_position(spec.laterality, spec.view, geometry, frame)
        ]
        frame_type = pydicom.Dataset()
        frame_type.FrameType = ["DERIVED", "PRIMARY", "TOMOSYNTHESIS", "NONE"]
        frame_type.PixelPresentation = "MONOCHROME"
        frame_type.VolumetricProperties = "VOLUME"
        frame_type.VolumeBasedCalculationTechnique = "NONE"
        frame_type.ReconstructionIndex = 1
        item = pydicom.Dataset()
        item.FrameContentSequence = DicomSequence([content])
        item.PlanePositionSequence = DicomSequence([position])
        item.XRay3DFrameTypeSequence = DicomSequence([frame_type])
        items.append(item)
    return DicomSequence(items)


def _dimensions(ds: pydicom.Dataset, organization_uid: str) -> None:
    """Multi-frame Dimension module (PS3.3 C.7.6.17): one stack, frames by position in it."""
    org = pydicom.Dataset()
    org.DimensionOrganizationUID = organization_uid
    ds.DimensionOrganizationSequence = DicomSequence([org])
    ds.DimensionOrganizationType = "3D"
    index = []
    for pointer, label in ((_STACK_ID_TAG, "Stack ID"), (_IN_STACK_TAG, "In-Stack Position Number")):
        item = pydicom.Dataset()
        item.DimensionOrganizationUID = organization_uid
        item.DimensionIndexPointer = pointer
        item.FunctionalGroupPointer = _FRAME_CONTENT_TAG
        item.DimensionDescriptionLabel = label
        index.append(item)
    ds.DimensionIndexSequence = DicomSequence(index)


def _acquisition(ds: pydicom.Dataset, plan: StudyPlan, spec: ViewSpec, start: dt.datetime) -> None:
    """Breast Tomosynthesis Acquisition (PS3.3 C.8.21.3) and X-Ray 3D Reconstruction (C.8.21.4)."""
    p = plan.profile
    thickness = plan.thickness_mm[spec.laterality]
    n = p.dbt_projections
    arc = 2.0 * p.dbt_half_angle_deg
    item = pydicom.Dataset()
    item.FieldOfViewShape = "RECTANGLE"
    item.XRayReceptorType = "DIGITAL_DETECTOR"
    item.FieldOfViewDimensionsInFloat = [ds.Rows * p.pixel_spacing_mm, ds.Columns * p.pixel_spacing_mm]
    item.FieldOfViewOrigin = ["0", "0"]
    item.FieldOfViewRotation = "0"
    item.FieldOfViewHorizontalFlip = "NO"
    item.Grid = "NONE"
    item.KVP = _ds(p.kvp)
    item.XRayTubeCurrentInmA = 100.0
    item.ExposureTimeInms = 3700.0
    item.ExposureInmAs = 60.0 + thickness
    item.StartAcquisitionDateTime = start.strftime("%Y%m%d%H%M%S")
    item.EndAcquisitionDateTime = (start + dt.timedelta(seconds=4)).strftime("%Y%m%d%H%M%S")
    item.PrimaryPositionerScanArc = arc
    item.PrimaryPositionerScanStartAngle = -p.dbt_half_angle_deg
    item.PrimaryPositionerIncrement = arc / (n - 1)
    item.DistanceSourceToDetector = "660"
    item.DistanceSourceToPatient = "620"
    item.EstimatedRadiographicMagnificationFactor = "1.06452"
    item.AnodeTargetMaterial = p.anode
    item.BodyPartThickness = f"{thickness:.0f}"
    item.ExposureControlMode = "AUTOMATIC"
    item.ExposureControlModeDescription = "phantom automatic exposure control"
    item.HalfValueLayer = "0.5"
    item.OrganDose = "1.6"
    item.EntranceDoseInmGy = "5.2"
    item.FocalSpots = "0.3"
    item.DetectorTemperature = "25"
    item.FilterType = "FLAT"
    item.FilterMaterial = p.filter
    item.CompressionForce = f"{plan.force_n[spec.laterality]:.0f}"
    item.PaddleDescription = "STANDARD"
    projections = []
    for k in range(n):
        proj = pydicom.Dataset()
        proj.KVP = _ds(p.kvp)
        proj.PositionerPrimaryAngle = _ds(-p.dbt_half_angle_deg + k * arc / (n - 1))
        proj.PositionerSecondaryAngle = "0"
        proj.ExposureTimeInms = 3700.0 / n
        proj.ExposureInmAs = (60.0 + thickness) / n
        proj.RelativeXRayExposure = 500
        projections.append(proj)
    item.PerProjectionAcquisitionSequence = DicomSequence(projections)
    ds.XRay3DAcquisitionSequence = DicomSequence([item])
    recon = pydicom.Dataset()
    recon.ReconstructionDescription = "synthetic slices (breastgate phantom, no projections)"
    recon.ApplicationName = "breastgate.phantoms"
    recon.ApplicationVersion = "1.0"
    recon.ApplicationManufacturer = "breastgate"
    recon.AlgorithmType = "FILTER_BACK_PROJ"
    recon.AcquisitionIndex = [1]
    ds.XRay3DReconstructionSequence = DicomSequence([recon])


def _contributing(ds: pydicom.Dataset, plan: StudyPlan, start: dt.datetime) -> None:
    """Breast Tomosynthesis Contributing Sources (PS3.3 C.8.21.2): the (not stored) projections."""
    p = plan.profile
    item = pydicom.Dataset()
    item.Manufacturer = p.manufacturer
    item.ManufacturerModelName = p.model_name
    item.DeviceSerialNumber = f"SN-{p.name}"
    item.SoftwareVersions = p.software_version
    item.AcquisitionDateTime = start.strftime("%Y%m%d%H%M%S")
    item.StationName = "PHANTOM1"
    item.Rows = ds.Rows
    item.Columns = ds.Columns
    item.BitsStored = p.bits_stored
    item.LossyImageCompression = "00"
    item.DetectorType = p.detector_type
    item.DetectorID = p.detector_id
    item.DateOfLastDetectorCalibration = "20240101"
    item.TimeOfLastDetectorCalibration = "070000"
    item.DetectorElementSpacing = [_ds(p.pixel_spacing_mm), _ds(p.pixel_spacing_mm)]
    ds.ContributingSourcesSequence = DicomSequence([item])


def dbt_dataset(
    plan: StudyPlan,
    spec: ViewSpec,
    geometry: TomoGeometry,
    ids: ImageIds,
    patient_id: str,
    pixel_data: bytes | BinaryIO,
    shape: tuple[int, int],
    representative_frame: int,
) -> pydicom.Dataset:
    """A Breast Tomosynthesis Image dataset (PS3.3 A.55) holding ``geometry.frames`` frames.

    ``pixel_data`` is the frames' little-endian uint16 bytes, or a buffered binary file holding
    them (pydicom writes it in chunks, so a large volume never needs to be in memory).
    """
    p = plan.profile
    ds = pydicom.Dataset()
    ds.file_meta = file_meta(BREAST_TOMOSYNTHESIS, ids.sop)
    ds.SpecificCharacterSet = "ISO_IR 100"
    ds.ImageType = ["DERIVED", "PRIMARY", "TOMOSYNTHESIS", "NONE"]
    ds.SOPClassUID = BREAST_TOMOSYNTHESIS
    ds.SOPInstanceUID = ids.sop
    when = patient_study(ds, plan, patient_id, ids.study)
    ds.StudyDescription = "TOMOSYNTHESIS SCREENING (PHANTOM)"
    start = when + dt.timedelta(seconds=40 * ids.index)
    created = start + dt.timedelta(seconds=30)
    ds.ContentDate = ds.InstanceCreationDate = created.strftime("%Y%m%d")
    ds.ContentTime = ds.InstanceCreationTime = created.strftime("%H%M%S")
    ds.Modality = "MG"
    ds.SeriesInstanceUID = ids.series
    ds.SeriesNumber = "1"
    ds.SeriesDescription = "Phantom DBT"
    ds.BodyPartExamined = "BREAST"
    ds.OperatorsName = "OPERATOR^PHANTOM"
    ds.FrameOfReferenceUID = ids.frame_of_reference
    ds.PositionReferenceIndicator = ""
    equipment(ds, plan)
    del ds.DateOfLastDetectorCalibration  # a DX Detector attribute, not in this IOD
    ds.InstanceNumber = str(ids.index + 1)
    ds.SamplesPerPixel = 1
    ds.PhotometricInterpretation = "MONOCHROME2"
    ds.Rows, ds.Columns = shape
    ds.BitsAllocated = 16
    ds.BitsStored = p.bits_stored
    ds.HighBit = p.bits_stored - 1
    ds.PixelRepresentation = 0
    ds.NumberOfFrames = geometry.frames
    ds.RepresentativeFrameNumber = representative_frame
    ds.PixelPresentation = "MONOCHROME"
    ds.VolumetricProperties = "VOLUME"
    ds.VolumeBasedCalculationTechnique = "NONE"
    ds.ContentQualification = "PRODUCT"
    ds.BurnedInAnnotation = "NO"
    ds.LossyImageCompression = "00"
    ds.PresentationLUTShape = "IDENTITY"
    ds.AcquisitionContextSequence = DicomSequence()
    ds.SharedFunctionalGroupsSequence = DicomSequence([_shared_groups(plan, spec)])
    ds.PerFrameFunctionalGroupsSequence = _per_frame_groups(spec, geometry, start.strftime("%Y%m%d%H%M%S"))
    _dimensions(ds, phantom_uid(ids.sop, "dimension-organization"))
    _contributing(ds, plan, start)
    _acquisition(ds, plan, spec, start)
    view_item = code_item(*VIEW_CODES[spec.view][:1], "SCT", VIEW_CODES[spec.view][1])
    view_item.ViewModifierCodeSequence = DicomSequence()
    ds.ViewCodeSequence = DicomSequence([view_item])
    ds.BreastImplantPresent = "NO"
    ds.PartialView = "NO"
    ds.add_new(0x7FE00010, "OW", pixel_data)
    return ds


def synthesized_dataset(
    plan: StudyPlan,
    spec: ViewSpec,
    pixels: npt.NDArray[np.uint16],
    ids: ImageIds,
    patient_id: str,
    source_sop_uid: str,
) -> pydicom.Dataset:
    """A synthesized 2-D view: Digital Mammography For Presentation whose Image Type says it was
    generated from tomosynthesis, with its Breast Tomosynthesis Image as source."""
    ds = mg_image_dataset(plan, spec, pixels, ids, patient_id)
    ds.ImageType = ["DERIVED", "PRIMARY", "", "GENERATED_2D"]
    ds.StudyDescription = "TOMOSYNTHESIS SCREENING (PHANTOM)"
    ds.SeriesNumber = "2"
    ds.SeriesDescription = "Phantom synthesized 2D"
    source = pydicom.Dataset()
    source.ReferencedSOPClassUID = BREAST_TOMOSYNTHESIS
    source.ReferencedSOPInstanceUID = source_sop_uid
    source.SpatialLocationsPreserved = "YES"
    ds.SourceImageSequence = DicomSequence([source])
    ds.DerivationDescription = "Synthesized 2D view from the tomosynthesis slices (mean and maximum blend)"
    return ds
