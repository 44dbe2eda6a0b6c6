"""What every result object shares (results.placement), and the glue to highdicom's constructors."""

from __future__ import annotations

import pytest
from highdicom.sr import CodedConcept
from pydicom.dataset import Dataset
from pydicom.valuerep import DA, TM

from breastgate.domain.errors import EncodingError, InvalidInputError
from breastgate.results.placement import header_view, highdicom_refusal, pin_creation
from tests.support.mg_headers import four_view_study


def test_header_view_keeps_references_and_empties_the_patient() -> None:
    """highdicom is given UIDs, size and frames; Patient and Study attributes come from ours."""
    header = four_view_study()[0]
    header.PatientSex = "U"  # allowed in a source, refused by highdicom (M, F or O)
    view = header_view(header)
    for kw in ("StudyInstanceUID", "SeriesInstanceUID", "SOPClassUID", "SOPInstanceUID", "Rows", "Columns"):
        assert view[kw].value == header[kw].value, kw
    assert (view.PatientName, view.PatientSex, view.StudyDate, view.AccessionNumber) == ("", "", "", "")
    assert "ViewCodeSequence" not in view and "PatientOrientation" not in view
    del header.SeriesInstanceUID
    with pytest.raises(InvalidInputError):
        header_view(header)


def test_pin_creation_overwrites_every_clock_stamp() -> None:
    ds = Dataset()
    ds.InstanceCreationDate, ds.InstanceCreationTime = DA("20990101"), TM("235959")
    ds.ContentDate, ds.ContentTime = DA("20260110"), TM("093000")
    ds.DateOfSecondaryCapture, ds.TimeOfSecondaryCapture = "20990101", "235959"
    equipment = Dataset()
    equipment.ContributionDateTime = "20990101235959"
    ds.ContributingEquipmentSequence = [equipment]
    pin_creation(ds, ("20260110", "093000"))
    assert (ds.InstanceCreationDate, ds.InstanceCreationTime) == ("20260110", "093000")
    assert (ds.ContentDate, ds.ContentTime) == ("20260110", "093000")  # text, as the headers'
    assert isinstance(ds.ContentDate, str)
    assert ds.DateOfSecondaryCapture + ds.TimeOfSecondaryCapture == "20260110093000"
    assert ds.ContributingEquipmentSequence[0].ContributionDateTime == "20260110093000"
    assert "PresentationCreationDate" not in ds and "SeriesDate" not in ds  # only where present


def test_highdicom_refusals_are_encoding_errors() -> None:
    with pytest.raises(EncodingError, match="concept rejected"), highdicom_refusal("concept"):
        CodedConcept("1", "DCM", "x" * 65)  # Code Meaning is LO (64)
