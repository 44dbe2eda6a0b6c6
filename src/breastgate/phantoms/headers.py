"""DICOM header pieces shared by the phantom writers (MG and DBT): UIDs, codes, patient/study, equipment.

Everything is deterministic in the study plan; nothing here touches pixels.
"""

from __future__ import annotations

import datetime as dt

import pydicom
from pydicom.dataset import FileMetaDataset
from pydicom.uid import PYDICOM_IMPLEMENTATION_UID, ExplicitVRLittleEndian, generate_uid

from breastgate.phantoms.plan import StudyPlan

__all__ = [
    "ORIENTATION",
    "VIEW_CODES",
    "code_item",
    "equipment",
    "file_meta",
    "patient_study",
    "phantom_uid",
]

# CID 4014 view codes (SCT) and Patient Orientation as vendors write it (dicom-sr.md §5.3).
VIEW_CODES = {"CC": ("399162004", "cranio-caudal"), "MLO": ("399368009", "medio-lateral oblique")}
ORIENTATION = {
    ("L", "CC"): ["A", "R"],
    ("R", "CC"): ["P", "L"],
    ("L", "MLO"): ["A", "F"],
    ("R", "MLO"): ["P", "F"],
}


def phantom_uid(*parts: object) -> str:
    """A UID derived from ``parts`` only (same parts, same UID)."""
    return str(generate_uid(entropy_srcs=["breastgate.phantoms", *(str(p) for p in parts)]))


def code_item(value: str, scheme: str, meaning: str) -> pydicom.Dataset:
    """A Code Sequence Macro item (PS3.3 Table 8.8-1)."""
    item = pydicom.Dataset()
    item.CodeValue = value
    item.CodingSchemeDesignator = scheme
    item.CodeMeaning = meaning
    return item


def file_meta(sop_class_uid: str, sop_instance_uid: str) -> FileMetaDataset:
    """File Meta Information (PS3.10 7.1), Explicit VR Little Endian."""
    meta = FileMetaDataset()
    meta.MediaStorageSOPClassUID = pydicom.uid.UID(sop_class_uid)
    meta.MediaStorageSOPInstanceUID = pydicom.uid.UID(sop_instance_uid)
    meta.TransferSyntaxUID = ExplicitVRLittleEndian
    meta.ImplementationClassUID = PYDICOM_IMPLEMENTATION_UID
    meta.ImplementationVersionName = "BREASTGATE_PHA"
    return meta


def patient_study(ds: pydicom.Dataset, plan: StudyPlan, patient_id: str, study_uid: str) -> dt.datetime:
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


def equipment(ds: pydicom.Dataset, plan: StudyPlan) -> None:
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
