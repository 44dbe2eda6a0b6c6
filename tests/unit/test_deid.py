"""PS3.15 Basic Application Level Confidentiality Profile (breastgate.engines.deid) on phantom images."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pydicom
import pytest
from pydicom.dataset import Dataset
from pydicom.sequence import Sequence

from breastgate.domain.errors import InvalidInputError
from breastgate.engines import deid
from breastgate.engines.deid import BASIC_PROFILE, Action, Deidentifier, deidentified_uid, reidentify
from breastgate.phantoms import generate_mg_study
from tests.support.validators import dciodvfy

SECRET = b"test-secret"
KEPT = (
    "SOPClassUID",
    "Modality",
    "PresentationIntentType",
    "ImageLaterality",
    "ViewPosition",
    "ViewCodeSequence",
    "Manufacturer",
    "ManufacturerModelName",
    "BodyPartThickness",
    "CompressionForce",
    "ImagerPixelSpacing",
    "Rows",
    "Columns",
    "BitsStored",
    "PhotometricInterpretation",
    "WindowCenter",
    "PixelData",
)


def _code(value: str) -> Dataset:
    ds = Dataset()
    ds.CodeValue, ds.CodingSchemeDesignator, ds.CodeMeaning = value, "99LOCAL", "local"
    return ds


def _loaded(ds: Dataset) -> Dataset:
    """A phantom image with the identifying attributes a real modality adds on top."""
    ds.OtherPatientIDsSequence = Sequence([Dataset()])
    ds.OtherPatientIDsSequence[0].PatientID = "OTHER-ID-777"
    ds.OtherPatientNames = "Maiden^Alice"
    ds.PatientAddress = "1 Secret Street"
    ds.InstitutionalDepartmentName = "Breast Centre West"
    ds.PerformingPhysicianName = "Performer^Paula"
    ds.NameOfPhysiciansReadingStudy = "Reader^Rita"
    req = Dataset()
    req.RequestedProcedureID = "RP-998877"
    req.ScheduledProcedureStepID = "SPS-112233"
    req.ScheduledProtocolCodeSequence = Sequence([_code("MAMSCR")])
    ds.RequestAttributesSequence = Sequence([req])
    study = Dataset()
    study.ReferencedSOPClassUID = "1.2.840.10008.3.1.2.3.1"
    study.ReferencedSOPInstanceUID = "1.2.3.4.5.6.7.8.9.100"
    ds.ReferencedStudySequence = Sequence([study])
    pps = Dataset()
    pps.ReferencedSOPClassUID = "1.2.840.10008.3.1.2.3.3"
    pps.ReferencedSOPInstanceUID = "1.2.3.4.5.6.7.8.9.200"
    ds.ReferencedPerformedProcedureStepSequence = Sequence([pps])
    ds.IrradiationEventUID = "1.2.3.4.5.6.7.8.9.300"
    ds.ImageComments = "patient anxious, called Alice"
    ds.AcquisitionDateTime = "20240212124700"
    ds.add_new(0x00091010, "LO", "VENDOR PRIVATE CREATOR")
    ds.add_new(0x00091011, "LO", "private secret PH-0041")
    ds.add_new(0x60000010, "US", 16)  # overlay rows
    ds.add_new(0x60004000, "LT", "overlay comment Alice")
    ds.add_new(0x50000005, "US", 2)  # a retired curve
    return ds


@pytest.fixture(scope="module")
def originals() -> list[Dataset]:
    return [_loaded(ds) for ds in generate_mg_study(41, category="a").datasets]


@pytest.fixture(scope="module")
def deidentified(originals: list[Dataset]) -> list[deid.Deidentified]:
    engine = Deidentifier(SECRET)
    return [engine.deidentify(ds) for ds in originals]


def _walk(ds: Dataset) -> Iterator[tuple[str, pydicom.DataElement]]:
    for elem in ds:
        yield str(elem.tag), elem
        if elem.VR == "SQ":
            for item in elem.value:
                for path, child in _walk(item):
                    yield f"{elem.tag}>{path}", child


def _all_elements(ds: Dataset) -> Iterator[tuple[str, pydicom.DataElement]]:
    yield from _walk(ds)
    yield from _walk(ds.file_meta)


def _identifying(originals: list[Dataset]) -> set[str]:
    """Every original value that must not survive: names, IDs, dates, times, every UID, free text."""
    found: set[str] = set()
    registered = pydicom.uid.UID_dictionary
    for ds in originals:
        for _, elem in _all_elements(ds):
            value = elem.value
            if (elem.VR == "UI" and value and str(value) not in registered and elem.tag != 0x00020012) or (
                elem.VR in ("DA", "DT", "PN") and value
            ):
                found.add(str(value))
        for kw in ("PatientID", "AccessionNumber", "InstitutionName", "InstitutionAddress", "StationName",
                   "DeviceSerialNumber", "DetectorID", "StudyID", "StudyDescription", "OtherPatientNames",
                   "PatientAddress", "InstitutionalDepartmentName", "ImageComments"):  # fmt: skip
            if ds.get(kw):
                found.add(str(ds.get(kw)))
    found |= {"OTHER-ID-777", "RP-998877", "SPS-112233", "private secret", "Alice", "overlay comment"}
    return {v for v in found if len(v) >= 2}


def test_no_original_identifying_value_survives(
    originals: list[Dataset], deidentified: list[deid.Deidentified]
) -> None:
    secrets = _identifying(originals)
    assert len(secrets) > 20  # the check has teeth: UIDs, dates, names, IDs, text
    for result in deidentified:
        for path, elem in _all_elements(result.dataset):
            if elem.tag == 0x7FE00010 or elem.VR == "SQ":
                continue
            text = str(elem.value)
            # Long values must not occur anywhere; short ones (Study ID "41") not as a whole value.
            leaked = [s for s in secrets if (s in text if len(s) >= 6 else s == text.strip())]
            assert not leaked, f"{path} {elem.keyword} = {text!r} leaks {leaked}"
            assert not elem.tag.is_private, path
            assert not 0x5000 <= elem.tag.group <= 0x60FF, path


def test_what_the_algorithm_needs_is_kept(
    originals: list[Dataset], deidentified: list[deid.Deidentified]
) -> None:
    for original, result in zip(originals, deidentified, strict=True):
        for kw in KEPT:
            assert result.dataset.get(kw) == original.get(kw), kw
        assert result.dataset.file_meta.TransferSyntaxUID == original.file_meta.TransferSyntaxUID


def test_the_deidentification_is_recorded(deidentified: list[deid.Deidentified]) -> None:
    ds = deidentified[0].dataset
    assert ds.PatientIdentityRemoved == "YES"
    assert "Basic Application Confidentiality Profile" in ds.DeidentificationMethod
    (code,) = ds.DeidentificationMethodCodeSequence
    assert (code.CodeValue, code.CodingSchemeDesignator, code.CodeMeaning) == deid.BASIC_PROFILE_CODE
    assert deid.BASIC_PROFILE_CODE == ("113100", "DCM", "Basic Application Confidentiality Profile")


def test_uids_and_pseudonyms_are_consistent_deterministic_and_reversible(
    originals: list[Dataset], deidentified: list[deid.Deidentified]
) -> None:
    studies = {r.dataset.StudyInstanceUID for r in deidentified}
    assert len(studies) == 1  # one study stays one study
    assert len({r.dataset.SOPInstanceUID for r in deidentified}) == 4
    assert len({str(r.dataset.PatientID) for r in deidentified}) == 1
    again = Deidentifier(SECRET).deidentify(originals[0])
    assert again.dataset.SOPInstanceUID == deidentified[0].dataset.SOPInstanceUID  # a retry sends the same
    assert again.dataset.PatientName == deidentified[0].dataset.PatientName
    other = Deidentifier(b"another secret").deidentify(originals[0])
    assert other.dataset.SOPInstanceUID != again.dataset.SOPInstanceUID
    uid = str(originals[0].SOPInstanceUID)
    new = deidentified[0].dataset.SOPInstanceUID
    assert new == deidentified_uid(SECRET, uid) and new.startswith("2.25.") and len(new) <= 64
    assert int(new[5:]) < 2**128
    assert deidentified[0].mapping[new] == uid
    assert deidentified[0].dataset.file_meta.MediaStorageSOPInstanceUID == new
    source = deidentified[0].dataset.SourceImageSequence[0].ReferencedSOPInstanceUID
    assert deidentified[0].mapping[source] == originals[0].SourceImageSequence[0].ReferencedSOPInstanceUID


def test_reidentify_puts_the_original_study_back(
    originals: list[Dataset], deidentified: list[deid.Deidentified]
) -> None:
    mapping = {k: v for r in deidentified for k, v in r.mapping.items()}
    back = reidentify(deidentified[1].dataset, mapping, [o.copy() for o in originals])
    original = originals[1]
    restored = ("SOPInstanceUID", "SeriesInstanceUID", "StudyInstanceUID", "FrameOfReferenceUID")
    patient = ("PatientName", "PatientID", "PatientBirthDate", "AccessionNumber", "StudyDate", "StudyID")
    for kw in (*restored, *patient):
        assert back.get(kw) == original.get(kw), kw
    assert (
        back.SourceImageSequence[0].ReferencedSOPInstanceUID
        == original.SourceImageSequence[0].ReferencedSOPInstanceUID
    )
    assert back.file_meta.MediaStorageSOPInstanceUID == original.SOPInstanceUID
    assert "PatientIdentityRemoved" not in back and "DeidentificationMethodCodeSequence" not in back
    assert deidentified[1].dataset.PatientIdentityRemoved == "YES"  # the input is not changed
    with pytest.raises(InvalidInputError, match="none of the source studies"):
        reidentify(deidentified[1].dataset, {}, originals)


def test_profile_table_is_data() -> None:
    tags = [tag for tag, _ in BASIC_PROFILE]
    assert len(tags) == len(set(tags))
    assert all(isinstance(a, Action) for _, a in BASIC_PROFILE)
    assert deid.__doc__ is not None and "Table E.1-1" in deid.__doc__
    actions = dict(BASIC_PROFILE)
    assert actions[0x00080050] == Action.Z  # Accession Number
    assert actions[0x0020000D] == Action.U  # Study Instance UID
    assert actions[0x00400275] == Action.X  # Request Attributes Sequence
    assert actions[0x00080070] == Action.K  # Manufacturer is not removed by the Basic Profile


def test_burned_in_annotation_is_refused(originals: list[Dataset]) -> None:
    ds = originals[0].copy()
    ds.BurnedInAnnotation = "YES"
    with pytest.raises(InvalidInputError, match="burned-in"):
        Deidentifier(SECRET).deidentify(ds)
    with pytest.raises(InvalidInputError):
        Deidentifier(b"")


@pytest.mark.peers
def test_deidentified_image_still_validates(deidentified: list[deid.Deidentified], tmp_path: Path) -> None:
    path = tmp_path / "deid.dcm"
    deidentified[2].dataset.save_as(path, enforce_file_format=True)
    report = dciodvfy(path)
    assert "MammographyImageForPresentation" in report.output
    assert report.errors == [], report.output
