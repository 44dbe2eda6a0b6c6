"""Index fields from a DICOM header, and a check that the pixel data arrived whole.

Lives in ``store/`` because every way an instance enters the store reads it: C-STORE ingest and
the prior retrievals of ``routing/`` (C-GET, WADO-RS) alike (:mod:`breastgate.store.intake`).

The header is read with ``stop_before_pixels`` so a 500 MB tomosynthesis object costs a few
kilobytes of reading; the Pixel Data element is then checked in place (PS3.5 §7.1, §A.4).
"""

from __future__ import annotations

import logging
import re
import struct
from dataclasses import dataclass
from datetime import date
from pathlib import Path
from typing import BinaryIO

from pydicom import dcmread
from pydicom.dataset import Dataset
from pydicom.uid import UID, DeflatedExplicitVRLittleEndian

from breastgate.domain.errors import InvalidInputError, MissingAttributeError
from breastgate.domain.model import PresentationIntent
from breastgate.store.studies import InstanceInfo

LOGGER = logging.getLogger(__name__)

#: CID 4014 view codes: SCT code values and legacy SRT code values -> ACR/MQCM abbreviation.
VIEW_CODES: dict[str, str] = {
    "399162004": "CC", "R-10242": "CC",
    "399368009": "MLO", "R-10226": "MLO",
    "399260004": "ML", "R-10224": "ML",
    "399352003": "LM", "R-10228": "LM",
    "399099002": "LMO", "R-10230": "LMO",
    "399196006": "FB", "R-10244": "FB",
    "399188001": "SIO", "R-102D0": "SIO",
    "441555000": "ISO", "R-40AAA": "ISO",
    "399192008": "XCCL", "R-1024A": "XCCL", "Y-X1770": "XCCL",
    "399101009": "XCCM", "R-1024B": "XCCM", "Y-X1771": "XCCM",
    "127457009": "SPECIMEN", "G-8310": "SPECIMEN",
}  # fmt: skip

#: View Position (0018,5101) values MG vendors use in place of View Code Sequence.
VIEW_POSITIONS = frozenset(set(VIEW_CODES.values()) | {"XCC"})

FOR_PROCESSING_SOP_CLASSES = frozenset({"1.2.840.10008.5.1.4.1.1.1.2.1", "1.2.840.10008.5.1.4.1.1.13.1.5"})
FOR_PRESENTATION_SOP_CLASSES = frozenset({"1.2.840.10008.5.1.4.1.1.1.2", "1.2.840.10008.5.1.4.1.1.13.1.4"})

#: Tolerant UID check (PS3.5 §9.1 allows digits and dots; some devices emit a little more).
_UID_TEXT = re.compile(r"[0-9A-Za-z._-]{1,64}")
_PIXEL_DATA = 0x7FE00010
_ITEM, _SEQ_DELIMITER = 0xFFFEE000, 0xFFFEE0DD
_LONG_VRS = {b"OB", b"OW", b"OF", b"OD", b"OL", b"OV", b"UN", b"SQ", b"UT", b"UC", b"UR"}


class IncompleteObjectError(InvalidInputError):
    """The object ends before its Pixel Data does (a truncated transfer)."""


@dataclass(frozen=True)
class HeaderInfo:
    """Index fields of one instance, read from its header."""

    study_instance_uid: str
    series_instance_uid: str
    sop_instance_uid: str
    sop_class_uid: str
    transfer_syntax_uid: str | None
    modality: str | None = None
    laterality: str | None = None
    view: str | None = None
    presentation_intent: str | None = None
    number_of_frames: int = 1
    patient_id: str | None = None
    patient_name: str | None = None
    accession_number: str | None = None
    study_date: str | None = None
    manufacturer: str | None = None
    model: str | None = None
    patient_age: int | None = None
    issuer_of_patient_id: str | None = None

    def to_instance_info(self, path: Path, size_bytes: int, calling_ae: str | None) -> InstanceInfo:
        """The index record for this header stored at ``path``."""
        return InstanceInfo(
            study_instance_uid=self.study_instance_uid,
            series_instance_uid=self.series_instance_uid,
            sop_instance_uid=self.sop_instance_uid,
            sop_class_uid=self.sop_class_uid,
            path=str(path),
            modality=self.modality,
            laterality=self.laterality,
            view=self.view,
            presentation_intent=self.presentation_intent,
            transfer_syntax_uid=self.transfer_syntax_uid,
            number_of_frames=self.number_of_frames,
            size_bytes=size_bytes,
            calling_ae=calling_ae,
            patient_id=self.patient_id,
            patient_name=self.patient_name,
            accession_number=self.accession_number,
            study_date=self.study_date,
            manufacturer=self.manufacturer,
            model=self.model,
            patient_age=self.patient_age,
            issuer_of_patient_id=self.issuer_of_patient_id,
        )


def _text(ds: Dataset, keyword: str) -> str | None:
    value = ds.get(keyword)
    if value is None or value == "":
        return None
    text = str(value).strip().strip("\x00").strip()
    return text or None


#: Patient's Age (PS3.5 AS, ``nnnD/W/M/Y``): units per year.
_AGE_UNITS = {"Y": 1.0, "M": 12.0, "W": 52.1775, "D": 365.25}
_MAX_AGE = 150


def _da(value: str | None) -> date | None:
    text = (value or "").strip()
    if len(text) != 8 or not text.isdigit():
        return None
    try:
        return date(int(text[:4]), int(text[4:6]), int(text[6:8]))
    except ValueError:
        return None


def age_in_years(patient_age: str | None, birth_date: str | None, study_date: str | None) -> int | None:
    """Whole years of age at the study: Patient's Age (AS ``nnnY``, or D/W/M), else Patient's
    Birth Date against Study Date (DA); None when neither gives a plausible age (0-150)."""
    text = (patient_age or "").strip().upper()
    if len(text) >= 2 and text[-1] in _AGE_UNITS and text[:-1].isdigit():
        years = int(int(text[:-1]) / _AGE_UNITS[text[-1]])
    else:
        born, seen = _da(birth_date), _da(study_date)
        if born is None or seen is None:
            return None
        years = seen.year - born.year - ((seen.month, seen.day) < (born.month, born.day))
    return years if 0 <= years <= _MAX_AGE else None


def view_from_dataset(ds: Dataset) -> str | None:
    """ACR view abbreviation from View Code Sequence (CID 4014), else View Position."""
    for item in ds.get("ViewCodeSequence") or ():
        view = VIEW_CODES.get(str(item.get("CodeValue", "")).strip())
        if view:
            return view
    position = (_text(ds, "ViewPosition") or "").upper()
    return position if position in VIEW_POSITIONS else None


def laterality_from_dataset(ds: Dataset) -> str | None:
    """Image Laterality, else (Series) Laterality, else Frame Laterality of the shared groups."""
    value = _text(ds, "ImageLaterality") or _text(ds, "Laterality")
    if value is None:
        for group in ds.get("SharedFunctionalGroupsSequence") or ():
            for anatomy in group.get("FrameAnatomySequence") or ():
                value = _text(anatomy, "FrameLaterality")
    value = (value or "").upper()
    return value if value in {"L", "R", "B", "U"} else None


def presentation_intent_from_dataset(ds: Dataset, sop_class_uid: str) -> str | None:
    """Presentation Intent Type (0008,0068), else implied by the SOP class."""
    value = (_text(ds, "PresentationIntentType") or "").upper()
    if value in {p.value for p in PresentationIntent}:
        return value
    if sop_class_uid in FOR_PROCESSING_SOP_CLASSES:
        return PresentationIntent.FOR_PROCESSING.value
    if sop_class_uid in FOR_PRESENTATION_SOP_CLASSES:
        return PresentationIntent.FOR_PRESENTATION.value
    return None


def header_from_dataset(ds: Dataset, transfer_syntax_uid: str | None = None) -> HeaderInfo:
    """Extract the index fields; raise :class:`MissingAttributeError` naming absent UIDs."""
    uids = {
        k: _text(ds, k) for k in ("StudyInstanceUID", "SeriesInstanceUID", "SOPInstanceUID", "SOPClassUID")
    }
    missing = [k for k, v in uids.items() if not v]
    if missing:
        raise MissingAttributeError(f"missing {', '.join(missing)}")
    malformed = [k for k, v in uids.items() if not _UID_TEXT.fullmatch(str(v))]
    if malformed:
        raise InvalidInputError(f"malformed {', '.join(malformed)}")
    sop_class = str(uids["SOPClassUID"])
    try:
        frames = int(ds.get("NumberOfFrames") or 1)
    except (TypeError, ValueError):
        frames = 1
    return HeaderInfo(
        study_instance_uid=str(uids["StudyInstanceUID"]),
        series_instance_uid=str(uids["SeriesInstanceUID"]),
        sop_instance_uid=str(uids["SOPInstanceUID"]),
        sop_class_uid=sop_class,
        transfer_syntax_uid=transfer_syntax_uid,
        modality=_text(ds, "Modality"),
        laterality=laterality_from_dataset(ds),
        view=view_from_dataset(ds),
        presentation_intent=presentation_intent_from_dataset(ds, sop_class),
        number_of_frames=max(1, frames),
        patient_id=_text(ds, "PatientID"),
        patient_name=_text(ds, "PatientName"),
        accession_number=_text(ds, "AccessionNumber"),
        study_date=_text(ds, "StudyDate"),
        manufacturer=_text(ds, "Manufacturer"),
        model=_text(ds, "ManufacturerModelName"),
        patient_age=age_in_years(
            _text(ds, "PatientAge"), _text(ds, "PatientBirthDate"), _text(ds, "StudyDate")
        ),
        issuer_of_patient_id=_text(ds, "IssuerOfPatientID"),
    )


def _expected_native_bytes(ds: Dataset) -> int | None:
    try:
        rows, cols = int(ds.Rows), int(ds.Columns)
        bits = int(ds.BitsAllocated)
        samples = int(ds.get("SamplesPerPixel") or 1)
        frames = int(ds.get("NumberOfFrames") or 1)
    except (AttributeError, TypeError, ValueError):
        return None
    return (rows * cols * samples * frames * bits + 7) // 8


def _check_encapsulated(fp: BinaryIO, end: int) -> None:
    # PS3.5 §A.4: items (FFFE,E000) with explicit lengths until the delimiter (FFFE,E0DD).
    while True:
        head = fp.read(8)
        if len(head) < 8:
            raise IncompleteObjectError("encapsulated Pixel Data ends before its sequence delimiter")
        group, element, length = struct.unpack("<HHL", head)
        tag = (group << 16) | element
        if tag == _SEQ_DELIMITER:
            return
        if tag != _ITEM or length == 0xFFFFFFFF:
            raise InvalidInputError("malformed encapsulated Pixel Data")
        if fp.tell() + length > end:
            raise IncompleteObjectError("encapsulated Pixel Data fragment is truncated")
        fp.seek(length, 1)


def _check_pixel_data(fp: BinaryIO, ds: Dataset, implicit: bool, end: int) -> None:
    start = fp.tell()
    head = fp.read(8)
    if len(head) < 8:
        return  # no pixel data (SR, KOS) or a header ending exactly at EOF
    group, element = struct.unpack("<HH", head[:4])
    if (group << 16) | element != _PIXEL_DATA:
        return
    if implicit:
        (length,) = struct.unpack("<L", head[4:8])
    elif head[4:6] in _LONG_VRS:
        raw = fp.read(4)
        if len(raw) < 4:
            raise IncompleteObjectError("Pixel Data header is truncated")
        (length,) = struct.unpack("<L", raw)
    else:
        (length,) = struct.unpack("<H", head[6:8])
    if length == 0xFFFFFFFF:
        _check_encapsulated(fp, end)
        return
    present = end - fp.tell()
    if present < length:
        raise IncompleteObjectError(f"Pixel Data declares {length} bytes, {present} present")
    expected = _expected_native_bytes(ds)
    if expected is not None and length < expected:
        raise IncompleteObjectError(f"Pixel Data holds {length} bytes, image needs {expected}")
    LOGGER.debug("pixel data complete at offset %d (%d bytes)", start, length)


def read_header(path: Path) -> HeaderInfo:
    """Read the header of a Part 10 file without its pixel data and check the pixel data is whole.

    Raises
    ------
    MissingAttributeError
        Study, Series, SOP Instance or SOP Class UID absent.
    IncompleteObjectError
        The file ends before the declared Pixel Data does.
    InvalidInputError
        The bytes cannot be decoded as DICOM.
    """
    try:
        with open(path, "rb") as fp:
            end = fp.seek(0, 2)
            fp.seek(0)
            ds = dcmread(fp, stop_before_pixels=True, force=False)
            meta = ds.file_meta
            ts = UID(str(meta.get("TransferSyntaxUID", ""))) if meta else None
            header = header_from_dataset(ds, str(ts) if ts else None)
            if ts == DeflatedExplicitVRLittleEndian:
                return header  # inflated stream: zlib detects a truncated object while reading
            if ts is not None and not ts.is_little_endian:
                return header  # big endian is retired; index it, do not check it
            _check_pixel_data(fp, ds, bool(ts is not None and ts.is_implicit_VR), end)
            return header
    except (MissingAttributeError, IncompleteObjectError, InvalidInputError):
        raise
    except Exception as exc:  # pydicom raises many types on garbage bytes
        raise InvalidInputError(f"undecodable DICOM: {type(exc).__name__}") from exc
