"""Synthetic 4-view FFDM screening studies as DICOM Digital Mammography For Presentation images.

Headers follow PS3.3 A.26 (Digital Mammography X-Ray Image IOD) and the IHE MAMMO profile demands
that dicom3tools checks (dicom-sr.md §3.4, §5). Everything is deterministic in ``seed``.
"""

from __future__ import annotations

import datetime as dt
import json
import logging
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Protocol

import numpy as np
import numpy.typing as npt
import pydicom
from pydicom.sequence import Sequence as DicomSequence

from breastgate.phantoms.anatomy import RenderedView, ViewSpec, render_view, view_context
from breastgate.phantoms.errors import PhantomError
from breastgate.phantoms.headers import (
    ORIENTATION,
    VIEW_CODES,
    code_item,
    equipment,
    file_meta,
    patient_study,
    phantom_uid,
)
from breastgate.phantoms.lesions import LesionRequest, LesionSpec, plan_lesions
from breastgate.phantoms.plan import VIEWS, StudyPlan, plan_study
from breastgate.phantoms.positioning import positioning_truth
from breastgate.phantoms.profiles import CATEGORIES, VENDOR_PROFILES

__all__ = [
    "MG_FOR_PRESENTATION",
    "TRUTH_SCHEMA",
    "ImageIds",
    "PhantomStudy",
    "density_truth",
    "generate_mg_study",
    "lesion_truth",
    "mg_image_dataset",
    "write_phantoms",
]

LOGGER = logging.getLogger(__name__)

MG_FOR_PRESENTATION = "1.2.840.10008.5.1.4.1.1.1.2"
MG_FOR_PROCESSING = "1.2.840.10008.5.1.4.1.1.1.2.1"
TRUTH_SCHEMA = "breastgate.phantom-truth/1"

_ANGLE = {"CC": 0.0, "MLO": 45.0}
_FILE_NAMES = {("R", "CC"): "R_CC", ("L", "CC"): "L_CC", ("R", "MLO"): "R_MLO", ("L", "MLO"): "L_MLO"}


@dataclass(frozen=True)
class PhantomStudy:
    """A synthetic study: Part 10 datasets (four FFDM views, or DBT volumes and synthesized 2-D views)
    and its ground truth."""

    study_instance_uid: str
    datasets: list[pydicom.Dataset]
    truth: dict[str, Any] = field(default_factory=dict)

    def __enter__(self) -> PhantomStudy:
        return self

    def __exit__(self, *_exc: object) -> None:
        self.close()

    def close(self) -> None:
        """Close the temporary files holding large volumes' Pixel Data (spooled DBT), now rather
        than at garbage collection."""
        for ds in self.datasets:
            if "PixelData" in ds and ds["PixelData"].is_buffered:
                ds["PixelData"].value.close()


@dataclass(frozen=True)
class ImageIds:
    """Identity of one phantom image: UIDs and its place in the study (0-based screening index)."""

    study: str
    series: str
    sop: str
    frame_of_reference: str
    index: int


class DensityMeasure(Protocol):
    """What the density truth needs from a view (:class:`RenderedView` has it)."""

    @property
    def percent_dense(self) -> float: ...

    @property
    def breast_area_cm2(self) -> float: ...


class LesionMarks(Protocol):
    """What the lesion truth needs from a view: per lesion drawn, a dict with at least ``id``."""

    @property
    def lesion_truth(self) -> tuple[dict[str, object], ...]: ...


def _image_pixels(ds: pydicom.Dataset, pixels: npt.NDArray[np.uint16], plan: StudyPlan) -> None:
    """Image Pixel, DX Image, VOI LUT (PS3.3 C.7.6.3, C.8.11.3, C.11.2)."""
    p = plan.profile
    ds.SamplesPerPixel = 1
    ds.PhotometricInterpretation = "MONOCHROME2"
    ds.Rows, ds.Columns = pixels.shape
    ds.BitsAllocated = 16
    ds.BitsStored = p.bits_stored
    ds.HighBit = p.bits_stored - 1
    ds.PixelRepresentation = 0
    ds.PixelData = pixels.tobytes()
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
    ds.PatientOrientation = ORIENTATION[(spec.laterality, spec.view)]
    ds.BodyPartExamined = "BREAST"
    ds.OrganExposed = "BREAST"
    ds.BreastImplantPresent = "NO"
    ds.PartialView = "NO"
    view_item = code_item(*VIEW_CODES[spec.view][:1], "SCT", VIEW_CODES[spec.view][1])
    view_item.ViewModifierCodeSequence = DicomSequence()
    ds.ViewCodeSequence = DicomSequence([view_item])
    ds.AnatomicRegionSequence = DicomSequence([code_item("76752008", "SCT", "Breast")])
    ds.AcquisitionContextSequence = DicomSequence()


def mg_image_dataset(
    plan: StudyPlan, spec: ViewSpec, pixels: npt.NDArray[np.uint16], ids: ImageIds, patient_id: str
) -> pydicom.Dataset:
    """A Digital Mammography X-Ray Image - For Presentation dataset (PS3.3 A.26) without Source Image
    Sequence; the caller says what the image was derived from."""
    ds = pydicom.Dataset()
    ds.file_meta = file_meta(MG_FOR_PRESENTATION, ids.sop)
    ds.SpecificCharacterSet = "ISO_IR 100"
    ds.ImageType = ["DERIVED", "PRIMARY", "", ""]
    ds.SOPClassUID = MG_FOR_PRESENTATION
    ds.SOPInstanceUID = ids.sop
    when = patient_study(ds, plan, patient_id, ids.study)
    acq = when + dt.timedelta(seconds=40 * ids.index)
    ds.ContentDate = ds.AcquisitionDate = acq.strftime("%Y%m%d")
    ds.ContentTime = ds.AcquisitionTime = acq.strftime("%H%M%S")
    ds.InstanceCreationDate, ds.InstanceCreationTime = ds.ContentDate, ds.ContentTime
    ds.Modality = "MG"
    ds.PresentationIntentType = "FOR PRESENTATION"
    ds.SeriesInstanceUID = ids.series
    ds.SeriesNumber = "1"
    ds.SeriesDescription = "Phantom FFDM"
    ds.InstanceNumber = str(ids.index + 1)
    ds.OperatorsName = "OPERATOR^PHANTOM"
    ds.FrameOfReferenceUID = ids.frame_of_reference
    ds.PositionReferenceIndicator = ""
    equipment(ds, plan)
    _image_pixels(ds, pixels, plan)
    _positioning(ds, spec, plan)
    return ds


def _dataset(
    plan: StudyPlan, spec: ViewSpec, view: RenderedView, index: int, patient_id: str, uids: dict[str, str]
) -> pydicom.Dataset:
    ids = ImageIds(uids["study"], uids["series"], uids[f"sop{index}"], uids[f"for{spec.laterality}"], index)
    ds = mg_image_dataset(plan, spec, view.pixels, ids, patient_id)
    source = pydicom.Dataset()
    source.ReferencedSOPClassUID = MG_FOR_PROCESSING
    source.ReferencedSOPInstanceUID = uids[f"raw{index}"]
    source.SpatialLocationsPreserved = "YES"
    ds.SourceImageSequence = DicomSequence([source])
    ds.DerivationDescription = "Synthetic phantom rendered by breastgate.phantoms"
    return ds


def density_truth(
    plan: StudyPlan, study_uid: str, items: Sequence[tuple[ViewSpec, DensityMeasure, str]]
) -> dict[str, Any]:
    """Study truth skeleton with density per image (``items``: view, measure, SOP Instance UID),
    per breast (mean of its images) and per study (mean of the breasts); no lesions yet."""
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


def lesion_truth(
    lesions: Sequence[LesionSpec], items: Sequence[tuple[ViewSpec, LesionMarks, str]]
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
        if "clock" in lesion.extra:  # placed by clock: where it went (scaled to fit the breast)
            entry["clock"] = lesion.extra["clock"]
            entry["radial_mm"] = round(float(lesion.extra["radial_mm"]), 1)
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
    realism: str = "legacy",
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
    realism
        Tissue model (:data:`breastgate.phantoms.plan.REALISM`): ``"legacy"`` the original clean
        texture, ``"film"`` calibrated against real mammograms (``bench/phantom_vs_real.py``).
    """
    plan = plan_study(seed, category, vendor, defects=defects, realism=realism)
    pid = patient_id or f"PH{seed:08d}"
    key = (seed, plan.category, plan.profile.name, pid)
    names = ["study", "series", "forL", "forR"] + [f"{k}{i}" for k in ("sop", "raw") for i in range(4)]
    uids = {name: phantom_uid(*key, name) for name in names}
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
    truth = density_truth(plan, uids["study"], items)
    truth.update(lesion_truth(placed, items))
    positioning = positioning_truth(plan)
    sops = {(spec.laterality, spec.view): sop for spec, _, sop in items}
    for image in positioning.get("images", []):
        image["sop_instance_uid"] = sops.get((image["laterality"], image["view"]))
    truth["positioning"] = positioning
    return PhantomStudy(uids["study"], datasets, truth)


def write_phantoms(
    out_dir: Path, count: int, seed: int, kind: str = "mg", *, pixel_mm: float | None = None
) -> list[Path]:
    """Write ``count`` studies as ``out_dir/<StudyInstanceUID>/{R_CC,L_CC,R_MLO,L_MLO}.dcm`` + truth.json.

    Study ``i`` uses ``seed + i``; categories cycle a, b, c, d and vendor profiles alternate.
    ``kind="dbt"`` writes tomosynthesis studies instead (``R_CC_DBT.dcm``, ``R_CC_S2D.dcm``...,
    :func:`breastgate.phantoms.dbt.write_dbt_phantoms`), at ``pixel_mm`` (default 0.1 mm).
    """
    if kind == "dbt":
        from breastgate.phantoms.dbt import write_dbt_phantoms  # dbt builds on this module

        return write_dbt_phantoms(out_dir, count, seed, pixel_mm=pixel_mm)
    if kind != "mg":
        raise PhantomError(f"kind {kind!r} is not available yet (available: 'mg', 'dbt')")
    if pixel_mm is not None:
        raise PhantomError("pixel_mm applies to kind 'dbt' only")
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
