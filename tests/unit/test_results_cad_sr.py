"""Mammography CAD SR encoder/decoder (PS3.3 A.35.5, PS3.16 TID 4000), round-tripped through bytes."""

from __future__ import annotations

from dataclasses import replace
from datetime import datetime
from io import BytesIO

import pytest
from pydicom import dcmread, dcmwrite
from pydicom.dataset import Dataset

from breastgate.domain.errors import EncodingError
from breastgate.domain.model import AlgorithmStatus
from breastgate.results.mammo_cad_sr import (
    MAMMOGRAPHY_CAD_SR_STORAGE,
    DecodedCADSR,
    MammographyCADSR,
    decode_cad_sr,
)
from tests.support.mg_headers import density_manifest, density_result, four_view_study

CREATED = datetime(2026, 1, 10, 10, 0, 0)


def _bytes_round_trip(ds: Dataset) -> Dataset:
    buf = BytesIO()
    dcmwrite(buf, ds, enforce_file_format=True)
    buf.seek(0)
    return dcmread(buf)


def _encode(headers: list[Dataset], **kwargs: object) -> tuple[MammographyCADSR, Dataset, DecodedCADSR]:
    result = density_result(headers, **kwargs)  # type: ignore[arg-type]
    sr = MammographyCADSR(headers, result, density_manifest(result.algorithm_version), CREATED)
    back = _bytes_round_trip(sr.to_dataset())
    return sr, back, MammographyCADSR.from_dataset(back)


def test_round_trip_gives_back_density_per_breast_and_per_image() -> None:
    headers = four_view_study()
    uids = [h.SOPInstanceUID for h in headers]
    percents = {uids[0]: 31.5, uids[1]: 36.0, uids[2]: 30.5, uids[3]: 38.0}
    sr, back, decoded = _encode(headers, percents=percents)
    result = sr.result
    assert back.file_meta.TransferSyntaxUID == "1.2.840.10008.1.2.1"
    assert back.SOPClassUID == MAMMOGRAPHY_CAD_SR_STORAGE
    assert decoded.density == result.density
    assert decoded.density is not None and decoded.density.per_breast["R"].percent_dense == 31.0
    assert decoded.image_density == {u: ("c", p) for u, p in percents.items()}
    assert (decoded.algorithm_name, decoded.algorithm_version) == ("breastgate.density", "1.0.0")
    assert set(decoded.referenced_sop_instance_uids) == set(uids)
    assert set(decoded.succeeded_sop_instance_uids) == set(uids)
    assert decoded.failed_sop_instance_uids == ()
    assert decoded.impression.startswith("AI result (breastgate.density 1.0.0) — not for diagnostic use")
    assert decode_cad_sr(back) == decoded


def test_template_and_document_flags() -> None:
    _, back, _ = _encode(four_view_study())
    assert back.ContentTemplateSequence[0].TemplateIdentifier == "4000"
    assert back.ContentTemplateSequence[0].MappingResource == "DCMR"
    assert back.ConceptNameCodeSequence[0].CodeValue == "111036"
    assert (back.CompletionFlag, back.VerificationFlag) == ("COMPLETE", "UNVERIFIED")
    assert back.Manufacturer == "breastgate"
    assert back.SoftwareVersions == "1.0.0"
    assert "not for diagnostic use" in back.SeriesDescription


def test_study_and_patient_copied_into_a_new_series() -> None:
    headers = four_view_study()
    _, back, decoded = _encode(headers)
    src = headers[0]
    for kw in (
        "PatientName",
        "PatientID",
        "PatientBirthDate",
        "PatientSex",
        "StudyDate",
        "StudyTime",
        "AccessionNumber",
        "ReferringPhysicianName",
        "StudyID",
        "StudyDescription",
        "StudyInstanceUID",
    ):
        assert back.get(kw) == src.get(kw), kw
    assert back.Modality == "SR"
    assert back.SeriesInstanceUID != src.SeriesInstanceUID
    assert back.SeriesNumber == 9901
    assert decoded.study_instance_uid == src.StudyInstanceUID
    evidence = back.CurrentRequestedProcedureEvidenceSequence[0]
    assert evidence.StudyInstanceUID == src.StudyInstanceUID
    assert evidence.ReferencedSeriesSequence[0].SeriesInstanceUID == src.SeriesInstanceUID
    classes = {r.ReferencedSOPClassUID for r in evidence.ReferencedSeriesSequence[0].ReferencedSOPSequence}
    assert classes == {src.SOPClassUID}


def test_uids_are_deterministic_and_change_with_version_and_inputs() -> None:
    headers = four_view_study()
    first, _, _ = _encode(headers)
    again, _, _ = _encode(headers)
    assert (first.sop_instance_uid, first.series_instance_uid) == (
        again.sop_instance_uid,
        again.series_instance_uid,
    )
    assert first.to_dataset().SOPInstanceUID == again.to_dataset().SOPInstanceUID
    newer, _, _ = _encode(headers, version="1.1.0")
    assert newer.sop_instance_uid != first.sop_instance_uid
    fewer, _, _ = _encode(headers[:2])
    assert fewer.sop_instance_uid != first.sop_instance_uid
    assert len({first.sop_instance_uid, first.series_instance_uid}) == 2


def test_skipped_images_are_listed_as_failed_analyses() -> None:
    headers = four_view_study()
    bad = headers[3].SOPInstanceUID
    _, back, decoded = _encode(headers, failed={bad: "motion blur"})
    assert decoded.failed_sop_instance_uids == (bad,)
    assert bad not in decoded.succeeded_sop_instance_uids
    assert decoded.density is not None
    assert decoded.density.per_breast["L"].sop_instance_uids == (headers[1].SOPInstanceUID,)
    analyses = next(i for i in back.ContentSequence if i.ConceptNameCodeSequence[0].CodeValue == "111065")
    assert analyses.ConceptCodeSequence[0].CodeValue == "111223"  # Partially Succeeded
    summary = next(i for i in back.ContentSequence if i.ConceptNameCodeSequence[0].CodeValue == "111017")
    assert summary.ConceptCodeSequence[0].CodeValue == "111244"  # not all succeeded; with findings


def test_failed_result_without_density_still_encodes() -> None:
    headers = four_view_study()
    _, back, decoded = _encode(headers, failed={h.SOPInstanceUID: "unsupported" for h in headers})
    assert decoded.density is None
    assert set(decoded.failed_sop_instance_uids) == {h.SOPInstanceUID for h in headers}
    summary = next(i for i in back.ContentSequence if i.ConceptNameCodeSequence[0].CodeValue == "111017")
    assert summary.ConceptCodeSequence[0].CodeValue == "111245"


def test_unilateral_study() -> None:
    headers = [h for h in four_view_study() if h.ImageLaterality == "L"]
    sr, _, decoded = _encode(headers)
    assert decoded.density == sr.result.density
    assert decoded.density is not None and set(decoded.density.per_breast) == {"L"}
    assert "Left breast" in decoded.impression


def test_library_rows_only_when_source_has_the_attribute() -> None:
    headers = four_view_study(pixel_spacing=None, view_modifier=("399161006", "SCT", "Cleavage"))
    del headers[0].PatientOrientation
    _, back, _ = _encode(headers)
    library = back.ContentSequence[1]
    assert library.ConceptNameCodeSequence[0].CodeValue == "111028"
    first = {i.ConceptNameCodeSequence[0].CodeValue for i in library.ContentSequence[0].ContentSequence}
    assert "111044" not in first and "111026" not in first
    second = library.ContentSequence[1].ContentSequence
    names = {i.ConceptNameCodeSequence[0].CodeValue for i in second}
    assert {"111027", "111031", "111044", "111043", "111060", "111061", "111018", "111019"} <= names
    view = next(i for i in second if i.ConceptNameCodeSequence[0].CodeValue == "111031")
    assert view.ContentSequence[0].ConceptCodeSequence[0].CodeMeaning == "Cleavage"


def test_bad_inputs_are_rejected() -> None:
    headers = four_view_study()
    result = density_result(headers)
    manifest = density_manifest()
    with pytest.raises(EncodingError):
        MammographyCADSR([], result, manifest, CREATED)
    with pytest.raises(EncodingError):
        MammographyCADSR(headers, result, density_manifest("2.0.0"), CREATED)
    with pytest.raises(EncodingError):
        MammographyCADSR(four_view_study(), result, manifest, CREATED)  # another study
    with pytest.raises(EncodingError):
        MammographyCADSR(headers, replace(result, density=None), manifest, CREATED)
    assert result.density is not None
    wrong = replace(result.density, category="e")
    with pytest.raises(EncodingError):
        MammographyCADSR(headers, replace(result, density=wrong), manifest, CREATED)
    assert result.status == AlgorithmStatus.OK


def test_measured_percentages_survive_with_full_precision() -> None:
    headers = four_view_study()
    percents = {h.SOPInstanceUID: 100.0 / (3 + i) for i, h in enumerate(headers)}
    _, _, decoded = _encode(headers, percents=percents)
    for uid, percent in percents.items():
        assert decoded.image_density[uid][1] == pytest.approx(percent, rel=1e-12)
