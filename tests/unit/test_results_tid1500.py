"""TID 1500 Imaging Measurement Report: one group per marked image of the shown findings, regions
that are the marks, DBT frames, codes, placement, determinism and the round trip through bytes."""

from __future__ import annotations

from dataclasses import replace
from io import BytesIO

import pytest
from pydicom import dcmread, dcmwrite
from pydicom.dataset import Dataset

from breastgate.domain.errors import EncodingError, InvalidInputError
from breastgate.domain.model import AlgorithmResult, FindingLocation, Mark
from breastgate.results import codes as c
from breastgate.results.sr_content import Node, decode_content
from breastgate.results.tid1500 import (
    COMPREHENSIVE_SR_STORAGE,
    MeasurementReport,
    decode_measurement_report,
    shown_findings,
)
from breastgate.results.tid4000_findings import bbox_rectangle, closed_polyline
from tests.support.mg_headers import density_manifest
from tests.unit.test_results_cad_sr import findings_study


def _bytes(ds: Dataset) -> bytes:
    buffer = BytesIO()
    dcmwrite(buffer, ds, enforce_file_format=True)
    return buffer.getvalue()


def _groups(ds: Dataset) -> list[Node]:
    root = decode_content(ds)
    measurements = root.first(c.IMAGING_MEASUREMENTS, "CONTAINER")
    assert measurements is not None
    return measurements.find(c.MEASUREMENT_GROUP, "CONTAINER")


def _expected_ring(mark: Mark) -> tuple[float, ...]:
    return closed_polyline(mark.outline if len(mark.outline) >= 3 else bbox_rectangle(mark.bbox))


@pytest.fixture(scope="module")
def study() -> tuple[list[Dataset], AlgorithmResult]:
    return findings_study()


def test_one_group_per_marked_image_of_each_shown_finding(
    study: tuple[list[Dataset], AlgorithmResult],
) -> None:
    headers, result = study
    shown = shown_findings(result)
    assert [f.id for f in shown] == ["calc-1", "mass-2"]  # mass-1 (0.35) is below the 0.5 threshold
    report = MeasurementReport.from_result(result, density_manifest(), headers)
    groups = _groups(report.dataset)
    assert len(groups) == sum(len(f.marks) for f in shown) == 3
    tracking = [
        (g.first(c.TRACKING_IDENTIFIER, "TEXT"), g.first(c.TRACKING_UNIQUE_IDENTIFIER, "UIDREF"))
        for g in groups
    ]
    assert [t.text for t, _ in tracking if t] == ["calc-1", "calc-1", "mass-2"]
    uids = [u.text for _, u in tracking if u]
    assert len(set(uids)) == len(shown) and uids[0] == uids[1]
    assert all(g.template == "1410" for g in groups)


def test_regions_are_the_marks_selected_from_their_image_and_frame(
    study: tuple[list[Dataset], AlgorithmResult],
) -> None:
    headers, result = study
    classes = {h.SOPInstanceUID: h.SOPClassUID for h in headers}
    groups = _groups(MeasurementReport(headers, result, density_manifest()).dataset)
    marks = [m for f in shown_findings(result) for m in f.marks]
    for group, mark in zip(groups, marks, strict=True):
        region = group.first(c.IMAGE_REGION, "SCOORD")
        assert region is not None and region.rel == "CONTAINS" and region.graphic is not None
        kind, points = region.graphic
        assert kind == "POLYLINE" and points == pytest.approx(_expected_ring(mark))
        assert points[:2] == points[-2:]  # closed
        (image,) = region.children
        assert (image.vt, image.rel, image.ref) == ("IMAGE", "SELECTED FROM", None)  # by value
        assert image.sop == (classes[mark.sop_instance_uid], mark.sop_instance_uid)
        assert image.frames == ((mark.frame,) if mark.frame is not None else ())
    assert [g.first(c.IMAGE_REGION, "SCOORD").children[0].frames for g in groups] == [(), (), (17,)]  # type: ignore[union-attr]


def test_codes_of_a_group(study: tuple[list[Dataset], AlgorithmResult]) -> None:
    headers, result = study
    calc, mass = shown_findings(result)
    located = replace(mass, location=FindingLocation(clock=2, quadrant="UIQ"))
    result = replace(result, findings=(calc, located))
    decoded = MeasurementReport.from_dataset(MeasurementReport(headers, result, density_manifest()).dataset)
    first, _, dbt = decoded.groups
    assert first.finding == c.CALCIFICATION_CLUSTER and dbt.finding == c.BREAST_MASS
    assert first.finding_site == c.BREAST and first.laterality == c.LATERALITY_BY_SIDE["R"]
    assert dbt.finding_site == c.QUADRANTS["UIQ"] and dbt.laterality == c.LATERALITY_BY_SIDE["L"]
    assert first.certainty_percent == pytest.approx(71.0) and dbt.certainty_percent == pytest.approx(90.0)
    assert first.diameter_mm == 7.0 and dbt.diameter_mm == 9.5  # the mark's size, else the finding's
    root = decode_content(MeasurementReport(headers, result, density_manifest()).dataset)
    sites = [n for n in root.walk() if c.FINDING_SITE.same(n.concept)]
    assert sites[-1].first(c.TOPOGRAPHICAL_MODIFIER, "CODE").code == c.CLOCK_POSITIONS[2]  # type: ignore[union-attr]


def test_root_rows_and_placement(study: tuple[list[Dataset], AlgorithmResult]) -> None:
    headers, result = study
    ds = MeasurementReport(headers, result, density_manifest()).dataset
    assert ds.SOPClassUID == COMPREHENSIVE_SR_STORAGE
    assert ds.StudyInstanceUID == result.study_instance_uid == headers[0].StudyInstanceUID
    assert ds.PatientID == headers[0].PatientID and ds.SeriesNumber == 9906
    assert ds.SeriesDescription == "breastgate breastgate.density TID 1500 - not for diagnostic use"
    assert (ds.Manufacturer, ds.CompletionFlag, ds.VerificationFlag) == (
        "breastgate",
        "COMPLETE",
        "UNVERIFIED",
    )
    assert ds.ContentTemplateSequence[0].TemplateIdentifier == "1500"
    series = ds.CurrentRequestedProcedureEvidenceSequence[0].ReferencedSeriesSequence
    evidence = {r.ReferencedSOPInstanceUID for s in series for r in s.ReferencedSOPSequence}
    assert evidence == {h.SOPInstanceUID for h in headers}
    root = decode_content(ds)
    assert [(n.rel, n.concept.meaning if n.concept else "") for n in root.children] == [
        ("HAS CONCEPT MOD", "Language of Content Item and Descendants"),
        ("HAS OBS CONTEXT", "Observer Type"),
        ("HAS OBS CONTEXT", "Device Observer UID"),
        ("HAS OBS CONTEXT", "Device Observer Name"),
        ("HAS OBS CONTEXT", "Device Observer Manufacturer"),
        ("HAS OBS CONTEXT", "Device Observer Model Name"),
        ("CONTAINS", "Image Library"),
        ("CONTAINS", "Imaging Measurements"),
        ("CONTAINS", "Qualitative Evaluations"),
    ]
    decoded = decode_measurement_report(ds)
    assert (decoded.algorithm_name, decoded.algorithm_version) == ("breastgate.density", "1.0.0")
    assert decoded.operating_threshold == 0.5
    assert "not for diagnostic use" in decoded.comment


def test_same_result_same_bytes_and_uids(study: tuple[list[Dataset], AlgorithmResult]) -> None:
    headers, result = study
    first = MeasurementReport.from_result(result, density_manifest(), headers)
    second = MeasurementReport.from_result(result, density_manifest(), list(reversed(headers)))
    assert first.sop_instance_uid == second.sop_instance_uid
    assert first.series_instance_uid == second.series_instance_uid
    assert _bytes(first.dataset) == _bytes(second.dataset)
    one = {g.tracking_uid for g in first.from_dataset(first.dataset).groups}
    two = {g.tracking_uid for g in second.from_dataset(second.dataset).groups}
    assert one == two and len(one) == 2
    other = replace(result, algorithm_version="2.0.0")
    manifest = replace(density_manifest(), version="2.0.0")
    assert MeasurementReport(headers, other, manifest).sop_instance_uid != first.sop_instance_uid


def test_round_trip_through_bytes(study: tuple[list[Dataset], AlgorithmResult]) -> None:
    headers, result = study
    report = MeasurementReport(headers, result, density_manifest())
    decoded = MeasurementReport.from_dataset(dcmread(BytesIO(_bytes(report.dataset))))
    assert decoded.sop_instance_uid == report.sop_instance_uid
    marks = [m for f in shown_findings(result) for m in f.marks]
    assert [(g.sop_instance_uid, g.frame) for g in decoded.groups] == [
        (m.sop_instance_uid, m.frame) for m in marks
    ]
    for group, mark in zip(decoded.groups, marks, strict=True):
        assert tuple(v for p in group.points for v in p) == pytest.approx(_expected_ring(mark))


def test_nothing_to_encode_raises(study: tuple[list[Dataset], AlgorithmResult]) -> None:
    headers, result = study
    with pytest.raises(EncodingError, match="operating point"):
        MeasurementReport(headers, replace(result, operating_threshold=0.95), density_manifest())
    with pytest.raises(EncodingError, match="operating point"):
        MeasurementReport(headers, replace(result, findings=()), density_manifest())
    unmarked = [
        h
        for h in headers
        if h.SOPInstanceUID not in {m.sop_instance_uid for f in result.findings for m in f.marks}
    ]
    with pytest.raises(EncodingError):
        MeasurementReport(unmarked, result, density_manifest())
    with pytest.raises(EncodingError, match="different algorithms"):
        MeasurementReport(headers, result, replace(density_manifest(), version="9.9.9"))
    calc, mass = shown_findings(result)
    beyond = replace(mass, marks=(replace(mass.marks[0], frame=49),))  # the DBT header has 48 frames
    with pytest.raises(EncodingError, match="frame 49 of 48"):
        MeasurementReport(headers, replace(result, findings=(calc, beyond)), density_manifest())
    with pytest.raises(InvalidInputError):
        MeasurementReport.from_dataset(Dataset())


def test_algorithm_identification_is_read_from_the_groups_or_the_container(
    study: tuple[list[Dataset], AlgorithmResult],
) -> None:
    """highdicom writes TID 4019 in each TID 1410 group; reports written before carry it once on
    the Imaging Measurements container. Both decode the same."""
    headers, result = study
    ds = MeasurementReport(headers, result, density_manifest()).dataset
    decoded = MeasurementReport.from_dataset(ds)
    assert (decoded.algorithm_name, decoded.operating_threshold) == (result.algorithm_id, 0.5)
    container = next(
        item for item in ds.ContentSequence if item.ConceptNameCodeSequence[0].CodeValue == "126010"
    )
    moved = None
    for group in container.ContentSequence:
        algorithm = [
            i for i in group.ContentSequence if i.ConceptNameCodeSequence[0].CodeValue.startswith("11100")
        ]
        assert [i.ConceptNameCodeSequence[0].CodeValue for i in algorithm][:2] == ["111001", "111003"]
        group.ContentSequence = [i for i in group.ContentSequence if i not in algorithm]
        moved = moved or algorithm
    assert moved is not None
    container.ContentSequence = [*moved, *container.ContentSequence]
    old = MeasurementReport.from_dataset(dcmread(BytesIO(_bytes(ds))))
    assert old == decoded
