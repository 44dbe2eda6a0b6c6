"""Header extraction: UIDs, laterality, view codes (CID 4014 SCT + legacy SRT), pixel completeness."""

from __future__ import annotations

from pathlib import Path

import pytest
from pydicom.dataset import Dataset
from pydicom.sequence import Sequence

from breastgate.domain.errors import InvalidInputError, MissingAttributeError
from breastgate.store.headers import IncompleteObjectError, age_in_years, read_header, view_from_dataset
from tests.support import dicom_factory as f


@pytest.mark.parametrize("view", ["CC", "MLO", "ML", "LM", "XCCL"])
@pytest.mark.parametrize("style", ["sct", "srt", "position"])
def test_view_codes_map_to_acr_abbreviations(tmp_path: Path, view: str, style: str) -> None:
    path = f.write(f.make_mg("R", view, view_code=style, rows=16, cols=16), tmp_path / "a.dcm")
    header = read_header(path)
    assert header.view == view
    assert header.laterality == "R"


def test_unknown_view_code_and_position_give_none() -> None:
    ds = Dataset()
    item = Dataset()
    item.CodeValue = "999999"
    ds.ViewCodeSequence = Sequence([item])
    ds.ViewPosition = "AP"
    assert view_from_dataset(ds) is None


def test_index_fields_of_a_mammogram(tmp_path: Path) -> None:
    ds = f.make_mg("L", "MLO", accession="A77", patient_id="P9")
    path = f.write(ds, tmp_path / "mg.dcm")
    h = read_header(path)
    assert (h.study_instance_uid, h.series_instance_uid, h.sop_instance_uid) == (
        ds.StudyInstanceUID,
        ds.SeriesInstanceUID,
        ds.SOPInstanceUID,
    )
    assert h.sop_class_uid == f.MG_FOR_PRESENTATION
    assert h.modality == "MG"
    assert h.presentation_intent == "FOR PRESENTATION"
    assert h.accession_number == "A77"
    assert h.patient_id == "P9"
    assert h.study_date == "20260101"
    assert h.transfer_syntax_uid == "1.2.840.10008.1.2.1"
    assert h.number_of_frames == 1


def test_presentation_intent_from_sop_class_when_attribute_absent(tmp_path: Path) -> None:
    ds = f.make_mg(for_processing=True, rows=16, cols=16)
    del ds.PresentationIntentType
    assert read_header(f.write(ds, tmp_path / "p.dcm")).presentation_intent == "FOR PROCESSING"


def test_us_laterality_from_series_laterality(tmp_path: Path) -> None:
    h = read_header(f.write(f.make_us(laterality="L"), tmp_path / "us.dcm"))
    assert (h.modality, h.laterality, h.view) == ("US", "L", None)


def test_missing_uid_is_named(tmp_path: Path) -> None:
    path = f.write(f.without(f.make_mg(rows=16, cols=16), "StudyInstanceUID"), tmp_path / "m.dcm")
    with pytest.raises(MissingAttributeError, match="StudyInstanceUID"):
        read_header(path)


def test_truncated_native_pixel_data_is_incomplete(tmp_path: Path) -> None:
    whole = f.write(f.make_mg(), tmp_path / "whole.dcm")
    with pytest.raises(IncompleteObjectError):
        read_header(f.truncated_copy(whole, tmp_path / "cut.dcm", 0.8))


def test_pixel_data_shorter_than_the_image_is_incomplete(tmp_path: Path) -> None:
    ds = f.make_mg(rows=64, cols=64)
    ds.PixelData = ds.PixelData[:1000]
    with pytest.raises(IncompleteObjectError, match="image needs"):
        read_header(f.write(ds, tmp_path / "short.dcm"))


def test_encapsulated_pixel_data_whole_and_truncated(tmp_path: Path) -> None:
    whole = f.write(f.encapsulated(f.make_mg(rows=16, cols=16)), tmp_path / "enc.dcm")
    assert read_header(whole).number_of_frames == 3
    with pytest.raises(IncompleteObjectError):
        read_header(f.truncated_copy(whole, tmp_path / "enc-cut.dcm", 0.9))


@pytest.mark.filterwarnings("ignore::UserWarning")
def test_garbage_behind_valid_meta_is_invalid(tmp_path: Path) -> None:
    with pytest.raises(InvalidInputError):
        read_header(f.garbage_behind_meta(tmp_path / "g.dcm"))


def test_not_dicom_at_all_is_invalid(tmp_path: Path) -> None:
    path = tmp_path / "x.dcm"
    path.write_bytes(b"hello world" * 50)
    with pytest.raises(InvalidInputError):
        read_header(path)


def test_device_and_age_are_indexed_from_the_header(tmp_path: Path) -> None:
    ds = f.make_mg("R", "CC", rows=16, cols=16)
    ds.Manufacturer = "HOLOGIC, Inc."
    ds.ManufacturerModelName = "Selenia Dimensions"
    ds.PatientAge = "057Y"
    h = read_header(f.write(ds, tmp_path / "a.dcm"))
    assert (h.manufacturer, h.model, h.patient_age) == ("HOLOGIC, Inc.", "Selenia Dimensions", 57)
    info = h.to_instance_info(tmp_path / "a.dcm", 1, None)
    assert (info.manufacturer, info.model, info.patient_age) == ("HOLOGIC, Inc.", "Selenia Dimensions", 57)


def test_age_from_birth_date_when_patient_age_absent(tmp_path: Path) -> None:
    ds = f.make_mg(rows=16, cols=16)  # born 19700101, studied 20260101
    h = read_header(f.write(ds, tmp_path / "a.dcm"))
    assert (h.manufacturer, h.model, h.patient_age) == (None, None, 56)


@pytest.mark.parametrize(
    ("patient_age", "birth", "study", "years"),
    [
        ("057Y", None, None, 57),
        ("018M", None, None, 1),
        ("0400W", None, None, 7),
        (None, "19700615", "20240614", 53),
        (None, "19700615", "20240615", 54),
        ("bad", "19700615", "20240615", 54),
        ("", "bad", "20240101", None),
        (None, "20300101", "20240101", None),
        ("999Y", None, None, None),
        (None, "19700230", "20240101", None),
    ],
)
def test_age_in_years(
    patient_age: str | None, birth: str | None, study: str | None, years: int | None
) -> None:
    assert age_in_years(patient_age, birth, study) == years
