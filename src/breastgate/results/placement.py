"""What every object breastgate writes into a source study shares: the copied Patient and General
Study modules, deterministic creation date and time, and Part 10 file meta (Explicit VR Little
Endian), and the evidence list of an SR. Used by every result encoder.

Two helpers exist for highdicom's SOP class constructors (KOS, SC, TID 1500 and report SRs):

- :func:`header_view`: highdicom 0.28 reads Type 2 attributes such as Patient's Birth Date as
  Python attributes (AttributeError on a header that lacks them, where PS3.3 C.7.1.1 allows them
  empty), refuses values breastgate passes through (Patient's Sex other than M, F, O; dates it
  cannot parse) and its SRs copy every Patient and Study module attribute they find. So it is given
  a view of each source header with those attributes empty, and the encoder copies the Patient and
  General Study modules itself (:func:`copy_patient_study`), as for every output.
- :func:`pin_creation`: highdicom stamps the wall clock (``datetime.now()``) into Instance Creation
  Date/Time, Contribution DateTime of its Contributing Equipment item, Presentation Creation and
  Date/Time of Secondary Capture; breastgate writes the deterministic creation date and time there
  (DESIGN §4: the same inputs give the same object), and into Content and Series Date/Time as text
  (highdicom holds them as date and time objects, which compare unequal to the text of a header).
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from copy import deepcopy
from datetime import datetime
from typing import Any

from pydicom.dataset import Dataset, FileMetaDataset
from pydicom.sequence import Sequence as DicomSequence
from pydicom.uid import PYDICOM_IMPLEMENTATION_UID, ExplicitVRLittleEndian

from breastgate.domain.errors import EncodingError, InvalidInputError

__all__ = [
    "attach_file_meta",
    "copy_patient_study",
    "creation_datetime",
    "evidence_item",
    "finish_instance",
    "header_view",
    "highdicom_fields",
    "highdicom_refusal",
    "pin_creation",
]

_PATIENT_STUDY_KEYWORDS = (
    "PatientName",
    "PatientID",
    "IssuerOfPatientID",
    "PatientBirthDate",
    "PatientSex",
    "StudyDate",
    "StudyTime",
    "AccessionNumber",
    "ReferringPhysicianName",
    "StudyID",
    "StudyDescription",
)
_TYPE2 = frozenset(
    {
        "PatientName",
        "PatientID",
        "PatientBirthDate",
        "PatientSex",
        "StudyDate",
        "StudyTime",
        "AccessionNumber",
        "ReferringPhysicianName",
        "StudyID",
    }
)


def copy_patient_study(source: Dataset, target: Dataset) -> None:
    """Copy the Patient and General Study modules (PS3.3 C.7.1.1, C.7.2.1), empty Type 2 when absent."""
    for kw in _PATIENT_STUDY_KEYWORDS:
        value = source.get(kw)
        if value not in (None, ""):
            setattr(target, kw, value)
        elif kw in _TYPE2:
            setattr(target, kw, "")
    target.StudyInstanceUID = str(source.StudyInstanceUID)


#: What highdicom reads of a source image besides the patient: references, size and frames.
_IMAGE_KEYWORDS = (
    "StudyInstanceUID",
    "SeriesInstanceUID",
    "SOPClassUID",
    "SOPInstanceUID",
    "Modality",
    "Rows",
    "Columns",
    "NumberOfFrames",
)


def header_view(image: Dataset) -> Dataset:
    """What highdicom's constructors are given of a source ``image`` (see the module docstring):
    its UIDs, size and frame count, and the Type 2 Patient and General Study attributes empty
    (PS3.3 C.7.1.1, C.7.2.1); the encoder then copies them with :func:`copy_patient_study`."""
    if not image.get("SeriesInstanceUID") or not image.get("SOPInstanceUID"):
        raise InvalidInputError("source image lacks Series or SOP Instance UID")
    view = Dataset()
    for kw in sorted(_TYPE2):
        setattr(view, kw, "")
    for kw in _IMAGE_KEYWORDS:
        if kw in image:
            view[kw] = deepcopy(image[kw])
    return view


def pin_creation(ds: Dataset, created: tuple[str, str]) -> None:
    """Write ``created`` (DA, TM) where highdicom stamps the wall clock: Instance Creation (C.12.1),
    Contribution DateTime (C.12.1.1.6), Presentation Creation (C.11.10), Date/Time of Secondary
    Capture (C.8.6.2); and, as text like every output's, Content and Series Date/Time (C.7.3.1)."""
    date, time = created
    ds.InstanceCreationDate, ds.InstanceCreationTime = date, time
    for item in ds.get("ContributingEquipmentSequence", []):
        if "ContributionDateTime" in item:
            item.ContributionDateTime = date + time
    for prefix in ("Content", "Series", "PresentationCreation"):
        if f"{prefix}Date" in ds:
            setattr(ds, f"{prefix}Date", date)
            setattr(ds, f"{prefix}Time", time)
    if "DateOfSecondaryCapture" in ds:
        ds.DateOfSecondaryCapture, ds.TimeOfSecondaryCapture = date, time


def highdicom_fields(created: tuple[str, str], description: str, model: str, version: str) -> dict[str, Any]:
    """The keyword arguments every highdicom constructor here is given alike: General Equipment
    (manufacturer breastgate, model = the algorithm, software = its version), the series
    description, UTF-8, Explicit VR Little Endian, Content and Series Date/Time = ``created``."""
    date, time = created
    return {
        "manufacturer": "breastgate",
        "manufacturer_model_name": model[:64],
        "software_versions": version[:64],
        "series_description": description[:64],
        "specific_character_set": "ISO_IR 192",
        "transfer_syntax_uid": ExplicitVRLittleEndian,
        "content_date": date,
        "content_time": time,
        "series_date": date,
        "series_time": time,
    }


@contextmanager
def highdicom_refusal(what: str) -> Iterator[None]:
    """Raise highdicom's refusal of a value (TypeError, ValueError) as EncodingError, the error
    every encoder here documents."""
    try:
        yield
    except (TypeError, ValueError) as exc:
        raise EncodingError(f"{what} rejected: {exc}") from exc


def finish_instance(ds: Dataset, source: Dataset, created: tuple[str, str]) -> None:
    """Make an instance highdicom built one of ours: Patient and General Study copied from
    ``source`` (:func:`copy_patient_study`) and highdicom's wall-clock stamps pinned
    (:func:`pin_creation`)."""
    copy_patient_study(source, ds)
    pin_creation(ds, created)


def new_instance(
    sop_class_uid: str,
    sop_instance_uid: str,
    source: Dataset,
    *,
    created: tuple[str, str],
    modality: str,
    series_instance_uid: str,
    series_number: int,
    series_description: str,
    model_name: str | None = None,
    software_version: str | None = None,
) -> Dataset:
    """A result object's common start: SOP Common, Patient and General Study copied from
    ``source``, a new series (General Series / SR Document Series / Presentation Series / Key
    Object Document Series: modality, UID, number, description, date and time) and General
    Equipment (Manufacturer ``breastgate``, model = algorithm id, software = its version).
    ``created`` is (DA, TM) for instance creation and the series."""
    ds = Dataset()
    ds.SpecificCharacterSet = "ISO_IR 192"
    ds.SOPClassUID = sop_class_uid
    ds.SOPInstanceUID = sop_instance_uid
    ds.InstanceCreationDate, ds.InstanceCreationTime = created
    copy_patient_study(source, ds)
    ds.Modality = modality
    ds.SeriesInstanceUID = series_instance_uid
    ds.SeriesNumber = series_number
    ds.SeriesDescription = series_description[:64]
    ds.SeriesDate, ds.SeriesTime = created
    ds.Manufacturer = "breastgate"
    if model_name is not None:
        ds.ManufacturerModelName = model_name[:64]
    if software_version is not None:
        ds.SoftwareVersions = software_version[:64]
    return ds


def one_study(sources: Sequence[Dataset]) -> str:
    """The Study Instance UID all ``sources`` share; EncodingError when they do not (or lack one)."""
    studies = {str(s.get("StudyInstanceUID", "")) for s in sources}
    if len(studies) != 1 or "" in studies:
        raise EncodingError("source images do not all belong to one study")
    return studies.pop()


def sr_document_general(ds: Dataset, instance_number: int, evidence: Dataset) -> None:
    """An AI SR's Referenced PPS (SR Document Series, C.17.1) and SR Document General (C.17.2):
    COMPLETE, UNVERIFIED, content dated as the instance, the source images as evidence."""
    ds.ReferencedPerformedProcedureStepSequence = DicomSequence([])
    ds.InstanceNumber = instance_number
    ds.CompletionFlag = "COMPLETE"
    ds.VerificationFlag = "UNVERIFIED"
    ds.ContentDate, ds.ContentTime = ds.InstanceCreationDate, ds.InstanceCreationTime
    ds.PerformedProcedureCodeSequence = DicomSequence([])
    ds.CurrentRequestedProcedureEvidenceSequence = DicomSequence([evidence])


def attach_file_meta(ds: Dataset) -> None:
    """Part 10 File Meta Information, Explicit VR Little Endian."""
    meta = FileMetaDataset()
    meta.MediaStorageSOPClassUID = ds.SOPClassUID
    meta.MediaStorageSOPInstanceUID = ds.SOPInstanceUID
    meta.TransferSyntaxUID = ExplicitVRLittleEndian
    meta.ImplementationClassUID = PYDICOM_IMPLEMENTATION_UID
    ds.file_meta = meta


def creation_datetime(sources: Sequence[Dataset], created: datetime | None) -> tuple[str, str]:
    """(DA, TM) of an output: ``created`` if given, else the study's date and time (deterministic)."""
    if created is not None:
        return created.strftime("%Y%m%d"), created.strftime("%H%M%S")
    for src in sorted(sources, key=lambda s: str(s.get("SOPInstanceUID", ""))):
        date = str(src.get("StudyDate", "") or src.get("ContentDate", "") or "").strip()
        if len(date) == 8 and date.isdigit():
            time = str(src.get("StudyTime", "") or "").strip().split(".")[0]
            return date, time if time.isdigit() else "000000"
    return "19700101", "000000"


def evidence_item(sources: Sequence[Dataset], study_instance_uid: str) -> Dataset:
    """One Current Requested Procedure Evidence Sequence item (PS3.3 Table C.17-3, Hierarchical SOP
    Instance Reference Macro) listing ``sources`` by series."""
    by_series: dict[str, list[Dataset]] = {}
    for src in sources:
        ref = Dataset()
        ref.ReferencedSOPClassUID = str(src.SOPClassUID)
        ref.ReferencedSOPInstanceUID = str(src.SOPInstanceUID)
        series = str(src.get("SeriesInstanceUID", ""))
        if not series:
            raise InvalidInputError("source image lacks Series Instance UID")
        by_series.setdefault(series, []).append(ref)
    study = Dataset()
    study.StudyInstanceUID = study_instance_uid
    series_items = []
    for series_uid, refs in by_series.items():
        item = Dataset()
        item.SeriesInstanceUID = series_uid
        item.ReferencedSOPSequence = DicomSequence(refs)
        series_items.append(item)
    study.ReferencedSeriesSequence = DicomSequence(series_items)
    return study
