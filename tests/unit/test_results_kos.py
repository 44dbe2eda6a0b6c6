"""Key Object Selection Document encoder/decoder (PS3.3 A.35.4, TID 2010), round-tripped through bytes."""

from __future__ import annotations

from io import BytesIO

import pytest
from pydicom import dcmread, dcmwrite
from pydicom.dataset import Dataset

from breastgate.domain.errors import EncodingError, InvalidInputError
from breastgate.domain.model import Finding, FindingKind, Mark
from breastgate.results.kos import (
    KEY_OBJECT_SELECTION_DOCUMENT_STORAGE,
    OF_INTEREST,
    KeyObjectSelectionDocument,
)
from tests.support.mg_headers import four_view_study

ALGO, VERSION = "breastgate.masses", "1.1.0"
BTO = "1.2.840.10008.5.1.4.1.1.13.1.3"


def _round_trip(ds: Dataset) -> Dataset:
    buf = BytesIO()
    dcmwrite(buf, ds, enforce_file_format=True)
    buf.seek(0)
    return dcmread(buf)


def _bto(study_uid: str, frames: int = 60) -> Dataset:
    ds = Dataset()
    ds.SOPClassUID = BTO
    ds.SOPInstanceUID = "1.2.826.0.1.3680043.8.498.2001"
    ds.StudyInstanceUID = study_uid
    ds.SeriesInstanceUID = "1.2.826.0.1.3680043.8.498.2002"
    ds.Rows, ds.Columns, ds.NumberOfFrames = 2000, 1500, frames
    return ds


def _mass(uid: str, **kw: object) -> Finding:
    return Finding(
        "m1", FindingKind.MASS, "R", 0.8, (Mark(uid, (800, 1200), (700, 1100, 900, 1300), 0.8, **kw),)
    )  # type: ignore[arg-type]


def test_key_images_of_2d_findings_in_the_source_study_new_series() -> None:
    headers = four_view_study()
    rcc, lcc, rmlo, _ = headers
    mass = Finding(
        "m1",
        FindingKind.MASS,
        "R",
        0.8,
        (
            Mark(rcc.SOPInstanceUID, (800, 1200), (700, 1100, 900, 1300), 0.8),
            Mark(rmlo.SOPInstanceUID, (820, 1500), (720, 1400, 920, 1600), 0.7),
        ),
    )
    kos = KeyObjectSelectionDocument([mass], headers, ALGO, VERSION)
    ds = _round_trip(kos.dataset)
    assert ds.SOPClassUID == KEY_OBJECT_SELECTION_DOCUMENT_STORAGE and ds.Modality == "KO"
    assert ds.StudyInstanceUID == rcc.StudyInstanceUID and ds.PatientID == rcc.PatientID
    assert ds.SeriesInstanceUID not in {h.SeriesInstanceUID for h in headers}
    assert ds.SeriesNumber == 9905 and ds.Manufacturer == "breastgate"
    assert ds.ContentTemplateSequence[0].TemplateIdentifier == "2010"
    decoded = KeyObjectSelectionDocument.from_dataset(ds)
    assert decoded.title is not None and OF_INTEREST.same(decoded.title)
    assert "AI output" in decoded.description and "not for diagnostic use" in decoded.description
    assert decoded.images == ((rcc.SOPInstanceUID, ()), (rmlo.SOPInstanceUID, ()))
    assert sorted(decoded.evidence) == sorted([rcc.SOPInstanceUID, rmlo.SOPInstanceUID])
    assert lcc.SOPInstanceUID not in decoded.evidence
    again = KeyObjectSelectionDocument([mass], list(reversed(headers)), ALGO, VERSION)
    assert (again.sop_instance_uid, again.series_instance_uid) == (
        kos.sop_instance_uid,
        kos.series_instance_uid,
    )
    other = KeyObjectSelectionDocument([mass], headers, ALGO, "1.2.0")
    assert other.sop_instance_uid != kos.sop_instance_uid


def test_tomosynthesis_key_frames_are_the_findings_frames() -> None:
    headers = four_view_study()
    bto = _bto(headers[0].StudyInstanceUID)
    first = _mass(bto.SOPInstanceUID, frame=14, frames=(10, 18))
    second = Finding(
        "m2",
        FindingKind.MASS,
        "R",
        0.6,
        (Mark(bto.SOPInstanceUID, (300, 400), (250, 350, 350, 450), 0.6, frame=40),),
    )
    ds = _round_trip(KeyObjectSelectionDocument([first, second], [*headers, bto], ALGO, VERSION).dataset)
    (image,) = KeyObjectSelectionDocument.from_dataset(ds).images
    assert image == (bto.SOPInstanceUID, (*range(10, 19), 40))
    assert "2 suspicious findings" in KeyObjectSelectionDocument.from_dataset(ds).description


def test_unusable_marks_are_left_out_and_bad_inputs_rejected() -> None:
    headers = four_view_study()
    bto = _bto(headers[0].StudyInstanceUID)
    with pytest.raises(EncodingError):  # no key image at all
        KeyObjectSelectionDocument([_mass("1.2.3.4")], headers, ALGO, VERSION)
    clipped = KeyObjectSelectionDocument(
        [_mass(bto.SOPInstanceUID, frames=(55, 70))], [*headers, bto], ALGO, VERSION
    )
    assert clipped.key_images == {bto.SOPInstanceUID: (55, 56, 57, 58, 59, 60)}  # as the GSPS draws it
    with pytest.raises(EncodingError):
        KeyObjectSelectionDocument(
            [_mass(bto.SOPInstanceUID, frames=(61, 70))], [*headers, bto], ALGO, VERSION
        )
    with pytest.raises(EncodingError):
        KeyObjectSelectionDocument([_mass(headers[0].SOPInstanceUID, frame=3)], headers, ALGO, VERSION)
    with pytest.raises(EncodingError):
        KeyObjectSelectionDocument([_mass(headers[0].SOPInstanceUID)], [], ALGO, VERSION)
    processing = headers[1].copy()
    processing.PresentationIntentType = "FOR PROCESSING"
    with pytest.raises(EncodingError):
        KeyObjectSelectionDocument(
            [_mass(processing.SOPInstanceUID)], [headers[0], processing], ALGO, VERSION
        )
    with pytest.raises(InvalidInputError):
        KeyObjectSelectionDocument.from_dataset(headers[0])


def test_dates_come_from_the_study_and_image_items_have_no_concept_name() -> None:
    """highdicom stamps the wall clock and names IMAGE items; neither may reach the document."""
    headers = four_view_study()
    src = headers[0]
    ds = _round_trip(KeyObjectSelectionDocument([_mass(src.SOPInstanceUID)], headers, ALGO, VERSION).dataset)
    assert (ds.InstanceCreationDate, ds.InstanceCreationTime) == (src.StudyDate, src.StudyTime)
    assert (ds.ContentDate, ds.ContentTime) == (src.StudyDate, src.StudyTime)
    assert [item.ContributionDateTime for item in ds.ContributingEquipmentSequence] == [
        src.StudyDate + src.StudyTime
    ]
    images = [item for item in ds.ContentSequence if item.ValueType == "IMAGE"]
    assert images and all("ConceptNameCodeSequence" not in item for item in images)  # TID 2010 row 8
