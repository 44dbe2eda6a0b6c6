"""Synthetic Digital Mammography (For Presentation) image headers, no pixel data, for results tests.

``mg_header(...)`` gives one realistic header; ``four_view_study()`` the four screening views of one
study (R CC, L CC, R MLO, L MLO) with patient and study attributes shared.
"""

from __future__ import annotations

from pydicom.dataset import Dataset
from pydicom.sequence import Sequence
from pydicom.uid import generate_uid

from breastgate.domain.model import (
    AlgorithmManifest,
    AlgorithmResult,
    AlgorithmStatus,
    BreastDensity,
    DensityAssessment,
    ImageOutcome,
)

MG_FOR_PRESENTATION = "1.2.840.10008.5.1.4.1.1.1.2"

VIEW_CODES = {
    "CC": ("399162004", "SCT", "cranio-caudal"),
    "MLO": ("399368009", "SCT", "medio-lateral oblique"),
    "ML": ("399260004", "SCT", "medio-lateral"),
}
#: Patient Orientation (row\column) per (laterality, view), as MG modalities write it.
ORIENTATION = {
    ("R", "CC"): ("P", "L"),
    ("L", "CC"): ("A", "R"),
    ("R", "MLO"): ("P", "F"),
    ("L", "MLO"): ("A", "F"),
}


def _code(value: str, scheme: str, meaning: str) -> Dataset:
    ds = Dataset()
    ds.CodeValue, ds.CodingSchemeDesignator, ds.CodeMeaning = value, scheme, meaning
    return ds


def mg_header(
    laterality: str,
    view: str,
    *,
    study_uid: str,
    series_uid: str,
    sop_uid: str | None = None,
    patient_id: str = "BG-0001",
    patient_name: str = "Phantom^Alice",
    instance_number: int = 1,
    view_modifier: tuple[str, str, str] | None = None,
    pixel_spacing: tuple[float, float] | None = (0.1, 0.1),
) -> Dataset:
    """One MG For Presentation header with the attributes TID 4020 reads."""
    ds = Dataset()
    ds.SOPClassUID = MG_FOR_PRESENTATION
    ds.SOPInstanceUID = sop_uid or generate_uid()
    ds.StudyInstanceUID = study_uid
    ds.SeriesInstanceUID = series_uid
    ds.Modality = "MG"
    ds.PatientName = patient_name
    ds.PatientID = patient_id
    ds.PatientBirthDate = "19700101"
    ds.PatientSex = "F"
    ds.StudyDate, ds.StudyTime = "20260110", "093000"
    ds.ContentDate, ds.ContentTime = "20260110", f"0931{instance_number:02d}"
    ds.AccessionNumber = "ACC0001"
    ds.ReferringPhysicianName = "Referrer^Bob"
    ds.StudyID = "1"
    ds.StudyDescription = "Screening mammography"
    ds.SeriesNumber = 1
    ds.InstanceNumber = instance_number
    ds.PresentationIntentType = "FOR PRESENTATION"
    ds.ImageLaterality = laterality
    ds.PatientOrientation = list(ORIENTATION.get((laterality, view), ("A", "R")))
    item = _code(*VIEW_CODES[view])
    item.ViewModifierCodeSequence = Sequence([_code(*view_modifier)] if view_modifier else [])
    ds.ViewCodeSequence = Sequence([item])
    if pixel_spacing is not None:
        ds.ImagerPixelSpacing = list(pixel_spacing)
    ds.PositionerPrimaryAngle = 0 if view == "CC" else (45 if laterality == "R" else -45)
    ds.Manufacturer = "Phantom Imaging"
    ds.Rows, ds.Columns = 3328, 2560
    return ds


def four_view_study(study_uid: str | None = None, **kwargs: object) -> list[Dataset]:
    """R CC, L CC, R MLO, L MLO headers of one study and series."""
    study = study_uid or generate_uid()
    series = generate_uid()
    views = [("R", "CC"), ("L", "CC"), ("R", "MLO"), ("L", "MLO")]
    return [
        mg_header(lat, view, study_uid=study, series_uid=series, instance_number=i, **kwargs)  # type: ignore[arg-type]
        for i, (lat, view) in enumerate(views, start=1)
    ]


def density_manifest(version: str = "1.0.0") -> AlgorithmManifest:
    """Manifest of the reference density algorithm, as results tests need it."""
    return AlgorithmManifest(
        id="breastgate.density",
        version=version,
        name="Breast density (area)",
        intended_use="BI-RADS 5th ed. density category and area percent density",
        modalities=("MG",),
        sop_class_uids=(MG_FOR_PRESENTATION,),
    )


def density_result(
    headers: list[Dataset],
    *,
    version: str = "1.0.0",
    percents: dict[str, float] | None = None,
    failed: dict[str, str] | None = None,
    category: str = "c",
) -> AlgorithmResult:
    """An ok density result over ``headers``; ``failed`` maps SOP UID -> reason (status skipped).

    ``percents`` maps SOP UID -> per-image percent dense (default: 30.5 + index).
    Breast values: category ``category``, percent = mean of that side's image percents (rounded 0.1).
    """
    failed = failed or {}
    percents = percents or {h.SOPInstanceUID: 30.5 + i for i, h in enumerate(headers)}
    images = []
    sides: dict[str, list[Dataset]] = {}
    for h in headers:
        view = h.ViewCodeSequence[0].CodeMeaning
        abbrev = {"cranio-caudal": "CC", "medio-lateral oblique": "MLO"}.get(view, "ML")
        if h.SOPInstanceUID in failed:
            images.append(
                ImageOutcome(
                    h.SOPInstanceUID,
                    AlgorithmStatus.SKIPPED,
                    failed[h.SOPInstanceUID],
                    h.ImageLaterality,
                    abbrev,
                )
            )
            continue
        images.append(
            ImageOutcome(
                h.SOPInstanceUID,
                AlgorithmStatus.OK,
                "",
                h.ImageLaterality,
                abbrev,
                {"percent_dense": percents[h.SOPInstanceUID]},
            )
        )
        sides.setdefault(h.ImageLaterality, []).append(h)
    per_breast = {
        side: BreastDensity(
            side,
            category,
            round(sum(percents[h.SOPInstanceUID] for h in hs) / len(hs), 1),
            tuple(h.SOPInstanceUID for h in hs),
        )
        for side, hs in sides.items()
    }
    density = (
        DensityAssessment(category, max(b.percent_dense for b in per_breast.values()), per_breast)
        if per_breast
        else None
    )
    return AlgorithmResult(
        algorithm_id="breastgate.density",
        algorithm_version=version,
        study_instance_uid=headers[0].StudyInstanceUID,
        status=AlgorithmStatus.OK if density else AlgorithmStatus.FAILED,
        message="" if density else "no usable image",
        images=tuple(images),
        density=density,
    )
