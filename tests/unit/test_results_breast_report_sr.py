"""Breast Imaging Report SR encoder without peers: placement, deterministic UIDs, refusals, round trip."""

from __future__ import annotations

from io import BytesIO

import pytest
from pydicom import dcmread, dcmwrite
from pydicom.dataset import Dataset

from breastgate.domain.errors import EncodingError
from breastgate.reporting.draft import build_draft
from breastgate.results.breast_report_sr import BreastImagingReportSR, procedures_of
from breastgate.results.json import build_results
from tests.support.mg_headers import density_result, four_view_study


def _draft_and_headers(category: str = "b") -> tuple[list[Dataset], BreastImagingReportSR]:
    headers = four_view_study()
    result = density_result(headers, category=category)
    draft = build_draft(build_results(result.study_instance_uid, [result]))
    return headers, BreastImagingReportSR(headers, draft)


def _bytes(ds: Dataset) -> Dataset:
    buf = BytesIO()
    dcmwrite(buf, ds, enforce_file_format=True)
    return dcmread(BytesIO(buf.getvalue()))


def test_same_study_new_series_and_deterministic_uids() -> None:
    headers, sr = _draft_and_headers()
    ds = _bytes(sr.to_dataset())
    assert ds.StudyInstanceUID == headers[0].StudyInstanceUID
    assert ds.PatientID == headers[0].PatientID and ds.Modality == "SR"
    assert ds.SeriesInstanceUID not in {h.SeriesInstanceUID for h in headers}
    again = BreastImagingReportSR(headers, sr.draft)
    assert (again.sop_instance_uid, again.series_instance_uid) == (
        sr.sop_instance_uid,
        sr.series_instance_uid,
    )
    assert again.to_dataset().ContentDate == ds.ContentDate == headers[0].StudyDate
    other = BreastImagingReportSR(headers[:2], build_draft(build_results(sr.draft.study_instance_uid, [])))
    assert other.sop_instance_uid != sr.sop_instance_uid
    assert other.series_instance_uid == sr.series_instance_uid
    refs = ds.CurrentRequestedProcedureEvidenceSequence[0].ReferencedSeriesSequence[0].ReferencedSOPSequence
    assert [r.ReferencedSOPInstanceUID for r in refs] == [h.SOPInstanceUID for h in headers]


def test_round_trip_through_bytes() -> None:
    _, sr = _draft_and_headers("a")
    decoded = BreastImagingReportSR.from_dataset(_bytes(sr.to_dataset()))
    assert decoded.composition_category == "a" and decoded.birads is None  # density only: rule R5
    assert decoded.narrative["Breast composition"] == ("The breasts are almost entirely fatty.",)
    assert decoded.percent_fibroglandular == round(sr.draft.percent_dense or 0.0, 1)
    assert (decoded.completion_flag, decoded.verification_flag) == ("PARTIAL", "UNVERIFIED")


def test_refusals() -> None:
    _, sr = _draft_and_headers()
    with pytest.raises(EncodingError):
        BreastImagingReportSR([], sr.draft)
    with pytest.raises(EncodingError):
        BreastImagingReportSR(four_view_study(), sr.draft)  # another study
    ct = Dataset()
    ct.Modality = "CT"
    with pytest.raises(EncodingError):
        procedures_of([ct])


def test_procedure_follows_modality_and_sides() -> None:
    headers = four_view_study()
    assert [(p.code.value, p.laterality) for p in procedures_of(headers)] == [
        ("36626-0", "B"),
        ("111411", "B"),
    ]
    left = [h for h in headers if h.ImageLaterality == "L"]
    assert [(p.code.value, p.laterality) for p in procedures_of(left)] == [("36627-8", "L"), ("111411", "L")]
    mr = Dataset()
    mr.Modality, mr.ImageLaterality = "MR", "R"
    assert [(p.code.value, p.laterality) for p in procedures_of([mr])] == [("241615005", "R")]


def test_same_draft_same_bytes_dated_by_the_study() -> None:
    """highdicom's wall-clock stamps are pinned to the study date and time."""
    headers, sr = _draft_and_headers()
    first, second = BytesIO(), BytesIO()
    dcmwrite(first, sr.to_dataset(), enforce_file_format=True)
    dcmwrite(second, BreastImagingReportSR(headers, sr.draft).to_dataset(), enforce_file_format=True)
    assert first.getvalue() == second.getvalue()
    ds = dcmread(BytesIO(first.getvalue()))
    study = headers[0].StudyDate + headers[0].StudyTime
    assert ds.InstanceCreationDate + ds.InstanceCreationTime == study
    assert [item.ContributionDateTime for item in ds.ContributingEquipmentSequence] == [study]
    assert ds.AuthorObserverSequence[0].ObserverType == "DEV" and ds.PreliminaryFlag == "PRELIMINARY"


def test_the_comparison_with_the_prior_reaches_the_report_sr() -> None:
    from dataclasses import replace

    from breastgate.domain.model import DensityChange, PriorStatus, PriorUse

    headers = four_view_study()
    result = replace(
        density_result(headers, category="b"),
        priors=PriorUse(PriorStatus.HELD, ("9.1",)),
        density_change=DensityChange("9.1", "c", 55.0, -9.5, "20251201"),
    )
    draft = build_draft(build_results(result.study_instance_uid, [result]))
    decoded = BreastImagingReportSR.from_dataset(_bytes(BreastImagingReportSR(headers, draft).to_dataset()))
    assert decoded.narrative["Comparison to previous studies"] == (
        "Compared with prior study of 2025-12-01.",
        "Breast density changed from category c to b (percent density -9.5 percentage points).",
    )
