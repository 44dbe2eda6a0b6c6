"""Synthetic 4-view FFDM screening studies as DICOM Digital Mammography For Presentation images.

Headers follow PS3.3 A.26 (Digital Mammography X-Ray Image IOD) and the IHE MAMMO profile demands
that dicom3tools checks (dicom-sr.md §3.4, §5). Everything is deterministic in ``seed``.
"""

from __future__ import annotations

import datetime as dt
import json
import logging
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pydicom
from pydicom.dataset import FileMetaDataset
from pydicom.sequence import Sequence
from pydicom.uid import PYDICOM_IMPLEMENTATION_UID, ExplicitVRLittleEndian, generate_uid

from breastgate.phantoms.anatomy import RenderedView, ViewSpec, render_view, view_context
from breastgate.phantoms.errors import PhantomError
from breastgate.phantoms.lesions import LesionRequest, LesionSpec, plan_lesions
from breastgate.phantoms.plan import VIEWS, StudyPlan, plan_study
from breastgate.phantoms.positioning import positioning_truth
from breastgate.phantoms.profiles import CATEGORIES, VENDOR_PROFILES

__all__ = ["MG_FOR_PRESENTATION", "TRUTH_SCHEMA", "PhantomStudy", "generate_mg_study", "write_phantoms"]

LOGGER = logging.getLogger(__name__)

MG_FOR_PRESENTATION = "1.2.840.10008.5.1.4.1.1.1.2"
MG_FOR_PROCESSING = "1.2.840.10008.5.1.4.1.1.1.2.1"
TRUTH_SCHEMA = "breastgate.phantom-truth/1"

# CID 4014 view codes (SCT) and Patient Orientation as vendors write it (dicom-sr.md §5.3).
_VIEW_CODES = {"CC": ("399162004", "cranio-caudal"), "MLO": ("399368009", "medio-lateral oblique")}
_ORIENTATION = {
    ("L", "CC"): ["A", "R"],
    ("R", "CC"): ["P", "L"],
    ("L", "MLO"): ["A", "F"],
    ("R", "MLO"): ["P", "F"],
}
_ANGLE = {"CC": 0.0, "MLO": 45.0}
_FILE_NAMES = {("R", "CC"): "R_CC", ("L", "CC"): "L_CC", ("R", "MLO"): "R_MLO", ("L", "MLO"): "L_MLO"}


@dataclass(frozen=True)
class PhantomStudy:
    """A synthetic study: four Part 10 datasets (R CC, L CC, R MLO, L MLO) and its ground truth."""

    study_instance_uid: str
    datasets: list[pydicom.Dataset]
    truth: dict[str, Any] = field(default_factory=dict)


def _uid(*parts: object) -> str:
    return str(generate_uid(entropy_srcs=["breastgate.phantoms", *(str(p) for p in parts)]))


def _code(value: str, scheme: str, meaning: str) -> pydicom.Dataset:
    item = pydicom.Dataset()
    item.CodeValue = value
    item.CodingSchemeDesignator = scheme
    item.CodeMeaning = meaning
    return item


def _patient_study(ds: pydicom.Dataset, plan: StudyPlan, patient_id: str, study_uid: str) -> dt.datetime:
    """Patient, General Study and Patient Study modules (PS3.3 C.7.1.1, C.7.2.1, C.7.2.2)."""
    when = dt.datetime(2024, 1, 2, 8, 0) + dt.timedelta(days=plan.seed % 700, minutes=7 * (plan.seed % 80))
    ds.PatientName = f"PHANTOM^{plan.seed:04d}"
    ds.PatientID = patient_id
    ds.PatientBirthDate = f"{when.year - plan.age}0101"
    ds.PatientSex = "F"
    ds.PatientAge = f"{plan.age:03d}Y"
    ds.StudyInstanceUID = study_uid
    ds.StudyDate = when.strftime("%Y%m%d")
    ds.StudyTime = when.strftime("%H%M%S")
    ds.AccessionNumber = f"PHA{plan.seed:07d}"[-16:]
    ds.ReferringPhysicianName = "REFERRER^PHANTOM"
    ds.StudyID = f"{plan.seed % 10**8}"
    ds.StudyDescription = "MAMMOGRAPHY SCREENING (PHANTOM)"
    return when


def _equipment(ds: pydicom.Dataset, plan: StudyPlan) -> None:
    """General Equipment (PS3.3 C.7.5.1) with the IHE MAMMO Type 1 additions."""
    p = plan.profile
    ds.Manufacturer = p.manufacturer
    ds.ManufacturerModelName = p.model_name
    ds.InstitutionName = "breastgate phantom site"
    ds.InstitutionAddress = "nowhere"
    ds.StationName = "PHANTOM1"
    ds.DeviceSerialNumber = f"SN-{p.name}"
    ds.SoftwareVersions = p.software_version
    ds.DateOfLastDetectorCalibration = "20240101"


def _image_pixels(ds: pydicom.Dataset, view: RenderedView, plan: StudyPlan) -> None:
    """Image Pixel, DX Image, VOI LUT (PS3.3 C.7.6.3, C.8.11.3, C.11.2)."""
    p = plan.profile
    ds.SamplesPerPixel = 1
    ds.PhotometricInterpretation = "MONOCHROME2"
    ds.Rows, ds.Columns = view.pixels.shape
    ds.BitsAllocated = 16
    ds.BitsStored = p.bits_stored
    ds.HighBit = p.bits_stored - 1
    ds.PixelRepresentation = 0
    ds.PixelData = view.pixels.tobytes()
    ds.PixelPaddingValue = 0
    ds.PixelIntensityRelationship = "LOG"
    ds.PixelIntensityRelationshipSign = -1  # higher values = less beam intensity (denser tissue)
    ds.RescaleIntercept = "0"
    ds.RescaleSlope = "1"
    ds.RescaleType = "US"
    ds.PresentationLUTShape = "IDENTITY"
    ds.LossyImageCompression = "00"
    ds.BurnedInAnnotation = "NO"
    ds.WindowCenter = [f"{p.window_center:g}", f"{p.window_center * 1.05:g}"]
    ds.WindowWidth = [f"{p.window_width:g}", f"{p.window_width * 0.8:g}"]
    ds.WindowCenterWidthExplanation = ["NORMAL", "HARDER"]
    ds.VOILUTFunction = "LINEAR"


def _positioning(ds: pydicom.Dataset, spec: ViewSpec, plan: StudyPlan) -> None:
    """DX Detector, DX Positioning, Mammography Image, X-Ray acquisition dose (PS3.3 C.8.11.4-7)."""
    p = plan.profile
    ds.ImagerPixelSpacing = [f"{p.pixel_spacing_mm:g}", f"{p.pixel_spacing_mm:g}"]
    ds.DetectorType = p.detector_type
    ds.DetectorID = p.detector_id
    ds.DetectorConfiguration = "AREA"
    ds.EstimatedRadiographicMagnificationFactor = "1.06452"  # 660 / 620
    ds.ViewPosition = spec.view
    ds.PositionerType = "MAMMOGRAPHIC"
    angle = _ANGLE[spec.view] * (1 if spec.laterality == "R" else -1)
    ds.PositionerPrimaryAngle = f"{angle:g}"
    ds.PositionerSecondaryAngle = "0"
    ds.BodyPartThickness = f"{plan.thickness_mm[spec.laterality]:.0f}"
    ds.CompressionForce = f"{plan.force_n[spec.laterality]:.0f}"
    ds.DistanceSourceToDetector = "660"
    ds.DistanceSourceToPatient = "620"
    ds.KVP = f"{p.kvp:g}"
    ds.Exposure = str(60 + int(plan.thickness_mm[spec.laterality]))
    ds.ExposureTime = "1000"
    ds.XRayTubeCurrent = "100"
    ds.FilterMaterial = p.filter
    ds.AnodeTargetMaterial = p.anode
    ds.RelativeXRayExposure = 500
    ds.EntranceDoseInmGy = "4.5"
    ds.OrganDose = "1.4"
    ds.ImageLaterality = spec.laterality
    ds.PatientOrientation = _ORIENTATION[(spec.laterality, spec.view)]
    ds.BodyPartExamined = "BREAST"
    ds.OrganExposed = "BREAST"
    ds.BreastImplantPresent = "NO"
    ds.PartialView = "NO"
    view_item = _code(*_VIEW_CODES[spec.view][:1], "SCT", _VIEW_CODES[spec.view][1])
    view_item.ViewModifierCodeSequence = Sequence()
    ds.ViewCodeSequence = Sequence([view_item])
    ds.AnatomicRegionSequence = Sequence([_code("76752008", "SCT", "Breast")])
    ds.AcquisitionContextSequence = Sequence()


def _dataset(
    plan: StudyPlan, spec: ViewSpec, view: RenderedView, index: int, patient_id: str, uids: dict[str, str]
) -> pydicom.Dataset:
    sop_uid = uids[f"sop{index}"]
    meta = FileMetaDataset()
    meta.MediaStorageSOPClassUID = pydicom.uid.UID(MG_FOR_PRESENTATION)
    meta.MediaStorageSOPInstanceUID = pydicom.uid.UID(sop_uid)
    meta.TransferSyntaxUID = ExplicitVRLittleEndian
    meta.ImplementationClassUID = PYDICOM_IMPLEMENTATION_UID
    meta.ImplementationVersionName = "BREASTGATE_PHA"
    ds = pydicom.Dataset()
    ds.file_meta = meta
    ds.SpecificCharacterSet = "ISO_IR 100"
    ds.ImageType = ["DERIVED", "PRIMARY", "", ""]
    ds.SOPClassUID = MG_FOR_PRESENTATION
    ds.SOPInstanceUID = sop_uid
    when = _patient_study(ds, plan, patient_id, uids["study"])
    acq = when + dt.timedelta(seconds=40 * index)
    ds.ContentDate = ds.AcquisitionDate = acq.strftime("%Y%m%d")
    ds.ContentTime = ds.AcquisitionTime = acq.strftime("%H%M%S")
    ds.InstanceCreationDate, ds.InstanceCreationTime = ds.ContentDate, ds.ContentTime
    ds.Modality = "MG"
    ds.PresentationIntentType = "FOR PRESENTATION"
    ds.SeriesInstanceUID = uids["series"]
    ds.SeriesNumber = "1"
    ds.SeriesDescription = "Phantom FFDM"
    ds.InstanceNumber = str(index + 1)
    ds.OperatorsName = "OPERATOR^PHANTOM"
    ds.FrameOfReferenceUID = uids[f"for{spec.laterality}"]
    ds.PositionReferenceIndicator = ""
    _equipment(ds, plan)
    _image_pixels(ds, view, plan)
    _positioning(ds, spec, plan)
    source = pydicom.Dataset()
    source.ReferencedSOPClassUID = MG_FOR_PROCESSING
    source.ReferencedSOPInstanceUID = uids[f"raw{index}"]
    source.SpatialLocationsPreserved = "YES"
    ds.SourceImageSequence = Sequence([source])
    ds.DerivationDescription = "Synthetic phantom rendered by breastgate.phantoms"
    return ds


def _truth(
    plan: StudyPlan, study_uid: str, items: list[tuple[ViewSpec, RenderedView, str]]
) -> dict[str, Any]:
    per_image = [
        {
            "sop_instance_uid": sop,
            "laterality": spec.laterality,
            "view": spec.view,
            "percent_dense": round(view.percent_dense, 4),
            "breast_area_cm2": round(view.breast_area_cm2, 2),
        }
        for spec, view, sop in items
    ]
    breast_pd = {
        lat: sum(view.percent_dense for spec, view, _ in present) / len(present)
        for lat in "LR"
        if (present := [item for item in items if item[0].laterality == lat])
    }
    per_breast = {
        lat: {"category": plan.category, "percent_dense": round(pd, 4)} for lat, pd in breast_pd.items()
    }
    study_pd = sum(breast_pd.values()) / len(breast_pd)
    return {
        "schema": TRUTH_SCHEMA,
        "study_instance_uid": study_uid,
        "seed": plan.seed,
        "vendor": plan.profile.name,
        "density": {
            "category": plan.category,
            "percent_dense": round(study_pd, 4),
            "per_breast": per_breast,
            "per_image": per_image,
        },
        "lesions": [],
    }


def _lesion_truth(
    lesions: list[LesionSpec], items: list[tuple[ViewSpec, RenderedView, str]]
) -> dict[str, Any]:
    """Ground truth of lesions (per view: centre and bbox in pixel coordinates) and of distractors."""
    real, fake = [], []
    for lesion in lesions:
        views = []
        for spec, view, sop in items:
            for t in view.lesion_truth:
                if t["id"] == lesion.id:
                    views.append({"sop_instance_uid": sop, "view": spec.view, **t})
        entry: dict[str, Any] = {
            "id": lesion.id,
            "kind": lesion.kind if lesion.distractor is None else lesion.distractor,
            "shape": lesion.shape,
            "laterality": lesion.laterality,
        }
        if lesion.distractor is not None:
            fake.append(entry)
            continue
        entry.update(
            {
                "size_mm": lesion.size_mm,
                "malignant_looking": lesion.malignant_looking,
                "distance_from_nipple_mm": round(lesion.d_mm, 1),
                "contrast": round(lesion.contrast, 4),
                "calcification_count": len(lesion.calcs),
                "views": views,
            }
        )
        real.append(entry)
    return {"lesions": real, "distractors": fake}


def generate_mg_study(
    seed: int,
    *,
    category: str | None = None,
    vendor: str | None = None,
    patient_id: str | None = None,
    lesions: list[LesionRequest] | tuple[LesionRequest, ...] = (),
    distractors: bool = False,
    defects: Iterable[str] | None = None,
) -> PhantomStudy:
    """Generate a deterministic 4-view FFDM study (R CC, L CC, R MLO, L MLO) with ground truth.

    Parameters
    ----------
    seed
        Determines pixels, UIDs and every header value.
    category
        BI-RADS density category "a".."d"; drawn from ``seed`` when None.
    vendor
        Key of ``VENDOR_PROFILES``; drawn from ``seed`` when None.
    patient_id
        Patient ID to write; defaults to ``PH`` + the zero-padded seed.
    lesions
        Masses and calcification clusters to insert (:class:`LesionRequest`; unset fields drawn
        from ``seed``). Pixels outside the lesions are identical to the lesion-free study.
    distractors
        Also insert look-alikes that are not lesions (scattered benign, vascular, skin calcifications).
    defects
        Positioning defects (:data:`breastgate.phantoms.positioning.DEFECTS`); any value, even an
        empty one, draws a well-positioned plan from its own stream (None keeps the original plan).
    """
    plan = plan_study(seed, category, vendor, defects=defects)
    pid = patient_id or f"PH{seed:08d}"
    key = (seed, plan.category, plan.profile.name, pid)
    names = ["study", "series", "forL", "forR"] + [f"{k}{i}" for k in ("sop", "raw") for i in range(4)]
    uids = {name: _uid(*key, name) for name in names}
    placed: list[LesionSpec] = []
    if lesions or distractors:
        contexts = {(spec.laterality, spec.view): view_context(spec, plan.profile) for spec in plan.views}
        placed = plan_lesions(seed, list(lesions), contexts, distractors)
    items: list[tuple[ViewSpec, RenderedView, str]] = []
    datasets = []
    for spec in plan.views:
        index = VIEWS.index((spec.laterality, spec.view))  # UIDs keep their view when one is missing
        view = render_view(spec, plan.profile, [p for p in placed if p.laterality == spec.laterality])
        datasets.append(_dataset(plan, spec, view, index, pid, uids))
        items.append((spec, view, uids[f"sop{index}"]))
    LOGGER.debug("phantom study seed=%d category=%s vendor=%s", seed, plan.category, plan.profile.name)
    truth = _truth(plan, uids["study"], items)
    truth.update(_lesion_truth(placed, items))
    positioning = positioning_truth(plan)
    sops = {(spec.laterality, spec.view): sop for spec, _, sop in items}
    for image in positioning.get("images", []):
        image["sop_instance_uid"] = sops.get((image["laterality"], image["view"]))
    truth["positioning"] = positioning
    return PhantomStudy(uids["study"], datasets, truth)


def write_phantoms(out_dir: Path, count: int, seed: int, kind: str = "mg") -> list[Path]:
    """Write ``count`` studies as ``out_dir/<StudyInstanceUID>/{R_CC,L_CC,R_MLO,L_MLO}.dcm`` + truth.json.

    Study ``i`` uses ``seed + i``; categories cycle a, b, c, d and vendor profiles alternate.
    """
    if kind != "mg":
        raise PhantomError(f"kind {kind!r} is not available yet (available: 'mg')")
    if count < 0:
        raise PhantomError(f"count must be >= 0, got {count}")
    vendors = sorted(VENDOR_PROFILES)
    out_dir = Path(out_dir)
    folders = []
    for i in range(count):
        study = generate_mg_study(
            seed + i, category=CATEGORIES[i % len(CATEGORIES)], vendor=vendors[i % len(vendors)]
        )
        folder = out_dir / study.study_instance_uid
        folder.mkdir(parents=True, exist_ok=True)
        for ds in study.datasets:
            name = _FILE_NAMES[(str(ds.ImageLaterality), str(ds.ViewPosition))]
            ds.save_as(folder / f"{name}.dcm", enforce_file_format=True)
        (folder / "truth.json").write_text(json.dumps(study.truth, indent=2) + "\n", encoding="utf-8")
        folders.append(folder)
    LOGGER.info("wrote %d phantom studies to %s", count, out_dir)
    return folders
