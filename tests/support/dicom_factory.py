"""Tiny synthetic DICOM objects for ingest tests (MG, CT, US) and raw-file makers.

Every object is small (256 x 256 by default) and has its File Meta Information, so it can be
written as Part 10 and sent byte for byte by ``storescu`` or ``send_c_store(path)``.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
from pydicom.dataset import Dataset, FileMetaDataset
from pydicom.encaps import encapsulate
from pydicom.sequence import Sequence
from pydicom.uid import (
    PYDICOM_IMPLEMENTATION_UID,
    ExplicitVRLittleEndian,
    JPEGBaseline8Bit,
    generate_uid,
)

MG_FOR_PRESENTATION = "1.2.840.10008.5.1.4.1.1.1.2"
MG_FOR_PROCESSING = "1.2.840.10008.5.1.4.1.1.1.2.1"
CT_IMAGE = "1.2.840.10008.5.1.4.1.1.2"
US_IMAGE = "1.2.840.10008.5.1.4.1.1.6.1"

#: (SCT code, legacy SRT code) of CID 4014 views.
VIEW_CODE = {
    "CC": ("399162004", "R-10242", "cranio-caudal"),
    "MLO": ("399368009", "R-10226", "medio-lateral oblique"),
    "ML": ("399260004", "R-10224", "medio-lateral"),
    "LM": ("399352003", "R-10228", "latero-medial"),
    "XCCL": ("399192008", "R-1024A", "cranio-caudal exaggerated laterally"),
}


def new_uid() -> str:
    return str(generate_uid())


def _base(
    sop_class: str,
    modality: str,
    *,
    study_uid: str | None,
    series_uid: str | None,
    sop_uid: str | None,
    patient_id: str,
    accession: str,
) -> Dataset:
    ds = Dataset()
    ds.file_meta = FileMetaDataset()
    ds.SOPClassUID = sop_class
    ds.SOPInstanceUID = sop_uid or new_uid()
    ds.StudyInstanceUID = study_uid or new_uid()
    ds.SeriesInstanceUID = series_uid or new_uid()
    ds.file_meta.MediaStorageSOPClassUID = ds.SOPClassUID
    ds.file_meta.MediaStorageSOPInstanceUID = ds.SOPInstanceUID
    ds.file_meta.TransferSyntaxUID = ExplicitVRLittleEndian
    ds.file_meta.ImplementationClassUID = PYDICOM_IMPLEMENTATION_UID
    ds.PatientName = "Synthetic^Jane"
    ds.PatientID = patient_id
    ds.PatientBirthDate = "19700101"
    ds.PatientSex = "F"
    ds.StudyDate = "20260101"
    ds.StudyTime = "120000"
    ds.AccessionNumber = accession
    ds.StudyID = "1"
    ds.ReferringPhysicianName = ""
    ds.Modality = modality
    ds.SeriesNumber = 1
    ds.InstanceNumber = 1
    return ds


def _pixels(ds: Dataset, rows: int, cols: int, seed: int) -> None:
    rng = np.random.default_rng(seed)
    ds.Rows, ds.Columns = rows, cols
    ds.SamplesPerPixel = 1
    ds.PhotometricInterpretation = "MONOCHROME2"
    ds.BitsAllocated, ds.BitsStored, ds.HighBit = 16, 12, 11
    ds.PixelRepresentation = 0
    ds.PixelData = rng.integers(0, 4096, size=(rows, cols), dtype=np.uint16).tobytes()


def make_mg(
    laterality: str = "L",
    view: str = "CC",
    *,
    study_uid: str | None = None,
    series_uid: str | None = None,
    sop_uid: str | None = None,
    patient_id: str = "BG-TEST-1",
    accession: str = "ACC0001",
    for_processing: bool = False,
    view_code: str = "sct",
    rows: int = 256,
    cols: int = 256,
    seed: int = 0,
) -> Dataset:
    """A Digital Mammography X-Ray image; ``view_code`` is ``sct``, ``srt`` (legacy) or ``position``."""
    sop_class = MG_FOR_PROCESSING if for_processing else MG_FOR_PRESENTATION
    ds = _base(
        sop_class,
        "MG",
        study_uid=study_uid,
        series_uid=series_uid,
        sop_uid=sop_uid,
        patient_id=patient_id,
        accession=accession,
    )
    ds.PresentationIntentType = "FOR PROCESSING" if for_processing else "FOR PRESENTATION"
    ds.ImageLaterality = laterality
    ds.ImageType = ["ORIGINAL", "PRIMARY", ""]
    sct, srt, meaning = VIEW_CODE[view]
    if view_code == "position":
        ds.ViewPosition = view
        ds.ViewCodeSequence = Sequence()
    else:
        item = Dataset()
        item.CodeValue = sct if view_code == "sct" else srt
        item.CodingSchemeDesignator = "SCT" if view_code == "sct" else "SRT"
        item.CodeMeaning = meaning
        ds.ViewCodeSequence = Sequence([item])
    _pixels(ds, rows, cols, seed)
    return ds


def make_screening_study(study_uid: str | None = None, **kwargs: object) -> list[Dataset]:
    """The four screening views R CC, L CC, R MLO, L MLO of one study."""
    study_uid = study_uid or new_uid()
    series_uid = new_uid()
    return [
        make_mg(lat, view, study_uid=study_uid, series_uid=series_uid, seed=i, **kwargs)  # type: ignore[arg-type]
        for i, (lat, view) in enumerate([("R", "CC"), ("L", "CC"), ("R", "MLO"), ("L", "MLO")])
    ]


def make_ct(*, study_uid: str | None = None, rows: int = 64, cols: int = 64) -> Dataset:
    """A CT Image (a class breastgate does not accept)."""
    ds = _base(
        CT_IMAGE,
        "CT",
        study_uid=study_uid,
        series_uid=None,
        sop_uid=None,
        patient_id="BG-TEST-CT",
        accession="ACCCT",
    )
    ds.ImageType = ["ORIGINAL", "PRIMARY", "AXIAL"]
    _pixels(ds, rows, cols, 1)
    ds.RescaleIntercept, ds.RescaleSlope = -1024, 1
    return ds


def make_us(
    *, study_uid: str | None = None, laterality: str = "R", rows: int = 128, cols: int = 128
) -> Dataset:
    """An Ultrasound Image with (series) Laterality."""
    ds = _base(
        US_IMAGE,
        "US",
        study_uid=study_uid,
        series_uid=None,
        sop_uid=None,
        patient_id="BG-TEST-US",
        accession="ACCUS",
    )
    ds.Laterality = laterality
    rng = np.random.default_rng(2)
    ds.Rows, ds.Columns = rows, cols
    ds.SamplesPerPixel = 1
    ds.PhotometricInterpretation = "MONOCHROME2"
    ds.BitsAllocated, ds.BitsStored, ds.HighBit = 8, 8, 7
    ds.PixelRepresentation = 0
    ds.PixelData = rng.integers(0, 256, size=(rows, cols), dtype=np.uint8).tobytes()
    return ds


def encapsulated(ds: Dataset, fragments: int = 3, fragment_size: int = 1000) -> Dataset:
    """Replace the pixel data by encapsulated (JPEG Baseline labelled) fragments of filler bytes."""
    frame = b"\xff\xd8" + b"\x00" * (fragment_size - 4) + b"\xff\xd9"
    ds.PixelData = encapsulate([frame] * fragments)
    ds["PixelData"].VR = "OB"
    ds.NumberOfFrames = fragments
    ds.file_meta.TransferSyntaxUID = JPEGBaseline8Bit
    ds.BitsAllocated, ds.BitsStored, ds.HighBit = 8, 8, 7
    return ds


def write(ds: Dataset, path: Path) -> Path:
    """Write ``ds`` as a Part 10 file (preamble, DICM, File Meta) and return the path."""
    path.parent.mkdir(parents=True, exist_ok=True)
    ds.save_as(path, enforce_file_format=True)
    return path


def truncated_copy(src: Path, dst: Path, keep_fraction: float = 0.6) -> Path:
    """Copy the first ``keep_fraction`` of ``src``'s bytes (a transfer cut short)."""
    data = src.read_bytes()
    dst.write_bytes(data[: int(len(data) * keep_fraction)])
    return dst


def garbage_behind_meta(
    path: Path, sop_class_uid: str = MG_FOR_PRESENTATION, size: int = 4096, seed: int = 7
) -> Path:
    """A valid preamble and File Meta Information followed by random non-DICOM bytes."""
    ds = Dataset()
    ds.file_meta = FileMetaDataset()
    ds.file_meta.MediaStorageSOPClassUID = sop_class_uid
    ds.file_meta.MediaStorageSOPInstanceUID = new_uid()
    ds.file_meta.TransferSyntaxUID = ExplicitVRLittleEndian
    ds.file_meta.ImplementationClassUID = PYDICOM_IMPLEMENTATION_UID
    write(ds, path)
    rng = np.random.default_rng(seed)
    # Start with bytes that cannot be a valid explicit-VR element header ('\x08\x00' group + bad VR).
    with open(path, "ab") as handle:
        handle.write(b"\x08\x00\x16\x00\x00\x01" + rng.integers(0, 256, size, dtype=np.uint8).tobytes())
    return path


def without(ds: Dataset, keyword: str) -> Dataset:
    """``ds`` with ``keyword`` deleted (for missing-attribute tests)."""
    del ds[keyword]
    return ds
